"""The run lock: `pendamping run` holds an flock on `<database>.lock` while it runs.

`pendamping restore` takes the same lock, so it refuses while the bot runs and a bot cannot
start in the middle of a restore. The kernel drops the lock when the process dies (even on
SIGKILL), so a crash never leaves a stale lock behind; the pid written into the file is only
for the message.
"""

from __future__ import annotations

import fcntl
import os

from bot.db import DatabaseError


class RunLockHeld(DatabaseError):
    """Another process (the bot, or a restore) holds the lock on this database."""


def lock_path(database: str) -> str:
    return f"{database}.lock"


class RunLock:
    """An exclusive, non-blocking flock on `<database>.lock`; release() or process exit frees it."""

    def __init__(self, database: str) -> None:
        self.path = lock_path(database)
        self._fd: int | None = None

    def acquire(self, purpose: str = "run") -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLockHeld(
                f"database {self.path[: -len('.lock')]} is in use by {holder}; "
                "stop it first (e.g. `systemctl stop pendamping`)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {purpose}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if len(text) >= 2:
        return f"`pendamping {text[1]}` (pid {text[0]})"
    return "a running `pendamping run`"


def acquire_run_lock(database: str, purpose: str = "run") -> RunLock | None:
    """Take the lock for this process's lifetime (None for an in-memory database)."""
    if database == ":memory:":
        return None
    lock = RunLock(database)
    lock.acquire(purpose)
    return lock


def is_locked(database: str) -> str | None:
    """Who holds the lock (a short description), or None when nobody does. Changes nothing."""
    path = lock_path(database)
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
