"""Service tests for the outbox sender and broadcasts: real SQLite, real PTB Bot, a fake
Bot API at the HTTP-request boundary (tests/fake_botapi.py), a fake clock for the calendar
and a manual monotonic clock for pacing: the sender's waits take no real time."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import pytest

from bot.clock import ManualMonotonic
from bot.services import broadcasts
from bot.services.accounts import get_account
from bot.services.cycle import PlannedMessage, enqueue
from bot.services.outbox import OutboxSender
from tests import cycle_seed as seed
from tests.fake_botapi import FakeBotAPI, fake_bot

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

FAST = dict(per_second=200.0, private_interval_seconds=0.0, in_flight=4, backoff_seconds=10.0)


@pytest.fixture
def mono():
    return ManualMonotonic()


@pytest.fixture
def api(mono):
    return FakeBotAPI(monotonic=mono)


@pytest.fixture
async def sender(db, settings, clock, api, mono):
    bot = await fake_bot(api)
    s = OutboxSender(db, bot, settings, clock, limits=replace(settings.outbox, **FAST),
                     monotonic=mono, sleep=mono.sleep)  # fmt: skip
    yield s
    await bot.shutdown()


async def put(db, clock, chat_id, text, *, account_id=None, priority=5, step=None):
    async with db.transaction() as conn:
        await enqueue(
            conn,
            PlannedMessage(
                "test",
                f"chat:{chat_id}",
                "-",
                step or text,
                chat_id,
                account_id,
                text,
                priority,
                clock(),
                "t",
            ),  # fmt: skip
            clock(),
        )


async def test_rows_go_by_priority_then_age(db, clock, api, sender):
    await put(db, clock, 1, "low", priority=7)
    await put(db, clock, 1, "high", priority=2)
    await put(db, clock, 1, "mid-a", priority=5)
    await put(db, clock, 1, "mid-b", priority=5)
    stats = await sender.drain()
    assert api.sent[1] == ["high", "mid-a", "mid-b", "low"]
    assert stats.sent == 4
    rows = await seed.outbox(db)
    assert all(r["status"] == "sent" and r["sent_at"] and r["telegram_message_id"] for r in rows)
    assert all(r["attempts"] == 1 for r in rows)


async def test_rows_not_yet_due_wait(db, clock, api, sender):
    async with db.transaction() as conn:
        await enqueue(conn, PlannedMessage("t", "chat:1", "-", "x", 1, None, "later", 5,
                                           clock() + dt.timedelta(hours=1), "t"), clock())  # fmt: skip
    await sender.drain()
    assert api.sent == {}
    clock.advance(hours=1)
    await sender.drain()
    assert api.sent[1] == ["later"]


async def test_private_chat_spacing(db, clock, api, settings, sender, mono):
    sender.limits = replace(sender.limits, private_interval_seconds=0.2)
    for i in range(3):
        await put(db, clock, 5, f"m{i}")
    await put(db, clock, 6, "other")
    started = time.monotonic()
    await sender.drain()
    times = [t for t, c in api.calls if c == 5]
    assert len(times) == 3
    assert all(b - a >= 0.2 - 1e-9 for a, b in zip(times, times[1:], strict=False))
    assert mono.slept >= 0.4 and time.monotonic() - started < mono.slept  # waits took no time
    # the other chat did not wait for chat 5
    assert [c for _, c in api.calls].index(6) < 2


async def test_429_delays_only_that_chat(db, clock, api, sender, mono):
    api.fault(429, chat_id=7, retry_after=1)
    await put(db, clock, 7, "to seven")
    for i in range(3):
        await put(db, clock, 10 + i, f"to {10 + i}")
    stats = await sender.drain()
    order = [c for _, c in api.calls]
    assert order[0] == 7 and order[-1] == 7  # retried last, after the others went
    assert set(order[1:4]) == {10, 11, 12}
    assert api.sent[7] == ["to seven"]
    assert api.calls[-1][0] - api.calls[0][0] >= 1.0  # the retry waited out retry_after
    assert stats.rate_limited == 1
    row = (await seed.outbox(db, "chat_id = 7"))[0]
    assert row["status"] == "sent" and row["attempts"] == 1 and "429" in row["last_error"]


async def test_429_for_many_chats_holds_the_whole_queue(db, clock, api, sender):
    sender.limits = replace(sender.limits, global_429_chats=2, in_flight=1)
    api.fault(429, chat_id=1, retry_after=1)
    api.fault(429, chat_id=2, retry_after=1)
    await put(db, clock, 1, "a")
    await put(db, clock, 2, "b")
    for i in range(3):
        await put(db, clock, 20 + i, f"c{i}")
    await sender.drain()
    calls = api.calls
    second_429 = calls[1][0]
    later = [t for t, c in calls if c >= 20 and t > second_429]
    # everything after the second 429 waited for the hold (one second, on the manual clock)
    assert later and min(later) - second_429 >= 1.0
    assert sum(len(v) for v in api.sent.values()) == 5


async def test_network_errors_retry_with_backoff_then_fail(db, clock, api, sender):
    sender.limits = replace(sender.limits, max_attempts=3)
    api.fault(502, chat_id=8, count=5)
    await put(db, clock, 8, "x")
    await sender.drain()
    row = (await seed.outbox(db))[0]
    assert (
        row["status"] == "pending" and row["attempts"] == 1 and "Bad Gateway" in row["last_error"]
    )
    clock.advance(seconds=9)
    await sender.drain()
    assert (await seed.outbox(db))[0]["attempts"] == 1  # backoff 10 s not over
    clock.advance(seconds=1)
    await sender.drain()
    assert (await seed.outbox(db))[0]["attempts"] == 2  # next backoff: 20 s
    clock.advance(seconds=20)
    stats = await sender.drain()
    row = (await seed.outbox(db))[0]
    assert (
        row["status"] == "failed" and row["attempts"] == 3 and "NetworkError" in row["last_error"]
    )
    assert stats.failed == 1 and api.sent == {}


async def test_timeout_is_retried_then_sent(db, clock, api, sender):
    api.fault("timeout", chat_id=9)
    await put(db, clock, 9, "x")
    await sender.drain()
    assert (await seed.outbox(db))[0]["last_error"].startswith("TimedOut")
    clock.advance(seconds=10)
    await sender.drain()
    row = (await seed.outbox(db))[0]
    assert row["status"] == "sent" and row["attempts"] == 2 and api.sent[9] == ["x"]


@pytest.mark.parametrize(
    ("fault", "reason"), [(403, "memblokir bot"), (400, "chat tidak ditemukan")]
)
async def test_blocked_user_is_unreachable_and_facilitator_told(
    db, clock, api, sender, fault, reason
):
    d = await seed.desa(db, "Kalisapu")
    fac = await seed.facilitator(db, "Budi", chat_id=2001)
    await seed.recipient(db, "Siti", facilitator_id=fac, desa_id=d, chat_id=1001)
    acc = await get_account(db, 1001)
    api.fault(fault, chat_id=1001)
    await put(db, clock, 1001, "first", account_id=acc.id)
    await put(db, clock, 1001, "second", account_id=acc.id)
    stats = await sender.drain()
    acc = await get_account(db, 1001)
    assert not acc.reachable
    assert (
        await db.fetchval("SELECT unreachable_reason FROM accounts WHERE id=?", (acc.id,)) == reason
    )
    rows = await seed.outbox(db, "chat_id = 1001")
    assert [r["status"] for r in rows] == ["unreachable", "unreachable"]
    assert len([c for _, c in api.calls if c == 1001]) == 1  # no second try to a blocked user
    assert stats.unreachable == 1 and stats.notices == 1
    (notice,) = api.sent[2001]
    assert "Siti" in notice and "Kalisapu" in notice and reason in notice


async def test_crash_recovery_resends_in_flight_rows(db, clock, api, sender):
    await put(db, clock, 1, "a")
    await put(db, clock, 2, "b")
    await db.execute("UPDATE outbox SET status='sending', attempts=1 WHERE text='a'")
    stats = await sender.drain()
    assert stats.recovered == 1
    assert api.sent == {1: ["a"], 2: ["b"]}


# --- broadcasts --------------------------------------------------------------------------


@pytest.fixture
async def region(db):
    slawi = await seed.desa(db, "Kalisapu")
    lebak = await seed.desa(db, "Lebaksiu Kidul", seed.KEC_LEBAKSIU)
    budi = await seed.facilitator(db, "Budi", chat_id=2001)
    await seed.facilitator(db, "Tono", kecamatan=seed.KEC_LEBAKSIU, chat_id=2002)
    await seed.recipient(db, "Siti", facilitator_id=budi, desa_id=slawi, chat_id=1001)
    await seed.recipient(db, "Ani", facilitator_id=budi, desa_id=slawi, chat_id=1002,
                         programme="menjahit")  # fmt: skip
    await seed.recipient(db, "Dewi", facilitator_id=budi, chat_id=1003, muted=True)
    await seed.recipient(db, "Rina", desa_id=lebak, kecamatan=seed.KEC_LEBAKSIU, chat_id=1004)
    await seed.recipient(db, "Tutup", chat_id=1005, status="ended")
    await seed.account(db, 3001, "staff", kecamatan=seed.KEC_SLAWI, name="Staf Slawi")
    await seed.account(db, 3002, "admin", name="Admin")
    return {"slawi_desa": slawi, "lebak_desa": lebak}


async def test_broadcast_preview_counts_and_region_limit(db, settings, clock, region):
    staff = await get_account(db, 3001)
    admin = await get_account(db, 3002)
    p = await broadcasts.start_draft(db, settings, staff, "recipients", None, clock(), "Halo")
    assert p.count == 2  # Siti, Ani: not muted Dewi, not Rina (Lebaksiu), not ended
    p = await broadcasts.start_draft(db, settings, admin, "recipients", None, clock(), "Halo")
    assert p.count == 3
    p = await broadcasts.start_draft(db, settings, staff, "programme", "menjahit", clock(), "x")
    assert p.count == 1
    p = await broadcasts.start_draft(db, settings, staff, "facilitators", None, clock(), "x")
    assert p.count == 1
    with pytest.raises(broadcasts.BroadcastError) as err:
        await broadcasts.start_draft(db, settings, staff, "kecamatan", seed.KEC_LEBAKSIU, clock())
    assert err.value.reason == "outside_region"
    with pytest.raises(broadcasts.BroadcastError) as err:
        await broadcasts.start_draft(
            db, settings, staff, "desa", str(region["lebak_desa"]), clock()
        )
    assert err.value.reason == "outside_region"
    p = await broadcasts.start_draft(
        db, settings, admin, "desa", str(region["lebak_desa"]), clock()
    )
    assert p.count == 1
    recipient = await get_account(db, 1001)
    with pytest.raises(broadcasts.BroadcastError):
        await broadcasts.start_draft(db, settings, recipient, "recipients", None, clock(), "x")


async def test_broadcast_delivery_report(db, settings, clock, api, sender, region):
    staff = await get_account(db, 3001)
    api.blocked.add(1002)
    p = await broadcasts.start_draft(db, settings, staff, "recipients", None, clock())
    assert await broadcasts.open_draft(db, staff) == p.broadcast_id
    p = await broadcasts.set_text(db, settings, staff, p.broadcast_id, "Pelatihan hari Senin")
    assert p.count == 2
    assert await broadcasts.queue(db, settings, staff, p.broadcast_id, clock()) == 2
    with pytest.raises(broadcasts.BroadcastError):  # cannot be queued twice
        await broadcasts.queue(db, settings, staff, p.broadcast_id, clock())
    await sender.drain()
    assert api.sent[1001] == ["Pelatihan hari Senin"]
    (report,) = api.sent[3001]
    assert "Terkirim: 1" in report and "Tidak terjangkau: 1" in report and "Gagal: 0" in report
    prog = await broadcasts.progress(db, p.broadcast_id)
    assert (prog.status, prog.sent, prog.unreachable, prog.pending) == ("done", 1, 1, 0)


async def test_empty_text_is_refused(db, settings, clock, region):
    staff = await get_account(db, 3001)
    p = await broadcasts.start_draft(db, settings, staff, "recipients", None, clock())
    with pytest.raises(broadcasts.BroadcastError) as err:
        await broadcasts.set_text(db, settings, staff, p.broadcast_id, "   ")
    assert err.value.reason == "empty_text"


async def test_mute_and_unmute(db, settings, clock, region):
    siti = await get_account(db, 1001)
    await broadcasts.set_muted(db, siti, True)
    staff = await get_account(db, 3001)
    p = await broadcasts.start_draft(db, settings, staff, "recipients", None, clock(), "x")
    assert p.count == 1
    await broadcasts.set_muted(db, siti, False)
    p = await broadcasts.start_draft(db, settings, staff, "recipients", None, clock(), "x")
    assert p.count == 2
    with pytest.raises(broadcasts.BroadcastError):
        await broadcasts.set_muted(db, staff, True)


async def test_invalid_token_stops_sending_and_keeps_rows(db, clock, api, sender):
    api.fault(401, chat_id=1)
    await put(db, clock, 1, "a")
    await put(db, clock, 2, "b")
    sender.limits = replace(sender.limits, in_flight=1)
    await sender.drain()
    rows = await seed.outbox(db)
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert rows[0]["attempts"] == 0 and "InvalidToken" in rows[0]["last_error"]
