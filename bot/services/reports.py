"""Monthly reports, visits and cross-check flags.

Conversation state is data: a person's progress is one open row in report_drafts (answers as
JSON, a `step` bumped at every answer). Every function here loads the draft, decides, writes,
and returns a plain view object that a handler renders; nothing is kept in process memory.

Access (checked here, not in handlers): a recipient reports only for themself; a facilitator
only for recipients in their caseload (recipients.facilitator_id); other roles may not report.

Who says what to whom outside the current chat (a help request to the facilitator, new flags)
comes back as `Notice` rows in the result; the handler plans them in the outbox through one
function (handlers.reports.notify -> bot.services.notices.enqueue_notices).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.domain.forms import (
    Clarify,
    Form,
    Invalid,
    Kind,
    Question,
    Raw,
    SummaryRow,
    Text,
    apply_answer,
    checklist_answers,
    computed_profit,
    effective_answers,
    forget,
    form_for,
    next_question,
    number_buttons,
    previous_key,
    profit_of,
    progress,
    summary,
)
from bot.domain.money import looks_different
from bot.services.access import ConsentNeeded, require_consent
from bot.services.accounts import Account

# The one read model of which value counts; known to callers as reports.effective_reports.
from bot.services.read_model import effective_reports  # noqa: F401

log = logging.getLogger("pendamping.reports")

MONTHLY = "monthly"
VISIT = "visit"
GRADUATION = "graduation"  # kunjungan graduasi: the non-income checklist


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


class ReportError(Exception):
    """A refusal a person should read: `key` names a part of templates/<lang>/report_error.j2."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


# --- views returned to handlers ------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    id: int
    account_id: int
    recipient_id: int
    recipient_name: str
    programme: str
    form_name: str
    period: str | None
    reporter_role: str
    answers: dict[str, Any]
    step: int
    status: str

    @property
    def form(self) -> Form:
        return form_for(self.form_name, self.programme, self.period)


@dataclass(frozen=True)
class QuestionView:
    draft_id: int
    step: int
    key: str
    kind: Kind
    template: str
    choices: tuple[str, ...]
    optional: bool
    context: dict[str, Any]
    number: int  # 1-based position among applicable questions
    total: int  # never grows while answering (bot.domain.forms.progress)
    form_name: str = MONTHLY


@dataclass(frozen=True)
class SummaryView:
    draft_id: int
    step: int
    form_name: str
    rows: list[SummaryRow]
    context: dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """A message for someone else's chat, planned in the outbox (bot.services.notices).

    key: unique per event (with the template it is the outbox dedupe key); urgent: sent
    before everything else (help requests)."""

    chat_id: int
    template: str
    context: dict[str, Any]
    language: str = "id"
    key: str = ""
    account_id: int | None = None
    urgent: bool = False


@dataclass(frozen=True)
class Step:
    """What to show after an input. kind: question | summary | invalid | clarify | stale |
    no_draft | edit_menu | confirm_cancel | cancelled | saved | pick_period | resumed."""

    kind: str
    question: QuestionView | None = None
    summary: SummaryView | None = None
    invalid: Invalid | None = None
    clarify: Clarify | None = None
    edit_keys: list[str] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)
    saved: dict[str, Any] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    draft_id: int | None = None
    step: int | None = None
    echo: dict[str, Any] | None = None  # an answer read differently from how it was typed


# --- loading -------------------------------------------------------------------------------------

_DRAFT_SQL = (
    "SELECT d.id, d.account_id, d.recipient_id, r.name AS recipient_name, r.programme, d.form,"
    " d.period, d.reporter_role, d.answers, d.step, d.status"
    " FROM report_drafts d JOIN recipients r ON r.id = d.recipient_id"
)


def _draft(row: Any) -> Draft:
    return Draft(
        id=row["id"],
        account_id=row["account_id"],
        recipient_id=row["recipient_id"],
        recipient_name=row["recipient_name"],
        programme=row["programme"],
        form_name=row["form"],
        period=row["period"],
        reporter_role=row["reporter_role"],
        answers=json.loads(row["answers"]),
        step=row["step"],
        status=row["status"],
    )


async def open_draft(db: Database, account: Account) -> Draft | None:
    """The account's open draft (at most one), or None."""
    rows = await db.fetchall(  # one round trip; at most one row (unique index)
        _DRAFT_SQL + " WHERE d.account_id = ? AND d.status = 'open'", (account.id,)
    )
    return _draft(rows[0]) if rows else None


async def open_drafts(db: Database) -> dict[int, Draft]:
    """Every open draft by account id (one query; for overviews and simulations)."""
    rows = await db.fetchall(_DRAFT_SQL + " WHERE d.status = 'open'")
    return {row["account_id"]: _draft(row) for row in rows}


async def _recipient(db: Database, recipient_id: int) -> Any:
    row = await db.fetchone(
        "SELECT r.id, r.name, r.programme, r.facilitator_id, r.status, r.created_at,"
        " r.handover_date, d.name AS desa FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id"
        " WHERE r.id = ?",
        (recipient_id,),
    )
    if row is None:
        raise ReportError("not_found")
    return row


