"""Backups, restore and the daily automatic backup."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import stat
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import BackupSettings, Settings
from bot.db import Database, discover_migrations, migrate, open_migrated
from bot.runlock import RunLock, RunLockHeld, acquire_run_lock, is_locked
from bot.services.backup import (
    BackupError,
    backup_database,
    check_backup_file,
    list_auto_backups,
    restore_database,
    run_due_backup,
)
from tests.cli_helpers import run_cli

NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)


def make_db(path: Path, rows: int = 3) -> Path:
    async def go() -> None:
        db = await open_migrated(str(path), NOW)
        for i in range(rows):
            await db.execute(
                "INSERT INTO audit_log (at, actor, action) VALUES (?, 'test', ?)",
                (NOW.isoformat(), f"row{i}"),
            )
        await db.close()

    asyncio.run(go())
    return path


def count(path: Path, sql: str = "SELECT count(*) FROM audit_log") -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_backup_is_a_private_self_contained_copy(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db")
    out = backup_database(str(live), tmp_path / "b.db")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not Path(f"{out}-wal").exists()
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert count(out) == 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_backup_refuses_existing_file_without_force(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db")
    out = tmp_path / "b.db"
    out.write_text("keep me")
    with pytest.raises(BackupError, match="already exists; use --force"):
        backup_database(str(live), out)
    assert out.read_text() == "keep me"
    backup_database(str(live), out, force=True)
    assert count(out) == 3
    with pytest.raises(BackupError, match="does not exist"):
        backup_database(str(tmp_path / "missing.db"), tmp_path / "c.db")


def test_backup_never_migrates_the_live_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"

    async def go() -> None:
        db = await Database.open(str(path))
        await migrate(db, NOW, discover_migrations()[:1])  # an older version's schema
        await db.close()

    asyncio.run(go())
    before = path.read_bytes()
    out = backup_database(str(path), tmp_path / "b.db")
    assert path.read_bytes() == before
    assert count(path, "SELECT count(*) FROM schema_migrations") == 1
    check = check_backup_file(str(out))
    assert check.applied == ["0001_initial"] and check.pending


def test_backups_under_load_are_consistent_and_restore_round_trips(tmp_path: Path) -> None:
    """A writer commits pairs of rows all the time; every backup holds whole pairs only."""
    live = make_db(tmp_path / "live.db", rows=0)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        conn = sqlite3.connect(live, timeout=5, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            for half in ("a", "b"):
                conn.execute(
                    "INSERT INTO audit_log (at, actor, action) VALUES ('t', 'load', ?)", (half,)
                )
            conn.execute("COMMIT")
            written[0] += 2
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        counts = []
        for i in range(6):
            while written[0] < (i + 1) * 50:  # let the writer get ahead each time
                stop.wait(0.005)
            out = backup_database(str(live), tmp_path / f"b{i}.db")
            assert check_backup_file(str(out)).pending == []
            counts.append(count(out))
    finally:
        stop.set()
        thread.join()
    assert all(n % 2 == 0 for n in counts), counts
    assert counts == sorted(counts) and counts[-1] >= 300
    # Round trip: restore the last backup over the live database.
    result = restore_database(str(live), str(tmp_path / "b5.db"), NOW, force=True)
    assert count(live) == counts[-1]
    assert result.replaced_copy is not None and count(result.replaced_copy) == written[0]
    assert stat.S_IMODE(result.replaced_copy.stat().st_mode) == 0o600


def test_restore_refuses_while_the_bot_runs(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db")
    backup = backup_database(str(live), tmp_path / "b.db")
    lock = acquire_run_lock(str(live))
    try:
        assert "pendamping run" in (is_locked(str(live)) or "")
        with pytest.raises(RunLockHeld, match="in use by `pendamping run`"):
            restore_database(str(live), str(backup), NOW, force=True)
        with pytest.raises(RunLockHeld):
            acquire_run_lock(str(live))  # and a second bot cannot start either
    finally:
        lock.release()
    assert is_locked(str(live)) is None
    restore_database(str(live), str(backup), NOW, force=True)


def test_restore_checks_the_file_first(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    with pytest.raises(BackupError, match="damaged|not a database|integrity"):
        restore_database(str(live), str(garbage), NOW, force=True)
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BackupError, match="not a Pendamping database"):
        restore_database(str(live), str(plain), NOW, force=True)
    for name, checksum, words in (
        ("0099_from_the_future", "abc", "does not know"),
        ("0001_initial", "changed", "different checksum"),
    ):
        odd = backup_database(str(live), tmp_path / f"{name}-{checksum}.db")
        conn = sqlite3.connect(odd)
        if checksum == "changed":
            conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE name = ?", (name,))
        else:
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 'now')", (name, checksum))
        conn.commit()
        conn.close()
        with pytest.raises(BackupError, match=words):
            restore_database(str(live), str(odd), NOW, force=True)
    good = backup_database(str(live), tmp_path / "good.db")
    with pytest.raises(BackupError, match="use --force"):
        restore_database(str(live), str(good), NOW)
    assert count(live) == 3  # nothing above touched it
    assert not list(tmp_path.glob("live.db.replaced-*"))


def test_restore_does_not_replay_an_old_wal(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db", rows=2)
    backup = backup_database(str(live), tmp_path / "b.db")
    # The live database moves on; its WAL holds rows the backup has not got.
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("INSERT INTO audit_log (at, actor, action) VALUES ('t', 'x', 'late')")
    assert Path(f"{live}-wal").stat().st_size > 0
    conn.close()
    restore_database(str(live), str(backup), NOW, force=True)
    assert count(live) == 2


async def test_daily_backup_with_a_fake_clock(tmp_path: Path, clock) -> None:
    settings = replace(
        Settings(),
        database=str(tmp_path / "live.db"),
        backup=BackupSettings(dir=str(tmp_path / "bk"), keep=3, hour=2),
    )
    db = await open_migrated(settings.database, clock())
    try:
        # 2024-02-01 18:00 UTC is 01:00 WIB on 2 February: before backup.hour.
        clock.set(dt.datetime(2024, 2, 1, 18, 0, tzinfo=dt.UTC))
        made = []
        for _minute in range(60 * 24 * 5):  # five days, every minute, like the minute job
            result = await run_due_backup(settings.database, settings, clock())
            if result.made:
                made.append((clock(), result.made.name, [p.name for p in result.pruned]))
            clock.advance(minutes=1)
    finally:
        await db.close()
    wib = [when.astimezone(settings.tz) for when, _, _ in made]
    assert [(w.day, w.hour, w.minute) for w in wib] == [(d, 2, 0) for d in range(2, 7)]
    assert made[0][1] == "pendamping-20240201-190000.db"
    assert made[3][2] == ["pendamping-20240201-190000.db"]  # the fourth prunes the first
    kept = [p.name for _, p in list_auto_backups(tmp_path / "bk")]
    assert kept == [name for _, name, _ in made[-3:]]
    for _, path in list_auto_backups(tmp_path / "bk"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_daily_backup_off_when_keep_is_zero(tmp_path: Path, clock) -> None:
    settings = replace(Settings(), backup=BackupSettings(dir=str(tmp_path / "bk"), keep=0, hour=0))
    result = await run_due_backup(str(tmp_path / "nope.db"), settings, clock())
    assert result.made is None and not (tmp_path / "bk").exists()


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    live = make_db(tmp_path / "live.db")
    env = {"PENDAMPING_DB": str(live)}
    first = run_cli("backup", str(tmp_path / "b.db"), cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE((tmp_path / "b.db").stat().st_mode) == 0o600
    again = run_cli("backup", str(tmp_path / "b.db"), cwd=tmp_path, env=env)
    assert again.returncode == 1 and "--force" in again.stderr
    assert (
        run_cli("backup", str(tmp_path / "b.db"), "--force", cwd=tmp_path, env=env).returncode == 0
    )
    no_force = run_cli("restore", str(tmp_path / "b.db"), cwd=tmp_path, env=env)
    assert no_force.returncode == 1 and "--force" in no_force.stderr
    with RunLock(str(live)) as lock:
        lock.acquire()
        busy = run_cli("restore", str(tmp_path / "b.db"), "--force", cwd=tmp_path, env=env)
    assert busy.returncode == 1 and "stop it first" in busy.stderr
    done = run_cli("restore", str(tmp_path / "b.db"), "--force", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "the replaced database was kept as" in done.stdout


def test_run_refuses_to_start_while_the_lock_is_held(tmp_path: Path) -> None:
    """`pendamping run` takes the run lock before it builds the bot (one line in run.py)."""
    live = make_db(tmp_path / "live.db")
    env = {"PENDAMPING_DB": str(live), "TELEGRAM_BOT_TOKEN": "123:abc"}
    with RunLock(str(live)) as lock:
        lock.acquire("restore")
        result = run_cli("run", "--api-url", "http://127.0.0.1:9/bot", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "in use by `pendamping restore`" in result.stderr
    assert "123:abc" not in result.stderr
