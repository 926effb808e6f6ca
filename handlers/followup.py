"""After graduation: the check-in buttons, staff's reopen button and /buka_kembali.

callback_data prefix "flw:": flw:a:<checkin>:<answer> (the graduate answers),
flw:r:<case> (staff: reopen this graduate's mentoring; the reason is the next message, taken
by handlers/graduation.py's next-message handler, which calls reopen_with_reason()).
"""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.callbacks import MAX_ID, decode, encode
from bot.domain.nik import NIK_LENGTH, clean_nik
from bot.render import render
from bot.services import followup as fu
from bot.services.accounts import Account
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of, wake


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A check-in answer (stored once) or staff's reopen button (shows how to reopen)."""
    query = update.callback_query
    if query is None:  # registered as a CallbackQueryHandler: always a button press
        return
    account = await account_of(update, context)
    lang = lang_of(account, context)
    cb = decode(query.data, "flw")
    if cb.action == "r":
        try:
            grad = await fu.start_reopen(db_of(context), now_of(context), account, cb.int())
        except fu.FollowupError as exc:
            await _toast(query, render("followup_error", lang, key=exc.key, context=exc.context))
            return
        await _toast(query, None)
        cancel = InlineKeyboardMarkup([[InlineKeyboardButton(
            render("graduasi_label", lang, key="cancel"), callback_data=encode("grd", "x"))]])  # fmt: skip
        await reply(update, render("followup_reopen_howto", lang, name=grad.name, nik=grad.nik,
                                   case_id=grad.case_id), reply_markup=cancel)  # fmt: skip
        return
    try:
        answered = await fu.answer_checkin(
            db_of(context), settings_of(context), account, cb.int(0), cb.str(1), now_of(context)
        )
    except fu.FollowupError as exc:
        await _toast(query, render("followup_error", lang, key=exc.key, context=exc.context))
        return
    await _toast(query, None)
    with contextlib.suppress(TelegramError):  # the buttons go; the question stays readable
        await query.edit_message_reply_markup(reply_markup=None)
    await reply(update, render("followup_thanks", lang, answer=answered.answer))
    if answered.alerts:
        wake(context)


async def _toast(query, text: str | None) -> None:  # noqa: ANN001 - a PTB CallbackQuery
    with contextlib.suppress(TelegramError):
        await query.answer(text[:200] if text else None)


async def buka_kembali(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/buka_kembali <NIK|number> <reason>: reopen; /buka_kembali <name>: search graduates."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        await reply(update, render("followup_error", lang, key="not_linked", context={}))
        return
    args = context.args or []
    db, now = db_of(context), now_of(context)
    raw = args[0] if args else ""
    nik = clean_nik(raw)  # a NIK as typed or pasted (spaces, dots, dashes); a number as is
    try:
        if not args:
            raise fu.FollowupError("usage")
        if (nik.isascii() and nik.isdigit()) or raw[:1] in "-+" or raw[:1].isdigit():
            ref: str | int
            if nik.isascii() and nik.isdigit() and len(nik) == NIK_LENGTH:
                ref = nik
            elif raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID:
                ref = int(raw)
            else:
                raise fu.FollowupError("usage")
            done = await fu.reopen(db, settings_of(context), account, ref, " ".join(args[1:]), now)
        else:
            query, tz = " ".join(args), settings_of(context).tz
            found = await fu.search_graduates(db, account, query)
            rows = [{"name": g.name, "nik": g.nik, "desa": g.desa, "decided": fu.local_date(g.decided_at, tz),
                     "case_id": g.case_id, "last_answer": g.last_answer} for g in found]  # fmt: skip
            label = render("followup_button", lang, key="reopen")
            # labelled with the number /buka_kembali takes (the case), not the list's position
            buttons = [
                [InlineKeyboardButton(f"{label} {g.case_id}",
                                      callback_data=encode("flw", "r", g.case_id))]
                for g in found
            ]  # fmt: skip
            await reply(
                update,
                render("followup_found", lang, query=query, graduates=rows),
                reply_markup=InlineKeyboardMarkup(buttons) if buttons else None,
            )
            return
    except fu.FollowupError as exc:
        await reply(update, render("followup_error", lang, key=exc.key, context=exc.context))
        return
    await _reopened(update, context, lang, done)


async def _reopened(
    update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str, done: fu.Reopened
) -> None:
    wake(context)  # the family's and the facilitator's notices wait in the outbox
    g = done.graduate
    await reply(
        update,
        render("followup_reopened", lang, name=g.name, nik=g.nik, reason=done.reason,
               invitation=done.invitation_at.astimezone(settings_of(context).tz).date(),
               period=done.first_period),
    )  # fmt: skip


async def reopen_with_reason(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, case_id: int, text: str
) -> None:
    """The message after the reopen button: the reason. Too short asks again."""
    db, now, lang = db_of(context), now_of(context), account.language
    try:
        done = await fu.reopen(db, settings_of(context), account, case_id, text, now)
    except fu.FollowupError as exc:
        if exc.key == "reason_length":  # the question stays for the next message
            with contextlib.suppress(fu.FollowupError):
                await fu.start_reopen(db, now, account, case_id)
        await reply(update, render("followup_error", lang, key=exc.key, context=exc.context))
        return
    await _reopened(update, context, lang, done)
