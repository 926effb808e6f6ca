"""Operations benchmark: backup, integrity check, erase, retention, doctor.

Builds a database of N recipients with one report per month each, then times the operator
commands on it. Prints one `figure: value` line each.

    python benchmarks/ops_bench.py [--recipients 20000] [--months 12]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _result import result  # benchmarks/ is on sys.path when run as a script

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import BackupSettings, Settings  # noqa: E402
from bot.db import Database, open_migrated  # noqa: E402
from bot.runlock import acquire_run_lock  # noqa: E402
from bot.services.backup import backup_database, check_backup_file  # noqa: E402
from bot.services.doctor import run_checks  # noqa: E402
from bot.services.persons import erase_recipient, run_retention  # noqa: E402

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def build(path: Path, recipients: int, months: int) -> None:
    async def schema() -> None:
        db = await open_migrated(str(path), NOW)
        await db.close()

    asyncio.run(schema())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    t0 = "2024-01-01T00:00:00+00:00"
    conn.execute(
        "INSERT INTO facilitators (id, code, name, created_at, updated_at)"
        " VALUES (1, 'PD-1', 'Pendamping', ?, ?)",
        (t0, t0),
    )
    rows = []
    for i in range(1, recipients + 1):
        ended = i % 100 == 0  # 1 % ended long ago: retention candidates
        rows.append(
            (
                i,
                f"3328{i:08d}0001",
                f"Penerima Nomor {i}",
                f"Dusun {i % 50} RT {i % 9}",
                f"62812{i:08d}",
                "graduated" if ended else "active",
                "2020-01-01T00:00:00+00:00" if ended else None,
                t0,
                t0,
            )
        )
    conn.executemany(
        "INSERT INTO recipients (id, nik, name, address, phone, kecamatan_code, programme,"
        " facilitator_id, status, status_changed_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, '33.28.06', 'menjahit', 1, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany(
        "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id, linked_at)"
        " VALUES (?, ?, 'recipient', ?, ?)",
        [(10_000 + i, 10_000 + i, i, t0) for i in range(1, recipients + 1)],
    )
    answers = json.dumps({"business_status": "berjalan", "revenue": 1500000, "notes": "lancar"})
    for m in range(months):
        period = f"{2024 + m // 12}-{m % 12 + 1:02d}"
        conn.executemany(
            "INSERT INTO reports (recipient_id, period, reporter_role, submitted_at,"
            " business_status, revenue, costs, profit, answers)"
            " VALUES (?, ?, 'recipient', ?, 'berjalan', 1500000, 700000, 800000, ?)",
            [(i, period, t0, answers) for i in range(1, recipients + 1)],
        )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(label: str, fn, *args, **kwargs):  # noqa: ANN001, ANN202
    start = time.perf_counter()
    outcome = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.2f} s", flush=True)
    slug = label.split(" (")[0].replace(",", "").replace(" ", "_")
    result(f"ops_{slug}", seconds, "s")  # no goal set in the issue: recorded for scaling
    return outcome


async def erase_one(path: Path, rid: int, bot_running: bool) -> None:
    lock = acquire_run_lock(str(path)) if bot_running else None
    db = await Database.open(str(path))
    try:
        await erase_recipient(db, rid, "benchmark", NOW)
    finally:
        await db.close()
        if lock:
            lock.release()


async def retention(path: Path) -> int:
    db = await Database.open(str(path))
    try:
        return len(await run_retention(db, 5, NOW))
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; sqlite {sqlite3.sqlite_version}")
    print(f"recipients: {args.recipients}; reports: {args.recipients * args.months}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        timed("build", build, path, args.recipients, args.months)
        print(f"database size: {path.stat().st_size / 1e6:.1f} MB")
        out = timed("backup (online API, one step)", backup_database, str(path), Path(tmp) / "b.db")
        print(f"backup size: {out.stat().st_size / 1e6:.1f} MB")
        timed("restore check (integrity_check + migrations)", check_backup_file, str(out))
        settings = replace(
            Settings(),
            database=str(path),
            token="1:x",
            backup=BackupSettings(dir=tmp, keep=1, hour=0),
        )
        timed("doctor (all checks)", asyncio.run, run_checks(settings, NOW))
        timed("erase one person, bot running (no VACUUM)", asyncio.run, erase_one(path, 7, True))
        timed("erase one person, bot stopped (with VACUUM)", asyncio.run, erase_one(path, 8, False))
        n = timed("retention (1 % of people due, one compaction)", asyncio.run, retention(path))
        print(f"retention anonymised: {n}")


if __name__ == "__main__":
    main()
