"""/skor, /kemajuan, /graduasi, /konfirmasi, /setujui, /tolak, /akhiri and the grd: buttons.

Callback data ("grd:" prefix, bot/callbacks.py): "grd:v:<filter>:<page>:<version>" a page of the
staff's proposal cards (a version other than the chat's last page answers with a toast);
"grd:a:<case>" approve: asks first (a confirmation, or the reason in the next message when
the family has not agreed or the score is not "Siap"), "grd:ay:<case>" the confirmation;
"grd:r:<case>" reject (the reason is the next message);
"grd:s:<recipient>" / "grd:p:<recipient>" / "grd:e:<recipient>" a person picked after a
name search for /skor, /konfirmasi or /akhiri; "grd:fy:<case>" / "grd:fn:<case>" the family agrees / objects; "grd:m" a family
asks to graduate ("Saya ingin mandiri"); "grd:x" cancels the question asked.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.callbacks import MAX_ID, MAX_SMALL, decode, encode
from bot.domain.nik import NikError, clean_nik, mask_nik, parse_nik
from bot.domain.scoring import MET, UNKNOWN
from bot.render import render
from bot.services import graduation as grad
from bot.services import proposals as props
from bot.services.accounts import Account
from handlers.common import (
    account_of,
    db_of,
    fit_message,
    fits,
    lang_of,
    now_of,
    reply,
    settings_of,
    wake,
)
from handlers.followup import reopen_with_reason
from handlers.keyboards import BACK_WORDS, MENU_WORDS

END_KINDS_ID = {"pindah": "moved", "meninggal": "deceased", "menolak": "declined"}


async def _linked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Account | None, str]:
    """The person's account and language; an unlinked person is told so (account None)."""
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        await _error(update, lang, "not_linked")
    return account, lang


async def _error(update: Update, lang: str, exc: grad.GraduationError | str) -> None:
    key = exc if isinstance(exc, str) else exc.key
    context = {} if isinstance(exc, str) else exc.context
    await reply(update, render("graduasi_error", lang, key=key, context=context))


def _nik(arg: str) -> str | None:
    try:
        return parse_nik(arg).nik
    except NikError:
        return None


def _toast(key: str, lang: str, **context: object) -> str:
    """A short answer for answerCallbackQuery (Telegram shows at most 200 characters)."""
    return render("graduasi_error", lang, key=key, context=context)[:200]


async def _person(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str, words: str,
    action: str,
) -> int | None:  # fmt: skip
    """A person named by NIK or part of a name: their id when exactly one matches; several get
    a pick list of buttons ("grd:<action>:<recipient>") and None; none a clear message."""
    db = db_of(context)
    try:
        nik = _nik(words.replace(" ", "")) if words.replace(" ", "").isdigit() else None
        if nik is not None:
            return (await grad.find_recipient(db, account, nik)).id
        found = await grad.search_people(db, account, words)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return None
    if len(found) == 1:
        return found[0].id
    await reply(
        update,
        render("graduasi_pick", lang, count=len(found), shown=min(len(found), grad.SEARCH_MAX),
               query=words.strip()[:40], action=action),
        reply_markup=InlineKeyboardMarkup(_pick_rows(found, action)),
    )  # fmt: skip
    return None


def _pick_rows(
    found: Sequence[grad.RecipientRef], action: str
) -> list[Sequence[InlineKeyboardButton]]:
    """One button per person found ("grd:<action>:<recipient>"), name, desa and masked NIK."""
    return [[InlineKeyboardButton(f"{r.name[:30]} - {(r.desa or '-')[:20]} ({mask_nik(r.nik)})",
                                  callback_data=encode("grd", action, r.id))]
            for r in found[: grad.SEARCH_MAX]]  # fmt: skip


def _end_picks(context: ContextTypes.DEFAULT_TYPE) -> dict[int, dict[str, Any]]:
    """account id -> the /akhiri waiting for a pick: the people offered, the kind, the reason.
    In memory: after a restart an old pick button answers "old button" and nothing ends."""
    return context.application.bot_data.setdefault("graduation_end_picks", {})


async def skor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/skor <NIK or name>: the score, band and every component with its reason."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    if account.role not in ("facilitator", "staff", "admin"):  # a family: /kemajuan is theirs
        await _error(update, lang, "score_roles")
        return
    words = " ".join(context.args or []).strip()
    if not words:
        await reply(update, render("skor_usage", lang))
        return
    if words.replace(" ", "").isdigit() and _nik(words.replace(" ", "")) is None:
        await reply(update, render("skor_usage", lang))
        return
    rid = await _person(update, context, account, lang, words, "s")
    if rid is not None:
        await _send_score(update, context, account, lang, rid)


