"""The PostgreSQL backend: the same Database API over one psycopg 3 async connection.

Services keep SQLite's dialect and driver surface (`?` placeholders, `conn.execute(...)` as an
awaitable or an async context manager, rows readable by index and by name, `lastrowid`,
`rowcount`, `sqlite3.IntegrityError`); this module maps each of them:
- placeholders and `%` (bot.db.translate.to_pyformat), cached per statement;
- parameters reach the server untyped (ints too), so a value takes the type of the column it
  meets, as SQLite's column affinity does; datetimes are sent as SQLite's adapter writes them
  (ISO text), booleans as 0/1;
- numeric results (sum(), avg() of integers) come back as int or float, not Decimal;
- an INSERT into a table with an identity `id` gets `RETURNING id` for `lastrowid`; an
  INSERT naming `id` explicitly moves the identity past it (SQLite's max(rowid)+1 rule);
- driver errors become sqlite3's exception classes (subclasses), so `except
  sqlite3.IntegrityError` in a service holds on both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, ClassVar, cast
from urllib.parse import unquote, urlsplit

import aiosqlite
import psycopg
from psycopg import AsyncConnection, AsyncCursor, sql
from psycopg.adapt import Dumper, Loader
from psycopg.rows import tuple_row

from bot.db import (
    ColumnInfo,
    Database,
    DatabaseError,
    ForeignKey,
    Migration,
    MigrationError,
)
from bot.db.pgschema import DEFAULT_SCHEMA, lock_key, schema_of
from bot.db.translate import (
    UntranslatableDDL,
    ddl_to_postgres,
    insert_target,
    split_statements,
    to_pyformat,
)

URL_SCHEMES = ("postgresql://", "postgres://")

log = logging.getLogger("pendamping.db")


def is_postgres_url(target: str) -> bool:
    return target.startswith(URL_SCHEMES)


def describe(url: str) -> str:
    """'PostgreSQL database NAME on HOST:PORT' for messages: never the password nor the user."""
    where = host_and_database(url)
    if where is None:
        return "PostgreSQL database (malformed URL)"
    schema = schema_of(url)
    inside = "" if schema == DEFAULT_SCHEMA else f" (schema {schema})"
    return f"PostgreSQL database {where[1]} on {where[0]}{inside}"


def host_and_database(url: str) -> tuple[str, str] | None:
    """('HOST:PORT', 'NAME') of a URL (log lines), None when it is malformed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        name = unquote(parts.path.lstrip("/")) or (parts.username or "postgres")
    except ValueError:
        return None
    try:
        port = str(parts.port or 5432)
    except ValueError:
        port = parts.netloc.rsplit(":", 1)[-1]  # not a number: shown as written
    return f"{host}:{port}", name


# --- errors -----------------------------------------------------------------------------------


class PgIntegrityError(sqlite3.IntegrityError):
    """A constraint failed (unique, foreign key, check, not null) on PostgreSQL."""


class PgOperationalError(sqlite3.OperationalError):
    """Any other statement error on PostgreSQL (no such table, syntax, ...)."""


class PgConnectionLost(PgOperationalError):
    """The session ended under a statement (server restart, network cut, backend terminated)."""


def _mapped(exc: psycopg.Error) -> sqlite3.Error:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.IntegrityError):
        return PgIntegrityError(text)
    return PgOperationalError(text)


# --- adaptation -------------------------------------------------------------------------------


class _UntypedIntDumper(Dumper):
    oid = 0  # unknown: the server types it from where it is used (a TEXT column, a BIGINT)

    def dump(self, obj: Any) -> bytes:
        return str(int(obj)).encode()


class _DatetimeDumper(Dumper):
    oid = 0

    def dump(self, obj: Any) -> bytes:
        return obj.isoformat(" ").encode()  # what sqlite3's default adapter stores


class _DateDumper(Dumper):
    oid = 0

    def dump(self, obj: Any) -> bytes:
        return obj.isoformat().encode()


class _NumericLoader(Loader):
    def load(self, data: Any) -> Any:
        text = bytes(data).decode()
        if "." in text or "e" in text.lower() or text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return int(text)


