"""Graduation workflow: candidates, facilitator confirmation, staff decision, other ends.

The score only recommends (UU 27/2022): a facilitator confirms after a visit, staff approve or
reject with a reason, and every decision is audit-logged with who made it and the score and
model version it rested on.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.domain.scoring import (
    BAND_READY,
    Progress,
    ScoreResult,
    params_from_settings,
    progress_view,
)
from bot.services import scoring
from bot.services.accounts import Account
from bot.services.scoring import StoredScore, latest_score

END_KINDS = ("moved", "deceased", "declined")
STATEMENT_MAX = 500
REASON_MAX = 500
# A confirmation must rest on a recent visit.
VISIT_MAX_AGE_DAYS = 60
DEFAULT_APPROVE_REASON = "Disetujui sesuai rekomendasi skor dan konfirmasi pendamping"


class GraduationError(Exception):
    """A refused step; `key` names the friendly text in templates/*/graduasi_error.j2."""

    def __init__(self, key: str, **context: Any) -> None:
        super().__init__(key)
        self.key = key
        self.context = context


@dataclass(frozen=True)
class RecipientRef:
    id: int
    nik: str
    name: str
    desa: str | None
    kecamatan_code: str
    facilitator_id: int | None
    status: str
    # from the register: the assistance a graduation would end, and the welfare decile
    receives_pkh: bool | None = None
    receives_sembako: bool | None = None
    welfare_decile: int | None = None


@dataclass(frozen=True)
class Candidate:
    recipient: RecipientRef
    score: StoredScore
    case_id: int | None  # a confirmed case awaiting staff
    statement: str | None


@dataclass(frozen=True)
class Decision:
    case_id: int
    recipient: RecipientRef
    status: str
    score: int | None
    model_version: str | None
    recipient_chat_id: int | None  # where to send congratulations (None: no reachable account)
    recipient_language: str


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


_REF_SQL = (
    "SELECT r.id, r.nik, r.name, d.name AS desa, r.kecamatan_code, r.facilitator_id, r.status,"
    " r.receives_pkh, r.receives_sembako, r.welfare_decile"
    " FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id"
)


def _ref(row: Any) -> RecipientRef:
    return RecipientRef(
        row["id"], row["nik"], row["name"], row["desa"], row["kecamatan_code"],
        row["facilitator_id"], row["status"], _flag(row["receives_pkh"]),
        _flag(row["receives_sembako"]), row["welfare_decile"],
    )  # fmt: skip


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _yes_no(value: Any) -> str | None:
    return None if value is None else ("ya" if value else "tidak")


def in_scope(account: Account, recipient: RecipientRef) -> bool:
    """Least privilege: own record, caseload, or the staff member's kecamatan."""
    if account.role == "admin":
        return True
    if account.role == "staff":
        return account.kecamatan_code is None or account.kecamatan_code == recipient.kecamatan_code
    if account.role == "facilitator":
        return (
            account.facilitator_id is not None
            and account.facilitator_id == recipient.facilitator_id
        )
    if account.role == "recipient":
        return account.recipient_id == recipient.id
    return False


async def recipient_by_nik(db: Database, nik: str) -> RecipientRef | None:
    """A recipient by NIK with no access scope (the operator's CLI); None if there is none."""
    row = await db.fetchone(_REF_SQL + " WHERE r.nik = ?", (nik,))
    return None if row is None else _ref(row)


async def find_recipient(db: Database, account: Account, nik: str) -> RecipientRef:
    """A recipient by NIK, only if in the account's scope (else 'not_found': no hint)."""
    row = await db.fetchone(_REF_SQL + " WHERE r.nik = ?", (nik,))
    if row is None or not in_scope(account, _ref(row)):
        raise GraduationError("not_found")
    return _ref(row)


async def get_recipient(db: Database, account: Account, recipient_id: int) -> RecipientRef:
    """One recipient in the account's scope by id; GraduationError('not_found') otherwise."""
    row = await db.fetchone(_REF_SQL + " WHERE r.id = ?", (recipient_id,))
    if row is None or not in_scope(account, _ref(row)):
        raise GraduationError("not_found")
    return _ref(row)


def _require_staff(account: Account) -> None:
    if account.role not in ("staff", "admin"):
        raise GraduationError("staff_only")


def _candidates_sql(
    settings: Settings, kecamatan_code: str | None, select: str = _REF_SQL
) -> tuple[str, list[Any]]:
    """The one definition of a candidate: active, latest score (current model) 'siap'."""
    version = params_from_settings(settings).model_version
    sql = (
        select + " JOIN scores s ON s.recipient_id = r.id AND s.model_version = ?"
        " AND s.period = (SELECT max(period) FROM scores WHERE recipient_id = r.id"
        " AND model_version = ?) WHERE r.status = 'active' AND s.band = ?"
    )
    args: list[Any] = [version, version, BAND_READY]
    if kecamatan_code:
        sql += " AND r.kecamatan_code = ?"
        args.append(kecamatan_code)
    return sql, args


async def candidate_ids(
    db: Database, settings: Settings, kecamatan_code: str | None = None
) -> set[int]:
    """Just the ids of candidates() (digests of 100,000 recipients: one query, no per-row)."""
    sql, args = _candidates_sql(settings, kecamatan_code, "SELECT r.id FROM recipients r")
    return {row[0] for row in await db.fetchall(sql, args)}


async def candidates(db: Database, settings: Settings, account: Account) -> list[Candidate]:
    """Active recipients in scope whose latest score (current model) is 'Siap graduasi'."""
    _require_staff(account)
    region = account.kecamatan_code if account.role == "staff" else None
    sql, args = _candidates_sql(settings, region)
    rows = await db.fetchall(sql + " ORDER BY r.name", args)
    out = []
    for row in rows:
        ref = _ref(row)
        score = await latest_score(db, settings, ref.id)
        assert score is not None  # the candidate query joined this recipient's latest score
        case = await db.fetchone(
            "SELECT id, statement FROM graduation_cases WHERE recipient_id = ?"
            " AND status = 'confirmed'",
            (ref.id,),
        )
        out.append(
            Candidate(ref, score, case["id"] if case else None, case["statement"] if case else None)
        )
    return out


async def confirm(
    db: Database,
    settings: Settings,
    account: Account,
    nik: str,
    statement: str,
    now: dt.datetime,
) -> int:
    """The facilitator confirms a candidate after a recent visit; returns the case id."""
    if account.role != "facilitator":
        raise GraduationError("facilitator_only")
    ref = await find_recipient(db, account, nik)
    statement = " ".join(statement.split())
    if not 10 <= len(statement) <= STATEMENT_MAX:
        raise GraduationError("statement_length", max=STATEMENT_MAX)
    if ref.status != "active":
        raise GraduationError("not_active")
    score = await latest_score(db, settings, ref.id)
    if score is None or score.band != BAND_READY:
        raise GraduationError("not_ready")
    since = (now.astimezone(dt.UTC) - dt.timedelta(days=VISIT_MAX_AGE_DAYS)).date().isoformat()
    visit_id = await db.fetchval(
        "SELECT id FROM visits WHERE recipient_id = ? AND visit_date >= ?"
        " ORDER BY visit_date DESC, id DESC LIMIT 1",
        (ref.id, since),
    )
    if visit_id is None:
        raise GraduationError("no_visit", days=VISIT_MAX_AGE_DAYS)
    at = _iso(now)
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT id FROM graduation_cases WHERE recipient_id = ? AND status = 'confirmed'",
            (ref.id,),
        ) as cur:
            if await cur.fetchone() is not None:
                raise GraduationError("already_confirmed")
        cur = await conn.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, score_id, score,"
            " model_version, period, visit_id, statement, confirmed_by, confirmed_at,"
            " created_at) VALUES (?, 'graduation', 'confirmed', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ref.id, score.id, score.score, score.model_version, score.period, visit_id,
             statement, account.id, at, at),
        )  # fmt: skip
        case_id = cur.lastrowid
        assert case_id is not None  # set by the INSERT just made
        await _audit(conn, at, account, "graduation.confirm", ref.id, {
            "case_id": case_id, "score": score.score, "model_version": score.model_version,
            "period": score.period, "visit_id": visit_id,
        })  # fmt: skip
    return int(case_id)


async def _audit(
    conn: Any, at: str, account: Account, action: str, rid: int, details: dict
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, ?, 'recipient', ?, ?)",
        (at, f"account:{account.id}", action, str(rid), json.dumps(details, ensure_ascii=False)),
    )


async def _open_case(db: Database, account: Account, case_id: int) -> tuple[Any, RecipientRef]:
    case = await db.fetchone("SELECT * FROM graduation_cases WHERE id = ?", (case_id,))
    if case is None:
        raise GraduationError("no_case")
    try:
        ref = await get_recipient(db, account, case["recipient_id"])
    except GraduationError:  # outside the account's scope: the same answer as no case at all
        raise GraduationError("no_case") from None
    if case["status"] != "confirmed":
        raise GraduationError("already_decided")
    return case, ref


async def decide(
    db: Database,
    account: Account,
    case_id: int,
    approve: bool,
    reason: str | None,
    now: dt.datetime,
) -> Decision:
    """Staff approve (recipient graduated) or reject (reason required) a confirmed case."""
    _require_staff(account)
    reason = " ".join((reason or "").split())
    if approve and not reason:
        reason = DEFAULT_APPROVE_REASON
    if not 3 <= len(reason) <= REASON_MAX:
        raise GraduationError("reason_needed", max=REASON_MAX)
    case, ref = await _open_case(db, account, case_id)
    at = _iso(now)
    status = "approved" if approve else "rejected"
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE graduation_cases SET status = ?, decided_by = ?, decision_reason = ?,"
            " decided_at = ? WHERE id = ? AND status = 'confirmed'",
            (status, account.id, reason, at, case_id),
        )
        if cur.rowcount != 1:
            raise GraduationError("already_decided")
        if approve:
            await conn.execute(
                "UPDATE recipients SET status = 'graduated', status_reason = ?,"
                " status_changed_at = ?, updated_at = ? WHERE id = ?",
                (f"graduasi: {reason}", at, at, ref.id),
            )
        await _audit(conn, at, account, f"graduation.{'approve' if approve else 'reject'}", ref.id, {
            "case_id": case_id, "reason": reason, "score": case["score"],
            "model_version": case["model_version"], "period": case["period"],
        })  # fmt: skip
    chat = await db.fetchone(
        "SELECT chat_id, language FROM accounts WHERE recipient_id = ? AND reachable = 1",
        (ref.id,),
    )
    return Decision(
        case_id, ref, status, case["score"], case["model_version"],
        chat["chat_id"] if chat and approve else None, chat["language"] if chat else "id",
    )  # fmt: skip


async def end_mentoring(
    db: Database, account: Account, nik: str, kind: str, reason: str, now: dt.datetime
) -> RecipientRef:
    """Staff end mentoring for another reason (moved, deceased, declined)."""
    _require_staff(account)
    if kind not in END_KINDS:
        raise GraduationError("end_kind")
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= REASON_MAX:
        raise GraduationError("reason_needed", max=REASON_MAX)
    ref = await find_recipient(db, account, nik)
    if ref.status not in ("active", "paused"):
        raise GraduationError("not_active")
    at = _iso(now)
    async with db.transaction() as conn:
        # an open confirmation is closed with the end of mentoring
        await conn.execute(
            "UPDATE graduation_cases SET status = 'rejected', decided_by = ?, decided_at = ?,"
            " decision_reason = ? WHERE recipient_id = ? AND status = 'confirmed'",
            (account.id, at, f"pendampingan berakhir: {kind}", ref.id),
        )
        cur = await conn.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, decided_by,"
            " decision_reason, decided_at, created_at) VALUES (?, ?, 'ended', ?, ?, ?, ?)",
            (ref.id, kind, account.id, reason, at, at),
        )
        await conn.execute(
            "UPDATE recipients SET status = 'ended', status_reason = ?, status_changed_at = ?,"
            " updated_at = ? WHERE id = ?",
            (f"{kind}: {reason}", at, at, ref.id),
        )
        await _audit(conn, at, account, "mentoring.end", ref.id, {
            "case_id": cur.lastrowid, "kind": kind, "reason": reason,
        })  # fmt: skip
    return ref


async def approved_graduates(
    db: Database, kecamatan_code: str | None = None, since: str | None = None
) -> list[dict[str, Any]]:
    """Rows for the office's export (full NIK: for the CLI/export file only)."""
    sql = (
        "SELECT r.name, r.nik, d.name AS desa, k.name AS kecamatan, g.decided_at,"
        " coalesce(a.display_name, 'account:' || a.id) AS approver, g.score, g.model_version,"
        " g.period, g.decision_reason, r.receives_pkh, r.receives_sembako, r.welfare_decile"
        " FROM graduation_cases g"
        " JOIN recipients r ON r.id = g.recipient_id"
        " LEFT JOIN desa d ON d.id = r.desa_id"
        " LEFT JOIN kecamatan k ON k.code = r.kecamatan_code"
        " LEFT JOIN accounts a ON a.id = g.decided_by"
        " WHERE g.kind = 'graduation' AND g.status = 'approved'"
    )
    args: list[Any] = []
    if kecamatan_code:
        sql += " AND r.kecamatan_code = ?"
        args.append(kecamatan_code)
    if since:
        sql += " AND g.decided_at >= ?"
        args.append(since)
    rows = await db.fetchall(sql + " ORDER BY g.decided_at, r.name", args)
    return [
        {
            "name": r["name"],
            "nik": r["nik"],
            "desa": r["desa"],
            "kecamatan": r["kecamatan"],
            "decision_date": (r["decided_at"] or "")[:10],
            "approver": r["approver"],
            "score": r["score"],
            "model_version": r["model_version"],
            "period": r["period"],
            "reason": r["decision_reason"],
            "receives_pkh": _yes_no(r["receives_pkh"]),
            "receives_sembako": _yes_no(r["receives_sembako"]),
            "welfare_decile": r["welfare_decile"],
        }
        for r in rows
    ]


# --- views for chat (/skor, /kemajuan) ------------------------------------------------------


@dataclass(frozen=True)
class ScoreView:
    recipient: RecipientRef
    result: ScoreResult
    flags: list[str]
    can_confirm: bool
    essential_items: tuple[str, ...] = ()  # checklist items the graduation gate requires


async def score_view(
    db: Database, settings: Settings, account: Account, nik: str, now: dt.datetime
) -> ScoreView:
    """/skor: a facilitator's or staff member's view of one recipient in scope."""
    if account.role not in ("facilitator", "staff", "admin"):
        raise GraduationError("not_found")
    ref = await find_recipient(db, account, nik)
    result = await scoring.recompute_recipient(db, settings, ref.id, now)
    if result is None:
        raise GraduationError("not_active")
    flags = await scoring.risk_flags_for(db, ref.id, result.period)
    can_confirm = account.role == "facilitator" and result.band == BAND_READY
    return ScoreView(
        ref, result, flags, can_confirm, params_from_settings(settings).essential_items
    )


async def progress_for(
    db: Database, settings: Settings, account: Account, now: dt.datetime
) -> tuple[str, Progress] | None:
    """/kemajuan: the recipient's own progress (never a score or band). None if not scored."""
    if account.role != "recipient" or account.recipient_id is None:
        raise GraduationError("not_found")
    rid = account.recipient_id
    name = await db.fetchval("SELECT name FROM recipients WHERE id = ?", (rid,)) or ""
    result = await scoring.recompute_recipient(db, settings, rid, now)
    if result is None:
        return None
    params = params_from_settings(settings)
    inputs = await scoring.load_inputs(db, result.period, params, [rid])
    observations = inputs[rid].observations if rid in inputs else []
    return name, progress_view(result, observations, params)