async def _send_score(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str, rid: int
) -> None:
    try:
        view = await grad.score_view_of(
            db_of(context), settings_of(context), account, rid, now_of(context)
        )
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    r = view.result
    markup = None
    if account.role == "facilitator" and view.open_case is None:  # one proposal at a time
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(
            render("graduasi_label", lang, key="propose"),
            callback_data=encode("grd", "p", view.recipient.id))]])  # fmt: skip
    await reply(
        update,
        render(
            "skor",
            lang,
            name=view.recipient.name,
            nik=view.recipient.nik,
            period=r.period,
            score=r.score,
            band=r.band,
            gate_months=r.gate_months,
            confidence=r.confidence,
            components=[
                {"key": c.key, "points": c.points, "max_points": c.max_points, "reason": c.reason}
                for c in r.components
            ],
            flags=view.flags,
            notes=_notes(view),
            checklist=r.inputs.get("checklist", {}),
            pkh=view.recipient.receives_pkh,
            sembako=view.recipient.receives_sembako,
            desil=view.recipient.welfare_decile,
            # the model's label ("2.0"); the full id with its hash stays in the audit log
            model_version=(r.model_version or "").split("+")[0],
            open_case=view.open_case,
            # the model id is for staff; a facilitator reads the score out to families
            show_model=account.role in ("staff", "admin"),
            can_confirm=view.can_confirm,
        ),
        reply_markup=markup,
    )


def _notes(view: grad.ScoreView) -> list[dict[str, Any]]:
    """The explanation lines: each unmet gate, then the model's other notes. The checklist
    gate goes as its missing items, so the template names them in words, not item codes."""
    r = view.result
    unmet = [g for g in r.gates if not g.met]
    states = r.inputs.get("checklist", {})
    out: list[dict[str, Any]] = []
    for g in unmet:
        if g.key == "checklist":
            missing = [(i, states.get(i, UNKNOWN)) for i in view.essential_items]
            out.append({"text": g.reason, "missing": [m for m in missing if m[1] != MET]})
        else:
            out.append({"text": g.reason, "missing": None})
    out += [{"text": n, "missing": None} for n in r.notes[len(unmet) :]]
    return out