def _adapt(conn: psycopg.AsyncConnection[Any] | psycopg.Connection[Any]) -> None:
    adapters = conn.adapters
    for t in (int, bool):
        adapters.register_dumper(t, _UntypedIntDumper)
    adapters.register_dumper(dt.datetime, _DatetimeDumper)
    adapters.register_dumper(dt.date, _DateDumper)
    adapters.register_loader("numeric", _NumericLoader)


# --- rows -------------------------------------------------------------------------------------


class Row(tuple[Any, ...]):
    """A result row readable by position and by column name, like sqlite3.Row."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}
    _names: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._index[key])
            except KeyError:
                try:
                    return tuple.__getitem__(self, self._index[key.lower()])
                except KeyError:
                    raise IndexError("No item with that key") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=2048)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
        index.setdefault(name.lower(), i)
    return type("Row", (Row,), {"__slots__": (), "_index": index, "_names": names})


def _named_row(cursor: Any) -> Any:
    desc = cursor.description
    if desc is None:
        return tuple
    cls = _row_class(tuple(d.name for d in desc))
    return cls


# --- cursor and connection (aiosqlite's surface) ----------------------------------------------


def _params(params: Sequence[Any] | dict[str, Any] | None) -> Any:
    if params is None:
        return ()
    if isinstance(params, dict):
        return params
    return tuple(params)


_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\s+TABLE\b", re.I)
_DROP = re.compile(r"^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?\S+", re.I)


class Cursor:
    """The result of one statement: fetch*, lastrowid, rowcount, description, row_factory."""

    def __init__(self, cur: AsyncCursor[Any], lastrowid: int | None) -> None:
        self._cur = cur
        self.lastrowid = lastrowid
        self.rowcount = cur.rowcount
        self._tuples = False

    @property
    def description(self) -> Any:
        desc = self._cur.description
        return (
            None if desc is None else [(d.name, None, None, None, None, None, None) for d in desc]
        )

    @property
    def row_factory(self) -> Any:
        return None if self._tuples else Row

    @row_factory.setter
    def row_factory(self, value: Any) -> None:
        self._tuples = value is None
        self._cur.row_factory = tuple_row if value is None else _named_row

    async def fetchone(self) -> Any:
        if self._cur.description is None:
            return None
        return await self._cur.fetchone()

    async def fetchall(self) -> list[Any]:
        if self._cur.description is None:
            return []
        return await self._cur.fetchall()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._cur.description is None:
            return []
        return await self._cur.fetchmany(size or self._cur.arraysize)

    async def close(self) -> None:
        await self._cur.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Any]:
        while True:
            row = await self.fetchone()
            if row is None:
                return
            yield row


class _Pending:
    """`await conn.execute(...)` or `async with conn.execute(...) as cur`, as in aiosqlite."""

    def __init__(self, conn: PgConnection, sql: str, params: Any) -> None:
        self._conn = conn
        self._sql = sql
        self._params = params
        self._cursor: Cursor | None = None

    def __await__(self) -> Any:
        return self._conn._run(self._sql, self._params).__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._conn._run(self._sql, self._params)
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConnection:
    """aiosqlite.Connection's methods that the services use, over psycopg."""

    def __init__(self, raw: AsyncConnection[Any]) -> None:
        self.raw = raw
        self.identity_tables: set[str] = set()
        # The task whose transaction is open, and the Database's write lock: a statement of
        # another task waits for that transaction (see _run).
        self.owner: asyncio.Task[Any] | None = None
        self.write_lock: asyncio.Lock | None = None
        # Reopens a lost session (PgDatabase sets it; None: a lost session stays lost).
        self.reviver: Reviver | None = None
        self.in_transaction = False  # BEGIN sent, COMMIT/ROLLBACK not yet
        self.shut = False  # close() was called: never reopened again

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = ()) -> _Pending:
        return _Pending(self, sql, params)

    async def execute_fetchall(
        self, sql: str, params: Sequence[Any] | dict[str, Any] | None = ()
    ) -> list[Any]:
        cur = await self._run(sql, params)
        try:
            return await cur.fetchall()
        finally:
            await cur.close()

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any] | dict[str, Any]]) -> Cursor:
        rows = [_params(p) for p in seq]
        named = bool(rows) and isinstance(rows[0], dict)
        await self.ready()  # never run again after a failure: some rows may be in
        try:
            cur = self.raw.cursor(row_factory=_named_row)
            if rows:
                await cur.executemany(to_pyformat(sql, named), rows)
        except psycopg.Error as exc:
            raise self._error(exc) from None
        target = insert_target(sql)
        if target is not None and target[1]:
            await self._move_identity(target[0])
        return Cursor(cur, None)

    async def _run(self, sql: str, params: Sequence[Any] | dict[str, Any] | None) -> Cursor:
        owner = self.owner
        if owner is not None and owner is not asyncio.current_task() and self.write_lock:
            # One connection serves every task: a statement run in the middle of another
            # task's transaction would see its uncommitted rows, and on an error abort it.
            # It waits for that transaction instead, as on a connection of its own.
            async with self.write_lock:
                return await self._run_now(sql, params)
        return await self._run_now(sql, params)

    async def _run_now(self, sql: str, params: Sequence[Any] | dict[str, Any] | None) -> Cursor:
        """The statement; when the session was lost (before it, or under it) and no
        transaction is open, it is reopened and the statement run once more (see Reviver)."""
        await self.ready()
        try:
            return await self._run_once(sql, params)
        except PgConnectionLost:
            # Not inside a transaction: its work went with the session, so it must fail.
            # Nor a DDL script, which may have got halfway.
            if not self._may_revive() or _DDL.match(sql):
                raise
        await self.ready()
        return await self._run_once(sql, params)

    def _may_revive(self) -> bool:
        return self.reviver is not None and not self.in_transaction and not self.shut

    async def ready(self) -> None:
        """Reopen a lost session before a statement, unless a transaction is open (the
        statement then fails: the transaction's work went with the session)."""
        if self.raw.closed and self.reviver is not None and self._may_revive():
            await self.reviver.revive(self)

    def _error(self, exc: psycopg.Error) -> sqlite3.Error:
        """The sqlite3-class error of a driver error; PgConnectionLost when the session died."""
        mapped = _mapped(exc)
        if self.raw.closed and isinstance(exc, psycopg.OperationalError):
            return PgConnectionLost(str(mapped))
        return mapped

    async def begin(self) -> None:
        """BEGIN on a live session: a lost one is reopened first, and BEGIN sent again when
        the session turns out lost under it (nothing of the new transaction was done yet)."""
        await self.ready()
        try:
            await self.raw.execute("BEGIN")
        except psycopg.OperationalError:
            if not (self.raw.closed and self._may_revive()):
                raise
        else:
            self.in_transaction = True
            return
        await self.ready()
        await self.raw.execute("BEGIN")
        self.in_transaction = True

    async def rollback(self) -> None:
        """ROLLBACK, unless the session is gone (the server ended the transaction with it)."""
        if self.raw.closed:
            return
        try:
            await self.raw.execute("ROLLBACK")
        except psycopg.OperationalError:
            if not self.raw.closed:
                raise

    async def _run_once(self, sql: str, params: Sequence[Any] | dict[str, Any] | None) -> Cursor:
        args = _params(params)
        if _DDL.match(sql):
            return await self._run_ddl(sql, args)
        query = to_pyformat(sql, isinstance(args, dict))
        target = insert_target(sql)
        added_returning = False
        if target is not None and not target[2] and target[0] in self.identity_tables:
            query = query.rstrip().rstrip(";") + " RETURNING id"
            added_returning = True
        try:
            cur = self.raw.cursor(row_factory=_named_row)  # raises on a closed connection
        except psycopg.Error as exc:
            raise self._error(exc) from None
        try:
            await cur.execute(query, args)
        except psycopg.Error as exc:
            await cur.close()
            raise self._error(exc) from None
        lastrowid = None
        if added_returning:
            rows = await cur.fetchall()
            lastrowid = rows[-1][0] if rows else None
        if target is not None and target[1]:
            await self._move_identity(target[0])
        return Cursor(cur, lastrowid)

    async def _run_ddl(self, sql: str, args: Any) -> Cursor:
        """A CREATE / ALTER / DROP TABLE outside the migrations (a script, a test): the same
        translation as the migrations' DDL; DROP TABLE leaves dependants, as SQLite does."""
        try:
            statements = ddl_to_postgres(sql)
        except UntranslatableDDL as exc:
            raise PgOperationalError(f"no PostgreSQL translation for {exc}") from None
        statements = [_DROP.sub(r"\g<0> CASCADE", st) for st in statements]
        try:
            cur = self.raw.cursor(row_factory=_named_row)  # raises on a closed connection
        except psycopg.Error as exc:
            raise self._error(exc) from None
        try:
            for stmt in statements:
                await cur.execute(to_pyformat(stmt, isinstance(args, dict)), args or None)
        except psycopg.Error as exc:
            await cur.close()
            raise self._error(exc) from None
        await refresh_identity_tables(self)
        return Cursor(cur, None)

    async def _move_identity(self, table: str) -> None:
        """After rows were inserted with explicit ids: new rows continue after the largest."""
        if table not in self.identity_tables:
            return
        await self.raw.execute(
            f'SELECT setval(pg_get_serial_sequence(%s, %s), m) FROM (SELECT max(id) AS m FROM "{table}") x'
            " WHERE m IS NOT NULL",
            (f'"{table}"', "id"),
        )

    async def close(self) -> None:
        self.shut = True
        await self.raw.close()


