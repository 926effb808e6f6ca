"""One database connection per process: transactions, migrations, the engine-specific API.

SQLite (a file path, the default that needs nothing) is implemented here: one aiosqlite
connection, WAL, foreign keys. PostgreSQL (a `postgresql://user@host/db` URL) lives in
bot/db/postgres.py behind the same API; bot/db/translate.py turns the services' SQLite dialect
and the migrations' SQLite DDL into PostgreSQL's. Services keep to portable SQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiosqlite

from bot.db.translate import without_row_locks
from bot.paths import files_folder, migrations_dir

BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class DatabaseError(Exception):
    """A database problem phrased for an operator, one line."""


# The driver errors services may catch: sqlite3's classes, which the PostgreSQL backend's
# errors subclass (bot/db/postgres.py), so one `except IntegrityError` holds on both engines.
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | os.PathLike[str]) -> bool:
    """Whether a `database` setting names a PostgreSQL server (a URL) rather than a file."""
    return str(target).startswith(POSTGRES_SCHEMES)


def without_password(url: str) -> str:
    """A PostgreSQL URL without its password (commands shown, logs): the password belongs in
    ~/.pgpass or PGPASSWORD."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "postgresql://(malformed URL)"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{user}@{host}" if user else host).geturl()


def pg_dump_command(url: str, out: str) -> str:
    """The command that backs up a PostgreSQL database (custom format, for pg_restore); a
    kabupaten's schema on a shared database: that schema only."""
    from bot.db.pgschema import DEFAULT_SCHEMA, schema_of

    schema = schema_of(url)
    only = "" if schema == DEFAULT_SCHEMA else f" -n {schema}"
    return f"pg_dump -Fc{only} -f {out} '{without_password(url)}'"


def pg_restore_command(url: str, dump: str) -> str:
    """The command that restores such a dump into the (emptied) database."""
    return f"pg_restore --clean --if-exists --no-owner -d '{without_password(url)}' {dump}"


def _explain(exc: BaseException, path: str) -> DatabaseError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DatabaseError(f"database {path} is locked by another process; try again later")
    if "not a database" in text or "malformed" in text:
        return DatabaseError(
            f"database {path} is damaged or not a Pendamping database ({text}); "
            "restore it from a backup"
        )
    if "unable to open" in text:
        return DatabaseError(f"cannot open database {path}: check that the folder exists")
    if "readonly" in text:
        return DatabaseError(f"database {path} is read-only: check the file's permissions")
    return DatabaseError(f"database {path}: {text}")