async def check_access(db: Database, account: Account, recipient_id: int) -> Any:
    """The recipient row if this account may report on it; ReportError('not_allowed') if not,
    and the same when there is no such recipient (no hint whether an id exists)."""
    try:
        row = await _recipient(db, recipient_id)
    except ReportError:
        raise ReportError("not_allowed") from None
    if account.role == "recipient" and account.recipient_id == recipient_id:
        return row
    if account.role == "facilitator" and row["facilitator_id"] == account.facilitator_id:
        return row
    raise ReportError("not_allowed")


def _role(account: Account) -> str:
    if account.role not in ("recipient", "facilitator"):
        raise ReportError("not_allowed")
    return account.role


def _consented(account: Account) -> None:
    """Data collection needs the acknowledged privacy notice (bot.services.access)."""
    try:
        require_consent(account)
    except ConsentNeeded:
        raise ReportError("consent_needed") from None


# --- views ---------------------------------------------------------------------------------------


def _context(draft: Draft, settings: Settings) -> dict[str, Any]:
    return {
        "recipient_name": draft.recipient_name,
        "programme": draft.programme,
        "period": draft.period,
        "on_behalf": draft.reporter_role == "facilitator",
        "profit": computed_profit(draft.answers),
        "revenue": draft.answers.get("revenue"),
        "costs": draft.answers.get("costs"),
        "limit_mb": settings.reports.max_photo_bytes // 1_000_000,
    }


def _question_view(draft: Draft, q: Question, settings: Settings) -> QuestionView:
    number, total = progress(draft.form, draft.answers)
    return QuestionView(
        draft_id=draft.id,
        step=draft.step,
        key=q.key,
        kind=q.kind,
        template=q.template,
        choices=number_buttons(q),
        optional=q.optional,
        context=_context(draft, settings),
        number=number,
        total=total,
        form_name=draft.form_name,
    )


async def _summary_view(
    db: Database, draft: Draft, settings: Settings, now: dt.datetime
) -> SummaryView:
    ctx = _context(draft, settings)
    ctx["profit"] = profit_of(draft.answers)
    if draft.form_name == MONTHLY and draft.period:
        ctx["late"] = P.is_late(draft.period, now, settings.cycle.close_day, settings.tz)
        ctx["correction"] = bool(
            await db.fetchval(
                "SELECT count(*) FROM reports WHERE recipient_id = ? AND period = ?"
                " AND reporter_role = ?",
                (draft.recipient_id, draft.period, draft.reporter_role),
            )
        )
    else:
        ctx["late"] = False
        ctx["correction"] = False
    return SummaryView(
        draft.id, draft.step, draft.form_name, summary(draft.form, draft.answers), ctx
    )


async def current_view(db: Database, now: dt.datetime, settings: Settings, draft: Draft) -> Step:
    """The question now asked in a draft, or its summary when every answer is in."""
    q = next_question(draft.form, draft.answers)
    if q is None:
        return Step("summary", summary=await _summary_view(db, draft, settings, now),
                    draft_id=draft.id, step=draft.step)  # fmt: skip
    return Step("question", question=_question_view(draft, q, settings), draft_id=draft.id,
                step=draft.step)  # fmt: skip


async def current_question(
    db: Database, settings: Settings, account: Account
) -> QuestionView | None:
    """For /bantuan: the question the account's open draft is waiting for, if any."""
    draft = await open_draft(db, account)
    if draft is None:
        return None
    q = next_question(draft.form, draft.answers)
    if q is None:
        return None
    return _question_view(draft, q, settings)


# --- starting ------------------------------------------------------------------------------------


async def _create_draft(
    db: Database, now: dt.datetime, account: Account, recipient_id: int, form: str,
    period: str | None, role: str, answers: dict[str, Any] | None = None,
) -> Draft:  # fmt: skip
    answers = answers or {}
    first = next_question(form_for(form, None if form != MONTHLY else "", period), answers)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO report_drafts (account_id, recipient_id, form, period, reporter_role,"
                " answers, current_key, step, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'open', ?, ?)",
                (account.id, recipient_id, form, period, role, json.dumps(answers),
                 first.key if first else None, _iso(now), _iso(now)),
            )  # fmt: skip
    except sqlite3.IntegrityError:
        pass  # another update opened one a moment ago: use that one
    draft = await open_draft(db, account)
    assert draft is not None
    return draft


def _start_month(row: Any, tz: dt.tzinfo) -> str:
    """The first month a recipient can report on: the first full month after the hand-over
    (the cycle's rule, bot/domain/periods.py), else the registration month."""
    if row["handover_date"]:
        return P.first_period_after_handover(dt.date.fromisoformat(str(row["handover_date"])[:10]))
    created = dt.datetime.fromisoformat(str(row["created_at"]))
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    return P.month_of(created, tz)


