"""Queries that feed the digests (bot/domain/digest.py) and the export (bot/export.py).

Reads only; every function takes the database and the period ('YYYY-MM') explicitly, and a
`Scope` (kecamatan codes, or a facilitator's caseload) so staff scoped to one kecamatan never
see another's rows.

Who is expected to report in period P: recipients whose hand-over date (or, when unknown, the
day their record was created) is on or before the last day of P and who were active throughout
P's reporting window: status 'active', or changed away from it only at or after P's close
(EXPECTED_SQL; so the monthly report built after the close still counts those it ended).

Scores (migration 0005): the latest period <= P per recipient; within it the row of the
current model version when `settings` are given, else the most recently computed row.
`components` JSON: see bot.domain.scoring.component_dicts (lists, or objects in older rows).
graduation_candidate_ids(). Flags: open report_flags plus `risk_flags` of the last two periods.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bot.config import Settings
from bot.db import Database, OperationalError
from bot.domain.digest import (
    BAND_READY,
    STATUS_DRAFT,
    STATUS_REPORTED,
    STATUS_SILENT,
    MonthlyReport,
    RecipientSnapshot,
    RiskFlag,
    Scope,
    StaffDigest,
    last_periods,
    monthly_report,
    staff_digest,
)
from bot.domain.periods import prev_period
from bot.domain.scoring import component_dicts
from bot.export import (
    FLAGS,
    RECIPIENTS,
    REPORTS,
    VISITS,
    ExportWriter,
    FlagRow,
    RecipientRow,
    ReportRow,
    VisitRow,
)
from bot.services import read_model

log = logging.getLogger("pendamping.digest")

FETCH_CHUNK = 10_000

# Sources: scores from migration 0005 (the current model version's row of the latest period
# per recipient), score risk flags from `risk_flags` besides report_flags; graduation: cases
# confirmed by a facilitator await staff's decision (`candidate`), the graduation service's
# candidates without such a case (band 'siap' under the current model) await the
# facilitator's visit (`ready`); "new" flags are those created since the previous digest to
# the chat (digest_runs, 0006; bot/services/digest_schedule.py passes `since`). Reach: no
# account = unlinked, account reachable = 0 = unreachable. Definitions: docs/digests.md.

PERIOD_STATUS_LABEL = {
    STATUS_REPORTED: "sudah lapor",
    STATUS_DRAFT: "mengisi",
    STATUS_SILENT: "belum lapor",
}


class RegionError(ValueError):
    """An unknown kecamatan, or one without recipients; the message is for the person."""


@dataclass(frozen=True)
class Kecamatan:
    code: str
    name: str


@dataclass
class ExportResult:
    paths: list[Path]
    counts: dict[str, int] = field(default_factory=dict)
    has_reports: bool = False


# --- small helpers ------------------------------------------------------------------------------


def period_bounds(period: str) -> tuple[str, str]:
    """First day of the period's month and first day of the next month ('YYYY-MM-DD')."""
    (start,) = last_periods(period, 1)
    year, month = (int(x) for x in start.split("-"))
    nxt = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return f"{start}-01", f"{nxt}-01"


def _scope_sql(scope: Scope, alias: str = "rc") -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    if scope.kecamatan_codes is not None:
        codes = sorted(scope.kecamatan_codes)
        if not codes:
            return " AND 0", []
        parts.append(f"{alias}.kecamatan_code IN ({','.join('?' * len(codes))})")
        params.extend(codes)
    if scope.facilitator_id is not None:
        parts.append(f"{alias}.facilitator_id = ?")
        params.append(scope.facilitator_id)
    return "".join(f" AND {p}" for p in parts), params


def _yes_no(value: Any) -> str | None:
    if value is None:
        return None
    return _ya_tidak(value)


def _ya_tidak(value: Any) -> str:
    """'ya' or 'tidak' for a value known to be present (NOT NULL column or checked)."""
    return "ya" if value else "tidak"


