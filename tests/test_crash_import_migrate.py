"""Crash suite, import and migration: SIGKILL `python -m bot import` and `python -m bot migrate`
at random short delays, many times; each time the database must be exactly as before (import)
or at a migration boundary (migrate), intact, and a rerun must finish the job.

No test hooks in production code. Import kills are aimed with the import's own progress lines
("... N baris diproses" on stderr, printed inside the one write transaction every
PROGRESS_EVERY rows): each kill lands a random 0-30 ms after a random progress line
that is not the last, so it hits the open transaction on any machine speed (a delay measured
from start-up used to land after COMMIT on a slow CI run). Migrate kills are aimed
the same way, at `pendamping migrate`'s "applying NAME" lines (and, for the slow probe
migration, at the moment its uncommitted pages reach the -wal): each test asserts where its
kills landed.
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


def kill_at_line(proc: subprocess.Popen, wanted: str) -> bool:
    """SIGKILL as soon as the process printed the line `wanted` on stderr; True if it was
    still running then (the kill landed mid-run)."""
    assert proc.stderr is not None
    for raw in proc.stderr:
        if raw.decode(errors="replace").strip() == wanted:
            alive = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            return alive
    proc.wait(10)
    return False


def test_sigkill_during_migrate_is_all_or_nothing_per_migration(tmp_path):
    """Each kill is aimed at `pendamping migrate`'s "applying NAME" line, printed right before
    migration NAME starts, cycling through every shipped migration: the database is then at a
    migration boundary (NAME applied whole or not at all), and a rerun finishes the job."""
    migrations = discover_migrations()
    # what each migration newly brings (a migration that rebuilds a table under its old name
    # brings nothing new: the object was there before and is there after)
    created: list[set[str]] = []
    for m in migrations:
        created.append(objects_of(m.sql) - set().union(*created))
    reference = tmp_path / "reference.db"
    assert cli("migrate", db=reference).wait(120) == 0
    want = schema(reference)
    applied_at_kill: Counter[int] = Counter()
    broken = landed = 0
    kills = max(MIGRATE_KILLS, len(migrations))
    for i in range(kills):
        target = i % len(migrations)
        db = tmp_path / f"m{i}.db"
        landed += kill_at_line(cli("migrate", db=db), f"applying {migrations[target].name}")
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
        # killed once `target` was starting; on a loaded machine small migrations may commit
        # one or more further ones before the signal lands. What must hold is a boundary:
        # every migration applied whole or not at all (the slow probe below shows kills inside)
        ok = k >= target
        ok = ok and applied == [m.name for m in migrations[:k]]
        ok = ok and all(objs <= names for objs in created[:k])
        ok = ok and not any(objs & names for objs in created[k:])
        broken += not ok
        assert cli("migrate", db=db).wait(120) == 0
        assert schema(db) == want
    spread = " ".join(f"{k}:{n}" for k, n in sorted(applied_at_kill.items()))
    line = (f"crash: migrate kills={kills} landed_mid_run={landed} partial={broken} lost=0"
            f" duplicated=0 (applied migrations when killed -> times: {spread})")  # fmt: skip
    SCENARIOS.append(line)
    print(line)
    assert landed == kills  # every kill hit a running migrate, at the migration aimed at
    assert broken == 0
    assert len(applied_at_kill) >= len(migrations) // 2  # the kills spread over the run


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
def progress(name):
    print(f"applying {name}", file=sys.stderr, flush=True)
async def main():
    db = await Database.open(sys.argv[1])
    try:
        await migrate(db, migrations=[*discover_migrations(), extra], on_progress=progress)
    finally:
        await db.close()
asyncio.run(main())
"""


def test_sigkill_inside_a_slow_migration_rolls_it_back(tmp_path):
    """The real migrate() with the shipped migrations plus a slow test-only one (passed in by a
    runner script, not through production code). Each kill waits for the runner's "applying
    9999_crash_probe" line and then for the migration's uncommitted pages to reach the -wal
    (the file grows while the transaction runs): so it lands inside the migration, asserted."""
    db = tmp_path / "slow.db"
    assert cli("migrate", db=db).wait(120) == 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    wal = Path(f"{db}-wal")
    inside = 0
    kills = int(os.environ.get("CRASH_SLOW_MIGRATE_KILLS", "3"))
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", SLOW_RUNNER, str(db), SLOW_MIGRATION],
                                env=env, stderr=subprocess.PIPE)  # fmt: skip
        assert proc.stderr is not None
        for raw in proc.stderr:
            if raw.decode().strip() == "applying 9999_crash_probe":
                break
        before = wal.stat().st_size if wal.exists() else 0
        while proc.poll() is None and (wal.stat().st_size if wal.exists() else 0) <= before:
            time.sleep(0.005)
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stderr.close()
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        finally:
            conn.close()
        assert "crash_probe" not in names and "9999_crash_probe" not in applied
        inside += running
    line = f"crash: migrate (slow probe migration) kills={kills} killed_inside={inside} partial=0"
    SCENARIOS.append(line)
    print(line)
    assert inside == kills  # every kill landed inside the running migration
