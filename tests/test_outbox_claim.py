"""Claiming outbox rows: `FOR UPDATE SKIP LOCKED` on PostgreSQL (a row another session holds
is skipped at once, not waited for), the same statement without the clause on SQLite, and
never one row claimed twice by two claimers at once on either engine."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from bot.clock import ManualMonotonic
from bot.config import Settings
from bot.db import Database, OperationalError
from bot.db.translate import without_row_locks
from bot.services.cycle import PlannedMessage, enqueue, iso
from bot.services.outbox import OutboxSender
from bot.services.outbox_store import CLAIM, OutboxStore
from tests import cycle_seed as seed
from tests.conftest import FakeClock
from tests.fake_botapi import FakeBotAPI, fake_bot

pytestmark = pytest.mark.both_engines

NO_ROW_LOCKS = "SQLite has no row locks: one writer at a time locks the whole file"


async def put_rows(db: Database, clock: FakeClock, chats: list[int]) -> list[int]:
    """One due row per chat; their ids in order."""
    async with db.transaction() as conn:
        for chat_id in chats:
            message = PlannedMessage("test", f"chat:{chat_id}", "-", "s", chat_id, None,
                                     f"to {chat_id}", 5, clock(), "t")  # fmt: skip
            await enqueue(conn, message, clock())
    return [r["id"] for r in await seed.outbox(db)]


@pytest.fixture
async def other_db(db: Database, settings: Settings):
    """A second connection to the same database: another worker, another process."""
    second = await Database.open(settings.database)
    yield second
    await second.close()


def test_sqlite_gets_the_claim_without_the_row_lock() -> None:
    sqlite_sql = without_row_locks(CLAIM)
    assert "FOR UPDATE" in CLAIM and "SKIP LOCKED" in CLAIM
    assert "FOR UPDATE" not in sqlite_sql and "LOCKED" not in sqlite_sql
    assert sqlite_sql == (  # the status tested twice, as on PostgreSQL
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_at = ?"
        " WHERE id = (SELECT id FROM outbox WHERE id = ? AND status = 'pending')"
        " AND status = 'pending'"
    )
    # only code loses it: a literal or a comment keeps its words; other statements are untouched
    literal = "SELECT 'for update skip locked' AS x FROM t -- FOR UPDATE\n WHERE a = ? FOR UPDATE"
    assert without_row_locks(literal) == literal.removesuffix(" FOR UPDATE")
    plain = "SELECT id FROM outbox WHERE not_before <= ?"
    assert without_row_locks(plain) is plain
    assert without_row_locks("SELECT 1 FROM t FOR  update\n NOWAIT") == "SELECT 1 FROM t"


async def test_every_statement_method_takes_the_row_lock_clause(
    db: Database, clock: FakeClock
) -> None:
    """The services write it once; SQLite's Database drops it, PostgreSQL runs it."""
    ids = await put_rows(db, clock, [1, 2, 3])
    due = "SELECT id FROM outbox WHERE status = 'pending' ORDER BY priority, id LIMIT ?"
    lock = " FOR UPDATE SKIP LOCKED"
    assert [r["id"] for r in await db.fetchall(due + lock, (2,))] == ids[:2]
    assert (await db.fetchone(due + lock, (1,)))["id"] == ids[0]
    assert await db.fetchval(due + " FOR UPDATE NOWAIT", (1,)) == ids[0]
    changed = "UPDATE outbox SET attempts = 7 WHERE id IN (" + due + lock + ")"
    assert await db.update(changed, (1,)) == 1
    await db.execute(changed.replace("7", "8"), (3,))
    assert [r["attempts"] for r in await seed.outbox(db)] == [8, 8, 8]


async def test_two_claimers_at_once_never_claim_the_same_row(
    db: Database, other_db: Database, settings: Settings, clock: FakeClock
) -> None:
    ids = await put_rows(db, clock, list(range(1, 41)))
    stores = [OutboxStore(db, settings, clock), OutboxStore(other_db, settings, clock)]

    async def claim_all(store: OutboxStore) -> set[int]:
        # each reads the same due rows and claims them in the same order: every row is raced for
        won = set()
        for row in await store.due_rows():
            if await store.claim(row.id):
                won.add(row.id)
        return won

    first, second = await asyncio.gather(*(claim_all(s) for s in stores))
    assert first.isdisjoint(second)
    assert first | second == set(ids)
    rows = await seed.outbox(db)
    assert {r["status"] for r in rows} == {"sending"}
    assert {r["attempts"] for r in rows} == {1}  # no row claimed twice
    assert not await stores[0].claim(ids[0])  # no longer pending: refused on both engines


