"""Crash suite, import and migration: SIGKILL `python -m bot import` and `python -m bot migrate`
at random short delays, many times; each time the database must be exactly as before (import)
or at a migration boundary (migrate), intact, and a rerun must finish the job.

No test hooks in production code. Import kills are aimed with the import's own progress lines
("... N baris diproses" on stderr, printed inside the one write transaction every
PROGRESS_EVERY rows): each kill lands a random 0-30 ms after a random progress line
that is not the last, so it hits the open transaction on any machine speed (a delay measured
from start-up used to land after COMMIT on a slow CI run). Migrate kills land wherever they
land; the printed line shows how many migrations were applied when it died.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bot.db import discover_migrations, open_migrated
from bot.services.registry_import import PROGRESS_EVERY
from tests.suite_counts import SCENARIOS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from import_bench import generate  # noqa: E402

IMPORT_ROWS = int(os.environ.get("CRASH_IMPORT_ROWS", "6000"))
IMPORT_KILLS = int(os.environ.get("CRASH_IMPORT_KILLS", "4"))
MIGRATE_KILLS = int(os.environ.get("CRASH_MIGRATE_KILLS", "12"))


def cli(*args: str, db: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=str(db))
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], env=env, cwd=db.parent,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL after delay; True if it was still running (a real kill)."""
    try:
        proc.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return True


def kill_after_progress(proc: subprocess.Popen, lines: int, delay: float) -> bool:
    """SIGKILL `delay` s after the import printed its `lines`-th progress line; True if it was
    still running then (a real kill)."""
    seen = 0
    assert proc.stderr is not None
    for raw in proc.stderr:
        if b"baris diproses" in raw:
            seen += 1
            if seen == lines:
                break
    else:
        proc.wait(60)
        raise AssertionError(f"import ended after {seen} progress lines, wanted {lines}")
    try:
        return kill_after(proc, delay)
    finally:
        proc.stderr.close()


