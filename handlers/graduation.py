"""/skor, /kemajuan, /graduasi, /konfirmasi, /setujui, /tolak, /akhiri and the grd: buttons."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.callbacks import MAX_ID, decode, encode
from bot.domain.nik import NikError, clean_nik, parse_nik
from bot.domain.scoring import MET, UNKNOWN
from bot.render import render
from bot.services import graduation as grad
from bot.services.accounts import Account
from handlers.common import account_of, db_of, lang_of, now_of, reply, settings_of

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


async def skor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/skor <NIK>: the score, band and every component with its reason (facilitator/staff)."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    nik = _nik(context.args[0]) if context.args else None
    if nik is None:
        await reply(update, render("skor_usage", lang))
        return
    try:
        view = await grad.score_view(
            db_of(context), settings_of(context), account, nik, now_of(context)
        )
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    r = view.result
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
            model_version=r.model_version,
            # the model id is for staff; a facilitator reads the score out to families
            show_model=account.role in ("staff", "admin"),
            can_confirm=view.can_confirm,
        ),
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


async def graduasi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/graduasi: staff see candidates in their region; confirmed ones get approve/reject."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    try:
        found = await grad.candidates(db_of(context), settings_of(context), account)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    if not found:
        await reply(update, render("graduasi_empty", lang))
        return
    rows = [
        {
            "name": c.recipient.name,
            "nik": c.recipient.nik,
            "desa": c.recipient.desa,
            "score": c.score.score,
            "period": c.score.period,
            "model_version": c.score.model_version,
            "case_id": c.case_id,
            "statement": c.statement,
            "pkh": c.recipient.receives_pkh,
            "sembako": c.recipient.receives_sembako,
            "desil": c.recipient.welfare_decile,
        }
        for c in found
    ]
    approve = "Setujui" if lang == "id" else "Approve"
    reject = "Tolak" if lang == "id" else "Reject"
    buttons = [
        [
            InlineKeyboardButton(f"{approve} {i}", callback_data=encode("grd", "a", c.case_id)),
            InlineKeyboardButton(f"{reject} {i}", callback_data=encode("grd", "r", c.case_id)),
        ]
        for i, c in enumerate(found, start=1)
        if c.case_id is not None
    ]
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await reply(update, render("graduasi_list", lang, candidates=rows), reply_markup=markup)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """grd:a:<case> approves with the standard reason; grd:r:<case> asks for a written reason."""
    query = update.callback_query
    if query is None:  # registered as a CallbackQueryHandler: always a button press
        return
    await query.answer()
    account, lang = await _linked(update, context)
    if account is None:
        return
    cb = decode(query.data, "grd")
    case_id = cb.int()
    if cb.action == "r":
        await reply(update, render("graduasi_tolak_howto", lang, case_id=case_id))
        return
    await _decide(update, context, account, lang, case_id, True, None)


async def _decide(update, context, account, lang, case_id, approve, reason) -> None:
    try:
        decision = await grad.decide(
            db_of(context), account, case_id, approve, reason, now_of(context)
        )
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    ref = decision.recipient
    await reply(
        update,
        render(
            "graduasi_decided",
            lang,
            status=decision.status,
            name=ref.name,
            nik=ref.nik,
            score=decision.score,
            model_version=decision.model_version,
            reason=reason or grad.DEFAULT_APPROVE_REASON,
        ),
    )
    if decision.recipient_chat_id is not None:
        # The congratulation to the recipient goes through the outbox (once per case).
        from bot.services.notices import graduation_congratulation
        from handlers.cycle import wake

        if await graduation_congratulation(
            db_of(context), now_of(context), case_id=decision.case_id,
            chat_id=decision.recipient_chat_id, language=decision.recipient_language,
            name=ref.name,
        ):  # fmt: skip
            wake(context)


async def setujui(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/setujui <case> [reason]."""
    await _decide_command(update, context, approve=True)


async def tolak(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/tolak <case> <reason>."""
    await _decide_command(update, context, approve=False)


async def _decide_command(update: Update, context: ContextTypes.DEFAULT_TYPE, approve: bool):
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    if not args or not args[0].isascii() or not args[0].isdigit() or int(args[0]) > MAX_ID:
        await _error(update, lang, "usage_decide")
        return
    reason = " ".join(args[1:]) or None
    await _decide(update, context, account, lang, int(args[0]), approve, reason)


async def konfirmasi(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/konfirmasi <NIK> <statement>: the facilitator confirms after a visit."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    nik = _nik(args[0]) if args else None
    if nik is None or len(args) < 2:
        await _error(update, lang, "usage_konfirmasi")
        return
    db, settings = db_of(context), settings_of(context)
    try:
        case_id = await grad.confirm(
            db, settings, account, nik, " ".join(args[1:]), now_of(context)
        )
        ref = await grad.find_recipient(db, account, nik)
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    await reply(
        update, render("konfirmasi_done", lang, name=ref.name, nik=ref.nik, case_id=case_id)
    )


async def akhiri(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/akhiri <NIK> <pindah|meninggal|menolak> <reason>: staff end mentoring."""
    account, lang = await _linked(update, context)
    if account is None:
        return
    args = context.args or []
    if len(args) < 3:
        await _error(update, lang, "usage_akhiri")
        return
    nik = clean_nik(args[0])
    kind = END_KINDS_ID.get(args[1].lower(), args[1].lower())
    reason = " ".join(args[2:])
    try:
        ref = await grad.end_mentoring(db_of(context), account, nik, kind, reason, now_of(context))
    except grad.GraduationError as exc:
        await _error(update, lang, exc)
        return
    await reply(
        update, render("akhiri_done", lang, name=ref.name, nik=ref.nik, kind=kind, reason=reason)
    )