async def _chunks(db: Database, sql: str, params: Sequence[Any]) -> AsyncIterator[list[Any]]:
    """Lists of plain tuples from a SELECT, FETCH_CHUNK at a time (the hot loops iterate a
    list synchronously: an async step per row would cost more than the row itself)."""
    async with db.conn.execute(sql, params) as cur:
        cur.row_factory = None  # tuples: this cursor only, the connection keeps its Row factory
        # The next chunk is fetched (in aiosqlite's thread) while the caller works on this one.
        pending = asyncio.ensure_future(cur.fetchmany(FETCH_CHUNK))
        try:
            while True:
                # aiosqlite types fetchmany as Iterable[Row]; sqlite3 returns a list, and
                # row_factory None makes its items plain tuples.
                rows = cast(list[Any], await pending)
                if not rows:
                    break
                pending = asyncio.ensure_future(cur.fetchmany(FETCH_CHUNK))
                yield rows
        finally:
            if not pending.done():
                with contextlib.suppress(Exception):
                    await pending


async def _stream(db: Database, sql: str, params: Sequence[Any]) -> AsyncIterator[Any]:
    """Rows (plain tuples) of a SELECT, fetched in chunks so a large result never sits in
    memory at once."""
    async with db.conn.execute(sql, params) as cur:
        cur.row_factory = None  # tuples: this cursor only, the connection keeps its Row factory
        while True:
            rows = await cur.fetchmany(FETCH_CHUNK)
            if not rows:
                break
            for row in rows:
                yield row


async def table_exists(db: Database, name: str) -> bool:
    """Whether the database has this table."""
    return await db.has_table(name)


# --- regions and periods ------------------------------------------------------------------------


async def resolve_kecamatan(db: Database, wanted: Sequence[str]) -> list[Kecamatan]:
    """Kecamatan by code ('33.28.06') or name (any case); RegionError names the unknown one."""
    rows = await db.fetchall("SELECT code, name FROM kecamatan ORDER BY name")
    by_key = {}
    for r in rows:
        by_key[r["code"]] = Kecamatan(r["code"], r["name"])
        by_key[r["name"].casefold()] = Kecamatan(r["code"], r["name"])
    found = []
    for text in wanted:
        k = by_key.get(text.strip()) or by_key.get(text.strip().casefold())
        if k is None:
            names = ", ".join(r["name"] for r in rows)
            raise RegionError(f"kecamatan {text!r} is not known; known: {names}")
        if k not in found:
            found.append(k)
    return found


async def count_recipients(db: Database, scope: Scope) -> int:
    """How many recipients the scope holds, whatever their status."""
    where, params = _scope_sql(scope)
    return await db.fetchval(f"SELECT count(*) FROM recipients rc WHERE 1 = 1{where}", params)


@dataclass(frozen=True)
class PeriodIssue:
    """Why a period cannot be reported on: 'invalid', 'future', 'no_recipients' or
    'before_handover' (no reports, and it ends before the first hand-over)."""

    code: str
    period: str
    first_handover: str | None = None


async def period_check(
    db: Database, period: str, now: dt.datetime, tz: dt.tzinfo
) -> PeriodIssue | None:
    """None when the period exists (it has reports, or it started after the first hand-over)."""
    try:
        start, end = period_bounds(period)
    except ValueError:
        return PeriodIssue("invalid", period)
    today = now.astimezone(tz).date().isoformat()
    if start > today:
        return PeriodIssue("future", period)
    if await db.fetchval("SELECT 1 FROM reports WHERE period = ? LIMIT 1", (period,)):
        return None
    first = await db.fetchval(
        "SELECT min(COALESCE(handover_date, substr(created_at, 1, 10))) FROM recipients"
    )
    if first is None:
        return PeriodIssue("no_recipients", period)
    if first >= end:
        return PeriodIssue("before_handover", period, first)
    return None


async def period_problem(db: Database, period: str, now: dt.datetime, tz: dt.tzinfo) -> str | None:
    """period_check() in words for the CLI (English, one line); None when the period exists."""
    issue = await period_check(db, period, now, tz)
    if issue is None:
        return None
    return {
        "invalid": f"{period!r} is not a period; use YYYY-MM, e.g. 2024-01",
        "future": f"period {period} has not started yet",
        "no_recipients": f"period {period} does not exist: there are no recipients yet",
        "before_handover": (
            f"period {period} does not exist: it has no reports and ends before the first "
            f"hand-over ({issue.first_handover})"
        ),
    }[issue.code]


