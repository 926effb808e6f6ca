"""Online backups and restore of the SQLite database.

A backup uses SQLite's online backup API from a read-only connection: in WAL mode readers
never block the bot's writes, and one `backup()` step copies a consistent snapshot (the
database file plus the committed part of the WAL). The copy is written to a temporary file
with mode 0600, switched out of WAL mode so it is one self-contained file, checked, fsynced,
and only then moved into place. The live database is never migrated or written.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.db import (
    DatabaseError,
    Migration,
    backup_to,
    connect_readonly,
    discover_migrations,
    file_integrity_problems,
    set_aside,
)
from bot.paths import files_folder
from bot.private_files import private_dir
from bot.runlock import RunLock, SenderLock

log = logging.getLogger("pendamping.backup")

AUTO_PREFIX = "pendamping-"
_AUTO_NAME = re.compile(r"^pendamping-(\d{8})-(\d{6})\.db$")


class BackupError(DatabaseError):
    """A backup or restore that cannot go ahead, phrased for an operator."""


def _connect_ro(path: str):  # noqa: ANN202 - the connection type is bot.db's business
    """bot.db's read-only connection, its errors phrased as a BackupError."""
    try:
        return connect_readonly(path)
    except DatabaseError as exc:
        raise BackupError(str(exc)) from None


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def backup_database(database: str, out: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a consistent copy of database to out (mode 0600). Read-only on the live file."""
    out = Path(out)
    if out.exists() and not force:
        raise BackupError(f"{out} already exists; use --force to replace it")
    if not out.parent.is_dir():
        raise BackupError(f"folder {out.parent} does not exist")
    if out.resolve() == Path(database).resolve():
        raise BackupError("the backup file cannot be the database itself")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    if not Path(database).exists():
        raise BackupError(f"database {database} does not exist")
    try:
        backup_to(database, tmp)
    except DatabaseError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise BackupError(f"backup of {database} failed: {exc}") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if force:
        os.replace(tmp, out)
    else:
        try:
            os.link(tmp, out)  # fails if someone created out meanwhile
        except FileExistsError:
            raise BackupError(f"{out} already exists; use --force to replace it") from None
        finally:
            tmp.unlink()
    _fsync_dir(out.parent)
    log.info("event=backup_written file=%s", out.name)
    return out


# --- checking a file before restoring it ---------------------------------------------------


@dataclass(frozen=True)
class BackupCheck:
    applied: list[str]
    pending: list[str]


def check_backup_file(path: str, migrations: list[Migration] | None = None) -> BackupCheck:
    """Integrity and schema version of a backup file; raise BackupError on any problem."""
    migrations = discover_migrations() if migrations is None else migrations
    try:
        problems = file_integrity_problems(path)
    except DatabaseError as exc:
        raise BackupError(str(exc)) from None
    if problems:
        raise BackupError(f"{path} failed the integrity check: {problems[0]}")
    conn = _connect_ro(path)
    try:
        has_table = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()[0]
        if not has_table:
            raise BackupError(f"{path} is not a Pendamping database (no schema_migrations)")
        applied = dict(conn.execute("SELECT name, checksum FROM schema_migrations").fetchall())
    finally:
        conn.close()
    known = {m.name: m for m in migrations}
    for name, checksum in sorted(applied.items()):
        if name not in known:
            raise BackupError(
                f"{path} has migration {name}, which this version of Pendamping does not know: "
                "it comes from a newer version; upgrade Pendamping first"
            )
        if not known[name].accepts(checksum):
            raise BackupError(
                f"{path} has migration {name} with a different checksum than this version's "
                "file: it does not belong to this version of Pendamping"
            )
    if not applied:
        raise BackupError(f"{path} has no migrations applied: not a Pendamping database")
    pending = [m.name for m in migrations if m.name not in applied]
    return BackupCheck(applied=sorted(applied), pending=pending)


@dataclass(frozen=True)
class RestoreResult:
    check: BackupCheck
    replaced_copy: Path | None


def restore_database(
    database: str, source: str, now: dt.datetime, *, force: bool = False
) -> RestoreResult:
    """Replace database with source, refusing while the bot runs; keep a copy of the old one."""
    target = Path(database)
    if Path(source).resolve() == target.resolve():
        raise BackupError("the file to restore is the database itself")
    check = check_backup_file(source)
    if target.exists() and not force:
        raise BackupError(
            f"{database} exists; use --force to replace it (a copy of it is kept beside it)"
        )
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    with RunLock(database) as lock, SenderLock(database) as sending:
        lock.acquire("restore")  # refuses while `pendamping run` holds it
        sending.acquire("restore")  # and while `send`, `tick` or `broadcast` deliver
        replaced = None
        if target.exists():
            stamp = now.astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")
            replaced = target.with_name(f"{target.name}.replaced-{stamp}")
            n = 1
            while replaced.exists():
                replaced = target.with_name(f"{target.name}.replaced-{stamp}-{n}")
                n += 1
            try:  # a copy kept beside it; no old -wal can be replayed onto the restored file
                set_aside(target, replaced)
            except DatabaseError as exc:
                raise BackupError(f"cannot set the current database aside: {exc}") from None
        tmp = target.with_name(f".{target.name}.restore-{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            backup_to(source, tmp)
        except DatabaseError as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise BackupError(f"cannot copy {source}: {exc}") from None
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(f"{database}{suffix}").unlink()
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    log.info("event=restored pending_migrations=%d", len(check.pending))
    return RestoreResult(check, replaced)


# --- the daily automatic backup ------------------------------------------------------------


def backup_dir(database: str, settings: Settings) -> Path:
    """Where backups go: [backup] dir, or a backups folder beside the database."""
    if settings.backup.dir:
        return Path(settings.backup.dir)
    return (files_folder(database, settings.files_dir) or Path(".").resolve()) / "backups"


def list_auto_backups(folder: Path) -> list[tuple[dt.datetime, Path]]:
    """Automatic backups in folder, oldest first, with the UTC time in their name."""
    found: list[tuple[dt.datetime, Path]] = []
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        m = _AUTO_NAME.match(path.name)
        if not m:
            continue
        try:
            when = dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
        except ValueError:
            continue
        found.append((when.replace(tzinfo=dt.UTC), path))
    return sorted(found)


def prune_auto_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest keep automatic backups; other files are never touched."""
    backups = list_auto_backups(folder)
    doomed = [p for _, p in backups[:-keep]] if keep > 0 else []
    for path in doomed:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return doomed


@dataclass(frozen=True)
class DueBackupResult:
    made: Path | None
    pruned: list[Path]


async def run_due_backup(db_path: str, settings: Settings, now: dt.datetime) -> DueBackupResult:
    """Make today's backup if it is due (local hour >= backup.hour, none yet today); prune.

    Idempotent: call it every minute; it makes at most one backup per local day.
    """
    if settings.backup.keep <= 0:
        return DueBackupResult(None, [])
    tz = settings.tz
    local = now.astimezone(tz)
    if local.hour < settings.backup.hour:
        return DueBackupResult(None, [])
    folder = backup_dir(db_path, settings)
    today = local.date()
    if any(when.astimezone(tz).date() == today for when, _ in list_auto_backups(folder)):
        return DueBackupResult(None, [])
    private_dir(folder, tighten=True)
    name = f"{AUTO_PREFIX}{now.astimezone(dt.UTC).strftime('%Y%m%d-%H%M%S')}.db"
    made = await asyncio.to_thread(backup_database, db_path, folder / name)
    pruned = prune_auto_backups(folder, settings.backup.keep)
    return DueBackupResult(made, pruned)
