"""/ringkasan and /ekspor: thin handlers over bot/services/digests.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.render import render
from bot.services import digests
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of


def _private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


async def ringkasan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The digest of the open period: region for staff/admin, caseload for a facilitator."""
    account = await account_of(update, context)
    try:
        text = await digests.ringkasan(
            db_of(context), account, now_of(context), settings_of(context),
            private_chat=_private(update),
        )  # fmt: skip
    except digests.DigestDenied as exc:
        text = exc.text
    await reply(update, text)


async def ekspor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ekspor [YYYY-MM]: the period's XLSX (NIK masked), staff/admin, private chat only."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    period = context.args[0] if context.args else None
    with tempfile.TemporaryDirectory(prefix="pendamping-ekspor-") as tmp:
        try:
            result = await digests.ekspor(
                db_of(context), account, period, now_of(context), settings_of(context),
                Path(tmp), private_chat=_private(update),
            )  # fmt: skip
        except (digests.DigestDenied, digests.PeriodUnavailable) as exc:
            await reply(update, exc.text)
            return
        with result.path.open("rb") as fh:
            await update.get_bot().send_document(
                update.effective_chat.id,
                document=fh,
                filename=result.path.name,
                caption=render("ekspor_caption", lang, f=result),
            )
