"""Report drafts: opening, resuming and answering the forms (the form state machine).

/lapor, /kunjungan and /kunjungan_graduasi open a draft (or resume the open one); each input
moves it one step (answer, edit, back, cancel). Saving lives in bot.services.report_saving.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.domain.forms import (
    Clarify,
    Invalid,
    Kind,
    Photo,
    Raw,
    Text,
    apply_answer,
    forget,
    next_question,
    not_an_answer,
    previous_key,
    summary,
)
from bot.domain.money import looks_different
from bot.services.accounts import Account
from bot.services.report_core import (
    GRADUATION,
    MONTHLY,
    VISIT,
    ReportError,
    Step,
    _consented,
    _create_draft,
    _iso,
    _live_draft,
    _question_view,
    _recipient,
    _role,
    _write_answers,
    check_access,
    current_view,
    open_draft,
)
from bot.services.report_flags import _save_flag_value

# --- starting ------------------------------------------------------------------------------------


async def first_period(db: Database, settings: Settings, recipient_id: int) -> str:
    """The first month a recipient reports on (the month picker and /riwayat start there)."""
    return _start_month(await _recipient(db, recipient_id), settings.tz)


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
    periods, reported = await report_periods(db, now, settings, recipient_id, role)
    return periods[:1] + [p for p in periods[1:] if p not in reported]


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
    if role == "recipient" and account.recipient_id is not None:
        # a graduated family's monthly reports ended (check-ins come instead; told before
        # any consent question); reopened mentoring makes it active again
        status = (await _recipient(db, account.recipient_id))["status"]
        if status in ("graduated", "ended"):
            raise ReportError(status)
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
    attachment = form.attachment()
    if q is None and isinstance(raw, Photo) and attachment is not None:
        q = attachment  # the report's photo may still be sent at the summary
    # A family's message typed at a button (or the summary) is not lost: it goes to the
    # facilitator like any message outside the report, and the report waits ("forward").
    message = isinstance(raw, Text) and account.role == "recipient" and draft.form_name == MONTHLY
    if q is None:
        view = await current_view(db, now, settings, draft)
        if message and isinstance(raw, Text) and _meaningful_text(raw.text):
            return replace(view, kind="forward")
        return Step("invalid", invalid=Invalid("use_summary_buttons"), summary=view.summary,
                    draft_id=draft.id, step=draft.step)  # fmt: skip
    result = apply_answer(
        form, draft.answers, q.key, raw,
        today=now.astimezone(settings.tz).date(),
        ceiling=settings.reports.amount_ceiling,
        max_photo_bytes=settings.reports.max_photo_bytes,
    )  # fmt: skip
    if (
        isinstance(result, Invalid)
        and message
        and isinstance(raw, Text)
        and not_an_answer(q, raw.text)
    ):
        return Step("forward", question=_question_view(draft, q, settings),
                    draft_id=draft.id, step=draft.step)  # fmt: skip
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
    if isinstance(raw, Photo) and (q.attached or q.kind != Kind.PHOTO):
        return replace(view, note="photo_attached")
    if isinstance(raw, Text) and q.kind == Kind.PHOTO and q.text_to:
        return replace(view, note="note_kept")
    value = result.get(q.key)
    # Spelled out in the condition itself so the types narrow (raw is Text, value an int).
    if (
        isinstance(raw, Text)
        and q.kind == Kind.AMOUNT
        and isinstance(value, int)
        and not (q.pair and q.pair in result and q.pair not in draft.answers)  # a pair: shown
        # whole by the next question
        and looks_different(raw.text, value)
    ):
        # "1jt500" -> Rp1.500.000: say how it was read
        return replace(view, echo={"key": q.key, "value": value})
    return view


def _meaningful_text(text: str) -> bool:
    return any(c.isalnum() for c in text)


async def edit_menu(db: Database, account: Account, draft_id: int, step: int) -> Step:
    """'Ubah' on the summary: the answered questions one may change."""
    found = await _live_draft(db, account, draft_id, step)
    if isinstance(found, Step):
        return found
    rows = summary(found.form, found.answers)
    keys = [r.key for r in rows if not found.form.question(r.key).attached]
    return Step("edit_menu", edit_keys=keys, draft_id=found.id, step=found.step)


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
    """Cancel the live draft at this step (a stale button changes nothing)."""
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