async def kemajuan(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kemajuan: the recipient's own encouraging progress view (no score, no band)."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    try:
        found = await grad.progress_for(
            db_of(context), settings_of(context), account, now_of(context)
        )
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    if found is None:
        await _error(update, lang, "not_active")
        return
    name, progress = found
    await reply(
        update,
        render(
            "kemajuan",
            lang,
            name=name,
            profits=progress.profits,
            trend=progress.trend,
            going_well=progress.going_well,
            next_step=progress.next_step,
            compared_to=progress.compared_to,
            missing=progress.missing,
        ),
    )


# --- staff: the proposal cards ----------------------------------------------------------------


def _views(context: ContextTypes.DEFAULT_TYPE) -> dict[int, tuple[int, str, int, int | None]]:
    """chat id -> (version, filter, page, message id) of the proposal page shown last there."""
    return context.application.bot_data.setdefault("graduation_views", {})


def _next_version(context: ContextTypes.DEFAULT_TYPE) -> int:
    seq = context.application.bot_data.setdefault("graduation_seq", itertools.count(1))
    return next(seq) % MAX_SMALL


async def send_page(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, filter_: str = "wait",
    page: int = 0, edit: bool = False, message_id: int | None = None,
) -> None:  # fmt: skip
    """One page of proposal cards; edit=True rewrites the pressed message in place, a
    message_id that message of the chat (the page shown before a decision elsewhere)."""
    lang = account.language
    result = await props.proposal_page(db_of(context), settings_of(context), account, filter_, page)
    cards = [c.__dict__ for c in result.cards]
    for level in range(3):  # shorter free text until five cards fit one message
        text = render("graduasi_page", lang, page=result, cards=cards, level=level)
        if fits(text):
            break
    text = fit_message(text)
    version = _next_version(context)
    rows = [
        [InlineKeyboardButton(render("graduasi_label", lang, key="approve", n=c.case_id),
                              callback_data=encode("grd", "a", c.case_id)),
         InlineKeyboardButton(render("graduasi_label", lang, key="reject", n=c.case_id),
                              callback_data=encode("grd", "r", c.case_id))]
        for c in result.cards if c.status == "confirmed"
    ]  # fmt: skip
    nav = []
    if result.page > 0:
        nav.append(InlineKeyboardButton(render("graduasi_label", lang, key="prev"),
                   callback_data=encode("grd", "v", result.filter, result.page - 1, version)))  # fmt: skip
    if result.page + 1 < result.pages:
        nav.append(InlineKeyboardButton(render("graduasi_label", lang, key="next"),
                   callback_data=encode("grd", "v", result.filter, result.page + 1, version)))  # fmt: skip
    if nav:
        rows.append(nav)
    rows.append([
        InlineKeyboardButton(("• " if name == result.filter else "")
                             + render("graduasi_label", lang, key=f"filter_{name}",
                                      n=result.counts[name]),
                             callback_data=encode("grd", "v", name, 0, version))
        for name in props.FILTERS
    ])  # fmt: skip
    markup = InlineKeyboardMarkup(rows)
    query = update.callback_query
    chat = update.effective_chat
    shown: int | None = None
    try:
        if message_id is not None and chat is not None:
            await update.get_bot().edit_message_text(text, chat_id=chat.id,
                                                     message_id=message_id, reply_markup=markup)  # fmt: skip
            shown = message_id
        elif edit and query is not None and query.message is not None:
            shown = query.message.message_id
            await query.edit_message_text(text, reply_markup=markup)
        elif chat is not None:
            shown = (
                await update.get_bot().send_message(chat.id, text, reply_markup=markup)
            ).message_id
    except BadRequest as exc:  # the same page again: nothing to change
        if "not modified" not in str(exc).lower():
            raise
    if chat is not None:
        _views(context)[chat.id] = (version, result.filter, result.page, shown)


async def _refresh_page(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account
) -> None:
    """After a decision: the page shown last in this chat, edited to what is true now."""
    chat = update.effective_chat
    view = _views(context).get(chat.id) if chat is not None else None
    if view is None or view[3] is None:
        return
    try:
        await send_page(update, context, account, view[1], view[2], message_id=view[3])
    except (BadRequest, grad.GraduationError):  # the page is gone or too old
        return


async def graduasi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/graduasi: staff page through the proposals of their region (waiting for them first)."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    try:
        await send_page(update, context, account)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)


async def _decided(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str,
    decision: grad.Decision, reason: str | None,
) -> None:  # fmt: skip
    ref = decision.recipient
    wake(context)  # the facilitator's and the family's notices wait in the outbox
    await _refresh_page(update, context, account)
    # the model's label only ("2.0"); its full id (with the hash) stays in the audit log
    model = (decision.model_version or "").split("+")[0] or None
    await reply(update, render(
        "graduasi_decided", lang, status=decision.status, name=ref.name, nik=ref.nik,
        score=decision.score, model_version=model, case_id=decision.case_id,
        reason=decision.reason or reason,
    ))  # fmt: skip


async def _decide(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str,
    case_id: int, approve: bool, reason: str | None, asked: bool = False,
) -> bool:  # fmt: skip
    """asked: the reason came in the message after the question (a short one asks again)."""
    try:
        decision = await grad.decide(
            db_of(context), settings_of(context), account, case_id, approve, reason,
            now_of(context),
        )  # fmt: skip
    except grad.GraduationError as exc:
        if exc.key == "reason_short" and (asked or not approve):  # asked again
            try:
                if approve:
                    await props.start_approve(db_of(context), now_of(context), account, case_id)
                else:
                    await props.start_reject(db_of(context), now_of(context), account, case_id)
            except grad.GraduationError as other:
                exc = other
        elif exc.key == "reason_short":  # /setujui N <a few letters>: no question is asked
            exc = grad.GraduationError("reason_short_approve", **exc.context)
        await _error(update, lang, exc)
        return False
    await _decided(update, context, account, lang, decision, reason)
    return True


