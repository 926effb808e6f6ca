"""What the Application keeps in `bot_data`, typed for the handlers that read it.

`BotData` stays a dict (PTB, the CLI and the tests put and read keys such as "db"), with typed
properties for what handlers read: the database, the settings, the clock and the outbox
sender. `build_application` installs it through `ContextTypes(bot_data=BotData)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.clock import system_clock
from bot.config import Settings

if TYPE_CHECKING:
    from bot.db import Database
    from bot.services.outbox import OutboxSender

Clock = Callable[[], dt.datetime]


class BotData(dict[str, Any]):
    """The Application's bot_data: a dict with typed accessors for the shared services."""

    @property
    def db(self) -> Database:
        """The open database (set by post_init)."""
        return self["db"]

    @property
    def settings(self) -> Settings:
        """The loaded settings."""
        return self["settings"]

    @property
    def clock(self) -> Clock:
        """The Application's clock (a manual one in tests and the demo)."""
        return self.get("clock", system_clock)

    @property
    def sender(self) -> OutboxSender | None:
        """The running outbox sender, if started."""
        return self.get("sender")


AppContext = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(context=CallbackContext, bot_data=BotData)


def bot_data_of(context: CallbackContext[Any, Any, Any, Any]) -> BotData:
    """The typed bot_data of a handler's context (an Application built elsewhere is wrapped)."""
    data = context.application.bot_data
    return data if isinstance(data, BotData) else BotData(data)
