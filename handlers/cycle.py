"""The cycle in the app: the per-minute job, /berhenti, /mulai and /siaran (staff broadcasts).

callback_data prefix: "sia:" (sia:aud:<audience>, sia:val:<audience>:<value>, sia:ok:<id>,
sia:no:<id>).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes

from bot.callbacks import decode, encode
from bot.clock import system_clock
from bot.render import render
from bot.services import broadcasts, outbox
from bot.services.chat_menus import sync_chat_menus
from bot.services.digest_schedule import mark_chat_reachable
from bot.services.minute import run_minute
from bot.services.outbox import OutboxSender, make_sender_bot
from bot.workers import SenderElection
from handlers.common import (
    account_of,
    db_of,
    lang_of,
    now_of,
    reply,
    settings_of,
    wake,
)

log = logging.getLogger("pendamping.cycle")

MAX_VALUE_BUTTONS = 40


# --- the job and the sender's lifecycle -----------------------------------------------------


async def start_sender(app: Application) -> None:
    """post_init: the sender gets its own Bot without PTB's rate limiter (docs/decisions.md)."""
    settings = app.bot_data["settings"]
    conf = app.bot_data.get("_sender_conf", {})
    if conf.get("request") is not None or not conf.get("rate_limiter", True):
        bot, own = app.bot, False  # in-process request (tests): share the app's bot
    else:
        bot = make_sender_bot(replace(settings, token=conf["token"]), conf["base_url"])
        await bot.initialize()
        own = True
    sender = OutboxSender(app.bot_data["db"], bot, settings, app.bot_data["clock"])
    app.bot_data["sender"] = sender
    app.bot_data["_sender_bot_own"] = bot if own else None
    election_db = app.bot_data.get("sender_election")
    if election_db:
        # one of several webhook workers (bot/workers.py): it sends (and runs the minute job)
        # only while it holds the database's sender lock; the others wait to take over
        async def lead() -> None:
            current = OutboxSender(app.bot_data["db"], bot, settings, app.bot_data["clock"])
            app.bot_data["sender"] = current  # a fresh one: it puts back rows left 'sending'
            # rows queued by the other workers wake nobody here: look every second
            await current.run_forever(idle_seconds=1.0)

        election = SenderElection(election_db, lead)
        app.bot_data["_sender_election"] = election
        app.bot_data["_sender_task"] = asyncio.create_task(election.run())
    elif app.bot_data.get("sender_autostart", True):  # tests drive sender.drain() themselves
        app.bot_data["_sender_task"] = asyncio.create_task(sender.run_forever())
    # The per-minute job runs on the real clock. With an injected clock (tests, a FakeClock)
    # it is off unless bot_data["cycle_job"] is True: the test drives tick() itself, and the
    # e2e tests of other features are not interrupted by cycle messages they did not ask for.
    wanted = app.bot_data.get("cycle_job", app.bot_data.get("clock") is system_clock)
    if wanted and app.job_queue is not None:
        app.job_queue.run_repeating(cycle_job, interval=60, first=1, name="cycle")


async def stop_sender(app: Application) -> None:
    """post_shutdown: stop the loop, close the sender's own bot."""
    sender = app.bot_data.pop("sender", None)
    task = app.bot_data.pop("_sender_task", None)
    app.bot_data.pop("_sender_election", None)
    if sender is not None:
        sender.stop()
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    bot = app.bot_data.pop("_sender_bot_own", None)
    if bot is not None:
        await bot.shutdown()


async def cycle_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every minute: tick, upkeep, digests (bot/services/minute.py), then wake the sender."""
    election = context.application.bot_data.get("_sender_election")
    if election is not None and not election.leading:
        return  # several workers: the one holding the sender lock runs the minute
    try:
        await run_minute(db_of(context), settings_of(context), now_of(context))
    finally:
        wake(context)
    # menus of chats linked, unlinked or given another role since the last pass (also by CLI)
    await sync_chat_menus(context.application.bot, db_of(context), now_of(context))


async def mark_reachable(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any update from a person marked unreachable (blocked, chat not found): reachable again."""
    user, chat = update.effective_user, update.effective_chat
    if user is not None and chat is not None and chat.type == "private":
        await outbox.mark_reachable(db_of(context), user.id)
    # digests: an update from a group the bot had been removed from: it is back
    # (unless the update is the removal itself)
    elif chat is not None and chat.type in ("group", "supergroup"):
        member = update.my_chat_member
        if member is None or member.new_chat_member.status not in ("left", "kicked"):
            await mark_chat_reachable(db_of(context), chat.id)


# --- /berhenti and /mulai -------------------------------------------------------------------


