"""Process locks on one database: the run lock and the sender lock.

- The run lock: `pendamping run` holds an flock on `<database>.lock` while it runs.
  `pendamping restore` takes the same lock, so it refuses while the bot runs and a bot cannot
  start in the middle of a restore.
- The sender lock: whoever delivers the outbox holds an flock on `<database>.sender.lock`:
  the bot for its whole life, and `pendamping send`, `tick` and `broadcast` while they send.
  So there is one sender per database at any time: a second one would take the first one's
  rows in flight ('sending') for a crash's leftovers, put them back and send them again.

Both paths are built from the database's resolved path (symlinks followed), so a symlink to
the live database names the same lock. The kernel drops a lock when the process dies (even on
SIGKILL), so a crash never leaves a stale lock behind; the pid written into the file is only
for the message.

The locks sit behind this small API (acquire / release / holder). On PostgreSQL (a URL) the
same locks are session advisory locks, `pg_try_advisory_lock(<purpose key>)` on a connection
of their own that lives as long as the lock: they are per database, work across hosts, and
the server drops them when the holder's connection ends (a crash, SIGKILL). The holder's
description is that connection's application_name, read from pg_stat_activity.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from bot.db import DatabaseError


class RunLockHeld(DatabaseError):
    """Another process (the bot, or a restore) holds the lock on this database."""


class SenderLockHeld(DatabaseError):
    """Another process is delivering this database's outbox."""


class LockUnavailable(DatabaseError):
    """The lock file cannot be created (read-only folder, wrong owner)."""