@pytest.mark.postgresql_only(NO_ROW_LOCKS)
async def test_a_row_locked_by_another_session_is_skipped_not_waited_for(
    db: Database, other_db: Database, settings: Settings, clock: FakeClock, engine: str
) -> None:
    locked, free = await put_rows(db, clock, [1, 2])
    store = OutboxStore(other_db, settings, clock)
    # were a claim to wait for a row lock, it would fail after 0.3 s (not hang): the proof
    # that the claims below did not wait
    await other_db.update("SET lock_timeout = '300ms'")
    async with db.transaction() as conn:
        # the first claimer has claimed `locked` and not committed yet: it holds the row lock
        cur = await conn.execute(CLAIM, (iso(clock()), locked))
        assert cur.rowcount == 1
        # the old claim (the conditional UPDATE alone) would wait for that lock
        with pytest.raises(OperationalError, match="lock"):
            await other_db.update(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1"
                " WHERE id = ? AND status = 'pending'",
                (locked,),
            )
        # still 'pending' to the second claimer's snapshot, yet skipped at once ...
        assert [r.id for r in await store.due_rows()] == [locked, free]
        assert await store.claim(locked) is False
        # ... and the second claimer goes on with the other rows
        assert await store.claim(free) is True
    # committed: the row is the first claimer's, claimed once
    assert await store.claim(locked) is False
    rows = {r["id"]: r for r in await seed.outbox(db)}
    assert rows[locked]["status"] == rows[free]["status"] == "sending"
    assert rows[locked]["attempts"] == rows[free]["attempts"] == 1

    # a transaction that only locks the row (changes nothing): skipped while it lasts, then
    # the row is claimable again
    await store.give_back(free, "test")
    async with db.transaction() as conn:
        await conn.execute("SELECT id FROM outbox WHERE id = ? FOR UPDATE", (free,))
        assert await store.claim(free) is False
    assert await store.claim(free) is True
    assert await store.attempts(free) == 1


@pytest.mark.postgresql_only(NO_ROW_LOCKS)
async def test_the_sender_delivers_around_a_locked_row(
    db: Database, other_db: Database, settings: Settings, clock: FakeClock, engine: str
) -> None:
    """Another session's transaction holds one row (an erasure, a notice being written): the
    sender sends the other rows meanwhile and that one once the lock is gone."""
    mono = ManualMonotonic()
    api = FakeBotAPI(monotonic=mono)
    bot = await fake_bot(api)
    limits = replace(settings.outbox, per_second=200.0, private_interval_seconds=0.0)
    sender = OutboxSender(db, bot, settings, clock, limits=limits, monotonic=mono,
                          sleep=mono.sleep)  # fmt: skip
    locked, *others = await put_rows(db, clock, [1, 2, 3, 4])
    await sender.recover()
    try:
        async with other_db.transaction() as conn:
            await conn.execute("SELECT id FROM outbox WHERE id = ? FOR UPDATE", (locked,))
            drain = asyncio.create_task(sender.drain())
            deadline = time.monotonic() + 10
            while sum(len(v) for v in api.sent.values()) < len(others):
                assert time.monotonic() < deadline, "the sender waited for the locked row"
                await asyncio.sleep(0.01)
            assert dict(api.sent) == {2: ["to 2"], 3: ["to 3"], 4: ["to 4"]}
            assert not drain.done()  # the locked row is still due: the drain goes on
            row = (await seed.outbox(other_db, "id = ?", (locked,)))[0]
            assert row["status"] == "pending" and row["attempts"] == 0
        stats = await asyncio.wait_for(drain, 10)
    finally:
        await bot.shutdown()
    assert api.sent[1] == ["to 1"] and stats.sent == 4
    rows = await seed.outbox(db)
    assert {r["status"] for r in rows} == {"sent"} and {r["attempts"] for r in rows} == {1}
