"""Monthly reports and visits: the shared core of the report conversation.

Conversation state is data: a person's progress is one open row in report_drafts (answers as
JSON, a `step` bumped at every answer). Every function loads the draft, decides, writes, and
returns a plain view object that a handler renders; nothing is kept in process memory.

Access (checked here, not in handlers): a recipient reports only for themself; a facilitator
only for recipients in their caseload (recipients.facilitator_id); other roles may not report.

This module holds what every part needs: the views returned to handlers (Step, QuestionView,
SummaryView, Notice), ReportError, loading and access checks, the question/summary views and
the guarded draft writes. The jobs built on it: bot.services.report_drafts (the form state
machine), bot.services.report_saving (save and cross-checks), bot.services.report_flags
(caseload and flags); bot.services.reports is their public face.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field, replace
from typing import Any

from bot.config import Settings
from bot.db import Database, IntegrityError
from bot.domain import periods as P
from bot.domain.forms import (
    Clarify,
    Form,
    Invalid,
    Kind,
    Question,
    SummaryRow,
    computed_profit,
    form_for,
    next_question,
    number_buttons,
    profit_of,
    progress,
    summary,
)
from bot.services.access import ConsentNeeded, require_consent
from bot.services.accounts import Account

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
    no_draft | edit_menu | confirm_cancel | cancelled | saved | pick_period | resumed |
    forward (a family's message, not an answer: pass it on, then the question again)."""

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
    # kept on the side without answering the question: 'photo_attached' (the report's
    # optional photo) or 'note_kept' (text typed where a photo is asked)
    note: str | None = None


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
        ctx["correction"] = bool(
            await db.fetchval(
                "SELECT count(*) FROM reports WHERE recipient_id = ? AND period = ?"
                " AND reporter_role = ?",
                (draft.recipient_id, draft.period, draft.reporter_role),
            )
        )
        # A correction is not a late report: it keeps the first report's mark (saving).
        ctx["late"] = not ctx["correction"] and P.is_late(
            draft.period, now, settings.cycle.close_day, settings.tz
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


# --- draft writes (guarded by the step) ---------------------------------------------------------


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
    except IntegrityError:
        pass  # another update opened one a moment ago: use that one
    draft = await open_draft(db, account)
    assert draft is not None
    return draft


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


# --- scoring -------------------------------------------------------------------------------------


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
