"""The one read model of monthly reports: the value that counts per recipient and month.

The rule (bot.domain.read_model): a facilitator-confirmed value of a resolved flag, else the
recipient's latest revision, else the facilitator's latest revision. Every reader goes
through this module: the score and /kemajuan (`observations`), the digests and their charts
(`load_profits`), the export (`latest_counting`) and anything that wants the full record
(`effective_reports`). Queries sort reports by `COUNTING_ORDER` so the last row of each
(recipient, period) is the one that counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from bot.db import Database
from bot.domain.read_model import OVERRIDABLE, VALUE_FLAG_KINDS, flag_changes
from bot.domain.scoring import Observation

__all__ = [
    "COUNTING_ORDER",
    "COUNTING_ORDER_DESC",
    "VALUE_FLAG_KINDS",
    "effective_reports",
    "latest_counting",
    "load_observations",
    "load_profits",
    "observations",
    "report_queries",
    "resolved_values",
]

# Within one (recipient, period): ascending, the last row counts ('facilitator' sorts before
# 'recipient'); descending, the first row counts.
COUNTING_ORDER = "reporter_role, revision"
COUNTING_ORDER_DESC = "reporter_role DESC, revision DESC"

# recipient_id, period, then Observation's fields from business_status to goats, then the
# herd movements (Observation's fields after `verified`), in order
REPORT_COLUMNS = (
    "recipient_id, period, business_status, revenue, costs, profit, other_income,"
    " household_size, has_savings, keeps_books, income_sources, equipment_ok, goats,"
    " goats_born, goats_died, goats_sold, goats_sold_value"
)


def report_queries(
    first: str, last: str, filter_sql: str, filter_args: Sequence[Any], *, by_id_range: bool
) -> list[tuple[str, list[Any]]]:
    """Reports and value flags of periods first..last, in the order `observations` needs.

    filter_sql is ' AND recipient_id ...' (or ''). An id range reads the unique index
    (recipient_id, period, reporter_role, revision): `period || ''` (an expression, not the
    column; unlike a unary plus also valid on PostgreSQL) keeps SQLite off reports_period,
    whose whole period range every chunk would walk; the ORDER BY is that index's order, so it
    costs no sort there."""
    kinds = ", ".join("?" * len(VALUE_FLAG_KINDS))
    period = "period || ''" if by_id_range else "period"
    return [
        (
            f"SELECT {REPORT_COLUMNS} FROM reports WHERE {period} BETWEEN ? AND ?{filter_sql}"
            f" ORDER BY recipient_id, period, {COUNTING_ORDER}",
            [first, last, *filter_args],
        ),
        (
            "SELECT recipient_id, period, field, status, resolved_value FROM report_flags"
            f" WHERE period BETWEEN ? AND ?{filter_sql} AND kind IN ({kinds}) ORDER BY id",
            [first, last, *filter_args, *VALUE_FLAG_KINDS],
        ),
    ]


def _bit(value: Any) -> bool | None:
    return None if value is None else bool(value)


def observations(
    report_rows: Sequence[Any], flag_rows: Sequence[Any]
) -> dict[int, list[Observation]]:
    """The counting Observation per (recipient, period), flags applied, oldest first.

    The rows come in COUNTING_ORDER within each (recipient, period), so the last row of
    each is the one that counts."""
    best: dict[tuple[int, str], Any] = {}
    for row in report_rows:
        best[(row[0], row[1])] = row  # a later row replaces the earlier; order is kept
    flags: dict[tuple[int, str], list[Any]] = {}
    for f in flag_rows:
        flags.setdefault((f[0], f[1]), []).append(f)
    out: dict[int, list[Observation]] = {}
    for key, row in best.items():
        # positional, in Observation's field order (hot path of recompute_all)
        obs = Observation(
            row[1], row[2], row[3], row[4], row[5], row[6], row[7],
            None if row[8] is None else bool(row[8]),
            None if row[9] is None else bool(row[9]),
            row[10],
            None if row[11] is None else bool(row[11]),
            row[12], None, row[13], row[14], row[15], row[16],
        )  # fmt: skip
        if flags and key in flags:
            changes, verified = flag_changes(
                [(f[2], f[3], f[4]) for f in flags[key]], obs._asdict()
            )
            obs = obs._replace(verified=verified, **changes)
        observations = out.get(key[0])
        if observations is None:
            out[key[0]] = [obs]
        else:
            observations.append(obs)
    return out


async def load_observations(
    db: Database, first: str, last: str, recipient_id: int | None = None
) -> dict[int, list[Observation]]:
    """The observation that counts per recipient and period in first..last, oldest first."""
    if recipient_id is None:
        sql_filter, args = "", []
    else:
        sql_filter, args = " AND recipient_id = ?", [recipient_id]
    reports, flag_rows = [
        await db.fetchall(sql, a)
        for sql, a in report_queries(first, last, sql_filter, args, by_id_range=False)
    ]
    return observations(reports, flag_rows)


async def resolved_values(
    db: Database, periods: Sequence[str] | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    """(recipient, period) -> {column: confirmed value} of resolved value flags (few rows)."""
    kinds = ", ".join("?" * len(VALUE_FLAG_KINDS))
    sql = (
        "SELECT recipient_id, period, field, status, resolved_value FROM report_flags"
        f" WHERE kind IN ({kinds}) AND status = 'resolved' AND resolved_value IS NOT NULL"
    )
    args: list[Any] = list(VALUE_FLAG_KINDS)
    if periods is not None:
        sql += f" AND period IN ({', '.join('?' * len(periods))})"
        args += list(periods)
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for rid, period, field, _status, value in await db.fetchall(sql + " ORDER BY id", args):
        if field in OVERRIDABLE:
            out.setdefault((rid, period), {})[field] = value
    return out


def apply_resolved(values: dict[str, Any], confirmed: dict[str, Any] | None) -> dict[str, Any]:
    """Counting report values with the confirmed flag values in place (profit follows)."""
    if not confirmed:
        return values
    changes, _ = flag_changes([(f, "resolved", v) for f, v in confirmed.items()], values)
    return {**values, **changes}


async def load_profits(
    db: Database,
    periods: Sequence[str],
    stream: Any,
    chunks: Any,
    join: str = "",
    where: str = "",
    args: Sequence[Any] = (),
) -> dict[int, dict[str, int]]:
    """recipient -> period -> the counting business profit (digests and their charts).

    Most recipients have one report a period: those are read unsorted (sorting every row
    costs more than it saves); the few (recipient, period) pairs with several reports are
    redone in COUNTING_ORDER so the counting one wins; then confirmed flag values replace.
    `stream`/`chunks` are the digest's row iterators (bot.services.digest_data)."""
    marks = ",".join("?" * len(periods))
    out: dict[int, dict[str, int | None]] = {}
    async for rows in chunks(
        db,
        f"SELECT r.recipient_id, r.period, r.profit FROM reports r {join}"
        f"WHERE r.period IN ({marks}){where}",
        [*periods, *args],
    ):
        for rid, p, profit in rows:
            per = out.get(rid)
            if per is None:
                out[rid] = {p: profit}
            else:
                per[p] = profit
    async for rid, p, profit in stream(
        db,
        "SELECT r.recipient_id, r.period, r.profit FROM reports r JOIN ("
        f" SELECT recipient_id, period FROM reports WHERE period IN ({marks})"
        " GROUP BY period, recipient_id HAVING count(*) > 1"  # in the index's order
        ") dup ON dup.recipient_id = r.recipient_id AND dup.period = r.period "
        f"ORDER BY r.recipient_id, r.period, r.{COUNTING_ORDER.replace(', ', ', r.')}",
        list(periods),
    ):
        if rid in out:
            out[rid][p] = profit
    for (rid, p), confirmed in (await resolved_values(db, periods)).items():
        per = out.get(rid)
        if per is not None and p in per:
            per[p] = apply_resolved({"profit": per[p]}, confirmed).get("profit")
    return {rid: {p: v for p, v in per.items() if v is not None} for rid, per in out.items()}


