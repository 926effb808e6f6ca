"""Scores stored per recipient per period: load inputs, compute (domain), store, raise risks.

Which report counts for a month is decided by the one read model (bot/services/read_model.py):
a facilitator-confirmed flag value, else the recipient's latest revision, else the
facilitator's. An open value flag marks the month unverified.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import multiprocessing
import os
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.db import Database, connect_readonly
from bot.domain.scoring import (
    GOAT_WORDS,
    Baseline,
    CheckAnswer,
    Observation,
    Params,
    ScoreResult,
    Visit,
    assess,
    component_dicts,
    goats_in_package,
    params_from_settings,
    period_index,
    shift_period,
)
from bot.services import read_model

SCORED_STATUSES = ("active", "paused")


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def default_period(now: dt.datetime, tz: str = "Asia/Jakarta") -> str:
    """The period being reported on at `now`: the calendar month before, in WIB."""
    local = now.astimezone(ZoneInfo(tz))
    return shift_period(f"{local.year:04d}-{local.month:02d}", -1)


async def latest_data_period(
    db: Database, recipient_id: int, now: dt.datetime, tz: str = "Asia/Jakarta"
) -> str:
    """The period to show when none is asked: the latest with a report, else the default
    (a family that has not reported this month is shown its last month, not an empty one)."""
    latest = await db.fetchval(
        "SELECT max(period) FROM reports WHERE recipient_id = ?", (recipient_id,)
    )
    return latest or default_period(now, tz)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


@dataclass
class RecipientInputs:
    baseline: Baseline
    observations: list[Observation]
    visits: list[Visit]
    reachable: bool = True
    checklist: list[CheckAnswer] = field(default_factory=list)


# --- loading (one function to swap for reports.effective_reports later) -----------------------
#
# The loader is a plan of plain SELECTs plus pure assembly, so the async path (one recipient,
# the bot) and the worker processes of recompute_all (sync sqlite3, read-only) share it.


@dataclass(frozen=True)
class _Scope:
    """Which recipients: one id (any status), an id range, or all (active/paused only)."""

    single: int | None = None
    lo: int | None = None
    hi: int | None = None

    def filter(self, column: str) -> tuple[str, list[Any]]:
        if self.single is not None:
            return f" AND {column} = ?", [self.single]
        if self.lo is not None:
            return f" AND {column} BETWEEN ? AND ?", [self.lo, self.hi]
        return "", []


# Goat rearing programmes (bot.domain.scoring.is_goat_programme), in SQL.
_GOAT_SQL = " OR ".join(f"lower(programme) LIKE '%{word}%'" for word in GOAT_WORDS)


def _plan(period: str, params: Params, scope: _Scope) -> list[tuple[str, list[Any]]]:
    """The SELECTs of one load. Every recipient's reports of the last history_months (+1);
    for goat rearing also the older months up to goat_history_months (income over a year)."""
    first = shift_period(period, -params.history_months)
    goat_first = shift_period(period, -params.goat_history_months)
    rf, rargs = scope.filter("id")
    status = "" if scope.single is not None else " AND status IN ('active', 'paused')"
    pf, pargs = scope.filter("recipient_id")
    by_range = scope.lo is not None
    older: list[tuple[str, list[Any]]] = []
    if goat_first < first:
        # The goat recipients of the scope as an id list (a primary-key range, or one id):
        # SQLite then seeks each one's older reports in the (recipient_id, period, ...) index
        # and never touches the other recipients' older months (half the time of checking
        # every older report row against its recipient).
        goat_filter = (
            f"{pf} AND recipient_id IN (SELECT id FROM recipients WHERE ({_GOAT_SQL}){rf})"
        )
        older = read_model.report_queries(
            goat_first, shift_period(first, -1), goat_filter, [*pargs, *rargs],
            by_id_range=by_range,
        )  # fmt: skip
    return [
        (
            "SELECT id, household_size, programme, assistance_value, handover_date,"
            f" livestock_received, package FROM recipients WHERE 1 = 1{status}{rf}",
            rargs,
        ),
        *read_model.report_queries(first, period, pf, pargs, by_id_range=by_range),
        (
            "SELECT recipient_id, visit_date, score_bookkeeping, score_quality, score_market,"
            f" score_motivation, business_running FROM visits WHERE visit_date >= ?"
            f" AND visit_date < ?{pf}",
            [first + "-01", shift_period(period, 1) + "-01", *pargs],
        ),
        (
            f"SELECT recipient_id FROM accounts WHERE role = 'recipient' AND reachable = 0{pf}",
            pargs,
        ),
        (
            # the latest answer per item (ids grow with time; a later row replaces)
            f"SELECT recipient_id, item, met, checked_on FROM graduation_checks WHERE 1 = 1{pf}"
            " ORDER BY recipient_id, checked_on, id",
            pargs,
        ),
        *older,
    ]


def _assemble(results: Sequence[Sequence[Any]]) -> dict[int, RecipientInputs]:
    recipients, reports, flag_rows, visits, unreachable, checks, *older = results
    if older:  # goat rearing: the older months first, so each recipient's months stay in order
        reports = [*older[0], *reports]
        flag_rows = [*older[1], *flag_rows]
    inputs: dict[int, RecipientInputs] = {}
    for r in recipients:
        start = r[4][:7] if r[4] else None
        goats = r[5] if r[5] is not None else goats_in_package(r[6])
        inputs[r[0]] = RecipientInputs(Baseline(r[1], r[2], r[3], goats, start), [], [])
    for rid, obs in read_model.observations(reports, flag_rows).items():
        if rid in inputs:
            inputs[rid].observations = obs
    for v in visits:
        if v[0] in inputs:
            inputs[v[0]].visits.append(Visit(v[1], (v[2], v[3], v[4], v[5]), _bool(v[6])))
    for a in unreachable:
        if a[0] in inputs:
            inputs[a[0]].reachable = False
    latest: dict[tuple[int, str], CheckAnswer] = {}
    for c in checks:
        latest[(c[0], c[1])] = CheckAnswer(c[1], _bool(c[2]), c[3])
    for (rid, _item), answer in latest.items():
        if rid in inputs:
            inputs[rid].checklist.append(answer)
    return inputs


# The one read model, under the name callers of this module know.
load_observations = read_model.load_observations


async def load_inputs(
    db: Database,
    period: str,
    params: Params,
    recipient_ids: Iterable[int] | None = None,
) -> dict[int, RecipientInputs]:
    """Baseline, observations (history + 1 month), visits, reachability and the latest
    checklist answers per recipient.

    One recipient: any status. All: active and paused recipients.
    """
    ids = None if recipient_ids is None else list(recipient_ids)
    scope = _Scope(single=ids[0]) if ids is not None and len(ids) == 1 else _Scope()
    results = [await db.fetchall(sql, args) for sql, args in _plan(period, params, scope)]
    inputs = _assemble(results)
    if ids is not None and len(ids) > 1:
        wanted = set(ids)
        inputs = {rid: inp for rid, inp in inputs.items() if rid in wanted}
    return inputs


def _score_range(
    path: str, period: str, params: Params, lo: int, hi: int, at: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Worker process: load (read-only sqlite3) and score recipients lo..hi."""
    # The batch allocates millions of small objects that all live until it returns, so the
    # cyclic collector would only rescan them again and again (about a fifth of the time);
    # reference counting still frees everything.
    gc.disable()
    try:
        conn = connect_readonly(path)
        try:
            scope = _Scope(lo=lo, hi=hi)
            results = [
                conn.execute(sql, args).fetchall() for sql, args in _plan(period, params, scope)
            ]
        finally:
            conn.close()
        score_rows, flag_rows, _ = _compute(_assemble(results), period, params, at)
    finally:
        gc.enable()
    return score_rows, flag_rows


