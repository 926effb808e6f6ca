"""The real bot through the loopback sandbox: polling, webhook, restart, buttons, faults."""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.db import Database
from bot.sandbox.request import SandboxRequest
from tests.sandbox_scenario import tiny_png

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

# PTB itself reads RetryAfter.retry_after (its own deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def seed_admin(db: Database) -> None:
    await db.execute(
        "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, linked_at)"
        " VALUES (2001, 2001, 'Admin Satu', 'admin', '2024-01-01T00:00:00+00:00')"
    )


async def test_start_answers_in_private_chat(sandbox):
    siti = await sandbox.user(1001, "Siti")
    replies = await siti.send("/start")
    assert len(replies) == 1
    assert "Selamat datang" in (await siti.last()).text
    assert "Siti" in replies[0].text


async def test_in_process_door_runs_the_same_bot(sandbox_factory):
    sandbox = await sandbox_factory(door="in_process")
    assert isinstance(sandbox.app.bot.request, SandboxRequest)
    siti = await sandbox.user(1001, "Siti")
    assert "Selamat datang" in (await siti.send("/start"))[0].text
    assert sandbox.calls("getUpdates")


async def test_bantuan_lists_commands(sandbox):
    budi = await sandbox.user(1002, "Budi")
    await budi.send("/bantuan")
    reply = await budi.last()
    assert "/bantuan" in reply.text
    # the bot set its command menu at start-up
    assert sandbox.calls("setMyCommands")[0]["status"] == 200


async def test_webhook_mode_answers_and_refuses_a_wrong_secret(sandbox_factory):
    sandbox = await sandbox_factory(webhook=True)
    hook = sandbox.app.bot_data["sandbox_webhook"]
    assert sandbox.core.webhook["url"] == f"http://127.0.0.1:{hook['port']}/telegram"
    siti = await sandbox.user(1001, "Siti")
    assert "Selamat datang" in (await siti.send("/start"))[0].text
    assert "/bantuan" in (await siti.send("/bantuan"))[0].text
    # not through getUpdates: the sandbox posted the updates to the webhook
    assert sandbox.calls("getUpdates") == []
    # someone who does not know the secret is refused, and nothing is handled
    update = {
        "update_id": 999,
        "message": {
            "message_id": 50, "date": 0, "chat": {"id": 1001, "type": "private", "first_name": "S"},
            "from": {"id": 1001, "is_bot": False, "first_name": "S"}, "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }  # fmt: skip
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{hook['port']}/telegram"
        wrong = await client.post(
            url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
        )
        missing = await client.post(url, json=update)
    assert wrong.status_code == 403 and missing.status_code == 403
    await sandbox.idle()
    assert len(await siti.messages()) == 2
    # and the sandbox side: a webhook that refuses (here: the wrong secret) gets retries
    right = sandbox.core.webhook["secret_token"]
    sandbox.core.webhook["secret_token"] = "salah"
    pending = sandbox.core.send(1001, "/bantuan")
    await sandbox.core.wait_changed(1)
    for _ in range(100):
        if sandbox.core.webhook_last_error:
            break
        await sandbox.core.wait_changed(0.05)
    assert "403" in sandbox.core.webhook_last_error[1]
    assert not sandbox.core.delivered(pending["update_id"])
    sandbox.core.webhook["secret_token"] = right
    await sandbox.idle(pending["update_id"])
    assert len(await siti.messages()) == 3


async def test_seeded_account_survives_restart(sandbox_factory):
    sandbox = await sandbox_factory(seed=seed_admin)
    admin = await sandbox.user(2001, "Admin")
    assert "Anda terdaftar sebagai admin" in (await admin.send("/start"))[0].text
    db_path = sandbox.db.path
    await sandbox.restart_bot()
    assert sandbox.db.path == db_path
    replies = await admin.send("/start")
    assert len(replies) == 1 and "Halo Admin Satu" in replies[0].text
    # the update handled before the restart was confirmed, so it was not handled twice
    assert len(await admin.messages()) == 2


async def _menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Berjalan", callback_data="t:ok"),
          InlineKeyboardButton("Berhenti", callback_data="t:stop")]]
    )  # fmt: skip
    await update.effective_chat.send_message("Bagaimana usaha Anda?", reply_markup=keyboard)
    raise ApplicationHandlerStop  # taken here: the bot's own answer to strangers stays out


async def _pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Tercatat")
    await query.edit_message_text(f"Pilihan: {query.data}")


async def _photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    photo = await update.message.photo[-1].get_file()
    data = await photo.download_as_bytearray()
    await update.message.reply_photo(bytes(data), caption=f"{len(data)} byte diterima")
    raise ApplicationHandlerStop


