"""A lost PostgreSQL session (bot/db/postgres.py, Reviver): reopened, and the statement run
again where that is safe; the server away for a while: calls wait (backoff, one log line a
minute), then go on, or fail after their bound with one line naming host and database.

The session is killed with pg_terminate_backend from a second connection; "the server away"
is a small TCP proxy in front of the test server that the test closes and opens again. Time
is a ManualMonotonic: no test waits a real minute.

No PostgreSQL server: skipped with the reason (a failure with CI=true; tests/pg_databases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import sqlite3
from dataclasses import replace
from urllib.parse import urlsplit

import psycopg
import pytest

from bot.clock import ManualMonotonic
from bot.config import Settings
from bot.db import Database, DatabaseError, open_migrated
from bot.db.postgres import PgDatabase, RetryPolicy
from bot.services.cycle import PlannedMessage, enqueue
from bot.services.outbox import OutboxSender
from bot.workers import ChatLocks, SenderElection
from tests.fake_botapi import FakeBotAPI, fake_bot
from tests.pg_databases import PgTestServer, pg_server_or_skip

PASSWORD = "kata-sandi-rahasia"  # in the URL; the server trusts the user, no log may show it


@pytest.fixture
def server(pg_test_server: PgTestServer) -> PgTestServer:
    return pg_server_or_skip(pg_test_server)


@pytest.fixture
def url(server: PgTestServer):  # noqa: ANN201
    url = server.create_empty_database()
    yield url
    server.drop_database(url)


async def _open(url: str, **kw: bool) -> PgDatabase:
    db = await Database.open(url, **kw)
    assert isinstance(db, PgDatabase)
    return db


def _terminate(admin_url: str, pid: int) -> None:
    """Terminate the backend and wait until it is gone (the signal is handled a moment later)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s, 2000)", (pid,)).fetchone() == (True,)


async def _kill_session(server: PgTestServer, db: PgDatabase) -> int:
    pid = db.pg.raw.info.backend_pid
    await asyncio.to_thread(_terminate, server.admin_url, pid)
    return pid


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if re.search(rf"event={event}\b", r.getMessage())
    ]


async def _make_table(db: PgDatabase) -> None:
    await db.conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, x INTEGER, at TEXT, ok INTEGER)"
    )


# --- the session killed under an idle connection ----------------------------------------------


async def test_statement_after_the_session_was_killed(server, url, caplog):
    caplog.set_level(logging.INFO, "pendamping.db")
    db = await _open(url)
    try:
        await _make_table(db)
        old = await _kill_session(server, db)
        # the first statement finds the session gone: reopened, run again, nobody told
        assert await db.fetchval("SELECT count(*) FROM t") == 0
        assert db.pg.raw.info.backend_pid != old
        assert db.reviver.reopened == 1
        # the same adaptations on the new session: lastrowid (identity tables), datetimes as
        # ISO text, booleans as 0/1, sums as int
        await _kill_session(server, db)
        at = dt.datetime(2024, 2, 1, 8, 30)
        rid = await db.execute("INSERT INTO t (x, at, ok) VALUES (?, ?, ?)", (5, at, True))
        assert rid == 1
        row = await db.fetchone("SELECT at, ok, sum(x) AS s FROM t GROUP BY at, ok")
        assert (row["at"], row["ok"], row["s"]) == ("2024-02-01 08:30:00", 1, 5)
        await _kill_session(server, db)
        assert await db.update("UPDATE t SET x = x + 1") == 1
        await _kill_session(server, db)
        async with db.conn.execute("SELECT x FROM t") as cur:  # a service's own cursor
            assert [r[0] for r in await cur.fetchall()] == [6]
        assert db.reviver.reopened == 4
        lines = _events(caplog, "database_reconnected")
        assert len(lines) == 4
        assert f"db={urlsplit(url).path.lstrip('/')}" in lines[0]
        assert not _events(caplog, "database_unavailable")
    finally:
        await db.close()


async def test_readonly_stays_readonly_after_reopening(server, url):
    db = await _open(url)
    await _make_table(db)
    await db.close()
    ro = await _open(url, readonly=True)
    try:
        await _kill_session(server, ro)
        assert await ro.fetchval("SELECT count(*) FROM t") == 0
        with pytest.raises(sqlite3.OperationalError, match="read-only"):
            await ro.update("UPDATE t SET x = 1")
    finally:
        await ro.close()


