"""Several webhook workers on one PostgreSQL database: per-chat locks and the sender election.

`pendamping run --webhook-url ...` on a PostgreSQL database may run as several processes (on one
host or several) behind a load balancer that spreads Telegram's webhook posts over them
(docs/scaling.md). Two things keep that equal to one bot:

- ChatLocks: a worker handles an update while it holds its chat's lock, a PostgreSQL session
  advisory lock (key: the chat id folded into 32 bits under a namespace of its own), and
  answers the webhook only after the handling. So two updates of one chat never run at once
  on two workers, and an update that arrives after Telegram got the answer for the previous
  one of its chat is handled after it: each chat's updates in arrival order. Within the worker
  a per-chat asyncio lock does the same for updates that arrive at it together (a session's
  advisory lock is re-entrant, so it cannot tell them apart). Two chats whose ids fold to the
  same key only wait for each other.
  Each update is handled once: under its chat's lock the worker looks its update_id up in
  `pendamping_workers.updates_handled` (per bot) and records it after the handling. An update Telegram
  delivers again (no answer in time: the first worker is slow, or died) waits for the lock
  and is then skipped if the first worker finished it, handled if it did not. That table is
  runtime state, not data: an UNLOGGED table in a schema of its own (created by the first
  worker), outside the migrations and `db copy`, pruned after a day (Telegram keeps an update
  for 24 hours at most).
- SenderElection: one worker at a time delivers the outbox and runs the per-minute job, the
  one holding the database's sender lock (bot/runlock.py). The others try to take it every
  `retry_seconds`; when the holder dies its session ends, the server frees the lock and the
  next try of another worker takes over: it puts the rows left 'sending' back (each of them
  may be sent twice, at most the in-flight window) and goes on. A holder whose lock session
  is lost (server restart, network) stops sending before another worker can take over twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

log = logging.getLogger("pendamping.workers")

# Updates of different chats one worker handles at once. Safe on PostgreSQL as it is between
# workers: one chat's updates stay in order (the chat lock), and a statement of one update
# waits while another update's transaction is open on the shared connection.
CONCURRENT_UPDATES = 8

# pg_try_advisory_lock(int4, int4): the first key says "Pendamping chat" (bot/runlock.py uses
# 'PEND' with 1 and 2 for the run and sender locks), the second is the chat.
CHAT_NAMESPACE = 0x50454E43  # 'PENC'
HANDLED = "pendamping_workers.updates_handled"
_SETUP = (
    "CREATE SCHEMA IF NOT EXISTS pendamping_workers",
    # update ids count per bot: several bots (kabupaten) share one database (bot/db/pgschema.py)
    f"CREATE UNLOGGED TABLE IF NOT EXISTS {HANDLED} (bot_id BIGINT NOT NULL,"
    " update_id BIGINT NOT NULL, handled_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " PRIMARY KEY (bot_id, update_id))",
    "DROP TABLE IF EXISTS pendamping_workers.handled_updates",  # before bots had ids here
)
PRUNE_EVERY = 1000  # updates recorded between two prunings
_SEEN = f"SELECT 1 FROM {HANDLED} WHERE bot_id = %s AND update_id = %s"
_LOCK_SEEN = (
    "SELECT pg_try_advisory_lock(%s, %s),"
    f" EXISTS (SELECT 1 FROM {HANDLED} WHERE bot_id = %s AND update_id = %s)"
)
_UNLOCK = "SELECT pg_advisory_unlock(%s, %s)"
_RECORD = f"INSERT INTO {HANDLED} (bot_id, update_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
_RECORD_UNLOCK = f"WITH recorded AS ({_RECORD} RETURNING 1) SELECT pg_advisory_unlock(%s, %s)"
_PRUNE = f"DELETE FROM {HANDLED} WHERE handled_at < now() - interval '1 day'"


def chat_lock_key(chat_id: int) -> int:
    """The chat id folded into a signed 32-bit key (Telegram's ids go beyond 32 bits)."""
    folded = (chat_id ^ (chat_id >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= (1 << 31) else folded


class ChatLocks:
    """Per-chat locks shared by every worker of one PostgreSQL database (see module docstring).

    One connection of its own (autocommit) holds this worker's chat locks; a lock another
    worker holds is polled for (every 5 ms, then up to every 50 ms)."""

    def __init__(self, database: str, bot_id: int = 0) -> None:
        self.database = database
        self.bot_id = bot_id  # the token's bot id: update ids are counted per bot
        self._conn: Any = None
        self._local: dict[int, tuple[asyncio.Lock, int]] = {}
        self._connecting = asyncio.Lock()
        self._recorded = 0

    async def open(self) -> None:
        """Connect now (so a wrong URL fails at start) and make the handled-updates table."""
        import psycopg

        conn = await self._connection()
        for sql in _SETUP:
            # another worker starting at the same moment may have made it
            with contextlib.suppress(
                psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateObject,
                psycopg.errors.UndefinedTable,
            ):
                await conn.execute(sql)
        await conn.execute(_PRUNE)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()  # the server frees every lock of the session
            self._conn = None

    async def _connection(self) -> Any:
        async with self._connecting:
            if self._conn is None or self._conn.closed or self._conn.broken:
                import psycopg

                self._conn = await psycopg.AsyncConnection.connect(
                    self.database,
                    autocommit=True,
                    connect_timeout=10,
                    application_name=f"pendamping chat locks pid {os.getpid()}",
                )
            return self._conn

    async def _query(self, sql: str, params: tuple[Any, ...], fetch: bool = True) -> Any:
        try:
            return await self._query_once(sql, params, fetch)
        except Exception:
            if self._conn is not None and not self._conn.closed:
                raise
        # The session was lost under the statement (server restart, terminated backend): once
        # more on a new one. Each statement here is safe to repeat: taking a lock, looking an
        # update up, recording it (ON CONFLICT DO NOTHING); the locks went with the old session.
        return await self._query_once(sql, params, fetch)

    async def _query_once(self, sql: str, params: tuple[Any, ...], fetch: bool) -> Any:
        conn = await self._connection()
        try:
            cur = await conn.execute(sql, params)
            return await cur.fetchone() if fetch else None
        except Exception:
            # A broken session lost its locks with it: the next use reconnects. A session that
            # still works is kept: it holds the locks of the other chats under way.
            if conn.broken:
                with contextlib.suppress(Exception):
                    await conn.close()
            raise

    @contextlib.asynccontextmanager
    async def hold(self, chat_id: int | None, update_id: int | None = None) -> AsyncIterator[bool]:
        """Hold the chat's lock (in this worker and on the database) for the block; the block
        gets True when a worker already handled this update_id (skip it). A block that ends
        normally records the update as handled, in the statement that releases the lock."""
        if chat_id is None:  # no chat, no order to keep: only the once
            row = (
                await self._query(_SEEN, (self.bot_id, update_id))
                if update_id is not None
                else None
            )
            yield row is not None
            if update_id is not None and row is None:
                await self._record(update_id)
            return
        lock, users = self._local.get(chat_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._local[chat_id] = (lock, users + 1)
        try:
            async with lock:
                chat_key = chat_lock_key(chat_id)
                seen = await self._hold_locked(chat_key, update_id)
                done = False
                try:
                    yield seen
                    done = update_id is not None and not seen
                finally:
                    with contextlib.suppress(Exception):  # a lost session freed it already
                        if done:
                            await self._query(
                                _RECORD_UNLOCK, (self.bot_id, update_id, CHAT_NAMESPACE, chat_key)
                            )
                            self._count_record()
                        else:
                            await self._query(_UNLOCK, (CHAT_NAMESPACE, chat_key))
        finally:
            lock, users = self._local[chat_id]
            if users <= 1:
                del self._local[chat_id]
            else:
                self._local[chat_id] = (lock, users - 1)

    async def _hold_locked(self, key: int, update_id: int | None) -> bool:
        """Take the chat's database lock (polling while another worker has it) and look the
        update up in the same statement: True when it was handled already."""
        pause = 0.005
        while True:
            row = await self._query(_LOCK_SEEN, (CHAT_NAMESPACE, key, self.bot_id, update_id or 0))
            if row[0]:
                return bool(row[1])
            await asyncio.sleep(pause)  # another worker handles this chat now
            pause = min(pause * 2, 0.05)

    async def _record(self, update_id: int) -> None:
        await self._query(_RECORD, (self.bot_id, update_id), False)
        self._count_record()

    def _count_record(self) -> None:
        self._recorded += 1
        if self._recorded % PRUNE_EVERY == 0:
            asyncio.get_running_loop().create_task(self._prune())

    async def _prune(self) -> None:
        with contextlib.suppress(Exception):
            await self._query(_PRUNE, (), False)


class SenderElection:
    """Become the database's outbox sender when its sender lock is free (see module docstring).

    run() loops until stopped: try the lock every retry_seconds; once held, call `lead()`
    (it runs the sender until cancelled) and check every `check_seconds` that the lock's
    session is alive; when it is not, cancel `lead()` and try again."""

    def __init__(
        self,
        database: str,
        lead: Callable[[], Coroutine[Any, Any, None]],
        *,
        retry_seconds: float = 2.0,
        check_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self._lead = lead
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self.leading = False
        self._lock: Any = None
        self._monotonic = monotonic
        self._unavailable_logged: float | None = None  # the server away: logged at (monotonic)

    async def _try_take(self) -> bool:
        from bot.runlock import SenderLockHeld, acquire_sender_lock

        try:
            self._lock = await asyncio.to_thread(acquire_sender_lock, self.database, "run")
        except SenderLockHeld:
            self._unavailable_logged = None
            return False
        except Exception as exc:  # the server is away: try again later, say so once a minute
            now = self._monotonic()
            if self._unavailable_logged is None or now - self._unavailable_logged >= 60:
                self._unavailable_logged = now
                log.warning("event=sender_lock_unavailable error=%s", type(exc).__name__)
            return False
        self._unavailable_logged = None
        return True

    async def run(self) -> None:
        try:
            while True:
                if not await self._try_take():
                    await asyncio.sleep(self.retry_seconds)
                    continue
                self.leading = True
                log.info("event=sender_lock_taken pid=%d", os.getpid())
                task = asyncio.create_task(self._lead())
                try:
                    while not task.done():
                        await asyncio.wait({task}, timeout=self.check_seconds)
                        if not task.done() and not await asyncio.to_thread(self._lock.still_held):
                            log.error("event=sender_lock_lost: sending stopped")
                            break
                finally:
                    self.leading = False
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                    await asyncio.to_thread(self._release)
                if not task.cancelled() and task.exception() is None:
                    return  # lead() ended by itself (the sender was stopped)
                await asyncio.sleep(self.retry_seconds)
        finally:
            await asyncio.to_thread(self._release)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
