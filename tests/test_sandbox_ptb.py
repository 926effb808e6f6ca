"""Telegram's rules as python-telegram-bot sees them, through the in-process door (fast)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    RetryAfter,
)

from bot.sandbox.core import SandboxCore
from bot.sandbox.request import SandboxRequest
from tests.sandbox_scenario import sandbox_bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def seconds(value: int | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


@pytest.fixture
async def tg():
    async with sandbox_bot("in_process") as (core, bot, _):
        core.add_user(1001, "Siti")
        core.add_group(-4001, "Kelompok", [1001])
        core.confirm(core.next_update_id)  # start each test with no pending update
        yield core, bot


async def test_injected_429_is_retry_after_then_recovers(tg):
    core, bot = tg
    core.add_fault("sendMessage", 429, retry_after=7, count=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as exc:
            await bot.send_message(1001, "halo")
        assert seconds(exc.value.retry_after) == 7
    assert (await bot.send_message(1001, "halo")).text == "halo"
    assert [c["status"] for c in core.call_log("sendMessage")] == [429, 429, 200]


async def test_injected_and_real_forbidden(tg):
    core, bot = tg
    core.add_fault("sendMessage", 403)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(1001, "halo")
    core.block(1001)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1001, "halo")
    core.block(1001, False)
    await bot.send_message(1001, "lagi")
    core.remove_bot(-4001)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(-4001, "halo grup")


async def test_injected_and_real_bad_request(tg):
    core, bot = tg
    core.add_fault("sendMessage", 400)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(1001, "halo")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(999, "siapa?")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    assert (await bot.send_message(1001, "x" * 4096)).text == "x" * 4096
    big = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(1001, "pilih", reply_markup=big)
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="d" * 64)]])
    await bot.send_message(1001, "pilih", reply_markup=ok)
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(1001, "<b>tebal", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)character '.' is reserved"):
        await bot.send_message(1001, "Terima kasih.", parse_mode="MarkdownV2")
    ok_md = "*Terima kasih\\.* Lihat [situs](https://example.org/a-b.c) `kode.1`"
    assert (await bot.send_message(1001, ok_md, parse_mode="MarkdownV2")).text
    with pytest.raises(BadRequest, match="(?i)text is empty"):
        await bot.send_message(1001, " ")


async def test_identical_edit_is_not_modified(tg):
    core, bot = tg
    sent = await bot.send_message(1001, "Status: baru")
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Status: baru", 1001, sent.message_id)
    edited = await bot.edit_message_text("Status: selesai", 1001, sent.message_id)
    assert edited.text == "Status: selesai"
    assert core.chat_messages(1001)[-1] | {"edited": True} == core.chat_messages(1001)[-1]
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", 1001, 999)
    await bot.delete_message(1001, sent.message_id)
    assert core.chat_messages(1001) == []
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(1001, sent.message_id)


async def test_wrong_token_and_unknown_method():
    core = SandboxCore(token="123456:right")
    request = SandboxRequest(core)
    from telegram import Bot

    wrong = Bot("123456:wrong", request=request, get_updates_request=request)
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    right = Bot("123456:right", request=request, get_updates_request=request)
    await right.initialize()
    with pytest.raises(EndPointNotFound):
        await right.do_api_request("noSuchMethod")
    await right.shutdown()


async def test_get_updates_offset_limit_and_long_poll(tg):
    core, bot = tg
    for i in range(5):
        core.send(1001, f"pesan {i}")
    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first] == ["pesan 0", "pesan 1"]
    # not confirmed yet: asking again gives them again
    assert len(await bot.get_updates(timeout=0)) == 5
    # confirming by offset forgets everything below it
    rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in rest] == ["pesan 2", "pesan 3", "pesan 4"]
    # a negative offset keeps only the last N
    last = await bot.get_updates(offset=-1, timeout=0)
    assert [u.message.text for u in last] == ["pesan 4"]
    assert core.delivered(rest[1].update_id)
    # long poll: waits, then answers as soon as an update arrives
    offset = last[-1].update_id + 1
    poll = asyncio.create_task(bot.get_updates(offset=offset, timeout=5))
    await asyncio.sleep(0.01)
    assert not poll.done()
    core.send(1001, "baru")
    got = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in got] == ["baru"]
    # empty long poll with a tiny timeout returns an empty list
    assert await bot.get_updates(offset=got[-1].update_id + 1, timeout=0.05) == ()


async def test_get_updates_conflicts_with_webhook(tg):
    core, bot = tg
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_allowed_updates_filters_kinds(tg):
    core, bot = tg
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    result = core.send(1001, "teks")
    assert core.delivered(result["update_id"])  # Telegram never makes it
    assert await bot.get_updates(timeout=0) == ()


async def test_callback_query_answer_once(tg):
    core, bot = tg
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ya", callback_data="y")]])
    sent = await bot.send_message(1001, "Lanjut?", reply_markup=markup)
    press = core.press(1001, sent.message_id, "y")
    (update,) = await bot.get_updates(timeout=0)
    assert update.callback_query.data == "y"
    assert update.callback_query.message.message_id == sent.message_id
    await bot.answer_callback_query(press["callback_query_id"], text="Oke")
    assert core.callback_queries[press["callback_query_id"]]["answer"] == "Oke"
    with pytest.raises(BadRequest, match="(?i)query id is invalid"):
        await bot.answer_callback_query(press["callback_query_id"])