# --- storing --------------------------------------------------------------------------------


# Model versions this process has recorded, per database: one recipient's update would
# otherwise pay a write of its own (lock, commit) just to find the row already there. Rows of
# score_models are never deleted.
_recorded: weakref.WeakKeyDictionary[Database, set[str]] = weakref.WeakKeyDictionary()


async def ensure_model(db: Database, params: Params, now: dt.datetime) -> str:
    """Record the current model version and parameters (once); return the version."""
    version = params.model_version
    known = _recorded.setdefault(db, set())
    if version in known:
        return version
    await db.execute(
        "INSERT INTO score_models (version, label, params, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (version) DO NOTHING",
        (version, params.version, json.dumps(params.as_dict(), sort_keys=True), _iso(now)),
    )
    known.add(version)
    return version


# check_circular=False: the score rows are trees built here (no cycles possible), and skipping
# the id bookkeeping of every list and dict makes encoding a fifth cheaper, same text.
_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _score_row(rid: int, result: ScoreResult, at: str) -> tuple[Any, ...]:
    return (
        rid,
        result.period,
        result.model_version,
        result.score,
        result.band,
        result.gate_months,
        result.confidence,
        _JSON.encode(result.components),  # NamedTuples: lists in field order (component_dicts)
        _JSON.encode(result.inputs),
        at,
    )