def latest_counting_join(period_param: str = "?") -> str:
    """A LEFT JOIN giving `lr`, the counting report of the recipient's latest reported period
    up to the period (export)."""
    return (
        "LEFT JOIN reports lr ON lr.id = (SELECT z.id FROM reports z WHERE z.recipient_id = rc.id"
        f"   AND z.period <= {period_param} ORDER BY z.period DESC,"
        f" z.{COUNTING_ORDER_DESC.replace(', ', ', z.')} LIMIT 1) "
    )


async def latest_counting(
    db: Database, rows: AsyncIterator[Any], period_at: int, value_at: dict[str, int]
) -> AsyncIterator[list[Any]]:
    """Rows read with latest_counting_join, with confirmed flag values applied (export)."""
    confirmed = await resolved_values(db)
    async for row in rows:
        out = list(row)
        extra = confirmed.get((row[0], row[period_at])) if confirmed else None
        if extra:
            values = apply_resolved({k: row[i] for k, i in value_at.items()}, extra)
            for k, i in value_at.items():
                out[i] = values[k]
        yield out


async def effective_reports(
    db: Database, recipient_ids: Iterable[int] | None, periods: Iterable[str]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The full counting record, one dict per (recipient, period); pairs with no report are
    absent.

    Return shape: {(recipient_id, 'YYYY-MM'): {
        "recipient_id": int, "period": str,
        "source": "recipient" | "facilitator",  # whose report the values come from
        "report_id": int, "revision": int, "late": bool, "submitted_at": str (UTC ISO),
        "business_status", "revenue", "costs", "profit", "other_income", "household_size",
        "has_savings", "savings_amount", "keeps_books", "income_sources", "wants_help",
        "equipment_ok", "goats":  the report columns (int | None; booleans as 0/1),
        "verified": {field: value}  # fields replaced by a facilitator-confirmed value
        "unverified": [field, ...]  # fields with an open cross-check flag (mismatch/jump)
        "help_open": bool,          # an open help request for the recipient (any period)
    }}
    """
    period_list = list(periods)
    if not period_list:
        return {}
    ids = None if recipient_ids is None else list(recipient_ids)
    if ids is not None and not ids:
        return {}
    where = f"period IN ({', '.join('?' for _ in period_list)})"
    params: list[Any] = list(period_list)
    if ids is not None:
        where += f" AND recipient_id IN ({', '.join('?' for _ in ids)})"
        params += ids
    rows = await db.fetchall(
        f"SELECT * FROM reports WHERE {where} ORDER BY recipient_id, period, {COUNTING_ORDER}",
        params,
    )
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:  # later rows win: recipient over facilitator, newer revision over older
        out[(r["recipient_id"], r["period"])] = {
            "recipient_id": r["recipient_id"], "period": r["period"],
            "source": r["reporter_role"], "report_id": r["id"], "revision": r["revision"],
            "late": bool(r["late"]), "submitted_at": r["submitted_at"],
            **{f: r[f] for f in EFFECTIVE_FIELDS},
            "verified": {}, "unverified": [], "help_open": False,
        }  # fmt: skip
    if not out:
        return out
    rids = sorted({key[0] for key in out})
    flags = await db.fetchall(
        "SELECT recipient_id, period, kind, field, status, resolved_value FROM report_flags"
        f" WHERE recipient_id IN ({', '.join('?' for _ in rids)}) ORDER BY id",
        rids,
    )
    for f in flags:
        if f["kind"] == "help_request":
            if f["status"] == "open":
                for key, value in out.items():
                    if key[0] == f["recipient_id"]:
                        value["help_open"] = True
            continue
        entry = out.get((f["recipient_id"], f["period"]))
        if entry is None or not f["field"] or f["kind"] not in VALUE_FLAG_KINDS:
            continue
        if f["status"] == "open":
            if f["field"] not in entry["unverified"]:
                entry["unverified"].append(f["field"])
        elif f["resolved_value"] is not None and f["field"] in OVERRIDABLE:
            entry["verified"][f["field"]] = f["resolved_value"]
    for entry in out.values():
        if entry["verified"]:
            entry.update(apply_resolved(entry, entry["verified"]))
    return out


EFFECTIVE_FIELDS = (
    "business_status", "revenue", "costs", "profit", "other_income", "household_size",
    "has_savings", "savings_amount", "keeps_books", "income_sources", "wants_help",
    "equipment_ok", "goats", "goats_born", "goats_died", "goats_sold", "goats_sold_value",
)  # fmt: skip
