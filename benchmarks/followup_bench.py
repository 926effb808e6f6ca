"""The follow-up after graduation in the per-minute tick, for 100,000 recipients.

Builds a temporary database (migrations of this tree + synthetic rows inserted with
executemany): N recipients with accounts, one in ten graduated (an approved case decided on a
day of the 12 months before the scenario), a tenth of the graduates (at most 1,000) reopened.
Then, at fixed scenario moments (never the wall clock):

  first      the follow-up planning of the first tick after deployment alone (plan_checkins):
             every graduate whose check-in is current is asked (rows + outbox messages)
  plan_idle  the follow-up planning alone a minute later, nothing due: what the feature adds
             to every minute's tick
  idle       the whole tick then (the cycle's own work included; no goal: not this feature's)
  close      the tick of a period's close: every active recipient's mentoring window (with the
             reopened ones' own window) decides who is mentored and whose mentoring ends

Goals (2 cores): first <= 30 s, plan_idle <= 1 s, close <= 10 s.

    python benchmarks/followup_bench.py [--recipients 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from _result import result  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIB = ZoneInfo("Asia/Jakarta")
T = "2024-01-01T00:00:00+00:00"
FIRST = dt.datetime(2025, 1, 3, 8, 0, tzinfo=WIB).astimezone(dt.UTC)  # a Friday 08:00 WIB
IDLE = FIRST + dt.timedelta(minutes=1)
CLOSE = dt.datetime(2025, 1, 20, 8, 0, tzinfo=WIB).astimezone(dt.UTC)  # period 2024-12 closes
GOALS = {"first": 30.0, "plan_idle": 1.0, "idle": None, "close": 10.0}


async def build(path: str, n: int) -> dict[str, int]:
    from bot.db import open_migrated

    db = await open_migrated(path, dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    kec = [r["code"] for r in await db.fetchall("SELECT code FROM kecamatan ORDER BY code")]
    n_fac = max(1, n // 30)
    graduates = [i for i in range(1, n + 1) if i % 10 == 0]
    reopened = set(graduates[: min(1000, len(graduates) // 10)])
    async with db.transaction() as c:
        desa = [(i, kec[i % len(kec)], f"Desa {i:03d}") for i in range(1, 301)]
        await c.executemany("INSERT INTO desa (id, kecamatan_code, name) VALUES (?, ?, ?)", desa)
        await c.executemany(
            "INSERT INTO facilitators (id, code, name, kecamatan_code, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(i, f"PD-{i}", f"Pendamping {i:04d}", kec[i % 18], T, T) for i in range(1, n_fac + 1)],
        )
        await c.executemany(
            "INSERT INTO recipients (id, nik, name, kecamatan_code, desa_id, programme,"
            " facilitator_id, handover_date, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, 'menjahit', ?, '2024-03-15', ?, ?, ?)",
            [(i, f"3328{i:012d}", f"Penerima {i}", desa[i % 300][1], desa[i % 300][0],
              i % n_fac + 1, "graduated" if i % 10 == 0 and i not in reopened else "active",
              T, T) for i in range(1, n + 1)],
        )  # fmt: skip
        await c.executemany(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, role, recipient_id, linked_at)"
            " VALUES (?, ?, ?, 'recipient', ?, ?)",
            [(i, 10_000_000 + i, 10_000_000 + i, i, T) for i in range(1, n + 1)],
        )
        staff = n + 1
        await c.execute(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, role, linked_at)"
            " VALUES (?, 1, 1, 'staff', ?)",
            (staff, T),
        )
        cases = []
        for k, rid in enumerate(graduates):
            decided = (FIRST - dt.timedelta(days=1 + k % 365)).isoformat(timespec="seconds")
            cases.append((rid, rid, staff, decided, decided))
        await c.executemany(
            "INSERT INTO graduation_cases (id, recipient_id, kind, status, score, decided_by,"
            " decision_reason, decided_at, created_at)"
            " VALUES (?, ?, 'graduation', 'approved', 80, ?, 'Disetujui', ?, ?)",
            cases,
        )
        await c.executemany(
            "INSERT INTO followup_reopenings (case_id, recipient_id, reopened_by, reason,"
            " reopened_at, first_period, last_period) VALUES (?, ?, ?, 'usaha tutup sejak lama',"
            " ?, '2024-11', '2025-04')",
            [(rid, rid, staff, T) for rid in sorted(reopened)],
        )
    await db.close()
    return {"recipients": n, "graduates": len(graduates), "reopened": len(reopened)}


async def measure(path: str) -> dict[str, float]:
    from bot.config import Settings
    from bot.db import Database
    from bot.services.cycle import tick
    from bot.services.followup import plan_checkins

    settings = replace(Settings(), database=path, token=None)
    db = await Database.open(path)
    out: dict[str, float] = {}
    try:
        started = time.perf_counter()
        async with db.transaction() as conn:
            asked = len(await plan_checkins(conn, settings, FIRST))
        out["first"] = time.perf_counter() - started
        print(f"first: {out['first']:.2f} s, {asked} check-ins planned")
        await tick(db, settings, FIRST)  # the cycle's own first pass (open step), not measured
        started = time.perf_counter()
        async with db.transaction() as conn:
            await plan_checkins(conn, settings, IDLE)
        out["plan_idle"] = time.perf_counter() - started
        print(f"plan_idle: {out['plan_idle']:.3f} s")
        for name, when in (("idle", IDLE), ("close", CLOSE)):
            started = time.perf_counter()
            res = await tick(db, settings, when)
            out[name] = time.perf_counter() - started
            asked = sum(1 for m in res.planned if m.kind == "followup")
            print(f"{name}: {out[name]:.2f} s, {len(res.planned)} planned ({asked} check-ins),"
                  f" {len(res.ended)} ended")  # fmt: skip
    finally:
        await db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--keep", help="build the database in this folder and keep it")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="followup-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / "bench.db")
    started = time.perf_counter()
    counts = asyncio.run(build(path, args.recipients))
    print(f"built {counts} in {time.perf_counter() - started:.1f} s")
    times = asyncio.run(measure(path))
    n = args.recipients
    for name, seconds in times.items():
        goal = GOALS[name]
        if goal is None:
            result(f"followup_tick_{name}_{n}", seconds, "s")
        else:
            result(f"followup_tick_{name}_{n}", seconds, "s", f"<= {goal:g}", seconds <= goal)


if __name__ == "__main__":
    main()
