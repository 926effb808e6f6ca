"""The error handler, registered last: log, tell the person kindly, alert the operator."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.render import now_label, render
from handlers.common import now_of, settings_of

log = logging.getLogger("pendamping.errors")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Never a traceback in chat: a friendly line to the person, a short alert to the operator."""
    error = context.error
    kind = type(error).__name__ if error else "unknown"
    update_kind = None
    if isinstance(update, Update):
        update_kind = next(
            (k for k in ("message", "edited_message", "callback_query", "channel_post")
             if getattr(update, k, None) is not None),
            "other",
        )  # fmt: skip
    # exc_info logs the traceback on the server only; update contents (texts, amounts) are not.
    log.error("event=handler_error error=%s update_kind=%s", kind, update_kind, exc_info=error)
    settings = settings_of(context)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, render("error_generic"))
        except (Forbidden, TelegramError):
            log.warning("event=error_reply_failed chat=%s", update.effective_chat.id)
    if settings.chats.operator is not None:
        # Through the outbox, once per (error type, local hour): a bug hit by every update
        # does not flood the operator chat. Without a database: straight to the chat.
        now = now_of(context)
        text = render("operator_error", error_type=kind, update_kind=update_kind,
                      time=now_label(now, settings.tz))  # fmt: skip
        hour = now.astimezone(settings.tz).strftime("%Y-%m-%dT%H")
        try:
            from bot.services.notices import operator_message
            from handlers.common import db_of
            from handlers.cycle import wake

            if await operator_message(db_of(context), settings, now, text, f"error:{kind}:{hour}"):
                wake(context)
        except Exception:  # noqa: BLE001 - the database may be what failed
            # Straight to the chat, once per (error type, local hour) in this process too: a
            # database away for an hour fails the minute job and many updates.
            direct: set[str] = context.application.bot_data.setdefault("_operator_direct", set())
            key = f"error:{kind}:{hour}"
            if key in direct:
                return
            direct.difference_update({k for k in direct if not k.endswith(hour)})
            direct.add(key)
            try:
                await context.bot.send_message(settings.chats.operator, text)
            except TelegramError:
                log.warning("event=operator_alert_failed")
