"""Monthly report and visit forms in chat: /lapor, /lanjut, /batal, answers and "rep:" buttons.

Callback data: "rep:<draft id>:<step>:<value>" (value: a choice, "ya"/"tidak", "_skip", an
amount offered after "1,5", or an action "!save", "!edit", "@<key>", "!cancel", "!cancel_yes",
"!cancel_no", "!back") and "per:<YYYY-MM>" (a recipient picks the month). A button whose draft
or step is no longer current is answered politely and ignored: the draft row is the truth.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.callbacks import decode, encode
from bot.domain.forms import MORE, Kind, Media, Photo, Pressed, Raw, SummaryRow, Text
from bot.render import render
from bot.services import reports as svc
from bot.services.accounts import Account
from handlers import messages
from handlers.caseload import send_picker
from handlers.common import account_of, db_of, label, lang_of, now_of, reply, settings_of, wake
from handlers.onboarding import remind_contact, send_consent_notice

log = logging.getLogger("pendamping.reports")

MEDIA_KINDS = ("sticker", "voice", "video", "video_note", "audio", "animation", "document",
               "location", "venue", "contact", "poll", "dice")  # fmt: skip


# --- rendering -----------------------------------------------------------------------------------


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _data(draft_id: int, step: int, value: str) -> str:
    """A "rep:" button of one draft step (bot/callbacks.py)."""
    return encode("rep", "", draft_id, step, value)


def question_markup(q: svc.QuestionView, lang: str) -> InlineKeyboardMarkup | None:
    values: list[str] = []
    if q.kind == Kind.YESNO:
        values = ["ya", "tidak"]
    elif q.kind in (Kind.CHOICE, Kind.INTEGER, Kind.DATE):
        values = list(q.choices)
    more = [v for v in values if v == MORE]
    values = [v for v in values if v != MORE]
    buttons = [_button(label(v, lang), _data(q.draft_id, q.step, v)) for v in values]
    numbers = q.kind == Kind.INTEGER and len(values) > 5
    per_row = (6 if numbers else 4) if q.kind == Kind.INTEGER else (
        2 if q.kind != Kind.CHOICE or len(values) > 3 else 1)  # fmt: skip
    rows = _rows(buttons, per_row)
    if more:
        rows.append([_button(label(MORE, lang), _data(q.draft_id, q.step, MORE))])
    # Every question can go one step back; a form that can be skipped says so beside it.
    last = (
        []
        if q.form_name.startswith("flag")
        else [_button(label("!prev", lang), _data(q.draft_id, q.step, "!prev"))]
    )
    if q.optional:
        last.append(_button(label("_skip", lang), _data(q.draft_id, q.step, "_skip")))
    if last:
        rows.append(last)
    return InlineKeyboardMarkup(rows) if rows else None


def question_text(q: svc.QuestionView, lang: str) -> str:
    text = render(q.template, lang, **q.context)
    return render("report_question", lang, number=q.number, total=q.total, text=text)


def display(row: SummaryRow, lang: str) -> str:
    from bot.domain.money import format_rupiah
    from bot.domain.timefmt import format_date

    value = row.value
    if value is None:
        return label("skipped", lang)
    if row.kind == Kind.AMOUNT:
        return format_rupiah(value)
    if row.kind == Kind.YESNO:
        return label("ya" if value else "tidak", lang)
    if row.kind == Kind.CHOICE:
        return label(value, lang)
    if row.kind == Kind.PHOTO:
        return label("photo_yes", lang)
    if row.kind == Kind.DATE:
        return format_date(value, lang)
    return str(value)


def summary_text(s: svc.SummaryView, lang: str) -> str:
    rows = [(label(f"s_{r.key}", lang), display(_as_computed(r, s.context), lang)) for r in s.rows]
    if s.form_name == "monthly" and s.context.get("profit") is not None:
        # The profit that counts, shown in full even when it was computed.
        rows = [r for r in rows if r[0] != label("s_profit", lang)]
        at = next((i for i, r in enumerate(s.rows) if r.key in ("profit_ok", "profit")), None)
        if at is not None:
            profit = s.context["profit"]
            name = "s_profit" if profit >= 0 else "s_profit_loss"
            rows.insert(at + 1, (label(name, lang), render_laba(profit, lang)))
    return render("report_summary", lang, rows=rows, form_name=s.form_name, **s.context)


def _as_computed(row: SummaryRow, context: dict[str, Any]) -> SummaryRow:
    """ "Laba/rugi sesuai hitungan": compare the values, not the button pressed (a typed profit
    equal to revenue - costs is as computed)."""
    if row.key != "profit_ok" or row.value is not False:
        return row
    revenue, costs, profit = (context.get(k) for k in ("revenue", "costs", "profit"))
    if revenue is not None and costs is not None and profit == revenue - costs:
        return SummaryRow(row.key, row.kind, True)
    return row


def render_laba(profit: int, lang: str) -> str:
    """A profit as people say it ("rugi Rp150.000")."""
    from bot.domain.money import format_signed

    return format_signed(profit, "rugi" if lang == "id" else "loss")


def summary_markup(s: svc.SummaryView, lang: str) -> InlineKeyboardMarkup:
    """Simpan | Ubah | Batal, for a correction too: "Ubah" lists the answers to change (one
    button per answer under every summary made the message longer than the report)."""
    return InlineKeyboardMarkup(
        [
            [
                _button(label(a, lang), _data(s.draft_id, s.step, a))
                for a in ("!save", "!edit", "!cancel")
            ]
        ]
    )


async def send_step(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account, step: svc.Step
) -> None:
    """Render one service result as one reply (plus notices for other chats)."""
    lang = account.language
    kind = step.kind
    if kind in ("question", "summary", "resumed", "invalid", "clarify"):
        head = ""
        if kind == "resumed":
            draft = await svc.open_draft(db_of(context), account)
            head = render(
                "report_resumed",
                lang,
                form_name=draft.form_name if draft else "monthly",
                on_behalf=bool(draft and draft.reporter_role == "facilitator"),
                recipient_name=draft.recipient_name if draft else "",
            )
        elif kind == "invalid":
            assert step.invalid is not None  # each kind carries its own field (svc.Step)
            head = render("form_error", lang, error=step.invalid.error, p=step.invalid.params)
        elif step.note:
            head = render("report_note", lang, note=step.note)
        elif step.echo:
            head = render("report_echo", lang, name=label(f"s_{step.echo['key']}", lang),
                          value=step.echo["value"], key=step.echo["key"])  # fmt: skip
        markup: InlineKeyboardMarkup | None
        if kind == "clarify":
            q = step.question
            assert q is not None and step.clarify is not None
            from bot.domain.money import format_rupiah

            markup = InlineKeyboardMarkup(
                [[_button(format_rupiah(c), _data(q.draft_id, q.step, str(c)))
                  for c in step.clarify.choices]]
            )  # fmt: skip
            await reply(update, render("report_clarify", lang, choices=step.clarify.choices),
                        reply_markup=markup)  # fmt: skip
            return
        if step.question is not None:
            body, markup = question_text(step.question, lang), question_markup(step.question, lang)
        else:
            assert step.summary is not None  # a step without a question shows the summary
            body, markup = summary_text(step.summary, lang), summary_markup(step.summary, lang)
        text = f"{head}\n\n{body}" if head else body
        await reply(update, text, reply_markup=markup)
    elif kind == "stale":
        await reply(update, render("report_stale", lang))
    elif kind == "no_draft":
        await reply(update, render("report_no_draft", lang))
    elif kind == "edit_menu":
        d, n = step.draft_id, step.step
        assert d is not None and n is not None
        # the typed profit may be a loss: "Laba/rugi", not "Untung"
        names = {k: "s_profit_any" if k == "profit" else f"s_{k}" for k in step.edit_keys}
        buttons = [_button(label(names[k], lang), _data(d, n, f"@{k}")) for k in step.edit_keys]
        rows = _rows(buttons, 2) + [[_button(label("!back", lang), _data(d, n, "!back"))]]
        await reply(
            update, render("report_edit_pick", lang), reply_markup=InlineKeyboardMarkup(rows)
        )
    elif kind == "confirm_cancel":
        d, n = step.draft_id, step.step
        assert d is not None and n is not None
        markup = InlineKeyboardMarkup(
            [[_button(label(a, lang), _data(d, n, a))
              for a in ("!cancel_yes", "!cancel_no")]]
        )  # fmt: skip
        await reply(update, render("report_cancel_confirm", lang), reply_markup=markup)
    elif kind == "cancelled":
        await reply(update, render("report_cancelled", lang))
    elif kind == "saved":
        markup = None
        if step.saved.get("kind") == "graduation" and step.saved.get("recipient_id"):
            # right after a kunjungan graduasi: propose from here, no NIK typed
            markup = InlineKeyboardMarkup([[_button(
                render("caseload_button", lang, name="graduate", count=None),
                encode("fac", "cg", step.saved["recipient_id"]))]])  # fmt: skip
        await reply(update, render("report_saved", lang, **_saved_context(step.saved)),
                    reply_markup=markup)  # fmt: skip
        await notify(context, step.notices)
    elif kind == "pick_period":
        from bot.domain.timefmt import format_period

        done = set(step.saved.get("reported", ()))
        buttons = [
            _button(f"{format_period(p, lang)}" + (f" ({label('reported_mark', lang)})"
                                                   if p in done else ""), encode("per", "", p))
            for p in step.periods
        ]  # fmt: skip
        chat = update.effective_chat
        if chat is not None:
            sent = await update.get_bot().send_message(
                chat.id, render("report_pick_period", lang),
                reply_markup=InlineKeyboardMarkup(_rows(buttons, 2)))  # fmt: skip
            _pickers(context)[chat.id] = sent.message_id


def _pickers(context: ContextTypes.DEFAULT_TYPE) -> dict[int, int]:
    """chat id -> the month picker shown there and not answered yet (its message id)."""
    return context.application.bot_data.setdefault("period_pickers", {})


async def _close_picker(
    update: Update, context: ContextTypes.DEFAULT_TYPE, account: Account
) -> bool:
    """/batal or /kembali at the month picker (no report open yet): the picker's buttons go
    and the person is told the choice is closed. False when no picker is waiting."""
    chat = update.effective_chat
    if chat is None or chat.id not in _pickers(context):
        return False
    message_id = _pickers(context).pop(chat.id)
    if await svc.open_draft(db_of(context), account) is not None:
        return False  # a report is open: /batal and /kembali act on it
    with contextlib.suppress(TelegramError):
        await update.get_bot().edit_message_reply_markup(chat.id, message_id, reply_markup=None)
    await reply(update, render("report_pick_closed", account.language))
    return True


def _saved_context(saved: dict[str, Any]) -> dict[str, Any]:
    defaults = {"revision": 1, "late": False, "help": False, "flags": [], "on_behalf": False,
                "period": None, "help_closed": 0, "date": None, "value": None, "field": None}  # fmt: skip
    return {**defaults, **saved}


async def notify(context: ContextTypes.DEFAULT_TYPE, notices: Iterable[svc.Notice]) -> None:
    """The one place messages for other people's chats leave: planned in the outbox (unique
    key per event), then the sender is woken so a help request goes out at once."""
    from bot.services.notices import enqueue_notices

    if await enqueue_notices(db_of(context), notices, now_of(context)):
        wake(context)


async def report_error(
    update: Update, lang: str, err: svc.ReportError, context: ContextTypes.DEFAULT_TYPE
) -> None:
    if err.key == "consent_needed":  # consent: the privacy notice again, with its button
        await send_consent_notice(update, context)
        return
    await reply(update, render("report_error", lang, key=err.key))


async def _account(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Account | None:
    account = await account_of(update, context)
    if account is None:
        await reply(update, render("report_error", lang_of(None, context), key="not_linked"))
    return account


# --- commands ------------------------------------------------------------------------------------


async def lapor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lapor: start or resume the monthly report (a facilitator first picks the family)."""
    account = await _account(update, context)
    if account is None:
        return
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    try:
        if account.role == "facilitator" and await svc.open_draft(db, account) is None:
            await send_picker(update, context, account, "report", 0)
            return
        step = await svc.start_report(db, now, settings, account)
    except svc.ReportError as err:
        await report_error(update, account.language, err, context)
        return
    await send_step(update, context, account, step)


