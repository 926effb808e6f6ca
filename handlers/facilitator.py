"""Facilitator side of reports: /daftar (family list, filters, flags), /cari, the family card,
/lapor on behalf, /kunjungan.

Callback data ("fac:" prefix): "fac:v:<filter>:<page>:<version>" /daftar page or filter (a
version other than the chat's last list answers with a toast); "fac:c:<recipient>" the family
card; "fac:cf|cg|ci:<recipient>" its flags, graduation, invitation again; "fac:d:<page>" an
old list page (stale now); "fac:l:<page>" / "fac:k:<page>"
picker pages for /lapor and /kunjungan; "fac:lr:<recipient>" / "fac:kr:<recipient>" pick;
"fac:g:<page>" / "fac:gr:<recipient>" the same for /kunjungan_graduasi;
"fac:f:<flag>" open a flag; "fac:fr:<flag>:<option>" confirm a value; "fac:fv:<flag>" type one.
"""

from __future__ import annotations

import itertools

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.callbacks import MAX_SMALL, decode, encode
from bot.render import render
from bot.services import caseload as cases
from bot.services import reports as svc
from bot.services.accounts import Account
from handlers.caseload import send_picker
from handlers.common import (
    account_of,
    db_of,
    fit_message,
    label,
    lang_of,
    now_of,
    reply,
    settings_of,
    wake,
)
from handlers.graduation import start_proposal
from handlers.reports import report_error, send_step

MARKS = {"reported": "✅", "draft": "✏️", "missing": "⏳"}


def _button(name: str, lang: str, count: int | None = None) -> str:
    return render("caseload_button", lang, name=name, count=count)


def _family_button(f: cases.Family) -> list[InlineKeyboardButton]:
    mark = "🆘" if f.help_open else "⚠️" if f.flags_open else MARKS[f.state]
    return [InlineKeyboardButton(f"{mark} {f.name} - {f.desa}"[:60],
                                 callback_data=encode("fac", "c", f.recipient_id))]  # fmt: skip


def _views(context: ContextTypes.DEFAULT_TYPE) -> dict[int, int]:
    """chat id -> version of the family list message shown last (older buttons are stale)."""
    return context.application.bot_data.setdefault("caseload_views", {})


def _next_version(context: ContextTypes.DEFAULT_TYPE) -> int:
    seq = context.application.bot_data.setdefault("caseload_seq", itertools.count(1))
    return next(seq) % MAX_SMALL


async def send_daftar(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, filter_: str = "all",
    page: int = 0, edit: bool = False,
) -> None:  # fmt: skip
    """The family list under a filter; edit=True rewrites the pressed message in place."""
    lang = account.language
    result = await cases.family_list(
        db_of(context), now_of(context), settings_of(context), account, filter_, page
    )
    if not result.counts["all"]:
        await reply(update, render("report_error", lang, key="empty_caseload"))
        return
    size = settings_of(context).reports.page_size
    text = render(
        "daftar", lang, period=result.period, filter=result.filter, page=result.page,
        pages=result.pages, total=result.total, offset=result.page * size,
        rows=[r.__dict__ for r in result.rows], close_date=result.close_date,
        close_near=result.close_near, flags=[f.id for f in result.flags],
    )  # fmt: skip
    version = _next_version(context)
    rows = [_family_button(f) for f in result.rows]
    rows += [
        [InlineKeyboardButton(
            render("flag_button", lang, kind=f.kind, recipient_name=f.recipient_name,
                   period=f.period)[:60],
            callback_data=encode("fac", "f", f.id))]
        for f in result.flags[:8]
    ]  # fmt: skip
    nav = []
    if result.page > 0:
        nav.append(InlineKeyboardButton(label("prev", lang), callback_data=encode(
            "fac", "v", result.filter, result.page - 1, version)))  # fmt: skip
    if result.page + 1 < result.pages:
        nav.append(InlineKeyboardButton(label("next", lang), callback_data=encode(
            "fac", "v", result.filter, result.page + 1, version)))  # fmt: skip
    if nav:
        rows.append(nav)
    chips = [
        InlineKeyboardButton(
            ("• " if name == result.filter else "")
            + _button(name, lang, None if name == "all" else result.counts[name]),
            callback_data=encode("fac", "v", name, 0, version),
        )
        for name in cases.FILTERS
    ]
    rows += [chips[:2], chips[2:4], chips[4:]]
    markup = InlineKeyboardMarkup(rows)
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        await query.edit_message_text(fit_message(text), reply_markup=markup)
    elif update.effective_chat is not None:
        await update.get_bot().send_message(
            update.effective_chat.id, fit_message(text), reply_markup=markup
        )
    if update.effective_chat is not None:
        _views(context)[update.effective_chat.id] = version