def _is_postgres(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


# pg_try_advisory_lock(key1, key2): key1 says "Pendamping", key2 which lock of which schema
# (bot/db/pgschema.py: each kabupaten's schema on a shared database has its own locks).
_PG_NAMESPACE = 0x50454E44  # 'PEND'
_PG_KEYS = {"run": 1, "sender": 2}


def _pg_key(database: str, kind: str) -> int:
    from bot.db.pgschema import lock_key

    return lock_key(database, _PG_KEYS[kind])


class _AdvisoryLock:
    """The same lock as _FileLock, as a PostgreSQL session advisory lock."""

    held_error: type[DatabaseError] = RunLockHeld
    kind = "run"

    def __init__(self, database: str) -> None:
        self.database = database
        self._conn: Any = None
        self._shared = False

    @property
    def held(self) -> bool:
        return self._conn is not None

    def acquire(self, purpose: str = "run", *, shared: bool = False) -> None:
        import psycopg

        from bot.db.postgres import explain_connect_error

        try:
            conn = psycopg.connect(
                self.database,
                autocommit=True,
                connect_timeout=10,
                application_name=f"pendamping {purpose} pid {os.getpid()}",
            )
        except (psycopg.Error, OSError, ValueError) as exc:
            raise LockUnavailable(explain_connect_error(exc, self.database)) from None
        # shared: the webhook workers of one database hold the run lock together; anything
        # that needs the database alone (an exclusive taker) still waits for all of them
        self._shared = shared
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        row = conn.execute(
            f"SELECT {function}(%s, %s)", (_PG_NAMESPACE, _pg_key(self.database, self.kind))
        ).fetchone()
        if not (row and row[0]):
            holder = _pg_holder(conn, self.database, self.kind) or "another process"
            conn.close()
            raise self.held_error(self._held_message(holder)) from None
        self._conn = conn

    def _held_message(self, holder: str) -> str:
        from bot.db.postgres import describe

        return (
            f"{describe(self.database)} is in use by {holder}; "
            "stop it first (e.g. `systemctl stop pendamping`)"
        )

    def still_held(self) -> bool:
        """True while the lock's session is alive (the server keeps the lock exactly as long);
        False once it is gone (server restart, network cut): another process may hold it now."""
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1")
        except Exception:  # any failure of that session means the lock is gone with it
            return False
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                # Unlocked before closing: the server ends a closed session a moment later.
                unlock = "pg_advisory_unlock_shared" if self._shared else "pg_advisory_unlock"
                key = _pg_key(self.database, self.kind)
                self._conn.execute(f"SELECT {unlock}(%s, %s)", (_PG_NAMESPACE, key))
            except Exception:  # the session is gone already: so is its lock
                pass
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> _AdvisoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _AdvisorySenderLock(_AdvisoryLock):
    held_error = SenderLockHeld
    kind = "sender"

    def _held_message(self, holder: str) -> str:
        from bot.db.postgres import describe

        return (
            f"not sending: {holder} is sending this database's outbox ({describe(self.database)});"
            " it delivers the queued messages, only one sender may run at a time"
        )


def _pg_holder(conn: Any, database: str, kind: str, *, where: bool = False) -> str | None:
    """The holder from its session's application_name; `where`: and the address its
    connection came from (a worker's pid means little without its host). pg_locks shows the
    lock's key as an unsigned oid."""
    row = conn.execute(
        "SELECT a.application_name, a.client_hostname, host(a.client_addr), a.client_port"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
        "  SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid = %s AND l.objid = %s::bigint::oid",
        (_PG_NAMESPACE, _pg_key(database, kind) & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return None
    words = (row[0] or "").split()  # 'pendamping <purpose> pid <pid>'
    if len(words) == 4 and words[0] == "pendamping":
        holder = f"`pendamping {words[1]}` (pid {words[3]})"
    else:
        holder = "a running `pendamping run`"
    if where:
        # client_port is -1 for a Unix socket (a process on the server's host); all three are
        # NULL for another role's session this role may not see
        source = row[1] or row[2]
        if source:
            holder += f", connected from {source}"
        elif row[3] == -1:
            holder += ", on the database server's host (local socket)"
    return holder


def _pg_holder_of(database: str, kind: str, *, where: bool = False) -> str | None:
    import psycopg

    try:
        with psycopg.connect(database, autocommit=True, connect_timeout=10) as conn:
            return _pg_holder(conn, database, kind, where=where)
    except (psycopg.Error, OSError, ValueError):
        return None


def resolved(database: str) -> str:
    """The database's path with every symlink followed (the same file, the same lock)."""
    return os.path.realpath(database)


def lock_path(database: str) -> str:
    return f"{resolved(database)}.lock"


def sender_lock_path(database: str) -> str:
    return f"{resolved(database)}.sender.lock"


def _open_lock_file(path: str) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except PermissionError:
        folder = os.path.dirname(path)
        raise LockUnavailable(
            f"cannot write in the database folder {folder} (lock file {os.path.basename(path)}):"
            f" the service user needs write access, e.g. `chown -R pendamping: {folder}`"
        ) from None
    except OSError as exc:
        raise LockUnavailable(f"cannot create the lock file {path}: {exc.strerror}") from None
    return fd


class _FileLock:
    """An exclusive, non-blocking flock on a file; release() or process exit frees it."""

    held_error: type[DatabaseError] = RunLockHeld

    def __init__(self, path: str, database: str) -> None:
        self.path = path
        self.database = database
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str = "run") -> None:
        fd = _open_lock_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise self.held_error(self._held_message(holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {purpose}\n".encode())
        self._fd = fd

    def _held_message(self, holder: str) -> str:
        return (
            f"database {self.database} is in use by {holder}; "
            "stop it first (e.g. `systemctl stop pendamping`)"
        )

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> _FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class RunLock(_FileLock):
    """The run lock on `<resolved database>.lock`."""

    def __init__(self, database: str) -> None:
        super().__init__(lock_path(database), database)


class SenderLock(_FileLock):
    """The sender lock on `<resolved database>.sender.lock`: one outbox sender at a time."""

    held_error = SenderLockHeld

    def __init__(self, database: str) -> None:
        super().__init__(sender_lock_path(database), database)

    def _held_message(self, holder: str) -> str:
        return (
            f"not sending: {holder} is sending this database's outbox ({self.database}); "
            "it delivers the queued messages, only one sender may run at a time"
        )


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if len(text) >= 2:
        return f"`pendamping {text[1]}` (pid {text[0]})"
    return "a running `pendamping run`"


def acquire_run_lock(
    database: str, purpose: str = "run", *, shared: bool = False
) -> RunLock | _AdvisoryLock | None:
    """Take the lock for this process's lifetime (None for an in-memory database).

    shared (PostgreSQL only): several webhook workers of one database hold it together
    (docs/scaling.md); on SQLite the lock is always exclusive."""
    if database == ":memory:":
        return None
    if _is_postgres(database):
        advisory = _AdvisoryLock(database)
        advisory.acquire(purpose, shared=shared)
        return advisory
    lock = RunLock(database)
    lock.acquire(purpose)
    return lock


def acquire_sender_lock(database: str, purpose: str) -> SenderLock | _AdvisorySenderLock | None:
    """Become this database's one outbox sender (None for an in-memory database);
    SenderLockHeld when another process is sending."""
    if database == ":memory:":
        return None
    lock: SenderLock | _AdvisorySenderLock = (
        _AdvisorySenderLock(database) if _is_postgres(database) else SenderLock(database)
    )
    lock.acquire(purpose)
    return lock


def _holder_of(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def is_locked(database: str) -> str | None:
    """Who holds the run lock (a short description), or None when nobody does. Changes nothing."""
    if _is_postgres(database):
        return _pg_holder_of(database, "run")
    return _holder_of(lock_path(database))


def sender_holder(database: str, *, where: bool = False) -> str | None:
    """Who is sending this database's outbox, or None. Changes nothing.

    where (PostgreSQL): add the address the holder's connection came from (`doctor`)."""
    if _is_postgres(database):
        return _pg_holder_of(database, "sender", where=where)
    return _holder_of(sender_lock_path(database))