async def missing_periods(
    db: Database, now: dt.datetime, settings: Settings, recipient_id: int, role: str
) -> list[str]:
    """Periods a person may still report, newest first: the open one, then missed ones."""
    row = await _recipient(db, recipient_id)
    first = _start_month(row, settings.tz)
    candidates = P.recent_periods(now, settings.tz, settings.reports.pick_months)
    reported = {
        r["period"]
        for r in await db.fetchall(
            "SELECT DISTINCT period FROM reports WHERE recipient_id = ? AND reporter_role = ?",
            (recipient_id, role),
        )
    }
    out = [candidates[0]]
    out += [p for p in candidates[1:] if p >= first and p not in reported]
    return out


async def _resume_open_draft(
    db: Database, now: dt.datetime, settings: Settings, account: Account
) -> Step | None:
    """One draft at a time per account: an open one is resumed where it stopped."""
    existing = await open_draft(db, account)
    if existing is None:
        return None
    view = await current_view(db, now, settings, existing)
    return Step("resumed", question=view.question, summary=view.summary,
                draft_id=existing.id, step=existing.step)  # fmt: skip


async def start_report(
    db: Database,
    now: dt.datetime,
    settings: Settings,
    account: Account,
    recipient_id: int | None = None,
    period: str | None = None,
) -> Step:
    """/lapor: resume the open draft, ask for the month, or open a new monthly draft."""
    role = _role(account)
    _consented(account)
    resumed = await _resume_open_draft(db, now, settings, account)
    if resumed is not None:
        return resumed
    if role == "recipient":
        recipient_id = account.recipient_id
    if recipient_id is None:
        raise ReportError("pick_recipient")
    await check_access(db, account, recipient_id)
    allowed = P.recent_periods(now, settings.tz, settings.reports.pick_months)
    if period is None:
        choices, reported = await report_periods(db, now, settings, recipient_id, role)
        # Asked which month when several are still missing, or when the open one is reported
        # (then every month is offered for a correction, the reported ones marked).
        missing = [p for p in choices if p not in reported]
        ask = len(missing) > 1 or (allowed[0] in reported and len(choices) > 1)
        if role == "recipient" and ask:
            return Step("pick_period", periods=choices, saved={"reported": sorted(reported)})
        period = allowed[0]
    if period not in allowed:
        raise ReportError("period_not_open", periods=allowed)
    previous = await _previous_answers(db, recipient_id, period, role)
    draft = await _create_draft(db, now, account, recipient_id, MONTHLY, period, role, previous)
    return await current_view(db, now, settings, draft)


async def report_periods(
    db: Database, now: dt.datetime, settings: Settings, recipient_id: int, role: str
) -> tuple[list[str], set[str]]:
    """The month picker: the open period, then every earlier one a person may still report or
    correct (newest first), and which of them are reported already."""
    row = await _recipient(db, recipient_id)
    first = _start_month(row, settings.tz)
    candidates = P.recent_periods(now, settings.tz, settings.reports.pick_months)
    reported = {
        r["period"]
        for r in await db.fetchall(
            "SELECT DISTINCT period FROM reports WHERE recipient_id = ? AND reporter_role = ?",
            (recipient_id, role),
        )
    }
    periods = [candidates[0]] + [p for p in candidates[1:] if p >= first]
    return periods, reported & set(periods)


async def _previous_answers(
    db: Database, recipient_id: int, period: str, role: str
) -> dict[str, Any] | None:
    """The answers of the latest report of that month by that role: a correction opens with
    them filled in (the summary, with "Ubah" per answer)."""
    raw = await db.fetchval(
        "SELECT answers FROM reports WHERE recipient_id = ? AND period = ? AND reporter_role = ?"
        " ORDER BY revision DESC LIMIT 1",
        (recipient_id, period, role),
    )
    return json.loads(raw) if raw else None


async def start_visit(
    db: Database, now: dt.datetime, settings: Settings, account: Account, recipient_id: int,
    form: str = VISIT,
) -> Step:  # fmt: skip
    """/kunjungan (or /kunjungan_graduasi, form GRADUATION): a visit form for one recipient
    of the facilitator's caseload."""
    if account.role != "facilitator":
        raise ReportError("not_allowed")
    _consented(account)
    resumed = await _resume_open_draft(db, now, settings, account)
    if resumed is not None:
        return resumed
    await check_access(db, account, recipient_id)
    if form not in (VISIT, GRADUATION):
        raise ReportError("not_allowed")
    draft = await _create_draft(db, now, account, recipient_id, form, None, "facilitator")
    return await current_view(db, now, settings, draft)


# --- answering -----------------------------------------------------------------------------------


async def _write_answers(
    db: Database, now: dt.datetime, draft: Draft, answers: dict[str, Any]
) -> Draft | None:
    """Save answers and bump the step, only if nobody moved the draft meanwhile."""
    q = next_question(draft.form, answers)
    changed = await db.update(
        "UPDATE report_drafts SET answers = ?, current_key = ?, step = step + 1,"
        " updated_at = ? WHERE id = ? AND step = ? AND status = 'open'",
        (json.dumps(answers), q.key if q else None, _iso(now), draft.id, draft.step),
    )
    if not changed:
        return None
    return replace(draft, answers=answers, step=draft.step + 1)


