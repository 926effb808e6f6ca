"""The family's menu: the reply keyboard's words and the "Lapor sekarang" button.

Callback data: "lap:now" (the button under invitations and reminders: start or resume the report).
It sits above the handlers it dispatches to, so no handler imports another in a circle.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from handlers import basic, graduation, reports
from handlers.common import account_of
from handlers.keyboards import BACK_WORDS, MENU_WORDS


async def on_menu_word(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -4: the reply keyboard's words typed or pressed (Lapor, Kemajuan, Bantuan) and
    "kembali" work like their commands."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    word = message.text.strip().lower()
    if word in BACK_WORDS:
        await reports.kembali(update, context)
        raise ApplicationHandlerStop
    if word not in MENU_WORDS:
        return
    account = await account_of(update, context)
    if account is None:
        return
    if word == "lapor":
        await reports.lapor(update, context)
    elif word == "kemajuan":
        await graduation.kemajuan(update, context)
    else:
        await basic.bantuan(update, context)
    raise ApplicationHandlerStop


async def on_report_now(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """ "Lapor sekarang" under an invitation or reminder: start or resume the report."""
    query = update.callback_query
    if query is not None:
        await query.answer()
    await reports.lapor(update, context)