async def berhenti(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Mute reminders and broadcasts (a recipient can still report)."""
    await _mute(update, context, True)


async def mulai(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Receive reminders and broadcasts again."""
    await _mute(update, context, False)


async def _mute(update: Update, context: ContextTypes.DEFAULT_TYPE, muted: bool) -> None:
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "recipient":
        await reply(update, render("mute_not_recipient", lang))
        return
    await broadcasts.set_muted(db_of(context), account, muted)
    await reply(update, render("berhenti" if muted else "mulai", lang))


# --- /siaran --------------------------------------------------------------------------------


def _labels(lang: str) -> dict[str, str]:
    out = {}
    for line in render("siaran_labels", lang).splitlines():
        if "=" in line:
            key, label = line.split("=", 1)
            out[key.strip()] = label.strip()
    return out


async def siaran(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a broadcast: choose the audience."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role not in ("staff", "admin"):
        await reply(update, render("siaran_error", lang, reason="not_staff", detail=""))
        return
    labels = _labels(lang)
    keyboard = [
        [InlineKeyboardButton(labels[a], callback_data=encode("sia", "aud", a))]
        for a in broadcasts.AUDIENCES
    ]
    running = await broadcasts.running(db_of(context), account)
    await reply(
        update,
        render("siaran_choose", lang, running=running),
        reply_markup=InlineKeyboardMarkup(keyboard),
    )


async def siaran_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every "sia:" button: audience, audience value, confirm, cancel."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    account = await account_of(update, context)
    lang = lang_of(account, context)
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    cb = decode(query.data, "sia")
    action = cb.action
    try:
        if account is None or account.role not in ("staff", "admin"):
            raise broadcasts.BroadcastError("not_staff")
        if action == "aud":
            audience = cb.str(0)
            choices = await _value_choices(context, account, audience)
            if choices is not None:
                keyboard = [
                    [
                        InlineKeyboardButton(
                            label, callback_data=encode("sia", "val", audience, value)
                        )
                    ]
                    for value, label in choices[:MAX_VALUE_BUTTONS]
                ]
                await reply(update, render("siaran_choose_value", lang, audience=audience),
                            reply_markup=InlineKeyboardMarkup(keyboard))  # fmt: skip
                return
            await _draft(update, db, settings, account, audience, None, now, lang)
        elif action == "val":
            audience, value = cb.str(0), cb.str(1)
            if audience == "programme":
                value = settings.programmes[int(value)]  # IndexError/ValueError: stale
            await _draft(update, db, settings, account, audience, value, now, lang)
        elif action == "ok":
            bid = cb.int()
            n = await broadcasts.queue(db, settings, account, bid, now)
            await reply(update, render("siaran_queued", lang, id=bid, count=n))
            wake(context)
        elif action == "no":
            await broadcasts.cancel(db, account, cb.int())
            await reply(update, render("siaran_cancelled", lang))
    except broadcasts.BroadcastError as exc:
        await reply(update, render("siaran_error", lang, reason=exc.reason, detail=exc.detail))
    except (ValueError, IndexError):
        await reply(update, render("siaran_error", lang, reason="stale", detail=""))


async def _value_choices(context, account, audience: str) -> list[tuple[str, str]] | None:  # noqa: ANN001
    """Buttons for the second choice, limited to the sender's region; None: no second choice."""
    return await broadcasts.value_choices(db_of(context), settings_of(context), account, audience)


async def _draft(update, db, settings, account, audience, value, now, lang) -> None:  # noqa: ANN001
    preview = await broadcasts.start_draft(db, settings, account, audience, value, now)
    await reply(update, render("siaran_ask_text", lang, label=preview.label, count=preview.count))


async def siaran_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The text (typed or forwarded) of a draft waiting for it; other messages are left alone."""
    account = await account_of(update, context)
    if account is None or account.role not in ("staff", "admin"):
        return
    db = db_of(context)
    bid = await broadcasts.open_draft(db, account)
    if bid is None:
        return
    lang = lang_of(account, context)
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    try:
        p = await broadcasts.set_text(db, settings_of(context), account, bid, text)
    except broadcasts.BroadcastError as exc:
        await reply(update, render("siaran_error", lang, reason=exc.reason, detail=exc.detail))
        raise ApplicationHandlerStop from None
    labels = _labels(lang)
    keyboard = [[
        InlineKeyboardButton(labels["confirm"], callback_data=encode("sia", "ok", bid)),
        InlineKeyboardButton(labels["cancel"], callback_data=encode("sia", "no", bid)),
    ]]  # fmt: skip
    await reply(
        update,
        render("siaran_preview", lang, label=p.label, count=p.count, text=p.text),
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    raise ApplicationHandlerStop  # the message was the broadcast text: no other handler