async def test_transaction_open_when_the_session_dies_fails_the_next_works(server, url):
    db = await _open(url)
    try:
        await _make_table(db)
        # killed in the middle: the statement that finds it fails, the transaction with it
        with pytest.raises(sqlite3.OperationalError, match="terminating connection"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t (x) VALUES (1)")
                await _kill_session(server, db)
                await conn.execute("INSERT INTO t (x) VALUES (2)")
        # killed before COMMIT: COMMIT fails, nothing is run again
        with pytest.raises(sqlite3.OperationalError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t (x) VALUES (3)")
                await _kill_session(server, db)
        assert db.reviver.reopened == 1  # by the first statement after the first failure
        assert await db.fetchval("SELECT count(*) FROM t") == 0
        # killed while idle: the next transaction's BEGIN reopens the session first
        await _kill_session(server, db)
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (x) VALUES (4)")
        assert await db.fetchall("SELECT x FROM t") == [(4,)]
        assert db.reviver.reopened == 3
    finally:
        await db.close()


async def test_closed_database_is_not_reopened(server, url):
    db = await _open(url)
    await db.close()
    with pytest.raises(sqlite3.OperationalError, match="closed"):
        await db.fetchval("SELECT 1")
    assert db.reviver.reopened == 0


# --- the server away for a while (a proxy closed, then opened again) -------------------------


class Proxy:
    """127.0.0.1:port -> the test server; close() refuses new connections and cuts the open
    ones (as a server restart or a network cut does), open() listens on the same port again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in self._writers:
            w.transport.abort()
        self._writers.clear()
        await asyncio.sleep(0.05)  # let both ends see the cut

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


@pytest.fixture
async def proxy(server: PgTestServer):  # noqa: ANN201
    target = urlsplit(server.admin_url)
    p = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    await p.open()
    yield p
    await p.close()


def _through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"postgres:{PASSWORD}@127.0.0.1:{proxy.port}").geturl()


def _back_after(proxy: Proxy, mono: ManualMonotonic, seconds: float):  # noqa: ANN202
    """A simulated sleep after which, `seconds` from now, the server answers again."""
    start = mono()

    async def sleep(pause: float) -> None:
        await mono.sleep(pause)
        if mono() - start >= seconds and not proxy.is_open:
            await proxy.open()

    return sleep


async def test_server_away_for_150s_calls_wait_then_go_on(url, proxy, caplog):
    caplog.set_level(logging.INFO, "pendamping.db")
    db = await _open(_through(url, proxy))
    mono = ManualMonotonic()
    start = mono()
    sleep = _back_after(proxy, mono, 150)  # the server is back after 2.5 (simulated) minutes
    db.retry = RetryPolicy(wait_seconds=300, monotonic=mono, sleep=sleep)
    try:
        await _make_table(db)
        await proxy.close()
        # three calls at once while the server is away: they all wait, then all succeed
        results = await asyncio.gather(
            db.fetchval("SELECT count(*) FROM t"),
            db.execute("INSERT INTO t (x) VALUES (7)"),
            db.fetchval("SELECT 41 + 1"),
        )
        assert results[1] == 1 and results[2] == 42
        assert await db.fetchval("SELECT x FROM t") == 7
        # attempts at 0, 0.5, 1.5, 3.5, ... doubling to 30 s apart; back at the one after 150
        assert 150 <= mono() - start <= 152
        away = _events(caplog, "database_unavailable")
        assert [re.search(r"for=(\d+)s", line)[1] for line in away] == ["0", "62", "122"]
        assert "host=127.0.0.1:" in away[0] and f"db={urlsplit(url).path[1:]}" in away[0]
        assert "no server answers there" in away[0]
        back = _events(caplog, "database_back")
        assert len(back) == 1 and "after=152s" in back[0]
        assert db.reviver.reopened == 1 and not db.reviver.unavailable
        assert PASSWORD not in caplog.text
    finally:
        await db.close()


async def test_server_away_beyond_the_bound_raises_naming_host_and_database(url, proxy, caplog):
    caplog.set_level(logging.INFO, "pendamping.db")
    db = await _open(_through(url, proxy))
    mono = ManualMonotonic()
    db.retry = RetryPolicy(monotonic=mono, sleep=mono.sleep)  # the default 60 s bound
    name = urlsplit(url).path[1:]
    try:
        await proxy.close()
        start = mono()
        with pytest.raises(DatabaseError) as err:
            await db.fetchval("SELECT 1")
        assert mono() - start == 60
        text = str(err.value)
        assert text == (
            f"cannot open PostgreSQL database {name} on 127.0.0.1:{proxy.port}: no server"
            " answers there (is PostgreSQL running, host and port right?)"
        )
        assert PASSWORD not in text and "\n" not in text
        assert db.reviver.unavailable
        # a transaction started now waits its own bound too, on the same backoff schedule
        with pytest.raises(DatabaseError, match=f"database {name} on 127.0.0.1"):
            async with db.transaction():
                pass
        assert mono() - start == 120
        assert len(_events(caplog, "database_unavailable")) == 2  # at 0 and at 61.5
        await proxy.open()
        assert await db.fetchval("SELECT 1") == 1
        assert len(_events(caplog, "database_back")) == 1
        assert PASSWORD not in caplog.text
    finally:
        await db.close()


# --- the background loops while the server is away ------------------------------------------


async def test_outbox_loop_survives_the_server_away_then_delivers(server, proxy, clock, caplog):
    caplog.set_level(logging.INFO)
    url = server.create_database()
    db = await _open(_through(url, proxy))
    mono = ManualMonotonic()
    sleep = _back_after(proxy, mono, 200)  # back after 3 minutes and 20 (simulated) seconds
    db.retry = RetryPolicy(monotonic=mono, sleep=sleep)  # each call waits 60 s at most
    api = FakeBotAPI()
    bot = await fake_bot(api)
    sender = OutboxSender(db, bot, replace(Settings(), database=url), clock)
    try:
        await _queue(url, clock(), [42], "halo")
        await proxy.close()
        loop = asyncio.create_task(sender.run_forever(idle_seconds=0.01))
        for _ in range(2000):
            if api.sent[42]:
                break
            await asyncio.sleep(0.01)
        assert api.sent[42] == ["halo"]  # the loop lived through the outage
        assert not loop.done()
        sender.stop()
        await asyncio.wait_for(loop, 10)
        assert len(_events(caplog, "outbox_waiting_for_database")) == 1  # said once
        assert len(_events(caplog, "outbox_resumed")) == 1
        assert not _events(caplog, "outbox_loop_error")
        assert len(_events(caplog, "database_unavailable")) == 4  # at 0, 62, 122, 182 s
        assert len(_events(caplog, "database_back")) == 1
        assert await db.fetchval("SELECT status FROM outbox") == "sent"
    finally:
        sender.stop()
        await bot.shutdown()
        await db.close()
        server.drop_database(url)


# The sandbox runs the Application without app.start(): PTB warns that the job's error task
# is not awaited for it (the job queue awaits it itself).
@pytest.mark.filterwarnings("ignore:Tasks created via `Application.create_task`")
async def test_minute_job_while_the_server_is_away_one_operator_alert_an_hour(
    server, proxy, clock, settings, sandbox_factory, caplog
):
    from handlers.cycle import cycle_job

    caplog.set_level(logging.INFO)
    url = server.create_database()
    try:
        cfg = replace(settings, database=_through(url, proxy), files_dir=str(settings.files_dir),
                      chats=replace(settings.chats, operator=-500))  # fmt: skip
        sb = await sandbox_factory(settings=cfg)
        op = await sb.user(9001, "Operator")
        ops = await sb.group(-500, "Operator", [op])
        mono = ManualMonotonic()
        sb.db.retry = RetryPolicy(monotonic=mono, sleep=mono.sleep)
        # the group's join (the newest update) handled while the database is there: without
        # its id idle() may return before the update was even fetched
        await sb.idle(sb.core.next_update_id - 1, outbox=True)
        await proxy.close()
        for minute in range(1, 4):  # three minutes, through PTB's job queue and error handler
            sb.app.job_queue.run_once(cycle_job, 0)
            for _ in range(500):
                if len(_events(caplog, "handler_error")) == minute:
                    break
                await asyncio.sleep(0.02)
            assert len(_events(caplog, "handler_error")) == minute
        assert not _events(caplog, "upkeep_failed")  # the minute stopped at its first wait
        # the alert cannot go through the outbox: straight to the chat, once for the hour
        await sb.idle()
        (alert,) = await ops.messages()
        assert "DatabaseError" in alert.text
        await proxy.open()
        sb.app.job_queue.run_once(cycle_job, 0)
        for _ in range(500):
            if _events(caplog, "database_back"):
                break
            await asyncio.sleep(0.02)
        assert len(_events(caplog, "database_back")) == 1
    finally:
        server.drop_database(url)


# --- the workers' chat locks: a connection of their own -----------------------------------


async def test_chat_locks_go_on_after_their_session_was_killed(server, url):
    locks = ChatLocks(url)
    await locks.open()
    try:
        async with locks.hold(5, 1) as seen:
            assert not seen
        await asyncio.to_thread(_terminate, server.admin_url, locks._conn.info.backend_pid)
        async with locks.hold(5, 2) as seen:
            assert not seen
        async with locks.hold(5, 2) as seen:
            assert seen  # recorded by the block before, on the new session
    finally:
        await locks.close()


# --- end to end: the bot's outbox sender loop -----------------------------------------------


async def _queue(url: str, now: dt.datetime, chat_ids: list[int], text: str) -> None:
    """Rows queued by another process (its own connection), as the CLI or a worker does."""
    db = await open_migrated(url)
    try:
        async with db.transaction() as conn:
            for chat_id in chat_ids:
                planned = PlannedMessage("test", f"chat:{chat_id}", "-", text, chat_id, None,
                                         text, 5, now, "t")  # fmt: skip
                await enqueue(conn, planned, now)
    finally:
        await db.close()


async def _delivered(sb, chat_ids: list[int], text: str, within: float = 20.0) -> None:  # noqa: ANN001
    """Until the sandbox got `text` for every chat (read from its call log, not the database)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        got = {
            c["params"].get("chat_id")
            for c in sb.calls("sendMessage")
            if c["params"].get("text") == text and c["status"] == 200
        }
        if {str(i) for i in chat_ids} <= {str(g) for g in got}:
            return
        assert loop.time() < deadline, f"{text!r} reached {sorted(got)} of {chat_ids}"
        await asyncio.sleep(0.05)


async def test_outbox_sender_keeps_delivering_after_the_session_was_killed(
    server, tmp_path, clock, sandbox_factory
):
    url = server.create_database()
    try:
        settings = replace(Settings(), database=url, files_dir=str(tmp_path), token=None)
        sb = await sandbox_factory(settings=settings)
        chats = [41_001, 41_002, 41_003]
        for chat in chats:
            await sb.user(chat)
        sender = sb.app.bot_data["sender"]
        await _queue(url, clock(), chats, "sebelum")
        sender.wake()
        await _delivered(sb, chats, "sebelum")
        for round_ in range(3):  # the bot's session killed while the loop is idle, three times
            await sb.idle(outbox=True)
            await _kill_session(server, sb.db)
            text = f"sesudah {round_}"
            await _queue(url, clock(), chats, text)
            sender.wake()
            await _delivered(sb, chats, text)
        assert sb.db.reviver.reopened == 3
        # killed inside the transaction that marks a delivered row 'sent': that transaction
        # fails, the sender settles the row once more on a new session (else: sent again later)
        await sb.idle(outbox=True)
        real_finish, killed = sender.store.finish, []

        async def finish(row_id: int, status: str, **kw: object) -> None:
            if not killed:
                killed.append(row_id)
                async with sb.db.transaction() as conn:
                    await conn.execute("SELECT 1")
                    await _kill_session(server, sb.db)
                    await conn.execute("SELECT 1")
            await real_finish(row_id, status, **kw)

        sender.store.finish = finish
        await _queue(url, clock(), chats[:1], "terakhir")
        sender.wake()
        await _delivered(sb, chats[:1], "terakhir")
        await sb.idle(outbox=True)
        assert killed and sb.db.reviver.reopened == 4
        assert await sb.db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent'") == 13
    finally:
        server.drop_database(url)


async def test_sender_election_says_the_server_is_away_once_a_minute(caplog):
    async def lead() -> None:  # never reached: the server is away
        raise AssertionError("lead without the lock")

    mono = ManualMonotonic()
    closed_port = "postgresql://postgres@127.0.0.1:1/pendamping"  # nothing listens on port 1
    election = SenderElection(closed_port, lead, monotonic=mono)
    caplog.set_level(logging.INFO, "pendamping.workers")
    for _ in range(45):  # 90 s of tries 2 s apart
        assert not await election._try_take()
        mono.advance(2)
    assert len(_events(caplog, "sender_lock_unavailable")) == 2  # at 0 and at 60 s