async def setujui(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/setujui <nomor> [alasan]."""
    await _decide_command(update, context, approve=True)


async def tolak(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/tolak <nomor> <alasan> (without a reason: the next message is the reason)."""
    await _decide_command(update, context, approve=False)


async def _decide_command(update: Update, context: ContextTypes.DEFAULT_TYPE, approve: bool):
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    if not args or not args[0].isascii() or not args[0].isdigit() or int(args[0]) > MAX_ID:
        await _error(update, lang, "usage_decide")
        return
    case_id = int(args[0])
    reason = " ".join(args[1:]) or None
    if not approve and reason is None:
        await _ask_reject_reason(update, context, account, lang, case_id)
        return
    if reason is None:  # /setujui N: asks first, like the card's button
        try:
            await _ask_approve(update, context, account, lang, case_id)
        except grad.GraduationError as exc:
            await _error(update, lang, exc)
        return
    await _decide(update, context, account, lang, case_id, approve, reason)


async def _ask_approve(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str, case_id: int
) -> None:
    """Approving asks first: a confirmation button when the family agreed and the score is
    "Siap"; otherwise what is missing, and the reason in the next message (like Tolak)."""
    name, gaps = await props.start_approve(db_of(context), now_of(context), account, case_id)
    label = render("graduasi_label", lang, key="approve_yes", n=case_id)
    markup = _cancel(lang) if gaps else InlineKeyboardMarkup([
        [InlineKeyboardButton(label, callback_data=encode("grd", "ay", case_id))],
        [InlineKeyboardButton(render("graduasi_label", lang, key="cancel"),
                              callback_data=encode("grd", "x"))],
    ])  # fmt: skip
    await reply(update, render("graduasi_approve_ask", lang, name=name, case_id=case_id,
                               gaps=gaps, min=grad.REASON_MIN, confirm_label=label),
                reply_markup=markup)  # fmt: skip


async def _ask_reject_reason(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str, case_id: int
) -> None:
    try:
        name = await props.start_reject(db_of(context), now_of(context), account, case_id)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    await reply(update, render("graduasi_ask", lang, key="reject_reason", name=name,
                               case_id=case_id, min=grad.REASON_MIN), reply_markup=_cancel(lang))  # fmt: skip


def _cancel(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        render("graduasi_label", lang, key="cancel"), callback_data=encode("grd", "x"))]])  # fmt: skip


# --- facilitator: a proposal without a NIK -------------------------------------------------------


async def start_proposal(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, recipient_id: int
) -> None:
    """'Usulkan graduasi' (family card, after a kunjungan graduasi, a pick): what the score
    says and which gates are unmet, then the statement is asked in the next message."""
    lang = account.language
    db, now = db_of(context), now_of(context)
    try:
        r = await grad.readiness(db, settings_of(context), account, recipient_id, now)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    if r.open_case is not None:
        await _error(update, lang, grad.GraduationError("already_confirmed", case_id=r.open_case))
        return
    if r.visit_id is None:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(
            render("graduasi_label", lang, key="visit"),
            callback_data=encode("fac", "gr", recipient_id))]])  # fmt: skip
        await reply(update, render("graduasi_error", lang, key="no_visit",
                                   context={"days": grad.VISIT_MAX_AGE_DAYS}),
                    reply_markup=markup)  # fmt: skip
        return
    await props.set_wait(db, now, account, "statement", recipient_id=recipient_id)
    await reply(update, render(
        "graduasi_ask", lang, key="statement", name=r.recipient.name, ready=r.ready,
        score=r.result.score, band=r.result.band,
        unmet=list(dict.fromkeys(reason for _, reason in r.unmet)),
        min=grad.STATEMENT_MIN, max=grad.STATEMENT_MAX,
    ), reply_markup=_cancel(lang))  # fmt: skip


async def _propose(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, lang: str,
    recipient_id: int, statement: str,
) -> None:  # fmt: skip
    try:
        done = await grad.propose(db_of(context), settings_of(context), account, recipient_id,
                                  statement, now_of(context))  # fmt: skip
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    await props.clear_wait(db_of(context), account)
    if done.family_asked:
        wake(context)
    await reply(update, render("konfirmasi_done", lang, name=done.recipient.name,
                               nik=done.recipient.nik, case_id=done.case_id, ready=done.ready,
                               family_asked=done.family_asked))  # fmt: skip


async def konfirmasi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/konfirmasi <NIK> <statement>, or /konfirmasi <name>: the facilitator proposes."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    if not args:
        await _error(update, lang, "usage_konfirmasi")
        return
    if account.role != "facilitator":
        await _error(update, lang, "facilitator_only")
        return
    nik = _nik(args[0])
    if nik is not None:
        try:
            ref = await grad.find_recipient(db_of(context), account, nik)
        except grad.GraduationError as exc:
            await _error(update, lang, exc)
            return
        if len(args) > 1:
            await _propose(update, context, account, lang, ref.id, " ".join(args[1:]))
        else:
            await start_proposal(update, context, account, ref.id)
        return
    if args[0].isdigit():
        await _error(update, lang, "usage_konfirmasi")
        return
    rid = await _person(update, context, account, lang, " ".join(args), "p")
    if rid is not None:
        await start_proposal(update, context, account, rid)


