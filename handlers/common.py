"""What every handler needs from the Application: database, settings, clock, language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.config import Settings
from bot.render import render
from bot.services.accounts import Account, get_account

if TYPE_CHECKING:  # handlers pass the database on to services; they never use bot.db
    from bot.db import Database

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


def wake(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Wake the outbox sender: a message was just planned for another chat."""
    sender = context.application.bot_data.get("sender")
    if sender is not None:
        sender.wake()


@lru_cache(maxsize=1024)
def label(name: str, lang: str) -> str:
    """A button/summary label (templates are fixed while the bot runs, so cached)."""
    return render("form_label", lang, name=name)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat the update came from."""
    if update.effective_chat is None:
        return
    await update.get_bot().send_message(update.effective_chat.id, text, **kwargs)