# Who is expected to report in a period (parameters: the period's close, its end): handed over
# by the end of the period, and active throughout its reporting window: active now, or changed
# away from 'active' (mentoring ended at the close, graduated, paused) only at or after the
# period's close. So a digest built after the close, when the cycle has already ended the
# mentoring of those whose last period it was, still counts them.
EXPECTED_SQL = (
    "(rc.status = 'active' OR rc.status_changed_at >= ?)"
    " AND COALESCE(rc.handover_date, substr(rc.created_at, 1, 10)) < ?"
)


async def period_closed_at(db: Database, period: str, settings: Settings | None = None) -> str:
    """When the period closed (cycle_periods.closed_at), else its scheduled close (UTC ISO)."""
    closed = None
    if await table_exists(db, "cycle_periods"):
        closed = await db.fetchval(
            "SELECT closed_at FROM cycle_periods WHERE period = ?", (period,)
        )
    if closed:
        return closed
    from bot.domain import cycle
    from bot.services.cycle import iso

    settings = settings or Settings()
    due = cycle.step_by_name(settings.cycle, period, cycle.CLOSE, settings.tz).due
    return iso(due)


# --- snapshots for the digests ------------------------------------------------------------------


async def _load_scores(
    db: Database, period: str, model_version: str | None = None
) -> dict[int, tuple[int | None, str | None, Any]]:
    """recipient_id -> (score, band, components) of the latest score up to the period.

    Several model versions may hold a period (migration 0005 keeps older versions as history):
    with `model_version` only its rows count; without, the latest computed row wins."""
    if not await table_exists(db, "scores"):
        return {}
    out: dict[int, tuple[int | None, str | None, Any]] = {}
    where, params = ("period <= ?", [period])
    if model_version is not None:
        where, params = ("period <= ? AND model_version = ?", [period, model_version])
    try:
        async for rows in _chunks(
            db,
            "SELECT recipient_id, score, band, components FROM scores "
            f"WHERE {where} ORDER BY recipient_id, period, computed_at, id",
            params,
        ):
            for r in rows:
                out[r[0]] = (r[1], r[2], r[3])  # the latest period (then computation) wins
    except OperationalError as exc:
        log.warning("scores table has an unexpected shape, scores left out: %s", exc)
        return {}
    return out


def _model_version(settings: Settings | None) -> str | None:
    if settings is None:
        return None
    from bot.domain.scoring import params_from_settings

    return params_from_settings(settings).model_version


async def graduation_candidate_ids(
    db: Database, settings: Settings | None
) -> tuple[set[int], set[int] | None]:
    """Graduation: (cases confirmed by the facilitator, awaiting staff's decision; the
    graduation service's candidates: latest band 'siap' under the current model, of whom those
    without a confirmed case await the facilitator's visit). Without settings the second is None: the caller falls back to
    'latest band is siap'."""
    confirmed = await _ids(
        db,
        "SELECT g.recipient_id FROM graduation_cases g JOIN recipients rc"
        " ON rc.id = g.recipient_id WHERE g.status = 'confirmed' AND g.kind = 'graduation'"
        " AND rc.status = 'active'",
        [],
    )
    if settings is None:
        return confirmed, None
    from bot.services.graduation import candidate_ids

    # the whole kabupaten: the digest's own scope filters what each reader sees
    return confirmed, await candidate_ids(db, settings)


async def _ids(db: Database, sql: str, params: Sequence[Any]) -> set[int]:
    ids: set[int] = set()
    async for rows in _chunks(db, sql, params):
        ids.update(r[0] for r in rows)
    return ids


async def _load_flags(db: Database, scope: Scope, period: str) -> dict[int, list[RiskFlag]]:
    """Open report flags (cross-checks, help requests) and the score risk flags (risk_flags,
    migration 0005) raised for this period or the one before."""
    where, params = _scope_sql(scope)
    flags: dict[int, list[RiskFlag]] = {}
    async for r in _stream(
        db,
        "SELECT f.recipient_id, f.kind, f.period, f.created_at FROM report_flags f "
        f"JOIN recipients rc ON rc.id = f.recipient_id WHERE f.status = 'open'{where} "
        "ORDER BY f.id",
        params,
    ):
        flags.setdefault(r[0], []).append(RiskFlag(r[1], r[2], r[3]))
    if await table_exists(db, "risk_flags"):
        async for r in _stream(
            db,
            "SELECT f.recipient_id, f.kind, f.period, f.created_at FROM risk_flags f "
            f"JOIN recipients rc ON rc.id = f.recipient_id WHERE f.period IN (?, ?){where} "
            "ORDER BY f.id",
            [prev_period(period), period, *params],
        ):
            flags.setdefault(r[0], []).append(RiskFlag(r[1], r[2], r[3]))
    return flags