def content(db: Path) -> list[str]:
    """Every row of every table, as SQL text (schema included)."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return list(conn.iterdump())
    finally:
        conn.close()


def test_sigkill_during_import_leaves_the_database_unchanged(tmp_path, clock):
    small, big, db = tmp_path / "small.xlsx", tmp_path / "big.xlsx", tmp_path / "bot.db"
    generate(small, 40, seed=1)
    generate(big, IMPORT_ROWS, seed=2)
    asyncio.run(_migrated(db, clock))
    assert cli("import", str(small), db=db).wait(120) == 0
    before = content(db)
    lines = IMPORT_ROWS // PROGRESS_EVERY  # progress lines one import prints
    assert lines >= 2, "CRASH_IMPORT_ROWS must give at least two progress lines"
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    baseline = tmp_path / "baseline.db"
    baseline.write_bytes(db.read_bytes())
    changed = hits = finished = 0
    for _ in range(IMPORT_KILLS):
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.write_bytes(baseline.read_bytes())
        aim = rnd.randint(1, lines - 1)  # never the last line: COMMIT may follow it closely
        hits += kill_after_progress(cli("import", str(big), db=db), aim, rnd.uniform(0, 0.03))
        if content(db) == before:
            continue
        conn = sqlite3.connect(db)
        count = conn.execute("SELECT count(*) FROM recipients").fetchone()[0]
        conn.close()
        if count == IMPORT_ROWS:
            finished += 1  # committed whole before the kill landed (after COMMIT, before exit)
        else:
            changed += 1
    assert cli("import", str(big), db=db).wait(600) == 0
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT count(*) FROM recipients").fetchone()[0]
    conn.close()
    line = (f"crash: import  rows={IMPORT_ROWS} kills={IMPORT_KILLS} killed_mid_run={hits}"
            f" committed_whole_before_kill={finished} lost=0 partial={changed}"
            f" after_rerun_recipients={rows}")  # fmt: skip
    SCENARIOS.append(line)
    print(line)
    assert changed == 0 and hits - finished >= 1
    assert rows == IMPORT_ROWS  # the small file's 40 NIKs are the big file's first 40


async def _migrated(db: Path, clock) -> None:
    database = await open_migrated(str(db), clock())
    await database.close()


def objects_of(sql: str) -> set[str]:
    return set(re.findall(r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+"
                          r"(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", sql, re.I))  # fmt: skip


def test_sigkill_during_migrate_is_all_or_nothing_per_migration(tmp_path):
    migrations = discover_migrations()
    created = [objects_of(m.sql) for m in migrations]
    reference = tmp_path / "reference.db"
    start = time.monotonic()
    assert cli("migrate", db=reference).wait(120) == 0
    whole = time.monotonic() - start  # mostly interpreter start-up; migrations come last
    want = schema(reference)
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    applied_at_kill: Counter[int] = Counter()
    broken = 0
    for i in range(MIGRATE_KILLS):
        db = tmp_path / f"m{i}.db"
        kill_after(cli("migrate", db=db), rnd.uniform(whole * 0.75, whole * 1.02))
        if db.exists():
            conn = sqlite3.connect(db)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                applied = (
                    [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
                    if "schema_migrations" in names else []
                )  # fmt: skip
            finally:
                conn.close()
            k = len(applied)
            applied_at_kill[k] += 1
            ok = applied == [m.name for m in migrations[:k]]
            ok = ok and all(objs <= names for objs in created[:k])
            ok = ok and not any(objs & names for objs in created[k:])
            broken += not ok
        else:
            applied_at_kill[-1] += 1  # killed before the file was created
        assert cli("migrate", db=db).wait(120) == 0
        assert schema(db) == want
    spread = " ".join(f"{k}:{n}" for k, n in sorted(applied_at_kill.items()))
    line = (f"crash: migrate kills={MIGRATE_KILLS} partial={broken} lost=0 duplicated=0"
            f" (applied migrations when killed -> times: {spread})")  # fmt: skip
    SCENARIOS.append(line)
    print(line)
    assert broken == 0


def schema(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall())
    finally:
        conn.close()


SLOW_MIGRATION = """
CREATE TABLE crash_probe (n INTEGER PRIMARY KEY, pad TEXT);
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 8000000)  -- ~9 s here; kills land at 1.5-3 s
INSERT INTO crash_probe SELECT n, hex(randomblob(16)) FROM c;
"""
SLOW_RUNNER = """
import asyncio, hashlib, sys
from bot.db import Database, Migration, discover_migrations, migrate
sql = sys.argv[2]
extra = Migration("9999_crash_probe", sql, hashlib.sha256(sql.encode()).hexdigest())
async def main():
    db = await Database.open(sys.argv[1])
    try:
        await migrate(db, migrations=[*discover_migrations(), extra])
    finally:
        await db.close()
asyncio.run(main())
"""


def test_sigkill_inside_a_slow_migration_rolls_it_back(tmp_path):
    """The real migrate() with the shipped migrations plus a slow test-only one (passed in by a
    runner script, not through production code), killed while the slow one runs."""
    db = tmp_path / "slow.db"
    assert cli("migrate", db=db).wait(120) == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "5")))
    inside = 0
    kills = int(os.environ.get("CRASH_SLOW_MIGRATE_KILLS", "3"))
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", SLOW_RUNNER, str(db), SLOW_MIGRATION],
                                env=env, stderr=subprocess.DEVNULL)  # fmt: skip
        inside += kill_after(proc, rnd.uniform(1.5, 3.0))
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        finally:
            conn.close()
        assert "crash_probe" not in names and "9999_crash_probe" not in applied
    line = f"crash: migrate (slow probe migration) kills={kills} killed_inside={inside} partial=0"
    SCENARIOS.append(line)
    print(line)
    assert inside >= 1
