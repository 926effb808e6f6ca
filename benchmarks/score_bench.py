"""Scoring benchmark: N recipients x 12 months of reports in a temp database.

Measures (1) recompute_all for the latest period (reads the reports, writes N scores and
their risk flags) and (2) recompute_recipient for one recipient right after a new report.
Goals: (1) <= 10 s for 100,000 recipients on 2 cores, (2) <= 5 ms.

    python benchmarks/score_bench.py [--recipients 100000] [--months 12] [--window-months 6]

Model 2 reads the 7 months its gates need (6 + 1 for the outlier check) for every recipient and
12 + 1 for goat rearing (income judged over a year); `--window-months` changes the window.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _result import result  # benchmarks/ is on sys.path when run as a script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.db import open_migrated  # noqa: E402
from bot.domain.scoring import params_from_settings, shift_period  # noqa: E402
from bot.services import scoring  # noqa: E402

NOW = dt.datetime(2025, 1, 2, 1, 0, tzinfo=dt.UTC)
FIRST = "2024-01"


def generate(path: str, recipients: int, months: int, seed: int = 7) -> None:
    """Fill the migrated database quickly with plain sqlite3 + executemany."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    at = NOW.isoformat()
    kec = [r[0] for r in conn.execute("SELECT code FROM kecamatan")]
    programmes = ["tata boga", "menjahit", "ternak kambing"]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO recipients (id, nik, name, kecamatan_code, household_size, programme,"
        " handover_date, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (i, f"3328{i:012d}", f"Penerima {i}", kec[i % len(kec)], rng.randint(1, 7),
             programmes[i % 3], "2024-01-05", at, at)
            for i in range(1, recipients + 1)
        ),
    )  # fmt: skip
    periods = [shift_period(FIRST, m) for m in range(months)]

    def rows():
        for i in range(1, recipients + 1):
            base = rng.randint(300_000, 3_500_000)
            goats = 5
            for p in periods:
                if rng.random() < 0.08:
                    continue  # a missed month
                profit = int(base * rng.uniform(0.7, 1.3))
                revenue = profit * 2
                goats = max(0, goats + rng.choice((-1, 0, 0, 1)))
                status = "berjalan" if rng.random() < 0.93 else "berhenti_sementara"
                yield (i, p, "recipient", 1, at, status, revenue, revenue - profit, profit,
                       rng.choice((0, 200_000, 500_000)), None, rng.randint(0, 1),
                       rng.randint(0, 1), rng.randint(1, 3), 1, goats, "{}")  # fmt: skip

    conn.executemany(
        "INSERT INTO reports (recipient_id, period, reporter_role, revision, submitted_at,"
        " business_status, revenue, costs, profit, other_income, household_size, has_savings,"
        " keeps_books, income_sources, equipment_ok, goats, answers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    conn.executemany(
        "INSERT INTO visits (recipient_id, visit_date, score_bookkeeping, score_quality,"
        " score_market, score_motivation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (i, "2024-11-15", rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5),
             rng.randint(1, 5), at)
            for i in range(1, recipients + 1, 2)
        ),
    )  # fmt: skip
    conn.execute("COMMIT")
    conn.close()


async def bench(
    recipients: int, months: int, single_runs: int, workers: int | None, window: int | None
) -> dict[str, float]:
    settings = Settings()
    if window is not None:
        settings = replace(settings, scoring=replace(settings.scoring, window_months=window))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        db = await open_migrated(path, NOW)
        await db.close()
        t0 = time.perf_counter()
        generate(path, recipients, months)
        gen_s = time.perf_counter() - t0
        settings = replace(settings, database=path)
        db = await open_migrated(path, NOW)
        try:
            reports = await db.fetchval("SELECT count(*) FROM reports")
            period = shift_period(FIRST, months - 1)
            window_months = params_from_settings(settings).history_months  # goats: 12
            read = await db.fetchval(
                "SELECT count(*) FROM reports WHERE period >= ?",
                (shift_period(period, -window_months),),
            )
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0, c0 = time.perf_counter(), time.process_time()
            count = await scoring.recompute_all(db, settings, period, NOW, workers=workers)
            batch_s = time.perf_counter() - t0
            kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            batch_cpu = time.process_time() - c0
            workers_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
            flags = await db.fetchval("SELECT count(*) FROM risk_flags WHERE period = ?", (period,))
            # one recipient's update right after a new report (a correction, revision 2)
            timings = []
            for k in range(single_runs):
                rid = 1 + (k * 7919) % recipients
                await db.execute(
                    "INSERT INTO reports (recipient_id, period, reporter_role, revision,"
                    " submitted_at, business_status, revenue, costs, profit, other_income,"
                    " answers) VALUES (?, ?, 'recipient', 99, ?, 'berjalan', 3000000, 1000000,"
                    " 2000000, 0, '{}')",
                    (rid, period, NOW.isoformat()),
                )
                t1 = time.perf_counter()
                await scoring.recompute_recipient(db, settings, rid, NOW, period)
                timings.append((time.perf_counter() - t1) * 1000)
        finally:
            await db.close()
    return {
        "recipients": recipients,
        "reports": reports,
        "reports_read": read,
        "window_months": window_months,
        "scores": count,
        "risk_flags": flags,
        "generate_s": gen_s,
        "recompute_all_s": batch_s,
        "recompute_all_cpu_s": batch_cpu,
        "workers_cpu_s": workers_cpu,
        "load": os.getloadavg()[0],
        "one_median_ms": statistics.median(timings),
        "one_p95_ms": sorted(timings)[int(0.95 * (len(timings) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--single-runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None, help="default: CPU count, max 4")
    parser.add_argument("--window-months", type=int, default=None, help="default: the config's")
    args = parser.parse_args()
    r = asyncio.run(
        bench(args.recipients, args.months, args.single_runs, args.workers, args.window_months)
    )
    print(f"recipients            {r['recipients']:,}")
    print(f"reports in database   {r['reports']:,}")
    print(f"reports read          {r['reports_read']:,} (history {r['window_months']}"
          " months + 1; goat rearing 12 + 1)")  # fmt: skip
    print(f"generate (setup)      {r['generate_s']:.1f} s")
    print(f"recompute_all         {r['recompute_all_s']:.2f} s  ({r['scores']:,} scores, "
          f"{r['risk_flags']:,} risk flags)  goal <= 10 s")  # fmt: skip
    print(f"  CPU: this process {r['recompute_all_cpu_s']:.2f} s, worker processes "
          f"{r['workers_cpu_s']:.2f} s (1-min load average {r['load']:.1f})")  # fmt: skip
    print(f"one recipient update  median {r['one_median_ms']:.2f} ms, p95 {r['one_p95_ms']:.2f} ms"
          "  goal <= 5 ms")  # fmt: skip
    n = r["recipients"]
    name = f"score_recompute_all_{n}" + (
        "" if args.window_months is None else f"_w{r['window_months']}"
    )
    result(name, r["recompute_all_s"], "s", "<= 10", r["recompute_all_s"] <= 10)
    result("score_one_update_p95", r["one_p95_ms"], "ms", "<= 5", r["one_p95_ms"] <= 5)


if __name__ == "__main__":
    main()