async def connect(url: str, *, readonly: bool = False) -> PgConnection:
    """An autocommit psycopg connection with the adaptations above; raises psycopg errors."""
    raw = await AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
    _adapt(raw)
    raw.row_factory = cast(Any, _named_row)
    if readonly:
        await raw.execute("SET default_transaction_read_only = on")
    conn = PgConnection(raw)
    await refresh_identity_tables(conn)
    return conn


async def refresh_identity_tables(conn: PgConnection) -> None:
    cur = await conn.raw.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'id' AND is_identity = 'YES'"
    )
    conn.identity_tables = {r[0] for r in await cur.fetchall()}


def explain_connect_error(exc: BaseException, url: str) -> str:
    """One line naming host and database (never the password) for a failed connection."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    reason = lines[-1] if lines else type(exc).__name__
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        reason = "authentication failed (wrong user or password)"
    elif "does not exist" in low and "database" in low:
        reason = "the database does not exist (create it: docs/operations.md, PostgreSQL)"
    elif "connection refused" in low or "could not connect" in low or "timeout" in low:
        reason = "no server answers there (is PostgreSQL running, host and port right?)"
    elif "role" in low and "does not exist" in low:
        reason = "that user (role) does not exist"
    # psycopg quotes the connection string in some errors: never show a password.
    try:
        pw = urlsplit(url).password
    except ValueError:
        pw = None
    if pw:
        reason = reason.replace(pw, "***")
    return f"cannot open {describe(url)}: {reason}"


# --- a lost session: reopened, with a bounded wait while the server is away -----------------


@dataclass
class RetryPolicy:
    """How a PgDatabase waits for a server that went away (docs/decisions.md).

    A call that finds the session lost waits up to `wait_seconds` for a new one, then raises
    DatabaseError; connection attempts start at once, then `first_delay` apart, doubling up to
    `max_delay`; `event=database_unavailable` is logged at most every `log_every` seconds.
    `monotonic` and `sleep` are the real ones unless a test injects manual ones."""

    wait_seconds: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 30.0
    log_every: float = 60.0
    monotonic: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


class Reviver:
    """Reopens a PgConnection's lost session with the same URL and adaptations (`opener`).

    One attempt at a time, whatever the number of tasks waiting: a task that finds the
    session lost waits for the attempts under way, up to its own bound. Between failed
    attempts the delay doubles (the schedule is shared: a task that comes later does not
    start it over). The outage is logged when an attempt first fails and then at most once
    per `log_every`, its end once (`event=database_back after=Ns`); host and database only,
    never the user or password."""

    def __init__(
        self,
        url: str,
        opener: Callable[[], Awaitable[PgConnection]],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.url = url
        self.opener = opener
        self.policy = policy or RetryPolicy()
        self.host, self.database = host_and_database(url) or ("?", "?")
        self.reopened = 0  # sessions reopened since the start
        self._lock = asyncio.Lock()
        self._delay = self.policy.first_delay
        self._next_try: float | None = None  # no attempt before this (after a failed one)
        self._lost_at: float | None = None
        self._failures = 0
        self._logged_at: float | None = None
        self._error: BaseException | None = None

    @property
    def unavailable(self) -> bool:
        """The last attempt to reach the server failed (an outage under way)."""
        return self._failures > 0

    async def revive(self, conn: PgConnection) -> None:
        """Give conn a new session, waiting up to policy.wait_seconds; DatabaseError (one line
        naming host and database) when the server is still away then."""
        p = self.policy
        deadline = p.monotonic() + p.wait_seconds
        async with self._lock:
            while conn.raw.closed:
                if conn.shut:
                    raise DatabaseError(f"{describe(self.url)}: the connection was closed")
                now = p.monotonic()
                if self._lost_at is None:
                    self._lost_at = now
                if self._next_try is not None and now < self._next_try:
                    if now >= deadline:
                        raise self._gave_up()
                    await p.sleep(min(self._next_try, deadline) - now)
                    continue
                try:
                    fresh = await self.opener()
                except Exception as exc:  # refused, timed out, DNS, auth: try again later
                    self._failed(exc)
                    continue
                if conn.shut:
                    await fresh.close()
                    continue
                old, conn.raw, conn.identity_tables = conn.raw, fresh.raw, fresh.identity_tables
                with contextlib.suppress(Exception):
                    await old.close()
                self._back()

    def _gave_up(self) -> DatabaseError:
        error = self._error or TimeoutError("no answer")
        return DatabaseError(explain_connect_error(error, self.url))

    def _failed(self, exc: BaseException) -> None:
        p = self.policy
        now = p.monotonic()
        self._failures += 1
        self._error = exc
        self._next_try = now + self._delay
        wait = self._delay
        self._delay = min(self._delay * 2, p.max_delay)
        if self._logged_at is not None and now - self._logged_at < p.log_every:
            return
        self._logged_at = now
        reason = explain_connect_error(exc, self.url).removeprefix(
            f"cannot open {describe(self.url)}: "
        )
        log.warning(
            "event=database_unavailable host=%s db=%s for=%ds attempts=%d next_try_in=%gs"
            " reason=%s",
            self.host, self.database, round(now - (self._lost_at or now)), self._failures,
            wait, reason,
        )  # fmt: skip

    def _back(self) -> None:
        now = self.policy.monotonic()
        self.reopened += 1
        if self._failures:
            log.warning(
                "event=database_back host=%s db=%s after=%ds attempts=%d", self.host,
                self.database, round(now - (self._lost_at or now)), self._failures + 1,
            )  # fmt: skip
        else:
            log.info("event=database_reconnected host=%s db=%s", self.host, self.database)
        self._delay = self.policy.first_delay
        self._next_try = self._lost_at = self._logged_at = self._error = None
        self._failures = 0


# --- the Database -----------------------------------------------------------------------------

_TYPES = {
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "smallint": "INTEGER",
    "double precision": "REAL",
    "real": "REAL",
    "numeric": "NUMERIC",
    "text": "TEXT",
    "character varying": "TEXT",
    "bytea": "BLOB",
}
# Serialises migrators of one database's schema across processes (two `migrate` at once).
_MIGRATE_LOCK_KEY = 0x50454E44  # 'PEND'
_MIGRATE_LOCK_KIND = 3  # bot/db/pgschema.py lock_key: 1 run, 2 sender, 3 migrations


class PgDatabase(Database):
    """The Database API on PostgreSQL: one autocommit connection, transactions serialised
    in-process by the same write lock as SQLite's."""

    engine = "postgresql"

    def __init__(
        self,
        conn: PgConnection,
        url: str,
        readonly: bool = False,
        *,
        reopen: Callable[[], Awaitable[PgConnection]] | None = None,
    ) -> None:
        super().__init__(cast(aiosqlite.Connection, conn), url, readonly)
        self.pg = conn
        conn.write_lock = self._write_lock
        # A lost session is reopened the way this one was opened (`reopen`, connect()'s call)
        self.reviver = Reviver(url, reopen or partial(connect, url, readonly=readonly))
        conn.reviver = self.reviver

    @property
    def retry(self) -> RetryPolicy:
        """How long a call waits for a server that went away, and how often it is tried."""
        return self.reviver.policy

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self.reviver.policy = policy

    def describe(self) -> str:
        return describe(self.path)

    @classmethod
    async def connect(cls, url: str, *, readonly: bool = False) -> PgDatabase:
        """Connect or raise DatabaseError with one line naming host and database."""
        opener = partial(connect, url, readonly=readonly)
        try:
            conn = await opener()
        except (psycopg.Error, OSError, ValueError) as exc:
            raise DatabaseError(explain_connect_error(exc, url)) from None
        return cls(conn, url, readonly, reopen=opener)

    async def close(self) -> None:
        await self.pg.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            # Owner from BEGIN on: another task's statement waits for the transaction even
            # while BEGIN waits for a lost session to be reopened.
            self.pg.owner = asyncio.current_task()
            try:
                try:
                    # a lost session is reopened first (PgConnection.begin); the one a
                    # transaction was open on is not: the statement that finds it lost fails,
                    # and so does the transaction (the server rolled it back with the session)
                    await self.pg.begin()
                except psycopg.Error as exc:
                    raise DatabaseError(f"{self.describe()}: {_mapped(exc)}") from None
                try:
                    yield cast(aiosqlite.Connection, self.pg)
                except BaseException:
                    await self.pg.rollback()
                    raise
                else:
                    try:
                        await self.pg.raw.execute("COMMIT")
                    except psycopg.Error as exc:
                        raise self.pg._error(exc) from None
            finally:
                self.pg.owner = None
                self.pg.in_transaction = False

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        async with self.transaction():
            cur = await self.pg._run(sql, params)
            await cur.close()
            return cur.lastrowid or 0

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        return await self.pg.execute_fetchall(sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        cur = await self.pg._run(sql, params)
        try:
            return await cur.fetchone()
        finally:
            await cur.close()

    async def update(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        async with self._write_lock:
            cur = await self.pg._run(sql, params)
            await cur.close()
            return cur.rowcount

    # --- maintenance and schema ---------------------------------------------------------

    async def integrity_check(self) -> list[str]:
        """PostgreSQL checks its pages itself (checksums, WAL); here: the server answers."""
        try:
            await self.fetchval("SELECT 1")
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.describe()}: {exc}") from None
        return []

    async def checkpoint(self) -> bool:
        return True  # the server manages its own write-ahead log

    async def vacuum(self) -> None:
        await self.pg.raw.execute("VACUUM")

    async def tables(self) -> list[str]:
        rows = await self.fetchall(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"
        )
        return [r[0] for r in rows]

    async def columns(self, table: str) -> list[ColumnInfo]:
        rows = await self.fetchall(
            "SELECT c.column_name, c.data_type, c.is_nullable,"
            " EXISTS (SELECT 1 FROM information_schema.table_constraints tc"
            "  JOIN information_schema.key_column_usage k"
            "   ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema"
            "  WHERE tc.table_schema = c.table_schema AND tc.table_name = c.table_name"
            "   AND tc.constraint_type = 'PRIMARY KEY' AND k.column_name = c.column_name) AS pk"
            " FROM information_schema.columns c"
            " WHERE c.table_schema = current_schema() AND c.table_name = ?"
            " ORDER BY c.ordinal_position",
            (table,),
        )
        return [
            ColumnInfo(r[0], _TYPES.get(r[1], r[1].upper()), r[2] == "NO", bool(r[3])) for r in rows
        ]

    async def foreign_keys(self, table: str) -> list[ForeignKey]:
        rows = await self.fetchall(
            "SELECT a.attname, p.relname, af.attname"
            " FROM pg_constraint c"
            " JOIN pg_class t ON t.oid = c.conrelid"
            " JOIN pg_namespace n ON n.oid = t.relnamespace"
            " JOIN pg_class p ON p.oid = c.confrelid"
            " CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(attnum, fattnum)"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum"
            " JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fattnum"
            " WHERE c.contype = 'f' AND t.relname = ? AND n.nspname = current_schema()"
            " ORDER BY c.conname, k.attnum",
            (table,),
        )
        return [ForeignKey(r[0], r[1], r[2]) for r in rows]

    async def _ensure_migrations_table(self) -> None:
        async with self._write_lock:
            await self._ensure_schema()
            await self.pg.raw.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )

    async def _ensure_schema(self) -> None:
        """A kabupaten's own schema (bot/db/pgschema.py) is made on its first migration."""
        schema = schema_of(self.path)
        if schema == DEFAULT_SCHEMA:
            return
        statement = sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
        # two processes migrating a new schema at once: the second finds it made
        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
            await self.pg.raw.execute(statement)

    async def _apply_migration(self, m: Migration, applied_at: str) -> None:
        """The migration (its PostgreSQL variant, or its translated SQLite DDL) and its record
        in one transaction: PostgreSQL's DDL is transactional, so a failure leaves nothing."""
        if m.postgresql is not None:
            statements = split_statements(m.postgresql)
        else:
            try:
                statements = ddl_to_postgres(m.sql)
            except UntranslatableDDL as exc:
                raise MigrationError(
                    f"migration {m.name} uses {exc}, which has no automatic PostgreSQL"
                    f" translation: add migrations/postgresql/{m.name}.sql"
                ) from None
        raw = self.pg.raw
        async with self._write_lock:
            await raw.execute("BEGIN")
            try:
                await raw.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    (_MIGRATE_LOCK_KEY, lock_key(self.path, _MIGRATE_LOCK_KIND)),
                )
                done = await raw.execute(
                    "SELECT count(*) FROM schema_migrations WHERE name = %s", (m.name,)
                )
                row = await done.fetchone()
                if row is not None and row[0]:  # another process applied it meanwhile
                    await raw.execute("ROLLBACK")
                    return
                for stmt in statements:
                    await raw.execute(cast(Any, stmt))
                await raw.execute(
                    "INSERT INTO schema_migrations (name, checksum, applied_at)"
                    " VALUES (%s, %s, %s)",
                    (m.name, m.checksum, applied_at),
                )
                await refresh_identity_tables(self.pg)
                for table in sorted(self.pg.identity_tables):
                    await self.pg._move_identity(table)
            except BaseException as exc:
                await raw.execute("ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    raise MigrationError(
                        f"migration {m.name} failed and was rolled back: {_mapped(exc)}"
                    ) from None
                raise
            await raw.execute("COMMIT")


# --- a plain synchronous connection (worker processes of a batch, db copy) -------------------


class SyncPgConnection:
    """sqlite3.Connection's execute(sql, params).fetchall() over a psycopg connection."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        args = _params(params)
        try:
            return self.raw.execute(cast(Any, to_pyformat(sql, isinstance(args, dict))), args)
        except psycopg.Error as exc:
            raise _mapped(exc) from None

    def close(self) -> None:
        self.raw.close()


def connect_sync(url: str, *, readonly: bool = True) -> SyncPgConnection:
    """A synchronous autocommit connection (read-only unless told); DatabaseError on failure."""
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except (psycopg.Error, OSError, ValueError) as exc:
        raise DatabaseError(explain_connect_error(exc, url)) from None
    _adapt(raw)
    raw.row_factory = cast(Any, _named_row)
    if readonly:
        raw.execute("SET default_transaction_read_only = on")
    return SyncPgConnection(raw)
