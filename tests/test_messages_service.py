"""bot/services/messages.py with a real SQLite: limits refused before anything is written, a
retried update forwarded once, replies only by the family's own facilitator."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.services import messages as M
from tests.report_seed import seed_basic

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
async def seeded(db):
    return await seed_basic(db)


async def rows(db) -> tuple[int, int]:
    return (await db.fetchval("SELECT count(*) FROM family_messages"),
            await db.fetchval("SELECT count(*) FROM outbox"))  # fmt: skip


@pytest.mark.parametrize(
    ("item", "key"),
    [
        (M.Incoming("voice", None, "f1", 25_000_000, 1), "file_too_large"),
        (M.Incoming("photo", "x" * 1100, "f2", 1000, 2), "too_long"),
        (M.Incoming("text", "x" * 4095, None, None, 3), "too_long"),
        (M.Incoming("text", "   ", None, None, 4), "empty"),
        (M.Incoming("sticker", None, "f3", 10, 5), "kind"),
    ],
)
async def test_over_the_limits_is_refused_and_nothing_written(db, seeded, item, key):
    with pytest.raises(M.MessageRefused) as refused:
        await M.forward_from_family(db, NOW, seeded["warsini"], item)
    assert refused.value.key == key
    assert await rows(db) == (0, 0)


async def test_a_retried_update_is_forwarded_once(db, seeded):
    item = M.Incoming("text", "Bu, kambing saya sakit", None, None, 77)
    first = await M.forward_from_family(db, NOW, seeded["warsini"], item)
    again = await M.forward_from_family(db, NOW, seeded["warsini"], item)
    assert first.new and not again.new and first.message_id == again.message_id
    assert first.to_name == "Bu Rini"
    assert await rows(db) == (1, 1)
    row = await db.fetchone("SELECT kind, step, chat_id, attachment FROM outbox")
    assert (row["kind"], row["step"], row["chat_id"]) == ("notice", "family_message:1", 2001)
    assert "msg:1" in row["attachment"]


async def test_only_the_familys_facilitator_may_answer(db, seeded):
    passed = await M.forward_from_family(
        db, NOW, seeded["siti"], M.Incoming("text", "Halo Bu", None, None, 5)
    )
    with pytest.raises(M.MessageRefused):
        await M.start_reply(db, NOW, seeded["joko"], passed.message_id)
    assert await M.start_reply(db, NOW, seeded["rini"], passed.message_id) == "Siti"
    assert await M.waiting_reply(db, NOW, seeded["rini"]) == passed.message_id
    later = NOW + M.REPLY_WAIT + dt.timedelta(minutes=1)
    assert await M.waiting_reply(db, later, seeded["rini"]) is None


async def test_no_facilitator_account_tells_whom_to_call(db, seeded):
    await db.execute("UPDATE facilitators SET phone = '6281111' WHERE code = 'PD-101'")
    await db.execute("DELETE FROM accounts WHERE telegram_user_id = 2001")
    with pytest.raises(M.MessageRefused) as refused:
        await M.forward_from_family(db, NOW, seeded["siti"], M.Incoming("text", "Halo", None))
    assert refused.value.key == "no_facilitator"
    assert refused.value.params == {"facilitator": "Bu Rini", "phone": "081111"}