_UPSERT_SCORE = (
    "INSERT INTO scores (recipient_id, period, model_version, score, band, gate_months,"
    " confidence, components, inputs, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (recipient_id, period, model_version) DO UPDATE SET score = excluded.score,"
    " band = excluded.band, gate_months = excluded.gate_months,"
    " confidence = excluded.confidence, components = excluded.components,"
    " inputs = excluded.inputs, computed_at = excluded.computed_at"
)
_INSERT_FLAG = (
    "INSERT INTO risk_flags (recipient_id, period, kind, details, created_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipient_id, period, kind) DO NOTHING"
)


def _compute(
    inputs: dict[int, RecipientInputs], period: str, params: Params, at: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[int, ScoreResult]]:
    score_rows: list[tuple[Any, ...]] = []
    flag_rows: list[tuple[Any, ...]] = []
    results: dict[int, ScoreResult] = {}
    for rid, inp in inputs.items():
        result, flags = assess(
            inp.baseline,
            inp.observations,
            inp.visits,
            period,
            params,
            reachable=inp.reachable,
            checklist=inp.checklist,
        )
        results[rid] = result
        score_rows.append(_score_row(rid, result, at))
        for flag in flags:
            flag_rows.append((rid, period, flag.kind, _JSON.encode(flag.details), at))
    return score_rows, flag_rows, results


async def _store(
    db: Database,
    period: str,
    score_rows: list[tuple[Any, ...]],
    flag_rows: list[tuple[Any, ...]],
    scope: _Scope,
) -> None:
    """Write the scores and replace the period's unsent risk flags of the scope, together."""
    rf, rargs = scope.filter("recipient_id")
    async with db.transaction() as conn:
        await conn.executemany(_UPSERT_SCORE, score_rows)
        # A risk that no longer holds (a corrected report) is withdrawn unless already sent.
        await conn.execute(
            f"DELETE FROM risk_flags WHERE period = ? AND digested_at IS NULL{rf}",
            (period, *rargs),
        )
        await conn.executemany(_INSERT_FLAG, flag_rows)


async def recompute_recipient(
    db: Database,
    settings: Settings,
    recipient_id: int,
    now: dt.datetime,
    period: str | None = None,
) -> ScoreResult | None:
    """Score one recipient for a period (default: the period being reported on, or the
    recipient's latest reported period if later), store it with its risk flags."""
    params = params_from_settings(settings)
    if period is None:
        period = default_period(now, settings.timezone)
        latest = await db.fetchval(
            "SELECT max(period) FROM reports WHERE recipient_id = ?", (recipient_id,)
        )
        if latest and period_index(latest) > period_index(period):
            period = latest
    inputs = await load_inputs(db, period, params, [recipient_id])
    if recipient_id not in inputs:
        return None
    await ensure_model(db, params, now)
    score_rows, flag_rows, results = _compute(inputs, period, params, _iso(now))
    await _store(db, period, score_rows, flag_rows, _Scope(single=recipient_id))
    return results[recipient_id]


# Below this many recipients one process is faster than starting workers.
PARALLEL_MIN_RECIPIENTS = 20_000
# Id ranges per worker: small enough that no worker idles long waiting for a slow sibling
# (each range reads only its own recipients' reports, so more ranges cost little).
CHUNKS_PER_WORKER = 8


