"""The facilitator's caseload picker, shared by /lapor on behalf (handlers/reports.py) and
/kunjungan and the list pages (handlers/facilitator.py); below both, so neither imports the other
back. Callback data: see handlers/facilitator.py ("fac:" prefix)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.callbacks import encode
from bot.render import render
from bot.services import reports as svc
from bot.services.accounts import Account
from handlers.common import db_of, label, now_of, reply, settings_of


def nav_buttons(kind: str, page: int, pages: int, lang: str) -> list[InlineKeyboardButton]:
    """Previous/next page buttons of a paged list (bot/callbacks.py: "fac", kind, page)."""
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(label("prev", lang), callback_data=encode("fac", kind, page - 1))
        )
    if page + 1 < pages:
        nav.append(
            InlineKeyboardButton(label("next", lang), callback_data=encode("fac", kind, page + 1))
        )
    return nav


async def send_picker(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, mode: str, page: int
) -> None:
    """A paged list of the caseload as buttons (mode 'report', 'visit' or 'graduation')."""
    lang = account.language
    result = await svc.caseload_choices(
        db_of(context), now_of(context), settings_of(context), account, page
    )
    if not result.total:
        await reply(update, render("report_error", lang, key="empty_caseload"))
        return
    code = {"report": "l", "visit": "k", "graduation": "g"}[mode]
    marks = {"reported": "✅ ", "draft": "✏️ ", "missing": ""}
    rows = [
        [InlineKeyboardButton(f"{marks[r.state]}{r.name} - {r.desa}"[:60],
                              callback_data=encode("fac", f"{code}r", r.recipient_id))]
        for r in result.rows
    ]  # fmt: skip
    nav = nav_buttons(code, result.page, result.pages, lang)
    if nav:
        rows.append(nav)
    text = render(
        "report_pick_recipient", lang, mode=mode, page=result.page, pages=result.pages,
        period=result.period,
    )  # fmt: skip
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))
