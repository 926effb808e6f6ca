"""A facilitator's caseload (/daftar and the recipient picker) and the cross-check flags:
listing open flags, confirming an offered value, or typing the verified one."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.services.accounts import Account
from bot.services.report_core import (
    Draft,
    ReportError,
    Step,
    _consented,
    _create_draft,
    _iso,
    _rescore,
    current_view,
    open_draft,
)

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
    """One open flag of the facilitator's caseload, with the values to choose from."""
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