async def test_buttons_photos_and_groups_through_the_driver(sandbox_factory, settings):
    # -4001 is a configured staff group (the bot leaves any other group)
    cfg = replace(settings, chats=replace(settings.chats, staff=[-4001]))
    sandbox = await sandbox_factory(settings=cfg)
    # feature-like handlers added for this test only, ahead of the bot's chat gate (-90)
    sandbox.app.add_handler(MessageHandler(filters.Regex("^menu$"), _menu), group=-95)
    sandbox.app.add_handler(CallbackQueryHandler(_pressed, pattern="^t:"), group=-95)
    sandbox.app.add_handler(MessageHandler(filters.PHOTO, _photo), group=-95)
    siti = await sandbox.user(1001, "Siti")
    await siti.send("menu")
    assert siti.buttons() == ["Berjalan", "Berhenti"]
    changed = await siti.press("Berjalan")
    assert changed[-1].text == "Pilihan: t:ok" and changed[-1].edited
    assert siti.last_answer() == "Tercatat"
    assert (await siti.last()).buttons == []
    with pytest.raises(AssertionError, match="no button 'Berjalan'"):
        await siti.press("Berjalan")
    replies = await siti.send_photo(tiny_png(20, 10), caption="usaha saya")
    assert replies[0].caption == f"{len(tiny_png(20, 10))} byte diterima"
    assert replies[0].photo["width"] == 20
    # other kinds reach the bot without breaking it (no handler answers them yet)
    await siti.send_location(-6.98, 109.14)
    await siti.send_contact("+6281200000000", "Siti")
    await siti.send_document(b"a,b", file_name="data.csv")
    await siti.send_voice()
    await siti.send_sticker()
    await siti.forward("Info penting", from_user="Kantor")
    first = sandbox.core.send(1001, "ketikan salah")
    await siti.edit(first["message_id"], "ketikan benar")
    budi = await sandbox.user(1002, "Budi")
    group = await sandbox.group(-4001, "Kelompok Tata Boga", [siti, budi])
    await group.send(budi, "/bantuan@PendampingTegalBot")
    assert "/bantuan" in (await group.last()).text
    await group.send(siti, "menu")
    assert "Pilihan: t:stop" in (await siti.press("Berhenti", chat=group))[-1].text
    await sandbox.channel_post(-1009001, "Pengumuman kanal")
    group.remove_bot()
    calls_before = len(sandbox.calls("sendMessage"))
    await group.send(budi, "/bantuan")
    kicked = sandbox.calls("sendMessage")[calls_before:]
    assert kicked and kicked[0]["status"] == 403


async def test_faults_reach_the_bots_error_handler(sandbox_factory, caplog):
    sandbox = await sandbox_factory(rate_limiter=False)
    siti = await sandbox.user(1001, "Siti")
    sandbox.core.add_fault("sendMessage", 403)
    with caplog.at_level(logging.ERROR, logger="pendamping.errors"):
        replies = await siti.send("/start")
    assert "error=Forbidden" in caplog.text
    # the error handler's own friendly line went through once the fault was used up
    assert [c["status"] for c in sandbox.calls("sendMessage")] == [403, 200]
    assert len(replies) == 1
    caplog.clear()
    sandbox.core.add_fault("sendMessage", 429, retry_after=5, count=2)
    with caplog.at_level(logging.ERROR, logger="pendamping.errors"):
        await siti.send("/start")
    assert "error=RetryAfter" in caplog.text


async def test_the_rate_limiter_retries_after_a_flood_answer(sandbox):
    siti = await sandbox.user(1001, "Siti")
    sandbox.core.add_fault("sendMessage", 429, retry_after=1)
    replies = await siti.send("/start")
    assert "Selamat datang" in replies[0].text
    assert [c["status"] for c in sandbox.calls("sendMessage")] == [429, 200]


async def test_blocked_user_gives_forbidden(sandbox):
    siti = await sandbox.user(1001, "Siti")
    siti.block()
    assert await siti.send("/start") == []
    assert {c["status"] for c in sandbox.calls("sendMessage")} == {403}


async def test_reply_keyboard_buttons_are_pressed_by_sending_their_text(sandbox):
    from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove

    async def ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = ReplyKeyboardMarkup([["Ya", "Tidak"]], one_time_keyboard=True)
        await update.effective_chat.send_message("Lanjut?", reply_markup=keyboard)
        raise ApplicationHandlerStop

    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_chat.send_message(
            f"Jawaban: {update.message.text}", reply_markup=ReplyKeyboardRemove()
        )
        raise ApplicationHandlerStop

    sandbox.app.add_handler(MessageHandler(filters.Regex("^tanya$"), ask), group=-1)
    sandbox.app.add_handler(MessageHandler(filters.Regex("^(Ya|Tidak)$"), answer), group=-1)
    siti = await sandbox.user(1001, "Siti")
    await siti.send("tanya")
    assert siti.buttons() == ["Ya", "Tidak"]
    assert siti.keyboard() == [["Ya", "Tidak"]]
    replies = await siti.press("Tidak")
    assert replies[-1].text == "Jawaban: Tidak"
    assert siti.keyboard() is None and siti.buttons() == []
