"""Digest, charts and export for 100,000 recipients.

Builds a temporary database (migrations of this tree + synthetic rows inserted with
executemany), then runs each stage in its own child process so its peak memory is its own:

  digest   load the period's snapshots from SQLite, count, render the weekly staff text
  charts   monthly report (6-period medians, bands) + the three PNG charts
  export   the four-sheet XLSX of the period, streamed (XlsxWriter, constant_memory)

Goals (2 cores): digest <= 5 s, charts <= 5 s, export <= 60 s and <= 500 MB peak.

    python benchmarks/digest_bench.py [--recipients 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _result import result  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERIOD = "2024-06"
PERIODS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
PROGRAMMES = ["tata boga", "menjahit", "ternak kambing"]
T = "2023-12-01T00:00:00+00:00"
GOALS = {"digest": 5.0, "charts": 5.0, "export": 60.0}
MEMORY_GOAL_MB = 500


async def build(path: str, n: int) -> dict[str, int]:
    from bot.db import open_migrated

    rnd = random.Random(8)
    db = await open_migrated(path, dt.datetime(2024, 7, 1, tzinfo=dt.UTC))
    kec = [r["code"] for r in await db.fetchall("SELECT code FROM kecamatan ORDER BY code")]
    n_fac = max(1, n // 30)
    counts = {}
    async with db.transaction() as c:
        desa = [(i, kec[i % len(kec)], f"Desa {i:03d}") for i in range(1, 301)]
        await c.executemany("INSERT INTO desa (id, kecamatan_code, name) VALUES (?, ?, ?)", desa)
        await c.executemany(
            "INSERT INTO facilitators (id, code, name, kecamatan_code, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"PD-{i}", f"Pendamping {i:04d}", kec[i % 18], T, T) for i in range(1, n_fac + 1)],
        )
        recipients = [
            (i, f"3328{i:012d}", f"Penerima {i}", desa[i % 300][1], desa[i % 300][0],
             PROGRAMMES[i % 3], i % n_fac + 1, "2023-12-15", T, T)
            for i in range(1, n + 1)
        ]  # fmt: skip
        await c.executemany(
            "INSERT INTO recipients (id, nik, name, kecamatan_code, desa_id, programme,"
            " facilitator_id, handover_date, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            recipients,
        )
        accounts = [
            (i, 10_000_000 + i, 10_000_000 + i, i, 0 if i % 50 == 0 else 1, T)
            for i in range(1, n + 1)
            if i % 10 < 7
        ]
        await c.executemany(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, role, recipient_id, reachable,"
            " linked_at) VALUES (?, ?, ?, 'recipient', ?, ?, ?)",
            accounts,
        )
        reports = []
        rid = 0
        for j, period in enumerate(PERIODS):
            for i in range(1, n + 1):
                if rnd.random() < 0.8:
                    rid += 1
                    profit = rnd.randint(-300_000, 3_000_000) + 40_000 * j
                    reports.append((
                        rid, i, period, "recipient", f"{period}-28T01:00:00+00:00", "berjalan",
                        profit + 500_000, 500_000, profit, "{}",
                    ))  # fmt: skip
        await c.executemany(
            "INSERT INTO reports (id, recipient_id, period, reporter_role, submitted_at,"
            " business_status, revenue, costs, profit, answers) VALUES (?,?,?,?,?,?,?,?,?,?)",
            reports,
        )
        counts["reports"] = len(reports)
        drafts = [(i, i, i, PERIOD, T, T) for i in range(1, n + 1) if i % 20 == 0 and i % 10 < 7]
        await c.executemany(
            "INSERT INTO report_drafts (id, account_id, recipient_id, form, period,"
            " reporter_role, created_at, updated_at) VALUES (?, ?, ?, 'monthly', ?,"
            " 'recipient', ?, ?)",
            drafts,
        )
        flags = [
            (i, PERIOD, rnd.choice(["jump", "help_request", "mismatch_income"]),
             f"2024-07-0{rnd.randint(1, 9)}T01:00:00+00:00")
            for i in range(1, n + 1, 33)
        ]  # fmt: skip
        await c.executemany(
            "INSERT INTO report_flags (recipient_id, period, kind, created_at) VALUES (?, ?, ?, ?)",
            flags,
        )
        visits = [
            (i, i % n_fac + 1, f"2024-06-{rnd.randint(1, 28):02d}", 1, 3, "kunjungan rutin", T)
            for i in range(1, n + 1, 3)
        ]
        await c.executemany(
            "INSERT INTO visits (recipient_id, facilitator_id, visit_date, business_running,"
            " score_quality, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            visits,
        )
        # Scores of migration 0005 under the default model version (the one Settings() uses).
        from bot.config import Settings
        from bot.domain.scoring import params_from_settings

        version = params_from_settings(Settings()).model_version
        await c.execute(
            "INSERT INTO score_models (version, label, params, created_at) VALUES (?, '1', '{}', ?)",
            (version, T),
        )
        comp = json.dumps([{"key": "income", "points": 30, "max_points": 40}])
        await c.executemany(
            "INSERT INTO scores (recipient_id, period, model_version, score, band, gate_months,"
            " confidence, components, inputs, computed_at) VALUES (?, ?, ?, ?, ?, 0, 80, ?, '{}', ?)",
            [(i, PERIOD, version, s, "siap" if s >= 75 else "menuju" if s >= 50 else "intensif",
              comp, T) for i in range(1, n + 1) for s in [rnd.randint(10, 95)]],
        )  # fmt: skip
        counts.update(
            recipients=n, facilitators=n_fac, accounts=len(accounts), drafts=len(drafts),
            flags=len(flags), visits=len(visits),
        )  # fmt: skip
    await db.close()
    return counts


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it does not carry the
    parent's size over a fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def stage(name: str, path: str, out_dir: str) -> dict:
    from bot.db import Database
    from bot.render import render
    from bot.services.digest_data import (
        build_monthly_report,
        build_staff_digest,
        write_period_export,
    )

    if name == "charts":
        t_import = time.perf_counter()
        import bot.charts  # noqa: F401  (imported once per bot process, not per report)

        import_s = round(time.perf_counter() - t_import, 2)
    db = await Database.open(path, readonly=True)
    since = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    result: dict = {}
    t0 = time.perf_counter()
    if name == "digest":
        from bot.config import Settings

        # with settings: the current model's scores, the graduation service's candidates
        d = await build_staff_digest(db, PERIOD, since, settings=Settings())
        text = render("digest_staff", "id", d=d, scope="Kabupaten Tegal", now="1 Juli 2024")
        result["lines"] = len(text.splitlines())
        result["recipients"] = d.total.total
    elif name == "charts":
        from bot.charts import monthly_charts, write_charts
        from bot.config import Settings

        r = await build_monthly_report(db, PERIOD, since, None, PROGRAMMES, Settings())
        t1 = time.perf_counter()
        result["data_s"] = round(t1 - t0, 2)
        charts = monthly_charts(r)
        result["charts_only_s"] = round(time.perf_counter() - t1, 2)
        result["matplotlib_import_s"] = import_s
        paths = write_charts(charts, Path(out_dir))
        result["files"] = [p.name for p in paths]
    elif name == "export":
        res = await write_period_export(db, PERIOD, Path(out_dir) / "ekspor.xlsx")
        result["rows"] = res.counts
        result["size_mb"] = round(res.paths[0].stat().st_size / 2**20, 1)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    result["peak_mb"] = peak_mb()
    await db.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the database and outputs here")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(asyncio.run(stage(args.stage, args.db, args.out))))
        return 0
    work = Path(args.keep or tempfile.mkdtemp(prefix="digest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "bench.db"
    db_path.unlink(missing_ok=True)
    t = time.perf_counter()
    counts = asyncio.run(build(str(db_path), args.recipients))
    print(f"built database in {time.perf_counter() - t:.1f} s: {counts}")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    ok = True
    for name in ("digest", "charts", "export"):
        child = subprocess.run(
            [sys.executable, __file__, "--stage", name, "--db", str(db_path), "--out", str(work)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            print(f"{name}: FAILED\n{child.stderr}")
            ok = False
            continue
        res = json.loads(child.stdout.strip().splitlines()[-1])
        goal = GOALS[name]
        met = res["seconds"] <= goal and res["peak_mb"] <= MEMORY_GOAL_MB
        ok &= met
        extra = {k: v for k, v in res.items() if k not in ("seconds", "peak_mb")}
        print(
            f"{name:7s} {res['seconds']:6.2f} s (goal <= {goal:.0f} s)  peak {res['peak_mb']:6.1f} MB"
            f" (goal <= {MEMORY_GOAL_MB})  {'ok' if met else 'MISSED'}  {extra}"
        )
        result(f"{name}_seconds_{args.recipients}", res["seconds"], "s", f"<= {goal:.0f}",
               res["seconds"] <= goal)  # fmt: skip
        result(f"{name}_peak_mb", res["peak_mb"], "MB", f"<= {MEMORY_GOAL_MB}",
               res["peak_mb"] <= MEMORY_GOAL_MB)  # fmt: skip
    if not args.keep:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