def default_workers() -> int:
    """Worker processes for a batch: the cores, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


async def recompute_all(
    db: Database,
    settings: Settings,
    period: str,
    now: dt.datetime,
    *,
    workers: int | None = None,
) -> int:
    """Score every active or paused recipient for one period; return the count.

    Up to PARALLEL_MIN_RECIPIENTS (unless `workers` > 1 is given) one thread loads, scores
    and writes everything in one transaction. Larger batches are loaded and scored by worker
    processes (read-only connections), one recipient-id range at a time; this process writes
    each range's scores and risk flags in one short transaction as soon as it is ready, so
    the writing overlaps the scoring and the bot's own writes wait for one range, not the
    whole batch. A batch cut short leaves whole ranges scored; running it again redoes all.
    """
    params = params_from_settings(settings)
    await ensure_model(db, params, now)
    at = _iso(now)
    bounds = await db.fetchone(
        "SELECT min(id), max(id), count(*) FROM recipients WHERE status IN ('active', 'paused')"
    )
    threshold = PARALLEL_MIN_RECIPIENTS if workers is None else 1
    workers = default_workers() if workers is None else workers
    parallel = (
        workers > 1
        and bounds is not None
        and bounds[2] >= threshold
        and (db.is_file or db.engine == "postgresql")
    )
    if not parallel:
        inputs = await load_inputs(db, period, params)
        # in a thread: up to PARALLEL_MIN_RECIPIENTS scores take seconds of CPU
        score_rows, flag_rows, _ = await asyncio.to_thread(_compute, inputs, period, params, at)
        await _store(db, period, score_rows, flag_rows, _Scope())
        return len(score_rows)
    assert bounds is not None  # parallel is only true with bounds
    lo, hi = bounds[0], bounds[1]
    chunks = workers * CHUNKS_PER_WORKER
    step = (hi - lo) // chunks + 1
    starts = [lo + i * step for i in range(chunks) if lo + i * step <= hi]  # none empty
    ranges = [(a, min(hi, a + step - 1)) for a in starts]
    # The outer ranges reach every id: each range's store withdraws the stale risk flags of
    # its ids, and recipients no longer scored (graduated, ended) can sit below or above the
    # active ones; together the ranges withdraw what the one-transaction path does.
    ranges[0] = (0, ranges[0][1])
    ranges[-1] = (ranges[-1][0], 2**63 - 1)
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")

    async def score_and_store(a: int, b: int) -> int:
        score_rows, flag_rows = await loop.run_in_executor(
            pool, _score_range, db.path, period, params, a, b, at
        )
        await _store(db, period, score_rows, flag_rows, _Scope(lo=a, hi=b))
        return len(score_rows)

    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        counts = await asyncio.gather(*(score_and_store(a, b) for a, b in ranges))
    return sum(counts)


async def recompute_history(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    *,
    workers: int | None = None,
    progress: Callable[[str, int, int, int], None] | None = None,
) -> dict[str, int]:
    """Every period that has reports or scores, under the current model version.

    Rows of older model versions stay as they are (history). progress(period, scores,
    periods done, periods in all) is called after each period."""
    rows = await db.fetchall(
        "SELECT DISTINCT period FROM reports UNION SELECT DISTINCT period FROM scores ORDER BY 1"
    )
    done = {}
    for i, row in enumerate(rows, 1):
        done[row[0]] = await recompute_all(db, settings, row[0], now, workers=workers)
        if progress is not None:
            progress(row[0], done[row[0]], i, len(rows))
    return done


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredScore:
    id: int
    recipient_id: int
    period: str
    model_version: str
    score: int
    band: str
    gate_months: int
    confidence: int
    components: list[dict[str, Any]]
    computed_at: str


def _stored(row: Any) -> StoredScore:
    return StoredScore(
        id=row["id"],
        recipient_id=row["recipient_id"],
        period=row["period"],
        model_version=row["model_version"],
        score=row["score"],
        band=row["band"],
        gate_months=row["gate_months"],
        confidence=row["confidence"],
        components=component_dicts(json.loads(row["components"])),
        computed_at=row["computed_at"],
    )


async def latest_score(
    db: Database, settings: Settings, recipient_id: int, period: str | None = None
) -> StoredScore | None:
    """The newest stored score under the current model version (of a period, if given)."""
    version = params_from_settings(settings).model_version
    sql = "SELECT * FROM scores WHERE recipient_id = ? AND model_version = ?"
    args: list[Any] = [recipient_id, version]
    if period:
        sql += " AND period = ?"
        args.append(period)
    return await _fetch_stored(db, sql + " ORDER BY period DESC LIMIT 1", args)


async def _fetch_stored(db: Database, sql: str, args: Sequence[Any]) -> StoredScore | None:
    row = await db.fetchone(sql, args)
    return None if row is None else _stored(row)


async def score_history(db: Database, recipient_id: int) -> list[StoredScore]:
    """Every stored score of a recipient, oldest first (all model versions)."""
    rows = await db.fetchall(
        "SELECT * FROM scores WHERE recipient_id = ? ORDER BY period, computed_at", (recipient_id,)
    )
    return [_stored(r) for r in rows]


async def risk_flags_for(db: Database, recipient_id: int, period: str) -> list[str]:
    """The risk flag kinds of a recipient for one period, sorted."""
    rows = await db.fetchall(
        "SELECT kind FROM risk_flags WHERE recipient_id = ? AND period = ? ORDER BY kind",
        (recipient_id, period),
    )
    return [r[0] for r in rows]
