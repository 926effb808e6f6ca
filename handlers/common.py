"""What every handler needs from the Application: database, settings, clock, language, one
reply that fits a message, and the chat gate that runs before every handler."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.botdata import bot_data_of
from bot.callbacks import try_decode
from bot.commands_menu import group_commands
from bot.config import Settings
from bot.render import render
from bot.services.accounts import Account, get_account
from bot.services.binding import is_revoked

if TYPE_CHECKING:  # handlers pass the database on to services; they never use bot.db
    from bot.db import Database

Clock = Callable[[], dt.datetime]


def db_of(context: ContextTypes.DEFAULT_TYPE) -> Database:
    """The database, from the Application's typed bot_data."""
    return bot_data_of(context).db


def settings_of(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    """The settings, from the Application's typed bot_data."""
    return bot_data_of(context).settings


def now_of(context: ContextTypes.DEFAULT_TYPE) -> dt.datetime:
    """The current time, from the Application's clock (a fake one in tests and the demo)."""
    return bot_data_of(context).clock()


async def account_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Account | None:
    user = update.effective_user
    if user is None:
        return None
    return await get_account(db_of(context), user.id)


def lang_of(account: Account | None, context: ContextTypes.DEFAULT_TYPE) -> str:
    if account is not None:
        return account.language
    return settings_of(context).language


def wake(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Wake the outbox sender: a message was just planned for another chat."""
    sender = bot_data_of(context).sender
    if sender is not None:
        sender.wake()


@lru_cache(maxsize=1024)
def label(name: str, lang: str) -> str:
    """A button/summary label (templates are fixed while the bot runs, so cached)."""
    return render("form_label", lang, name=name)


MAX_MESSAGE = 4096  # Telegram's limit, in UTF-16 code units
CUT_MARK = "\n…"


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits(text: str) -> bool:
    """Whether the text fits one Telegram message (counted as Telegram counts)."""
    return _utf16(text) <= MAX_MESSAGE


def fit_message(text: str) -> str:
    """The text as it fits one Telegram message: whole lines while they fit, then a mark
    (a view with very long names must still answer; the import caps new names)."""
    if _utf16(text) <= MAX_MESSAGE:
        return text
    budget = MAX_MESSAGE - _utf16(CUT_MARK)
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        size = _utf16(line) + (1 if kept else 0)
        if used + size > budget:
            if not kept:  # one line longer than a message: cut inside it
                room = budget
                while line and _utf16(line[:room]) > budget:
                    room -= max(1, (_utf16(line[:room]) - budget))
                kept.append(line[:room])
            break
        kept.append(line)
        used += size
    return "\n".join(kept) + CUT_MARK


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat the update came from (cut to fit one message)."""
    if update.effective_chat is None:
        return
    await update.get_bot().send_message(update.effective_chat.id, fit_message(text), **kwargs)


# --- the chat gate ---------------------------------------------------------------------------


def configured_group(settings: Settings, chat_id: int) -> bool:
    """A group the office configured for the bot: a staff chat or the operator chat."""
    return chat_id in settings.chats.staff or chat_id == settings.chats.operator


def _command_of(update: Update, bot_username: str) -> str | None:
    """'/skor@Bot 123' -> 'skor'; '' for a command meant for another bot; None if no command."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    if not text.startswith("/"):
        return None
    head = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    name, _, bot = head.partition("@")
    if bot and bot.lower() != bot_username.lstrip("@").lower():
        return ""
    return name.lower()


async def chat_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Before every handler: personal data never goes to a group.

    Private chats pass. A group the office did not configure gets one explanation and the bot
    leaves it. In a configured staff/operator group only the commands the command table marks
    for groups (bot.commands_menu.group_commands) pass; any other command gets one short line,
    a button press a toast; nothing else is answered there. Channels are ignored.
    """

    chat = update.effective_chat
    if chat is None:
        return
    if chat.type == ChatType.PRIVATE:
        await _refuse_revoked(update, context)
        query = update.callback_query
        if query is not None and try_decode(query.data) is None:
            # PTB hands empty data to every pattern handler: refuse it here, with a toast
            await unknown_button(update, context)
            raise ApplicationHandlerStop
        return
    settings = settings_of(context)
    lang = settings.language
    bot = update.get_bot()
    query = update.callback_query
    if chat.type == ChatType.CHANNEL:
        raise ApplicationHandlerStop
    if not configured_group(settings, chat.id):
        member = update.my_chat_member
        leaving = member is not None and member.new_chat_member.status in ("left", "kicked")
        left: set[int] = context.application.bot_data.setdefault("left_groups", set())
        if leaving:
            left.add(chat.id)
        elif member is not None:
            left.discard(chat.id)  # added again: explain again
        if not leaving and chat.id not in left:
            left.add(chat.id)
            try:
                if query is not None:
                    await query.answer(render("group_private_only", lang))
                await bot.send_message(chat.id, render("group_leave", lang))
                await bot.leave_chat(chat.id)
            except TelegramError:  # already out of the group, or Telegram refused: nothing more
                pass
        raise ApplicationHandlerStop
    if query is not None:
        with contextlib.suppress(TelegramError):
            await query.answer(render("group_private_only", lang))
        raise ApplicationHandlerStop
    name = _command_of(update, settings.bot_username)
    if name is None or name == "" or update.my_chat_member is not None:
        raise ApplicationHandlerStop  # not a command for this bot: no handler answers it
    if name not in group_commands():
        await reply(update, render("group_private_only", lang))
        raise ApplicationHandlerStop


async def _refuse_revoked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A Telegram account the office revoked gets one clear answer, and nothing else."""

    user = update.effective_user
    if user is None or not await is_revoked(db_of(context), user.id):
        return
    text = render("account_revoked", settings_of(context).language)
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200])
        else:
            await reply(update, text)
    raise ApplicationHandlerStop


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press no handler took (forged, oversized or from an old message): a toast."""

    query = update.callback_query
    if query is None:
        return
    account = await account_of(update, context)
    with contextlib.suppress(TelegramError):
        await query.answer(render("button_invalid", lang_of(account, context)))