async def _close_draft(conn: Any, now: dt.datetime, draft: Draft) -> bool:
    """Inside the saving transaction: mark the draft saved, only if nobody moved it meanwhile
    (a double tap on Simpan, an answer from another device). False: it was moved."""
    cur = await conn.execute(
        "UPDATE report_drafts SET status = 'saved', step = step + 1, updated_at = ?"
        " WHERE id = ? AND step = ? AND status = 'open'",
        (_iso(now), draft.id, draft.step),
    )
    changed = cur.rowcount
    await cur.close()
    return changed > 0


async def _live_draft(
    db: Database, account: Account, draft_id: int | None, step: int | None
) -> Draft | Step:
    draft = await open_draft(db, account)
    if draft_id is not None and (draft is None or draft.id != draft_id or draft.step != step):
        return Step("stale")
    if draft is None:
        return Step("no_draft")
    return draft


async def answer(
    db: Database,
    now: dt.datetime,
    settings: Settings,
    account: Account,
    raw: Raw,
    draft_id: int | None = None,
    step: int | None = None,
) -> Step:
    """Apply one input to the open draft. A button carries (draft_id, step): stale ones are
    refused; a typed message answers whatever question is current."""
    _consented(account)
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    draft = found
    form = draft.form
    q = next_question(form, draft.answers)
    if q is None:
        view = await current_view(db, now, settings, draft)
        return Step("invalid", invalid=Invalid("use_summary_buttons"), summary=view.summary,
                    draft_id=draft.id, step=draft.step)  # fmt: skip
    result = apply_answer(
        form, draft.answers, q.key, raw,
        today=now.astimezone(settings.tz).date(),
        ceiling=settings.reports.amount_ceiling,
        max_photo_bytes=settings.reports.max_photo_bytes,
    )  # fmt: skip
    if isinstance(result, Invalid):
        return Step("invalid", invalid=result, question=_question_view(draft, q, settings),
                    draft_id=draft.id, step=draft.step)  # fmt: skip
    if isinstance(result, Clarify):
        return Step("clarify", clarify=result, question=_question_view(draft, q, settings),
                    draft_id=draft.id, step=draft.step)  # fmt: skip
    updated = await _write_answers(db, now, draft, result)
    if updated is None:
        return Step("stale")
    if updated.form_name in ("flag", "flag_count") and next_question(updated.form, result) is None:
        return await _save_flag_value(db, now, settings, account, updated)
    view = await current_view(db, now, settings, updated)
    value = result.get(q.key)
    typed = isinstance(raw, Text) and q.kind == Kind.AMOUNT and isinstance(value, int)
    if typed and looks_different(raw.text, value):  # "1jt500" -> Rp1.500.000: say how it was read
        return replace(view, echo={"key": q.key, "value": value})
    return view


async def edit_menu(db: Database, account: Account, draft_id: int, step: int) -> Step:
    """'Ubah' on the summary: the answered questions one may change."""
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    rows = summary(found.form, found.answers)
    return Step("edit_menu", edit_keys=[r.key for r in rows], draft_id=found.id, step=found.step)


async def edit_answer(
    db: Database, now: dt.datetime, settings: Settings, account: Account,
    draft_id: int, step: int, key: str,
) -> Step:  # fmt: skip
    """Forget one answer (and those computed from it) and ask it again."""
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    if key not in found.form.key_list():
        return Step("stale")
    updated = await _write_answers(db, now, found, forget(found.form, found.answers, key))
    if updated is None:
        return Step("stale")
    return await current_view(db, now, settings, updated)


async def back(
    db: Database, now: dt.datetime, settings: Settings, account: Account,
    draft_id: int | None = None, step: int | None = None,
) -> Step:  # fmt: skip
    """'Kembali' / /kembali: forget the answer given just before the current question and ask it
    again (at the summary: the last answer). At the first question it stays there."""
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    key = previous_key(found.form, found.answers)
    if key is None:
        return await current_view(db, now, settings, found)
    updated = await _write_answers(db, now, found, forget(found.form, found.answers, key))
    if updated is None:
        return Step("stale")
    return await current_view(db, now, settings, updated)


async def ask_cancel(db: Database, account: Account, draft_id: int | None = None,
                     step: int | None = None) -> Step:  # fmt: skip
    """/batal or 'Batal': ask for confirmation first."""
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    return Step("confirm_cancel", draft_id=found.id, step=found.step)


async def cancel(
    db: Database, now: dt.datetime, account: Account, draft_id: int, step: int
) -> Step:
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE report_drafts SET status = 'cancelled', updated_at = ? WHERE id = ?",
            (_iso(now), found.id),
        )
    return Step("cancelled")


async def resume(db: Database, now: dt.datetime, settings: Settings, account: Account) -> Step:
    """/lanjut: show the current question (or the summary) of the open draft."""
    draft = await open_draft(db, account)
    if draft is None:
        return Step("no_draft")
    return await current_view(db, now, settings, draft)


# --- saving --------------------------------------------------------------------------------------


