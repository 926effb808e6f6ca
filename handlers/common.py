"""What every handler needs from the Application: database, settings, clock, language."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.db import Database
from bot.services.accounts import Account, get_account

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def db_of(context: ContextTypes.DEFAULT_TYPE) -> Database:
    return context.application.bot_data["db"]


def settings_of(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    return context.application.bot_data["settings"]


def now_of(context: ContextTypes.DEFAULT_TYPE) -> dt.datetime:
    """The current time, from the Application's clock (a fake one in tests and the demo)."""
    clock: Clock = context.application.bot_data.get("clock", system_clock)
    return clock()


async def account_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Account | None:
    user = update.effective_user
    if user is None:
        return None
    return await get_account(db_of(context), user.id)


def lang_of(account: Account | None, context: ContextTypes.DEFAULT_TYPE) -> str:
    if account is not None:
        return account.language
    return settings_of(context).language


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat the update came from."""
    if update.effective_chat is None:
        return
    await update.get_bot().send_message(update.effective_chat.id, text, **kwargs)


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
    from telegram.constants import ChatType
    from telegram.error import TelegramError
    from telegram.ext import ApplicationHandlerStop

    from bot.commands_menu import group_commands
    from bot.render import render

    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
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
        if not leaving:
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


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press no handler took (forged, oversized or from an old message): a toast."""
    from telegram.error import TelegramError

    from bot.render import render

    query = update.callback_query
    if query is None:
        return
    account = await account_of(update, context)
    with contextlib.suppress(TelegramError):
        await query.answer(render("button_invalid", lang_of(account, context)))