# --- the next message: a reason, a statement, an objection ----------------------------------------


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -6: a person asked for words (a rejection's reason, a proposal's statement, a
    family's objection) answers in this message; anything else passes on untouched."""
    message = update.effective_message
    if message is None or (message.text is None and message.voice is None):
        return
    account = await account_of(update, context)
    if account is None:
        return
    db, now = db_of(context), now_of(context)
    wait = await props.waiting(db, now, account)
    if wait is None:
        return
    lang = account.language
    text = message.text
    if text is not None and text.strip().lower() in (*MENU_WORDS, *BACK_WORDS):
        await props.clear_wait(db, account)  # a menu word: the person moved on
        return
    if wait.kind == "objection" and wait.case_id is not None:
        voice = message.voice.file_id if message.voice is not None else None
        try:
            await props.family_object(db, settings_of(context), account, wait.case_id, now,
                                      text=text or message.caption, voice_file_id=voice)  # fmt: skip
        except grad.GraduationError as exc:
            await _error(update, lang, exc)
            raise ApplicationHandlerStop from None
        wake(context)
        await reply(update, render("graduasi_family_done", lang, key="objected"))
        raise ApplicationHandlerStop
    if text is None:  # a voice note where words were asked: the question stays
        await reply(update, render("graduasi_ask", lang, key="text_only"))
        raise ApplicationHandlerStop
    if wait.kind == "reject_reason" and wait.case_id is not None:
        await _decide(update, context, account, lang, wait.case_id, False, text)
        raise ApplicationHandlerStop
    if wait.kind == "reopen_reason" and wait.case_id is not None:
        await reopen_with_reason(update, context, account, wait.case_id, text)
        raise ApplicationHandlerStop
    if wait.kind == "approve_reason" and wait.case_id is not None:
        await _decide(update, context, account, lang, wait.case_id, True, text, asked=True)
        raise ApplicationHandlerStop
    if wait.kind == "statement" and wait.recipient_id is not None:
        await _propose(update, context, account, lang, wait.recipient_id, text)
        raise ApplicationHandlerStop


async def forget_question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -6: a command, or a button of another feature, means the person moved on: the
    question asked (a reason, a statement, an objection) no longer takes their next message.
    A command that asks again (/tolak N) sets it anew in group 0."""
    account = await account_of(update, context)
    if account is None or not await props.clear_wait(db_of(context), account):
        return
    message = update.effective_message
    word = ((message.text if message is not None else None) or "").split("@")[0].split()
    if update.callback_query is None and word and word[0].lower() in ("/batal", "/kembali"):
        # /batal at a question of this feature cancels that question (not a report)
        await reply(update, render("graduasi_ask", account.language, key="cancelled"))
        raise ApplicationHandlerStop


async def forget_on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Group -7: a button of another feature (not "grd:") drops the question asked."""
    query = update.callback_query
    if query is None or (query.data or "").startswith("grd:"):
        return
    await forget_question(update, context)


# --- buttons ------------------------------------------------------------------------------------


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """All "grd:" buttons. A stale or forged one gets a toast and changes nothing."""
    query = update.callback_query
    if query is None:  # registered as a CallbackQueryHandler: always a button press
        return
    account = await account_of(update, context)
    lang = lang_of(account, context)
    if account is None:
        await query.answer(_toast("not_linked", lang))
        return
    cb = decode(query.data, "grd")
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    chat = update.effective_chat
    try:
        if cb.action == "v":
            view = _views(context).get(chat.id) if chat is not None else None
            if view is None or view[0] != cb.int(2) or cb.str(0) not in props.FILTERS:
                await query.answer(_toast("stale", lang))
                return
            await query.answer()
            await send_page(update, context, account, cb.str(0), cb.int(1), edit=True)
        elif cb.action == "a":
            await grad.approval_check(db, account, cb.int())
            await query.answer()
            await _ask_approve(update, context, account, lang, cb.int())
        elif cb.action == "ay":
            try:
                decision = await grad.decide(db, settings, account, cb.int(), True, None, now)
            except grad.GraduationError as exc:
                if exc.key != "approve_reason_needed":
                    raise
                # the family objected since the question: what is missing, the reason asked
                await query.answer()
                await _ask_approve(update, context, account, lang, cb.int())
                return
            await query.answer()
            with contextlib.suppress(TelegramError):  # the confirmation's buttons go
                await query.edit_message_reply_markup(reply_markup=None)
            await _decided(update, context, account, lang, decision, None)
        elif cb.action == "r":
            name = await props.start_reject(db, now, account, cb.int())
            await query.answer()
            await reply(update, render("graduasi_ask", lang, key="reject_reason", name=name,
                                       case_id=cb.int(), min=grad.REASON_MIN),
                        reply_markup=_cancel(lang))  # fmt: skip
        elif cb.action == "s":
            await query.answer()
            await _send_score(update, context, account, lang, cb.int())
        elif cb.action == "p":
            await query.answer()
            if account.role != "facilitator":
                await _error(update, lang, "facilitator_only")
                return
            await start_proposal(update, context, account, cb.int())
        elif cb.action == "fy":
            name = await props.family_agree(db, settings, account, cb.int(), now)
            await query.answer()
            await reply(update, render("graduasi_family_done", lang, key="agreed", name=name))
        elif cb.action == "fn":
            name = await props.start_objection(db, now, account, cb.int())
            await query.answer()
            await reply(update, render("graduasi_ask", lang, key="objection", name=name))
        elif cb.action == "m":
            outcome = await props.ask_to_graduate(db, settings, account, now)
            wake(context)
            await query.answer()
            await reply(update, render("graduasi_family_done", lang, key=outcome))
        elif cb.action == "e":
            pick = _end_picks(context).pop(account.id, None)
            if pick is None or cb.int() not in pick["ids"]:
                await query.answer(_toast("stale", lang))
                return
            person = await grad.get_recipient(db, account, cb.int())
            ref = await grad.end_mentoring(db, account, person.nik, pick["kind"], pick["reason"],
                                           now)  # fmt: skip
            await query.answer()
            with contextlib.suppress(TelegramError):  # the pick list's buttons go
                await query.edit_message_reply_markup(reply_markup=None)
            await reply(update, render("akhiri_done", lang, name=ref.name, nik=ref.nik,
                                       kind=pick["kind"], reason=pick["reason"]))  # fmt: skip
        elif cb.action == "x":
            _end_picks(context).pop(account.id, None)
            await props.clear_wait(db, account)
            await query.answer()
            await reply(update, render("graduasi_ask", lang, key="cancelled"))
        else:
            await query.answer(_toast("stale", lang))
    except grad.GraduationError as exc:
        await query.answer(_toast(exc.key, lang, **exc.context))


async def akhiri(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/akhiri <NIK or name> <pindah|meninggal|menolak> <reason>: staff end mentoring."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    # the kind word splits the person (a NIK, or a name of several words) from the reason
    at = next((i for i, a in enumerate(args) if i and a.lower() in END_KINDS_ID), 1)
    if len(args) < 3 or at + 1 >= len(args):
        await _error(update, lang, "usage_akhiri")
        return
    who = " ".join(args[:at])
    kind = END_KINDS_ID.get(args[at].lower(), args[at].lower())
    reason = " ".join(args[at + 1 :])
    db = db_of(context)
    nik = clean_nik(who) if who.replace(" ", "").isdigit() else None
    try:
        if nik is None:
            found = await grad.search_people(db, account, who)
            if len(found) > 1:  # several: staff pick one; the list restates what will end
                shown = found[: grad.SEARCH_MAX]
                _end_picks(context)[account.id] = {
                    "ids": {r.id for r in shown},
                    "kind": kind,
                    "reason": reason,
                }
                rows = [*_pick_rows(shown, "e"), *_cancel(lang).inline_keyboard]
                await reply(update, render("graduasi_pick", lang, count=len(found),
                                           shown=len(shown), query=who[:40], action="end",
                                           kind=kind, reason=reason),
                            reply_markup=InlineKeyboardMarkup(rows))  # fmt: skip
                return
            nik = found[0].nik
        ref = await grad.end_mentoring(db, account, nik, kind, reason, now_of(context))
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    await reply(
        update, render("akhiri_done", lang, name=ref.name, nik=ref.nik, kind=kind, reason=reason)
    )