async def _load_profits(
    db: Database, period: str, scope: Scope, window: int
) -> dict[int, dict[str, int]]:
    """recipient -> period -> the counting profit (the one read model, read_model.py)."""
    where, params = _scope_sql(scope)
    join = "JOIN recipients rc ON rc.id = r.recipient_id " if where else ""
    return await read_model.load_profits(
        db, last_periods(period, window), _stream, _chunks, join, where, params
    )


async def load_snapshots(
    db: Database,
    period: str,
    scope: Scope | None = None,
    window: int = 6,
    *,
    with_profits: bool = True,
    settings: Settings | None = None,
) -> list[RecipientSnapshot]:
    """One snapshot per recipient expected to report in the period, within the scope.

    with_profits=False leaves `profits` empty (the weekly digest does not show them), which
    saves reading six periods of reports. `settings` select the current score model version
    and the graduation service's candidates (without: the latest scores, band 'siap').
    """
    scope = scope or Scope()
    _, end = period_bounds(period)
    where, params = _scope_sql(scope)
    closed = await period_closed_at(db, period, settings)
    scores = await _load_scores(db, period, _model_version(settings))
    confirmed, ready = await graduation_candidate_ids(db, settings)
    flags = await _load_flags(db, scope, period)
    profits = await _load_profits(db, period, scope, window) if with_profits else {}
    reported = await _ids(
        db, "SELECT DISTINCT recipient_id FROM reports WHERE period = ?", [period]
    )
    drafting = await _ids(
        db,
        "SELECT DISTINCT recipient_id FROM report_drafts"
        " WHERE period = ? AND form = 'monthly' AND status = 'open'",
        [period],
    )
    snaps = []
    async for rows in _chunks(
        db,
        "SELECT rc.id, rc.name, rc.kecamatan_code, k.name, d.name, rc.facilitator_id, f.name,"
        " rc.programme, a.reachable, a.id "
        "FROM recipients rc JOIN kecamatan k ON k.code = rc.kecamatan_code "
        "LEFT JOIN desa d ON d.id = rc.desa_id "
        "LEFT JOIN facilitators f ON f.id = rc.facilitator_id "
        "LEFT JOIN accounts a ON a.recipient_id = rc.id "
        f"WHERE {EXPECTED_SQL}{where}",  # no ORDER BY: the digest sorts what it shows
        [closed, end, *params],
    ):
        for r in rows:
            rid = r[0]
            status = (
                STATUS_REPORTED
                if rid in reported
                else STATUS_DRAFT
                if rid in drafting
                else STATUS_SILENT
            )
            score = scores.get(rid)
            band = score[1] if score else None
            snaps.append(
                RecipientSnapshot(
                    id=rid,
                    name=r[1],
                    kecamatan_code=r[2],
                    kecamatan=r[3],
                    desa=r[4],
                    facilitator_id=r[5],
                    facilitator=r[6],
                    programme=r[7],
                    status=status,
                    profits=profits.get(rid, {}),
                    band=band,
                    candidate=rid in confirmed,
                    ready=rid not in confirmed
                    and (band == BAND_READY if ready is None else rid in ready),
                    flags=tuple(flags.get(rid, ())),
                    reachable=r[8] is None or bool(r[8]),
                    linked=r[9] is not None,
                )
            )
    return snaps


async def build_staff_digest(
    db: Database,
    period: str,
    since: dt.datetime,
    scope: Scope | None = None,
    settings: Settings | None = None,
) -> StaffDigest:
    """The weekly staff digest of a region (flags created at or after `since` are new)."""
    snaps = await load_snapshots(db, period, scope, with_profits=False, settings=settings)
    return staff_digest(snaps, period, since.astimezone(dt.UTC).isoformat(timespec="seconds"))


async def build_monthly_report(
    db: Database,
    period: str,
    since: dt.datetime,
    scope: Scope | None = None,
    programmes: Sequence[str] = (),
    settings: Settings | None = None,
) -> MonthlyReport:
    """The monthly report of a closed period for a scope: counts, medians, bands and charts' data."""
    snaps = await load_snapshots(db, period, scope, settings=settings)
    return monthly_report(
        snaps, period, since.astimezone(dt.UTC).isoformat(timespec="seconds"), None, programmes
    )


