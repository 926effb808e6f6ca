"""/ringkasan and /ekspor: thin handlers over bot/services/digests.py."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.private_files import scratch_dir
from bot.render import render
from bot.services import digests
from bot.services.digest_schedule import data_dir
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of


def _private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


async def ringkasan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The digest of the open period: region for staff/admin, caseload for a facilitator."""
    account = await account_of(update, context)
    # scratch files beside the database (never /tmp): a killed bot leaves no names behind
    with scratch_dir(data_dir(settings_of(context)), "ringkasan") as tmp:
        try:
            result = await digests.ringkasan_reply(
                db_of(context), account, now_of(context), settings_of(context),
                private_chat=_private(update), out_dir=tmp,
            )  # fmt: skip
        except digests.DigestDenied as exc:
            await reply(update, exc.text)
            return
        await reply(update, result.text)
        if result.file is not None:
            await _send_file(update, result.file, lang_of(account, context))


async def _send_file(update: Update, file: digests.ExportFile, lang: str) -> None:
    """An export as a document with its caption (sendDocument)."""
    chat = update.effective_chat
    if chat is None:  # nowhere to send it, as in reply()
        return
    with file.path.open("rb") as fh:
        await update.get_bot().send_document(
            chat.id,
            document=fh,
            filename=file.path.name,
            caption=render("ekspor_caption", lang, f=file),
        )


async def ekspor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ekspor [YYYY-MM]: the period's XLSX (NIK masked), staff/admin, private chat only."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    period = context.args[0] if context.args else None
    with scratch_dir(data_dir(settings_of(context)), "ekspor") as tmp:
        try:
            result = await digests.ekspor(
                db_of(context), account, period, now_of(context), settings_of(context),
                tmp, private_chat=_private(update),
            )  # fmt: skip
        except (digests.DigestDenied, digests.PeriodUnavailable) as exc:
            await reply(update, exc.text)
            return
        await _send_file(update, result, lang)