def report_columns(programme: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The reports columns of migration 0003 computed from a complete monthly form."""
    form = form_for(MONTHLY, programme)
    a = effective_answers(form, answers)
    closed = a.get("status") == "tutup"
    other = a.get("other_income")
    photo = a.get("photo") or {}
    equipment = a.get("mj_machine", a.get("tb_equipment"))
    goats = None
    if "tk_adult" in a or "tk_kid" in a:
        goats = int(a.get("tk_adult") or 0) + int(a.get("tk_kid") or 0)
    # Goat sales are revenue (the revenue question asks for sales other than goats).
    sold_value = a.get("tk_sold_value") or 0
    revenue = 0 if closed else a.get("revenue")
    profit = profit_of(a)
    if sold_value:
        revenue = (revenue or 0) + sold_value
        profit = None if profit is None else profit + sold_value
    return {
        "business_status": a["status"],
        "revenue": revenue,
        "costs": 0 if closed else a.get("costs"),
        "profit": profit,
        "other_income": other,
        "household_size": a.get("household"),
        "has_savings": _bit(a.get("savings")),
        "savings_amount": a.get("savings_amount"),
        "keeps_books": _bit(a.get("books")),
        "income_sources": (0 if closed else 1) + (1 if (other or 0) > 0 else 0),
        "wants_help": _bit(a.get("help")),
        "equipment_ok": _bit(equipment),
        "goats": goats,
        "goats_born": a.get("tk_births"),
        "goats_died": a.get("tk_deaths"),
        "goats_sold": a.get("tk_sold"),
        "goats_sold_value": a.get("tk_sold_value"),
        "equipment_spend": None if closed else a.get("equipment_buy"),
        "photo_file_id": photo.get("file_id"),
        "photo_unique_id": photo.get("unique_id"),
    }


def _bit(value: Any) -> int | None:
    return None if value is None else int(bool(value))


async def save(
    db: Database, now: dt.datetime, settings: Settings, account: Account,
    draft_id: int, step: int,
) -> Step:  # fmt: skip
    """'Simpan': write the report (a new revision if one exists) or the visit, in one transaction."""
    _consented(account)
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    draft = found
    if next_question(draft.form, draft.answers) is not None:
        return await current_view(db, now, settings, draft)
    await check_access(db, account, draft.recipient_id)
    if draft.form_name in (VISIT, GRADUATION):
        step_saved = await _save_visit(db, now, account, draft)
        if step_saved.kind == "saved":
            await _rescore(db, now, settings, draft.recipient_id, None)
        return step_saved
    if draft.form_name != MONTHLY:
        return Step("stale")
    cols = report_columns(draft.programme, draft.answers)
    late = P.is_late(draft.period, now, settings.cycle.close_day, settings.tz)
    notices: list[Notice] = []
    flags: list[str] = []
    async with db.transaction() as conn:
        if not await _close_draft(conn, now, draft):
            return Step("stale")
        async with conn.execute(
            "SELECT coalesce(max(revision), 0) FROM reports WHERE recipient_id = ? AND period = ?"
            " AND reporter_role = ?",
            (draft.recipient_id, draft.period, draft.reporter_role),
        ) as c:
            revision = (await c.fetchone())[0] + 1
        names = list(cols)
        async with conn.execute(
            f"INSERT INTO reports (recipient_id, period, reporter_role, reporter_account_id,"
            f" revision, submitted_at, late, answers, {', '.join(names)})"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, {', '.join('?' for _ in names)})",
            (draft.recipient_id, draft.period, draft.reporter_role, account.id, revision,
             _iso(now), int(late), json.dumps(draft.answers), *cols.values()),
        ) as c:  # fmt: skip
            report_id = c.lastrowid
        flags = await _cross_check(conn, now, settings, draft, report_id, cols)
        if cols["wants_help"]:  # open until a visit closes it, whoever reported
            async with conn.execute(
                "SELECT id FROM report_flags WHERE recipient_id = ? AND kind = 'help_request'"
                " AND status = 'open'",
                (draft.recipient_id,),
            ) as c:
                already = await c.fetchone()
            if already is None:
                await _insert_flag(
                    conn,
                    now,
                    draft.recipient_id,
                    draft.period,
                    "help_request",
                    None,
                    report_id,
                    {"problem": draft.answers.get("problem")},
                )
                flags.append("help_request")  # fmt: skip
    await _rescore(db, now, settings, draft.recipient_id, draft.period)
    facilitator = await _facilitator_account(db, draft.recipient_id)
    if facilitator is not None and facilitator["id"] != account.id:
        base = {"recipient_name": draft.recipient_name, "period": draft.period}
        if "help_request" in flags:
            notices.append(Notice(facilitator["chat_id"], "notice_help_request",
                                  {**base, "problem": draft.answers.get("problem"),
                                   "problem_text": draft.answers.get("problem_text")},
                                  facilitator["language"], key=f"report:{report_id}",
                                  account_id=facilitator["id"], urgent=True))  # fmt: skip
        checks = [f for f in flags if f != "help_request"]
        if checks:
            notices.append(Notice(facilitator["chat_id"], "notice_flags",
                                  {**base, "kinds": checks}, facilitator["language"],
                                  key=f"report:{report_id}",
                                  account_id=facilitator["id"]))  # fmt: skip
    return Step(
        "saved",
        saved={"kind": MONTHLY, "report_id": report_id, "revision": revision, "late": late,
               "period": draft.period, "recipient_name": draft.recipient_name,
               "flags": [f for f in flags if f != "help_request"],
               "help": "help_request" in flags, "on_behalf": draft.reporter_role == "facilitator",
               "profit": cols["profit"]},
        notices=notices,
    )  # fmt: skip


async def _rescore(
    db: Database, now: dt.datetime, settings: Settings, recipient_id: int, period: str | None
) -> None:
    """Scoring: a saved report or visit updates the recipient's readiness score and risks.

    The report is already committed; a scoring problem is logged, never shown as a failed
    report."""
    from bot.services import scoring

    try:
        await scoring.recompute_recipient(db, settings, recipient_id, now, period)
    except Exception as exc:  # noqa: BLE001 - the report itself is saved
        log.warning("event=rescore_failed recipient_id=%s error=%s", recipient_id,
                    type(exc).__name__)  # fmt: skip


async def _facilitator_account(db: Database, recipient_id: int) -> Any:
    return await db.fetchone(
        "SELECT a.id, a.chat_id, a.language FROM accounts a JOIN recipients r"
        " ON r.facilitator_id = a.facilitator_id WHERE r.id = ? AND a.role = 'facilitator'",
        (recipient_id,),
    )


async def _insert_flag(
    conn: Any, now: dt.datetime, recipient_id: int, period: str | None, kind: str,
    field_name: str | None, report_id: int | None, details: dict[str, Any],
) -> None:  # fmt: skip
    await conn.execute(
        "INSERT INTO report_flags (recipient_id, period, kind, field, report_id, details,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (recipient_id, period, kind, field_name, report_id, json.dumps(details), _iso(now)),
    )


async def _one(conn: Any, sql: str, params: Sequence[Any]) -> Any:
    async with conn.execute(sql, params) as cur:
        return await cur.fetchone()


async def _has_open_flag(conn: Any, recipient_id: int, period: str, kind: str) -> bool:
    row = await _one(
        conn,
        "SELECT 1 FROM report_flags WHERE recipient_id = ? AND period = ? AND kind = ?"
        " AND status = 'open'",
        (recipient_id, period, kind),
    )
    return row is not None


def _differs(a: int | None, b: int | None, share: float) -> bool:
    if a is None or b is None:
        return False
    top = max(abs(a), abs(b))
    return top > 0 and abs(a - b) / top > share


async def _cross_check(
    conn: Any, now: dt.datetime, settings: Settings, draft: Draft, report_id: int,
    cols: dict[str, Any],
) -> list[str]:  # fmt: skip
    """Raise mismatch / jump / reused-photo flags for a report just written; return kinds."""
    raised: list[str] = []
    rid, period = draft.recipient_id, draft.period
    other_role = "facilitator" if draft.reporter_role == "recipient" else "recipient"
    other = await _one(
        conn,
        "SELECT id, profit, goats FROM reports WHERE recipient_id = ? AND period = ?"
        " AND reporter_role = ? ORDER BY revision DESC LIMIT 1",
        (rid, period, other_role),
    )
    if other is not None:
        mine = {"recipient": None, "facilitator": None}
        for kind, column in (("mismatch_income", "profit"), ("mismatch_goats", "goats")):
            mine[draft.reporter_role] = cols[column]
            mine[other_role] = other[column]
            share = settings.reports.mismatch_share
            if _differs(mine["recipient"], mine["facilitator"], share) and (
                not await _has_open_flag(conn, rid, period, kind)
            ):
                await _insert_flag(conn, now, rid, period, kind, column, report_id,
                                       dict(mine))  # fmt: skip
                raised.append(kind)
    prev = await _one(
        conn,
        "SELECT profit FROM reports WHERE recipient_id = ? AND period = ?"
        " ORDER BY (reporter_role = 'recipient') DESC, revision DESC LIMIT 1",
        (rid, P.prev_period(period)),
    )
    profit = cols["profit"]
    if (
        prev is not None and prev["profit"] is not None and prev["profit"] > 0
        and profit is not None and profit > settings.reports.jump_factor * prev["profit"]
        and not await _has_open_flag(conn, rid, period, "jump")
    ):  # fmt: skip
        await _insert_flag(conn, now, rid, period, "jump", "profit", report_id,
                           {"previous": prev["profit"], "current": profit})  # fmt: skip
        raised.append("jump")
    unique = cols["photo_unique_id"]
    if unique:
        same = await _one(
            conn,
            "SELECT recipient_id, period FROM reports WHERE photo_unique_id = ? AND id != ?"
            " AND (recipient_id != ? OR period != ?) ORDER BY id LIMIT 1",
            (unique, report_id, rid, period),
        )
        if same is not None and not await _has_open_flag(conn, rid, period, "photo_reused"):
            await _insert_flag(conn, now, rid, period, "photo_reused", None, report_id,
                               {"other_recipient_id": same["recipient_id"],
                                "other_period": same["period"]})  # fmt: skip
            raised.append("photo_reused")
    return raised


async def _save_visit(db: Database, now: dt.datetime, account: Account, draft: Draft) -> Step:
    a = effective_answers(draft.form, draft.answers)
    photo = a.get("v_photo") or {}
    async with db.transaction() as conn:
        if not await _close_draft(conn, now, draft):
            return Step("stale")
        async with conn.execute(
            "INSERT INTO visits (recipient_id, facilitator_id, account_id, visit_date,"
            " business_running, score_bookkeeping, score_quality, score_market, score_motivation,"
            " notes, photo_file_id, photo_unique_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (draft.recipient_id, account.facilitator_id, account.id, a["v_date"],
             _bit(a.get("v_running")), a.get("v_bookkeeping"), a.get("v_quality"),
             a.get("v_market"), a.get("v_motivation"), a.get("v_notes"), photo.get("file_id"),
             photo.get("unique_id"), _iso(now)),
        ) as c:  # fmt: skip
            visit_id = c.lastrowid
        if draft.form_name == GRADUATION:
            await conn.executemany(
                "INSERT INTO graduation_checks (recipient_id, visit_id, account_id, item, met,"
                " amount, checked_on, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(draft.recipient_id, visit_id, account.id, item, _bit(met), amount,
                  a["v_date"], _iso(now)) for item, met, amount in checklist_answers(a)],
            )  # fmt: skip
        cur = await conn.execute(
            "UPDATE report_flags SET status = 'resolved', resolved_by = ?, resolved_at = ?,"
            " details = json_set(coalesce(details, '{}'), '$.visit_id', ?)"
            " WHERE recipient_id = ? AND kind = 'help_request' AND status = 'open'",
            (account.id, _iso(now), visit_id, draft.recipient_id),
        )
        closed = cur.rowcount
        await cur.close()
    return Step("saved", saved={"kind": draft.form_name, "visit_id": visit_id, "help_closed": closed,
                                "recipient_name": draft.recipient_name, "date": a["v_date"]})  # fmt: skip


# --- facilitator: caseload and flags -------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    recipient_id: int
    name: str
    desa: str
    programme: str
    state: str  # 'reported' | 'draft' | 'missing'
    late: bool
    help_open: bool


@dataclass(frozen=True)
class FlagView:
    id: int
    kind: str
    field: str | None
    recipient_id: int
    recipient_name: str
    period: str | None
    details: dict[str, Any]
    options: list[tuple[str, int | None]]  # (label key, value) buttons; value None = "checked"


@dataclass(frozen=True)
class CaseloadPage:
    period: str
    rows: list[CaseRow]
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    flags: list[FlagView]


def _facilitator(account: Account) -> int:
    if account.role != "facilitator" or account.facilitator_id is None:
        raise ReportError("facilitator_only")
    return account.facilitator_id


async def caseload(
    db: Database, now: dt.datetime, settings: Settings, account: Account, page: int = 0
) -> CaseloadPage:
    """/daftar: the facilitator's active recipients for the open period, by desa, paged."""
    fid = _facilitator(account)
    period = P.period_of(now, settings.tz)
    cases = await _case_rows(db, period, fid)
    flags = await open_flags(db, account)
    return _page(period, cases, page, settings.reports.page_size, flags)


def _page(
    period: str, cases: list[CaseRow], page: int, size: int, flags: list[FlagView]
) -> CaseloadPage:
    pages = max(1, -(-len(cases) // size))
    page = min(max(page, 0), pages - 1)
    counts = {s: sum(1 for c in cases if c.state == s) for s in ("reported", "draft", "missing")}
    return CaseloadPage(period, cases[page * size : (page + 1) * size], page, pages, len(cases),
                        counts, flags)  # fmt: skip


async def _case_rows(db: Database, period: str, fid: int) -> list[CaseRow]:
    rows = await db.fetchall(
        "SELECT r.id, r.name, coalesce(d.name, '-') AS desa, r.programme,"
        " (SELECT max(late) FROM reports x WHERE x.recipient_id = r.id AND x.period = ?) AS late,"
        " (SELECT count(*) FROM reports x WHERE x.recipient_id = r.id AND x.period = ?) AS n,"
        " (SELECT count(*) FROM report_drafts x WHERE x.recipient_id = r.id AND x.period = ?"
        "   AND x.status = 'open' AND x.form = 'monthly') AS drafts,"
        " (SELECT count(*) FROM report_flags f WHERE f.recipient_id = r.id"
        "   AND f.kind = 'help_request' AND f.status = 'open') AS help"
        " FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id"
        " WHERE r.facilitator_id = ? AND r.status = 'active' ORDER BY desa, r.name, r.id",
        (period, period, period, fid),
    )
    return [
        CaseRow(r["id"], r["name"], r["desa"], r["programme"],
                "reported" if r["n"] else "draft" if r["drafts"] else "missing",
                bool(r["late"]), bool(r["help"]))
        for r in rows
    ]  # fmt: skip


def _flag_options(kind: str, details: dict[str, Any]) -> list[tuple[str, int | None]]:
    if kind.startswith("mismatch"):
        return [("use_recipient", details.get("recipient")),
                ("use_facilitator", details.get("facilitator"))]  # fmt: skip
    if kind == "jump":
        return [("use_current", details.get("current"))]
    return [("checked", None)]


async def open_flags(db: Database, account: Account) -> list[FlagView]:
    """Open cross-check flags (not help requests: a visit closes those) of the caseload."""
    fid = _facilitator(account)
    rows = await db.fetchall(
        "SELECT f.id, f.kind, f.field, f.recipient_id, r.name, f.period, f.details"
        " FROM report_flags f JOIN recipients r ON r.id = f.recipient_id"
        " WHERE r.facilitator_id = ? AND f.status = 'open' AND f.kind != 'help_request'"
        " ORDER BY f.id",
        (fid,),
    )
    return [_flag_view(r) for r in rows]


def _flag_view(r: Any) -> FlagView:
    details = json.loads(r["details"] or "{}")
    return FlagView(r["id"], r["kind"], r["field"], r["recipient_id"], r["name"], r["period"],
                    details, _flag_options(r["kind"], details))  # fmt: skip


async def flag_detail(db: Database, account: Account, flag_id: int) -> FlagView:
    fid = _facilitator(account)
    row = await db.fetchone(
        "SELECT f.id, f.kind, f.field, f.recipient_id, r.name, f.period, f.details, f.status,"
        " r.facilitator_id FROM report_flags f JOIN recipients r ON r.id = f.recipient_id"
        " WHERE f.id = ?",
        (flag_id,),
    )
    if row is None or row["facilitator_id"] != fid:
        raise ReportError("not_allowed")
    if row["status"] != "open":
        raise ReportError("flag_closed")
    if row["kind"] == "help_request":  # closed by a visit; never offered as a flag button
        raise ReportError("stale")
    return _flag_view(row)


async def resolve_flag(
    db: Database, now: dt.datetime, settings: Settings, account: Account, flag_id: int,
    option: int,
) -> FlagView:  # fmt: skip
    """Confirm one of the flag's offered values (index into FlagView.options); the
    recipient's score is recomputed with the verified value."""
    _consented(account)
    flag = await flag_detail(db, account, flag_id)
    if not 0 <= option < len(flag.options):
        raise ReportError("stale")
    await _resolve(db, now, account, flag_id, flag.options[option][1])
    await _rescore(db, now, settings, flag.recipient_id, flag.period)
    return flag


async def _resolve(
    db: Database, now: dt.datetime, account: Account, flag_id: int, value: int | None
) -> None:
    await db.execute(
        "UPDATE report_flags SET status = 'resolved', resolved_value = ?, resolved_by = ?,"
        " resolved_at = ? WHERE id = ? AND status = 'open'",
        (value, account.id, _iso(now), flag_id),
    )


async def start_flag_value(
    db: Database, now: dt.datetime, settings: Settings, account: Account, flag_id: int
) -> Step:
    """'Ketik nilai lain': a one-question draft for the verified value."""
    _consented(account)
    flag = await flag_detail(db, account, flag_id)
    if await open_draft(db, account) is not None:
        raise ReportError("draft_open")
    form = "flag_count" if flag.field == "goats" else "flag"
    draft = await _create_draft(db, now, account, flag.recipient_id, form, flag.period,
                                "facilitator", {"_flag_id": flag_id})  # fmt: skip
    return await current_view(db, now, settings, draft)


async def _save_flag_value(
    db: Database, now: dt.datetime, settings: Settings, account: Account, draft: Draft
) -> Step:
    value = draft.answers.get("verified", draft.answers.get("verified_count"))
    flag_id = int(draft.answers["_flag_id"])
    flag = await flag_detail(db, account, flag_id)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE report_drafts SET status = 'saved', updated_at = ? WHERE id = ?",
            (_iso(now), draft.id),
        )
        await conn.execute(
            "UPDATE report_flags SET status = 'resolved', resolved_value = ?, resolved_by = ?,"
            " resolved_at = ? WHERE id = ? AND status = 'open'",
            (value, account.id, _iso(now), flag_id),
        )
    await _rescore(db, now, settings, flag.recipient_id, flag.period)  # the verified value
    return Step("saved", saved={"kind": "flag", "flag_id": flag_id, "value": value,
                                "field": flag.field, "recipient_name": flag.recipient_name})  # fmt: skip


async def caseload_choices(
    db: Database, now: dt.datetime, settings: Settings, account: Account, page: int = 0
) -> CaseloadPage:
    """Recipients a facilitator may pick (for /lapor on behalf and /kunjungan): not reported
    yet first, then the rest; same paging as /daftar."""
    fid = _facilitator(account)
    _consented(account)
    period = P.period_of(now, settings.tz)
    order = {"missing": 0, "draft": 1, "reported": 2}
    cases = sorted(await _case_rows(db, period, fid),
                   key=lambda c: (order[c.state], c.desa, c.name, c.recipient_id))  # fmt: skip
    return _page(period, cases, page, settings.reports.page_size, [])