# --- export rows --------------------------------------------------------------------------------


def format_components(raw: Any) -> str | None:
    """Score components JSON -> 'income=30/40; savings=5/10' (raw text when not that shape)."""
    if raw is None:
        return None
    try:
        items = component_dicts(json.loads(raw) if isinstance(raw, str) else raw)
        return "; ".join(f"{c['key']}={c['points']}/{c['max_points']}" for c in items)
    except (ValueError, TypeError, KeyError):
        return str(raw)


async def recipient_rows(db: Database, period: str, scope: Scope) -> AsyncIterator[RecipientRow]:
    """Every recipient in scope with the counting report of their latest reported period up to
    the period (the one read model), their latest score and the assistance a graduation ends."""
    _, end = period_bounds(period)
    where, params = _scope_sql(scope)
    scores = await _load_scores(db, period)
    rows = _stream(
        db,
        "SELECT rc.id, rc.nik, rc.name, rc.gender, k.name, d.name, rc.programme, f.name,"
        " rc.status,"
        " EXISTS (SELECT 1 FROM reports x WHERE x.recipient_id = rc.id AND x.period = ?),"
        " EXISTS (SELECT 1 FROM report_drafts y WHERE y.recipient_id = rc.id"
        "         AND y.period = ? AND y.form = 'monthly' AND y.status = 'open'),"
        " lr.period, lr.business_status, lr.revenue, lr.costs, lr.profit, lr.other_income,"
        " lr.savings_amount, a.reachable,"
        f" {EXPECTED_SQL},"
        " rc.receives_pkh, rc.receives_sembako, rc.welfare_decile "
        "FROM recipients rc JOIN kecamatan k ON k.code = rc.kecamatan_code "
        "LEFT JOIN desa d ON d.id = rc.desa_id "
        "LEFT JOIN facilitators f ON f.id = rc.facilitator_id "
        "LEFT JOIN accounts a ON a.recipient_id = rc.id "
        f"{read_model.latest_counting_join()}"
        f"WHERE 1 = 1{where} ORDER BY k.name, d.name, rc.name, rc.id",
        [period, period, await period_closed_at(db, period), end, period, *params],
    )
    values = {"revenue": 13, "costs": 14, "profit": 15, "other_income": 16}
    async for r in read_model.latest_counting(db, rows, 11, values):
        expected = bool(r[19])
        if not expected:
            period_status = "-"
        else:
            period_status = PERIOD_STATUS_LABEL[
                STATUS_REPORTED if r[9] else STATUS_DRAFT if r[10] else STATUS_SILENT
            ]
        score = scores.get(r[0])
        yield RecipientRow(
            id=r[0],
            nik=r[1],
            name=r[2],
            gender=r[3],
            kecamatan=r[4],
            desa=r[5],
            programme=r[6],
            facilitator=r[7],
            status=r[8],
            period_status=period_status,
            last_period=r[11],
            business_status=r[12],
            revenue=r[13],
            costs=r[14],
            profit=r[15],
            other_income=r[16],
            savings_amount=r[17],
            score=score[0] if score else None,
            band=score[1] if score else None,
            score_components=format_components(score[2]) if score else None,
            reachable="-" if r[18] is None else _ya_tidak(r[18]),
            receives_pkh="-" if r[20] is None else _ya_tidak(r[20]),
            receives_sembako="-" if r[21] is None else _ya_tidak(r[21]),
            welfare_decile=r[22],
        )