async def lanjut(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lanjut: show the current question of the open draft again."""
    account = await _account(update, context)
    if account is None:
        return
    step = await svc.resume(db_of(context), now_of(context), settings_of(context), account)
    await send_step(update, context, account, step)


async def kembali(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/kembali (or typed "kembali"): one question back in the open form."""
    account = await _account(update, context)
    if account is None or await _close_picker(update, context, account):
        return
    try:
        step = await svc.back(db_of(context), now_of(context), settings_of(context), account)
    except svc.ReportError as err:
        await report_error(update, account.language, err, context)
        return
    await send_step(update, context, account, step)


async def batal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/batal: ask for confirmation before cancelling the open draft (or drop a pending reply
    to a family)."""
    account = await _account(update, context)
    if account is None:
        return
    from bot.services.messages import cancel_reply

    if await cancel_reply(db_of(context), account):
        await reply(update, render("report_cancelled", account.language))
        return
    if await _close_picker(update, context, account):
        return
    await send_step(update, context, account, await svc.ask_cancel(db_of(context), account))


# --- answers -------------------------------------------------------------------------------------


def raw_of(message: Message) -> Raw:
    """What a message carries, as the form engine's input."""
    if message.photo:
        largest = message.photo[-1]
        return Photo(largest.file_id, largest.file_unique_id, largest.file_size)
    if message.text is not None:
        return Text(message.text)
    for kind in MEDIA_KINDS:
        if getattr(message, kind, None):
            return Media(kind)
    return Media("other")


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any private non-command message: an answer if a form is open, else a short hint."""
    message = update.effective_message
    if message is None:
        return
    account = await account_of(update, context)
    if account is None:
        # one who opened a family's link and typed instead of sharing their number is shown
        # the button again; anyone else is told how to join
        if not await remind_contact(update, context):
            await messages.stranger(update, context)
        return
    db = db_of(context)
    try:
        step = await svc.answer(db, now_of(context), settings_of(context), account, raw_of(message))
    except svc.ReportError as err:
        await report_error(update, account.language, err, context)
        return
    if step.kind == "no_draft":
        # nothing said to the bot is lost: a family's free message goes to its facilitator
        if account.role == "recipient" and await messages.forward(update, context, account):
            return
        await reply(update, render("report_idle", account.language, role=account.role))
        return
    if step.kind == "forward":
        # a family's message typed during the report: passed on, then the question again
        await messages.forward(update, context, account, draft_open="waiting")
        step = replace(step, kind="question" if step.question is not None else "summary")
    await send_step(update, context, account, step)


async def _pressed_by_account(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[CallbackQuery, Account] | None:
    """The pressed button and the linked account; None (the press acknowledged) without one."""
    query = update.callback_query
    account = await account_of(update, context)
    if query is None or account is None:
        if query is not None:
            await query.answer()
        return None
    return query, account


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A "rep:" button: answer, or a summary action; stale buttons get a polite toast."""
    pressed = await _pressed_by_account(update, context)
    if pressed is None:
        return
    query, account = pressed
    lang = account.language
    cb = decode(query.data, "rep")
    draft, step, value = cb.int(0), cb.int(1), cb.str(2)
    db, settings, now = db_of(context), settings_of(context), now_of(context)
    try:
        if value == "!save":
            result = await svc.save(db, now, settings, account, draft, step)
        elif value == "!edit":
            result = await svc.edit_menu(db, account, draft, step)
        elif value.startswith("@"):
            result = await svc.edit_answer(db, now, settings, account, draft, step, value[1:])
        elif value == "!prev":
            result = await svc.back(db, now, settings, account, draft, step)
        elif value == "!cancel":
            result = await svc.ask_cancel(db, account, draft, step)
        elif value == "!cancel_yes":
            result = await svc.cancel(db, now, account, draft, step)
        elif value in ("!cancel_no", "!back"):
            live = await svc.open_draft(db, account)
            if live is None or live.id != draft or live.step != step:
                result = svc.Step("stale")
            else:
                result = await svc.current_view(db, now, settings, live)
        else:
            result = await svc.answer(db, now, settings, account, Pressed(value), draft, step)
    except svc.ReportError as err:
        await query.answer()
        await report_error(update, lang, err, context)
        return
    if result.kind == "stale":
        await query.answer(render("report_stale", lang))
        return
    await query.answer()
    await send_step(update, context, account, result)


async def on_period(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A "per:YYYY-MM" button: start the report for the month the person picked."""
    pressed = await _pressed_by_account(update, context)
    if pressed is None:
        return
    query, account = pressed
    period = decode(query.data, "per").str()
    if update.effective_chat is not None:
        _pickers(context).pop(update.effective_chat.id, None)
    try:
        step = await svc.start_report(
            db_of(context), now_of(context), settings_of(context), account, period=period
        )
    except svc.ReportError as err:
        if err.key == "consent_needed":
            await query.answer()
            await report_error(update, account.language, err, context)
            return
        await query.answer(render("report_error", account.language, key=err.key))
        return
    await query.answer()
    await send_step(update, context, account, step)
