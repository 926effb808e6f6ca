"""Saving a finished draft: the monthly report (a new revision, marked late after the close
day) or the visit, in one transaction, with the cross-check flags raised on save.

Who says what to whom outside the current chat (a help request to the facilitator, new flags)
comes back as `Notice` rows in the result; the handler plans them in the outbox through one
function (handlers.reports.notify -> bot.services.notices.enqueue_notices).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.domain.forms import (
    EQUIPMENT_KEYS,
    checklist_answers,
    effective_answers,
    form_for,
    monthly_facts,
    next_question,
    profit_of,
)
from bot.services.accounts import Account
from bot.services.read_model import COUNTING_ORDER_DESC
from bot.services.report_core import (
    GRADUATION,
    MONTHLY,
    VISIT,
    Draft,
    Notice,
    Step,
    _close_draft,
    _consented,
    _iso,
    _live_draft,
    _rescore,
    check_access,
    current_view,
)

# --- saving --------------------------------------------------------------------------------------


def report_columns(programme: str, answers: dict[str, Any]) -> dict[str, Any]:
    """The reports columns of migration 0003 computed from a complete monthly form."""
    form = form_for(MONTHLY, programme)
    a = effective_answers(form, answers)
    facts = monthly_facts(a)
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
        "has_savings": _bit(facts["savings"]),
        "savings_amount": a.get("savings_amount"),
        "keeps_books": _bit(facts["books"]),
        "income_sources": (0 if closed else 1) + (1 if (other or 0) > 0 else 0),
        "wants_help": _bit(facts["help"]),
        "equipment_ok": _bit(equipment),
        "goats": goats,
        "goats_born": facts["tk_births"],
        "goats_died": facts["tk_deaths"],
        "goats_sold": facts["tk_sold"],
        "goats_sold_value": a.get("tk_sold_value"),
        "equipment_spend": None if closed else facts["equipment_buy"],
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
    # start_report always opens a monthly draft for a month (it refuses without one).
    assert draft.period is not None, "a monthly draft always names its period"
    cols = report_columns(draft.programme, draft.answers)
    if cols["equipment_ok"] is None and draft.programme in EQUIPMENT_KEYS:
        cols["equipment_ok"] = await _equipment_known(db, draft.recipient_id, draft.period)
    late = P.is_late(draft.period, now, settings.cycle.close_day, settings.tz)
    notices: list[Notice] = []
    flags: list[str] = []
    async with db.transaction() as conn:
        if not await _close_draft(conn, now, draft):
            return Step("stale")
        async with conn.execute(
            "SELECT coalesce(max(revision), 0), max(CASE WHEN revision = 1 THEN late END)"
            " FROM reports WHERE recipient_id = ? AND period = ? AND reporter_role = ?",
            (draft.recipient_id, draft.period, draft.reporter_role),
        ) as c:
            top = await c.fetchone()
        assert top is not None, "an aggregate query always returns one row"
        revision = top[0] + 1
        if revision > 1:  # a correction keeps the first report's mark; it is not late itself
            late = bool(top[1])
        names = list(cols)
        async with conn.execute(
            f"INSERT INTO reports (recipient_id, period, reporter_role, reporter_account_id,"
            f" revision, submitted_at, late, answers, {', '.join(names)})"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, {', '.join('?' for _ in names)})",
            (draft.recipient_id, draft.period, draft.reporter_role, account.id, revision,
             _iso(now), int(late), json.dumps(draft.answers), *cols.values()),
        ) as c:  # fmt: skip
            report_id = c.lastrowid
        assert report_id is not None, "sqlite sets lastrowid after a successful INSERT"
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


async def _equipment_known(db: Database, recipient_id: int, period: str) -> int:
    """The equipment state when the family said it did not change: the latest one reported
    for an earlier month (counting report first), else 1 (the starter package was handed
    over in working order)."""
    value = await db.fetchval(
        "SELECT equipment_ok FROM reports WHERE recipient_id = ? AND period < ?"
        f" AND equipment_ok IS NOT NULL ORDER BY period DESC, {COUNTING_ORDER_DESC} LIMIT 1",
        (recipient_id, period),
    )
    return 1 if value is None else int(value)


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
    assert period is not None, "cross-checks run on monthly reports, which name their period"
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
        # The visit's id goes into each flag's JSON here, not with SQLite's json_set, so the
        # statement is the same on PostgreSQL.
        async with conn.execute(
            "SELECT id, details FROM report_flags"
            " WHERE recipient_id = ? AND kind = 'help_request' AND status = 'open'",
            (draft.recipient_id,),
        ) as cur:
            flags = list(await cur.fetchall())
        closed = 0
        for flag in flags:
            details = json.loads(flag["details"] or "{}")
            details["visit_id"] = visit_id
            cur = await conn.execute(
                "UPDATE report_flags SET status = 'resolved', resolved_by = ?, resolved_at = ?,"
                " details = ? WHERE id = ? AND status = 'open'",
                (account.id, _iso(now), json.dumps(details), flag["id"]),
            )
            closed += cur.rowcount
            await cur.close()
    return Step("saved", saved={"kind": draft.form_name, "visit_id": visit_id, "help_closed": closed,
                                "recipient_name": draft.recipient_name, "date": a["v_date"],
                                "recipient_id": draft.recipient_id})  # fmt: skip