async def report_rows(db: Database, period: str, scope: Scope) -> AsyncIterator[ReportRow]:
    """Every report of the period (all revisions, both reporters)."""
    where, params = _scope_sql(scope)
    async for r in _stream(
        db,
        "SELECT r.id, r.recipient_id, rc.nik, rc.name, k.name, d.name, rc.programme, r.period,"
        " r.reporter_role, r.revision, r.submitted_at, r.late, r.business_status, r.revenue,"
        " r.costs, r.profit, r.other_income, r.household_size, r.has_savings,"
        " r.savings_amount, r.keeps_books, r.income_sources, r.wants_help, r.equipment_ok,"
        " r.goats "
        "FROM reports r JOIN recipients rc ON rc.id = r.recipient_id "
        "JOIN kecamatan k ON k.code = rc.kecamatan_code LEFT JOIN desa d ON d.id = rc.desa_id "
        f"WHERE r.period = ?{where} ORDER BY k.name, d.name, rc.name, r.recipient_id, r.id",
        [period, *params],
    ):
        yield ReportRow(
            id=r[0],
            recipient_id=r[1],
            nik=r[2],
            name=r[3],
            kecamatan=r[4],
            desa=r[5],
            programme=r[6],
            period=r[7],
            reporter_role=r[8],
            revision=r[9],
            submitted_at=r[10],
            late=_ya_tidak(r[11]),  # NOT NULL column
            business_status=r[12],
            revenue=r[13],
            costs=r[14],
            profit=r[15],
            other_income=r[16],
            household_size=r[17],
            has_savings=_yes_no(r[18]),
            savings_amount=r[19],
            keeps_books=_yes_no(r[20]),
            income_sources=r[21],
            wants_help=_yes_no(r[22]),
            equipment_ok=_yes_no(r[23]),
            goats=r[24],
        )


async def visit_rows(db: Database, period: str, scope: Scope) -> AsyncIterator[VisitRow]:
    """Visits made during the period's calendar month."""
    start, end = period_bounds(period)
    where, params = _scope_sql(scope)
    async for r in _stream(
        db,
        "SELECT v.id, v.recipient_id, rc.name, k.name, f.name, v.visit_date,"
        " v.business_running, v.score_bookkeeping, v.score_quality, v.score_market,"
        " v.score_motivation, v.notes "
        "FROM visits v JOIN recipients rc ON rc.id = v.recipient_id "
        "JOIN kecamatan k ON k.code = rc.kecamatan_code "
        "LEFT JOIN facilitators f ON f.id = v.facilitator_id "
        f"WHERE v.visit_date >= ? AND v.visit_date < ?{where} ORDER BY v.visit_date, v.id",
        [start, end, *params],
    ):
        yield VisitRow(
            id=r[0],
            recipient_id=r[1],
            name=r[2],
            kecamatan=r[3],
            facilitator=r[4],
            visit_date=r[5],
            business_running=_yes_no(r[6]),
            score_bookkeeping=r[7],
            score_quality=r[8],
            score_market=r[9],
            score_motivation=r[10],
            notes=r[11],
        )


async def flag_rows(db: Database, period: str, scope: Scope) -> AsyncIterator[FlagRow]:
    """Flags raised for the period, and every flag still open."""
    where, params = _scope_sql(scope)
    async for r in _stream(
        db,
        "SELECT fl.id, fl.recipient_id, rc.name, k.name, fl.period, fl.kind, fl.field,"
        " fl.status, fl.resolved_value, fl.created_at, fl.resolved_at "
        "FROM report_flags fl JOIN recipients rc ON rc.id = fl.recipient_id "
        "JOIN kecamatan k ON k.code = rc.kecamatan_code "
        f"WHERE (fl.period = ? OR fl.status = 'open'){where} ORDER BY fl.created_at, fl.id",
        [period, *params],
    ):
        yield FlagRow(*r)


async def write_period_export(
    db: Database,
    period: str,
    path: str | Path,
    scope: Scope | None = None,
    *,
    full_nik: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Stream the four sheets of the period into PATH (.xlsx or .csv)."""
    scope = scope or Scope()
    writer = ExportWriter(path, full_nik=full_nik, progress=progress)
    with writer:
        for spec, rows in (
            (RECIPIENTS, recipient_rows(db, period, scope)),
            (REPORTS, report_rows(db, period, scope)),
            (VISITS, visit_rows(db, period, scope)),
            (FLAGS, flag_rows(db, period, scope)),
        ):
            sheet = writer.sheet(spec)
            chunk: list[Any] = []
            async for row in rows:
                chunk.append(row)
                if len(chunk) >= FETCH_CHUNK:
                    # Writing the file is CPU work: a worker thread keeps the bot's event loop
                    # answering other chats while a large export is written.
                    await asyncio.to_thread(sheet.extend, chunk)
                    chunk = []
            if chunk:
                await asyncio.to_thread(sheet.extend, chunk)
        await asyncio.to_thread(writer.close)
    return ExportResult(writer.paths, writer.counts, writer.counts.get(REPORTS.name, 0) > 0)
