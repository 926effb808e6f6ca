"""Throw-away PostgreSQL databases for the tests marked both_engines.

The server is PENDAMPING_TEST_POSTGRES (a URL of a database the user may connect to, with the
right to CREATE DATABASE), else postgresql://postgres@127.0.0.1:5432/postgres. Each pytest
process (each xdist worker) migrates one template database once, then every test gets a copy
of it (CREATE DATABASE ... TEMPLATE, about 50 ms) under a name unique to the process, dropped
after the test; the template is dropped at the end of the session, and databases left behind
by a killed run on this machine (their pid no longer alive) are dropped by the next run.

No server: those tests skip with one reason. With CI=true a missing server fails them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import re
import secrets
import socket
import threading
from urllib.parse import urlsplit

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PREFIX = "pendamping_test_"
_STALE = re.compile(rf"^{PREFIX}([0-9a-f]{{6}})_(\d+)_")
# Which machine made a database: a run reaps only its own machine's leftovers (another host,
# or another PID namespace, may share the server).
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


class PgTestServer:
    """Creates and drops the test databases on one server (lazily: nothing until asked)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"{PREFIX}{HOST}_{os.getpid()}_{secrets.token_hex(3)}"
        self._checked = False
        self._problem: str | None = None
        self._template: str | None = None
        self._count = 0
        self._lock = threading.Lock()
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._dropper: threading.Thread | None = None

    @classmethod
    def from_env(cls) -> PgTestServer:
        return cls(os.environ.get("PENDAMPING_TEST_POSTGRES") or DEFAULT_URL)

    def _admin(self):  # noqa: ANN202
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3)

    def problem(self) -> str | None:
        """None when the server is usable, else why not (one line)."""
        with self._lock:
            if self._checked:
                return self._problem
            self._checked = True
            try:
                with self._admin() as conn:
                    self._reap_stale(conn)
                    self._make_template(conn)
            except Exception as exc:  # any failure: unreachable, refused, no CREATEDB right
                from bot.db.postgres import explain_connect_error

                self._problem = explain_connect_error(exc, self.admin_url)
            return self._problem

    def _reap_stale(self, conn) -> None:  # noqa: ANN001
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",)
        ).fetchall()
        for (name,) in rows:
            m = _STALE.match(name)
            if m and m.group(1) == HOST and not os.path.exists(f"/proc/{m.group(2)}"):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _make_template(self, conn) -> None:  # noqa: ANN001
        from bot.db import open_migrated

        name = f"{self.prefix}_tmpl"
        conn.execute(f'CREATE DATABASE "{name}"')
        self._template = name
        url = with_database(self.admin_url, name)

        async def migrate() -> None:
            db = await open_migrated(url)
            await db.close()

        # In a thread of its own: the caller may be inside a running event loop.
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(migrate())
            except BaseException as exc:  # re-raised below
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        t.join()
        if errors:
            raise errors[0]

    def create_database(self) -> str:
        """A fresh migrated database (a copy of the template); its URL."""
        with self._lock:
            self._count += 1
            name = f"{self.prefix}_{self._count}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
        return with_database(self.admin_url, name)

    def create_empty_database(self) -> str:
        """A fresh database with no tables (for migrations and `db copy`); its URL."""
        with self._lock:
            self._count += 1
            name = f"{self.prefix}_{self._count}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.admin_url, name)

    def drop_database(self, url: str) -> None:
        """Drop it in the background (a drop waits for a checkpoint: the next test need not)."""
        name = urlsplit(url).path.lstrip("/")
        assert name.startswith(self.prefix)
        self._drops.put(name)
        if self._dropper is None:
            self._dropper = threading.Thread(target=self._drop_loop, daemon=True)
            self._dropper.start()

    def _drop_loop(self) -> None:
        while True:
            name = self._drops.get()
            if name is None:
                return
            try:
                with self._admin() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception:  # the next run reaps what is left (its pid is gone by then)
                pass

    def close(self) -> None:
        if self._dropper is not None:
            self._drops.put(None)
            self._dropper.join()
        if self._template is None:
            return
        try:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
        except Exception:  # the server went away: the next run reaps it
            pass


def unreachable(url: str | None = None) -> str | None:
    """Why the test server cannot be used (one line), or None; only connects."""
    url = url or os.environ.get("PENDAMPING_TEST_POSTGRES") or DEFAULT_URL
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:
        from bot.db.postgres import explain_connect_error

        return explain_connect_error(exc, url)
    return None


def pg_server_or_skip(server: PgTestServer) -> PgTestServer:
    """The server, or skip (fail with CI=true) with one clear reason."""
    problem = server.problem()
    if problem is not None:
        if in_ci():
            pytest.fail(
                f"PostgreSQL is required with CI=true ({problem}); set PENDAMPING_TEST_POSTGRES"
                " to a server whose user may CREATE DATABASE",
                pytrace=False,
            )
        pytest.skip(f"no PostgreSQL test server ({problem}); set PENDAMPING_TEST_POSTGRES")
    return server
