"""Facilitator side of reports: /daftar (caseload, flags), /lapor on behalf, /kunjungan.

Callback data ("fac:" prefix): "fac:d:<page>" /daftar page; "fac:l:<page>" / "fac:k:<page>"
picker pages for /lapor and /kunjungan; "fac:lr:<recipient>" / "fac:kr:<recipient>" pick;
"fac:g:<page>" / "fac:gr:<recipient>" the same for /kunjungan_graduasi;
"fac:f:<flag>" open a flag; "fac:fr:<flag>:<option>" confirm a value; "fac:fv:<flag>" type one.
"""

from __future__ import annotations

from itertools import groupby

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.render import render
from bot.services import reports as svc
from bot.services.accounts import Account
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of
from handlers.reports import label, report_error, send_step

PREFIX = "fac:"


def _nav(kind: str, page: int, pages: int, lang: str) -> list[InlineKeyboardButton]:
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(label("prev", lang), callback_data=f"{PREFIX}{kind}:{page - 1}")
        )
    if page + 1 < pages:
        nav.append(
            InlineKeyboardButton(label("next", lang), callback_data=f"{PREFIX}{kind}:{page + 1}")
        )
    return nav


async def send_daftar(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, page: int
) -> None:
    lang = account.language
    result = await svc.caseload(
        db_of(context), now_of(context), settings_of(context), account, page
    )
    if not result.total:
        await reply(update, render("report_error", lang, key="empty_caseload"))
        return
    groups = [
        (desa, [r.__dict__ for r in rows])
        for desa, rows in groupby(result.rows, key=lambda r: r.desa)
    ]
    text = render(
        "daftar", lang, period=result.period, counts=result.counts, groups=groups,
        page=result.page, pages=result.pages, total=result.total,
        flags=[f.id for f in result.flags],
    )  # fmt: skip
    rows = [
        [InlineKeyboardButton(
            render("flag_button", lang, kind=f.kind, recipient_name=f.recipient_name,
                   period=f.period)[:60],
            callback_data=f"{PREFIX}f:{f.id}")]
        for f in result.flags[:8]
    ]  # fmt: skip
    nav = _nav("d", result.page, result.pages, lang)
    if nav:
        rows.append(nav)
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows) if rows else None)


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
    marks = {"reported": "[v] ", "draft": "[..] ", "missing": ""}
    rows = [
        [InlineKeyboardButton(f"{marks[r.state]}{r.name} - {r.desa}"[:60],
                              callback_data=f"{PREFIX}{code}r:{r.recipient_id}")]
        for r in result.rows
    ]  # fmt: skip
    nav = _nav(code, result.page, result.pages, lang)
    if nav:
        rows.append(nav)
    text = render(
        "report_pick_recipient", lang, mode=mode, page=result.page, pages=result.pages,
        period=result.period,
    )  # fmt: skip
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))


async def daftar(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/daftar: caseload for the open period, by desa, paged; flags to resolve."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "facilitator":
        await reply(update, render("report_error", lang, key="facilitator_only"))
        return
    await send_daftar(update, context, account, 0)


async def kunjungan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kunjungan: pick a family, then the visit form (or resume the open draft)."""
    await _visit_command(update, context, "visit")


async def kunjungan_graduasi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kunjungan_graduasi: pick a family, then the graduation checklist visit form."""
    await _visit_command(update, context, "graduation")


async def _visit_command(update: Update, context: ContextTypes.DEFAULT_TYPE, mode: str) -> None:
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "facilitator":
        await reply(update, render("report_error", lang, key="facilitator_only"))
        return
    db = db_of(context)
    if await svc.open_draft(db, account) is not None:
        step = await svc.resume(db, now_of(context), settings_of(context), account)
        await send_step(update, context, account, step)
        return
    try:
        await send_picker(update, context, account, mode, 0)
    except svc.ReportError as err:  # e.g. consent_needed: the privacy notice again
        await report_error(update, lang, err, context)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """All "fac:" buttons."""
    query = update.callback_query
    if query is None:
        return
    account = await account_of(update, context)
    if account is None or account.role != "facilitator":
        await query.answer(
            render("report_error", lang_of(account, context), key="facilitator_only")
        )
        return
    lang = account.language
    parts = (query.data or "").split(":")
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    try:
        kind, arg = parts[1], int(parts[2])
        option = int(parts[3]) if len(parts) > 3 else None
    except (IndexError, ValueError):
        await query.answer(render("report_stale", lang))
        return
    try:
        if kind == "d":
            await query.answer()
            await send_daftar(update, context, account, arg)
        elif kind in ("l", "k", "g"):
            await query.answer()
            mode = {"l": "report", "k": "visit", "g": "graduation"}[kind]
            await send_picker(update, context, account, mode, arg)
        elif kind == "lr":
            step = await svc.start_report(db, now, settings, account, arg)
            await query.answer()
            await send_step(update, context, account, step)
        elif kind in ("kr", "gr"):
            form = svc.VISIT if kind == "kr" else svc.GRADUATION
            step = await svc.start_visit(db, now, settings, account, arg, form)
            await query.answer()
            await send_step(update, context, account, step)
        elif kind == "f":
            flag = await svc.flag_detail(db, account, arg)
            await query.answer()
            await _send_flag(update, lang, flag)
        elif kind == "fr" and option is not None:
            flag = await svc.resolve_flag(db, now, settings, account, arg, option)
            await query.answer()
            await reply(update, render("flag_resolved", lang, recipient_name=flag.recipient_name,
                                       value=flag.options[option][1], field=flag.field))  # fmt: skip
        elif kind == "fv":
            step = await svc.start_flag_value(db, now, settings, account, arg)
            await query.answer()
            await send_step(update, context, account, step)
        else:
            await query.answer(render("report_stale", lang))
    except svc.ReportError as err:
        await query.answer()
        await report_error(update, lang, err, context)


async def _send_flag(update: Update, lang: str, flag: svc.FlagView) -> None:
    text = render("flag_detail", lang, kind=flag.kind, recipient_name=flag.recipient_name,
                  period=flag.period, details=flag.details)  # fmt: skip
    rows = []
    for i, (name, value) in enumerate(flag.options):
        shown = label(name, lang)
        if value is not None and flag.field != "goats":
            from bot.domain.money import format_rupiah

            shown = f"{shown}: {format_rupiah(value)}"
        elif value is not None:
            shown = f"{shown}: {value}"
        rows.append([InlineKeyboardButton(shown, callback_data=f"{PREFIX}fr:{flag.id}:{i}")])
    if flag.field:
        rows.append([InlineKeyboardButton(label("type_value", lang),
                                          callback_data=f"{PREFIX}fv:{flag.id}")])  # fmt: skip
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))