def _can_write(path: Path, *, folder: bool = False) -> bool:
    mode = os.W_OK | (os.X_OK if folder else 0)
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def write_problem(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(what is wrong, the fix) when this process could not write the database (its folder,
    the file, -wal or -shm), else None.

    For `run` (refuses to start with one line) and `doctor` (FAIL). It asks the kernel
    (access(2) with the effective ids), so a read-only mount counts as well as modes and owners.
    """
    path = str(path)
    if path == ":memory:" or is_postgres(path):
        return None
    p = Path(path)
    folder = p.resolve().parent
    if not folder.is_dir():
        return f"the database folder {folder} does not exist", f"`install -d -m 0700 {folder}`"
    if not _can_write(folder, folder=True):
        return (
            f"the database folder {folder} is read-only for this user"
            " (SQLite and the locks write beside the database)",
            f"`chown -R pendamping: {folder} && chmod 0700 {folder}`, or mount it read-write",
        )
    for f in (p, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.exists() and not _can_write(f):
            return (
                f"the database file {f} is read-only for this user (every write would fail)",
                f"`chown pendamping: {f} && chmod 0600 {f}`",
            )
    return None


class Database:
    """A single connection with a write lock: one writer at a time inside this process."""

    engine = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: str, readonly: bool = False) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._write_lock = asyncio.Lock()
        # The folder of the files written beside the data (digests/): Database.open(files_dir=)
        self.files_dir = files_folder(path)

    @property
    def is_file(self) -> bool:
        """Whether the database is a local file (backups, locks and vacuum beside it)."""
        return self.engine == "sqlite" and self.path != ":memory:"

    def describe(self) -> str:
        """How messages name this database (a PostgreSQL URL's password never shows)."""
        return self.path

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, readonly: bool = False, files_dir: str = ""
    ) -> Database:
        """Open (creating with mode 0600 unless readonly) and set the pragmas; a
        postgresql:// URL opens the PostgreSQL backend instead. files_dir: Settings.files_dir."""
        path = str(path)
        if is_postgres(path):
            from bot.db.postgres import PgDatabase

            pg = await PgDatabase.connect(path, readonly=readonly)
            pg.files_dir = files_folder(path, files_dir)
            return pg
        if path != ":memory:":
            p = Path(path)
            if not p.parent.exists():
                raise DatabaseError(
                    f"cannot open database {path}: folder {p.parent} does not exist"
                )
            if readonly and not p.exists():
                raise DatabaseError(f"database {path} does not exist")
            if not readonly and not p.exists():
                try:
                    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
                    os.close(fd)
                except FileExistsError:
                    pass
                except OSError as exc:
                    raise DatabaseError(f"cannot create database {path}: {exc.strerror}") from None
        target = f"file:{path}?mode=ro" if readonly else path
        try:
            conn = await aiosqlite.connect(
                target, uri=readonly, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise _explain(exc, path) from None
        conn.row_factory = aiosqlite.Row
        db = cls(conn, path, readonly)
        db.files_dir = files_folder(path, files_dir)
        try:
            await db.fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.fetchall("PRAGMA foreign_keys = ON")
            # Reading the schema fails fast on a file that is not a database.
            await db.fetchall("SELECT count(*) FROM sqlite_master")
            if not readonly:
                await db.fetchall("PRAGMA journal_mode = WAL")
                await db.fetchall("PRAGMA synchronous = NORMAL")
                await db.fetchall("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            await conn.close()
            raise _explain(exc, path) from None
        return db

    async def close(self) -> None:
        await self.conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any exception; serialised in-process."""
        async with self._write_lock:
            try:
                await self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _explain(exc, self.path) from None
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement in its own transaction; return lastrowid."""
        async with self.transaction() as conn:
            cur = await conn.execute(without_row_locks(sql), params)
            return cur.lastrowid or 0

    async def fetchall(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        # One round trip to aiosqlite's thread (execute + fetch + close together).
        return list(await self.conn.execute_fetchall(without_row_locks(sql), params))

    async def fetchone(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> aiosqlite.Row | None:
        async with self.conn.execute(without_row_locks(sql), params) as cur:
            return await cur.fetchone()

    async def update(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """One write statement, committed on its own (autocommit), serialised with
        transactions; return the number of rows changed. Cheaper than execute() for hot paths.

        A row lock in it (`FOR UPDATE SKIP LOCKED`, PostgreSQL's) is dropped on SQLite, here
        and in execute / fetchall / fetchone (not on a transaction's own connection)."""
        async with self._write_lock, self.conn.execute(without_row_locks(sql), params) as cur:
            return cur.rowcount

    async def fetchval(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    # --- maintenance and schema: the engine-specific part of the API, so services keep to
    # portable SQL and a second backend implements these few methods ---------------------

    async def integrity_check(self) -> list[str]:
        """Problems found by a full integrity check ([] when the file is sound); a damaged file
        may raise DatabaseError instead."""
        try:
            rows = await self.fetchall("PRAGMA integrity_check")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path} is damaged ({exc})") from None
        return [r[0] for r in rows if r[0] != "ok"]

    async def checkpoint(self) -> bool:
        """Fold the write-ahead log into the file and truncate it; False if another connection
        kept it from finishing (try again later)."""
        row = await self.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
        return row is not None and row[0] == 0

    async def vacuum(self) -> None:
        """Rewrite the whole file without free pages (the engine holds its write lock for the
        whole rewrite: only when the bot is not running)."""
        await self.fetchall("VACUUM")

    async def has_table(self, name: str) -> bool:
        """Whether the database has this table."""
        return name in await self.tables()

    async def tables(self) -> list[str]:
        """The application's tables, by name."""
        rows = await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
        return [r[0] for r in rows]

    async def columns(self, table: str) -> list[ColumnInfo]:
        """A table's columns in order ([] for a table that does not exist)."""
        rows = await self.fetchall(f'PRAGMA table_info("{table}")')
        return [
            ColumnInfo(r["name"], (r["type"] or "").upper(), bool(r["notnull"]), bool(r["pk"]))
            for r in rows
        ]

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        """A table's foreign keys; parent_column None means the parent's primary key."""
        rows = await self.fetchall(f'PRAGMA foreign_key_list("{table}")')
        return [ForeignKey(r["from"], r["table"], r["to"]) for r in rows]

    async def _ensure_migrations_table(self) -> None:
        async with self._write_lock:
            await self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )

    async def _apply_migration(self, m: Migration, applied_at: str) -> None:
        """The migration's statements and its record in one transaction, or neither."""
        # executescript() commits any open transaction first, so BEGIN/COMMIT live inside
        # the script: the file's statements and its record commit together or not at all.
        script = (
            "BEGIN IMMEDIATE;\n"
            f"{m.sql}\n;\n"
            "INSERT INTO schema_migrations (name, checksum, applied_at) VALUES "
            f"('{m.name}', '{m.checksum}', '{applied_at}');\n"
            "COMMIT;"
        )
        async with self._write_lock:
            try:
                await self.conn.executescript(script)
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise MigrationError(
                    f"migration {m.name} failed and was rolled back: {exc}"
                ) from None


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a table, as the schema declares it."""

    name: str
    type: str
    notnull: bool
    pk: bool


@dataclass(frozen=True)
class ForeignKey:
    """column REFERENCES parent(parent_column)."""

    column: str
    parent: str
    parent_column: str | None


# --- database files (backups): the same engine-specific API for a file that is not open ------


def connect_readonly(path: str | os.PathLike[str], timeout: float = 5) -> sqlite3.Connection:
    """A plain read-only connection to a database file (other processes, backups); raises
    DatabaseError when the file is missing or not a database. For a PostgreSQL URL: a
    read-only connection with the same execute(sql, params).fetchall() (bot/db/postgres.py)."""
    path = str(path)
    if is_postgres(path):
        from bot.db.postgres import connect_sync

        return cast(sqlite3.Connection, connect_sync(path))
    if not Path(path).exists():
        raise DatabaseError(f"database {path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot read database {path}: {exc}") from None
    return conn


def backup_to(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """A consistent snapshot of the database file `source` written into `out` (which must not
    exist): mode 0600, one self-contained file (no -wal), quick-checked, fsynced. `source`
    may be in use by the bot: the copy reads one committed state and never blocks its writes.
    Raises DatabaseError on any failure (a partial `out` is the caller's to remove)."""
    src = connect_readonly(source)
    try:
        _copy_into_new_file(src, Path(out))
    finally:
        src.close()


def set_aside(database: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Copy a database that nothing else uses (the bot is stopped) into `out`, then fold its
    write-ahead log into the file and drop it, so no old log can be replayed onto a file
    put in its place."""
    try:
        live = sqlite3.connect(str(database), timeout=5)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open {database}: {exc}") from None
    try:
        _copy_into_new_file(live, Path(out))
        live.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.Error as exc:
        raise DatabaseError(str(exc)) from None
    finally:
        live.close()


def file_integrity_problems(path: str | os.PathLike[str]) -> list[str]:
    """A full integrity check of a database file ([] when sound); DatabaseError when it is
    damaged beyond checking or not a database."""
    conn = connect_readonly(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path} is damaged or not a database ({exc})") from None
    finally:
        conn.close()
    return [r[0] for r in rows if r[0] != "ok"]


def _copy_into_new_file(src: sqlite3.Connection, out: Path) -> None:
    """Backup-API copy of src into a fresh 0600 file at out (which must not exist)."""
    fd = os.open(out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask says
    os.close(fd)
    try:
        dst = sqlite3.connect(str(out))
        try:
            src.backup(dst)  # pages=-1: the whole snapshot in one step, so it is consistent
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal
            result = dst.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise DatabaseError(f"copy into {out.name} failed: {exc}") from None
    if result != "ok":
        raise DatabaseError(f"the copy failed its check ({result})")
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- migrations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    name: str  # e.g. "0001_initial"
    sql: str
    checksum: str  # of the SQLite file, the migration's identity on every engine
    # migrations/postgresql/<name>.sql when the automatic translation of `sql` is not enough
    postgresql: str | None = None

    def accepts(self, recorded: str) -> bool:
        """Whether a database's recorded checksum belongs to this migration's text (the
        current one, or an earlier one that differed only in comments)."""
        return recorded == self.checksum or recorded in EARLIER_CHECKSUMS.get(self.name, ())


@dataclass(frozen=True)
class MigrationState:
    name: str
    applied_at: str | None  # None: pending


class MigrationError(DatabaseError):
    """The database and the code disagree about the schema; refuse to go on."""


# Applied migrations whose comments were reworded after release (one comment line each, no
# statement changed; the commit that reworded them shows it): a database that recorded an
# earlier text's checksum is still consistent with the code.
EARLIER_CHECKSUMS: dict[str, frozenset[str]] = {
    "0002_registry": frozenset(
        {"0f3b1590a8c6741bb2127e73b0b762366f5e2a9638184e32c960534839c1414e"}
    ),
    "0005_scores": frozenset({"be1884a976b7bb8004fdeed3324e8e53428d26b2ba0ed3d31f132f7379fcb60c"}),
    "0006_digests": frozenset({"2ab92d6b6536fc1e5ea2015cf01bb0ec3a0c8b7df3e158bad1671c5235b42139"}),
}


def discover_migrations(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        if not _MIGRATION_NAME.match(path.name):
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        sql = path.read_text(encoding="utf-8")
        variant = directory / "postgresql" / path.name
        pg = variant.read_text(encoding="utf-8") if variant.is_file() else None
        found.append(Migration(path.stem, sql, hashlib.sha256(sql.encode()).hexdigest(), pg))
    numbers = [m.name[:4] for m in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError("two migration files share a number")
    return found


async def _applied(db: Database) -> dict[str, tuple[str, str]]:
    if not await db.has_table("schema_migrations"):
        return {}
    rows = await db.fetchall("SELECT name, checksum, applied_at FROM schema_migrations")
    return {r["name"]: (r["checksum"], r["applied_at"]) for r in rows}


def _check_consistent(migrations: Iterable[Migration], applied: dict[str, tuple[str, str]]) -> None:
    known = {m.name: m for m in migrations}
    for name in sorted(applied):
        if name not in known:
            raise MigrationError(
                f"the database has migration {name}, which this version of Pendamping "
                "does not know: the database is newer than the code; upgrade Pendamping"
            )
        if not known[name].accepts(applied[name][0]):
            raise MigrationError(
                f"migration {name} was changed after it was applied (checksum differs); "
                "an applied migration must never be edited: restore the file from git"
            )


async def migration_status(
    db: Database, migrations: list[Migration] | None = None
) -> list[MigrationState]:
    """One state per known migration; raises MigrationError if code and database disagree."""
    migrations = discover_migrations() if migrations is None else migrations
    try:
        applied = await _applied(db)
    except sqlite3.Error as exc:
        raise _explain(exc, db.describe()) from None
    _check_consistent(migrations, applied)
    return [
        MigrationState(m.name, applied[m.name][1] if m.name in applied else None)
        for m in migrations
    ]


async def migrate(
    db: Database,
    now: datetime | None = None,
    migrations: list[Migration] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Apply pending migrations in order, each with its record in one transaction.

    on_progress(name) is called right before each migration starts (`pendamping migrate`
    prints "applying NAME")."""
    migrations = discover_migrations() if migrations is None else migrations
    now = now or datetime.now(UTC)
    await db._ensure_migrations_table()
    states = await migration_status(db, migrations)
    pending = [m for m, s in zip(migrations, states, strict=True) if s.applied_at is None]
    done = []
    for m in pending:
        if on_progress is not None:
            on_progress(m.name)
        await db._apply_migration(m, now.astimezone(UTC).isoformat(timespec="seconds"))
        done.append(m.name)
    return done


async def open_migrated(path: str, now: datetime | None = None, *, files_dir: str = "") -> Database:
    """Open the database for writing and bring its schema up to date."""
    db = await Database.open(path, files_dir=files_dir)
    try:
        await migrate(db, now)
    except BaseException:
        await db.close()
        raise
    return db