async def _send_card(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, recipient_id: int
) -> None:
    lang = account.language
    view = await cases.card(
        db_of(context), now_of(context), settings_of(context), account, recipient_id
    )
    f = view.family
    flags = [render("flag_button", lang, kind=x.kind, recipient_name=x.recipient_name,
                    period=x.period) for x in view.flags]  # fmt: skip
    text = render(
        "family_card", lang, name=f.name, desa=f.desa, programme=f.programme,
        phone=cases.tel(f.phone), linked=f.linked, figures=view.figures, flags=flags,
        help_open=view.help_open, last_visit=view.last_visit,
    )  # fmt: skip
    rid = f.recipient_id

    def button(name: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(_button(name, lang), callback_data=encode("fac", action, rid))

    # "Kirim undangan ulang": a linked family gets the month's report invitation again; an
    # unlinked one a new invite link, the same as picking it in /undang
    again = (
        button("reinvite", "ci")
        if f.linked
        else InlineKeyboardButton(_button("reinvite", lang), callback_data=encode("inv", "r", rid))
    )
    rows = [[button("report", "lr"), button("visit", "kr")],
            [button("flags", "cf"), button("graduate", "cg")],
            [again]]  # fmt: skip
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))


async def cari(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cari <nama>: families of the caseload by part of their name, as card buttons."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "facilitator":
        await reply(update, render("report_error", lang, key="facilitator_only"))
        return
    query = " ".join(context.args or [])
    if not query.strip():
        await reply(update, render("caseload_note", lang, key="search_usage"))
        return
    try:
        found = await cases.search(
            db_of(context), now_of(context), settings_of(context), account, query
        )
    except svc.ReportError as err:  # search_short | search_none (with the query)
        await reply(update, render("report_error", lang, key=err.key, **err.params))
        return
    text = render("caseload_note", lang, key="search_found", count=len(found),
                  query=query.strip()[:40])  # fmt: skip
    rows = [_family_button(f) for f in found[:20]]
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))


async def daftar(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/daftar: caseload for the open period, by desa, paged; flags to resolve."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None or account.role != "facilitator":
        await reply(update, render("report_error", lang, key="facilitator_only"))
        return
    await send_daftar(update, context, account)


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
    cb = decode(query.data, "fac")
    kind = cb.action
    arg = cb.args[0] if isinstance(cb.args[0], int) else 0
    option = cb.int(1) if len(cb.args) > 1 and kind == "fr" else None
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    try:
        if kind == "v":
            chat = update.effective_chat
            if chat is None or _views(context).get(chat.id) != cb.int(2):
                await query.answer(render("caseload_note", lang, key="list_stale"))
                return
            await query.answer()
            await send_daftar(update, context, account, cb.str(0), cb.int(1), edit=True)
        elif kind == "c":
            await _send_card(update, context, account, cb.int(0))
            await query.answer()
        elif kind == "cf":
            view = await cases.card(db, now, settings, account, cb.int(0))
            await query.answer()
            if not view.flags:
                await reply(update, render("caseload_note", lang, key="no_flags",
                                           name=view.family.name))  # fmt: skip
            elif len(view.flags) == 1:
                await _send_flag(update, lang, view.flags[0])
            else:
                rows = [[InlineKeyboardButton(
                    render("flag_button", lang, kind=f.kind, recipient_name=f.recipient_name,
                           period=f.period)[:60], callback_data=encode("fac", "f", f.id))]
                    for f in view.flags]  # fmt: skip
                await reply(update, render("caseload_note", lang, key="pick_flag",
                                           name=view.family.name),
                            reply_markup=InlineKeyboardMarkup(rows))  # fmt: skip
        elif kind == "cg":  # "Usulkan graduasi": the proposal, no NIK typed
            await query.answer()
            await start_proposal(update, context, account, cb.int(0))
        elif kind == "ci":
            outcome, fam = await cases.reinvite(db, now, settings, account, cb.int(0))
            wake(context)
            await query.answer()
            await reply(update, render("caseload_note", lang, key=outcome, name=fam.name))
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
        rows.append([InlineKeyboardButton(shown, callback_data=encode("fac", "fr", flag.id, i))])
    if flag.field:
        rows.append([InlineKeyboardButton(label("type_value", lang),
                                          callback_data=encode("fac", "fv", flag.id))])  # fmt: skip
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))
