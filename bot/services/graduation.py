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
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.db import Database
from bot.domain.cycle import out_of_quiet_hours
from bot.domain.scoring import (
    BAND_READY,
    MET,
    UNKNOWN,
    Progress,
    ScoreResult,
    params_from_settings,
    progress_view,
)
from bot.render import render
from bot.services import scoring
from bot.services.accounts import Account
from bot.services.cycle import PRIORITY_NOTICE, PlannedMessage, enqueue
from bot.services.scoring import StoredScore, latest_score

END_KINDS = ("moved", "deceased", "declined")
STATEMENT_MIN = 10
STATEMENT_MAX = 500
REASON_MIN = 10  # a rejection (or a written approval) says why in at least a few words
REASON_MAX = 500
SEARCH_MAX = 8  # a name search offers at most this many people as buttons
# A confirmation must rest on a recent visit.
VISIT_MAX_AGE_DAYS = 60
WIB = ZoneInfo("Asia/Jakarta")  # who decided and when: shown as people read the time
# The reason recorded when staff approve without writing one: only allowed (and only true)
# when the family agreed and the score called it ready (see approval_gaps()).
DEFAULT_APPROVE_REASON = (
    "Keluarga setuju dan skor Siap graduasi; disetujui sesuai usulan pendamping"
)


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
    reason: str = ""  # the reason recorded (staff's words, or the default when it is true)


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


# The words a statement must use to address each unmet gate (a nomination against the score
# must say why the family is ready all the same); checklist items by their own words.
GATE_WORDS: dict[str, tuple[str, ...]] = {
    "poverty_line": ("pendapatan", "penghasilan", "miskin", "income"),
    "umk": ("umk", "pendapatan", "penghasilan", "laba", "untung", "omzet", "income"),
    "months": ("bulan", "lapor", "month"),
    "pangan": ("pangan", "makan", "food"),
    "sekolah": ("sekolah", "school"),
    "jamban_air": ("jamban", "air", "wc", "toilet", "water"),
    "rumah": ("rumah", "house"),
    "tabungan": ("tabung", "nabung", "saving"),
    "rentenir": ("rentenir", "utang", "hutang", "pinjam", "debt"),
    "bpjs": ("bpjs", "jkn", "kis", "pbi"),
}


@dataclass(frozen=True)
class Readiness:
    """What a proposal rests on: the score now, the unmet gates (key, reason), the visit."""

    recipient: RecipientRef
    result: ScoreResult
    unmet: list[tuple[str, str]]  # (gate or checklist item key, reason)
    visit_id: int | None
    open_case: int | None

    @property
    def ready(self) -> bool:
        return self.result.band == BAND_READY


def _unmet(result: ScoreResult, settings: Settings) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    states = result.inputs.get("checklist", {})
    for gate in result.gates:
        if gate.met:
            continue
        if gate.key == "checklist":
            essential = params_from_settings(settings).essential_items
            out += [(item, gate.reason) for item in essential if states.get(item, UNKNOWN) != MET]
        else:
            out.append((gate.key, gate.reason))
    return out


def unaddressed(statement: str, unmet: list[tuple[str, str]]) -> list[str]:
    """The unmet gates (keys) the statement does not mention by any of their words."""
    text = statement.casefold()
    return [key for key, _ in unmet if not any(w in text for w in GATE_WORDS.get(key, (key,)))]


async def readiness(
    db: Database, settings: Settings, account: Account, recipient_id: int, now: dt.datetime
) -> Readiness:
    """Before a proposal: the facilitator's family, scored now, its unmet gates, its visit."""
    if account.role != "facilitator":
        raise GraduationError("facilitator_only")
    ref = await get_recipient(db, account, recipient_id)
    if ref.status != "active":
        raise GraduationError("not_active")
    period = await scoring.latest_data_period(db, ref.id, now, settings.timezone)
    result = await scoring.recompute_recipient(db, settings, ref.id, now, period)
    if result is None:
        raise GraduationError("not_scored")
    since = (now.astimezone(dt.UTC) - dt.timedelta(days=VISIT_MAX_AGE_DAYS)).date().isoformat()
    visit_id = await db.fetchval(
        "SELECT id FROM visits WHERE recipient_id = ? AND visit_date >= ?"
        " ORDER BY visit_date DESC, id DESC LIMIT 1",
        (ref.id, since),
    )
    case = await db.fetchval(
        "SELECT id FROM graduation_cases WHERE recipient_id = ? AND status = 'confirmed'",
        (ref.id,),
    )
    return Readiness(ref, result, _unmet(result, settings), visit_id, case)


@dataclass(frozen=True)
class Proposed:
    case_id: int
    recipient: RecipientRef
    ready: bool
    family_asked: bool  # the family's question was planned in the outbox


async def propose(
    db: Database,
    settings: Settings,
    account: Account,
    recipient_id: int,
    statement: str,
    now: dt.datetime,
) -> Proposed:
    """The facilitator proposes a graduation after a recent visit (no NIK typed). A family the
    score does not call ready may be nominated when the statement addresses every unmet gate.
    The family is asked (outbox, quiet hours respected) whether it agrees."""
    statement = " ".join(statement.split())
    if not STATEMENT_MIN <= len(statement) <= STATEMENT_MAX:
        raise GraduationError("statement_length", min=STATEMENT_MIN, max=STATEMENT_MAX)
    r = await readiness(db, settings, account, recipient_id, now)
    if r.open_case is not None:
        raise GraduationError("already_confirmed", case_id=r.open_case)
    if r.visit_id is None:
        raise GraduationError("no_visit", days=VISIT_MAX_AGE_DAYS)
    missing = unaddressed(statement, r.unmet)
    if missing:
        raise GraduationError("statement_gates", gates=missing)
    score = await latest_score(db, settings, r.recipient.id, r.result.period)
    assert score is not None  # readiness() stored it just now
    ref = r.recipient
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
            " created_at, proposed_ready, unmet_gates)"
            " VALUES (?, 'graduation', 'confirmed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (ref.id, score.id, score.score, score.model_version, score.period, r.visit_id,
             statement, account.id, at, at, int(r.ready),
             json.dumps(list(dict.fromkeys(reason for _, reason in r.unmet)), ensure_ascii=False)),
        )  # fmt: skip
        row = await cur.fetchone()
        await cur.close()
        assert row is not None  # RETURNING id of the row just inserted
        case_id = int(row[0])
        await conn.execute(
            "UPDATE graduation_requests SET status = 'closed', closed_at = ?"
            " WHERE recipient_id = ? AND status = 'open'",
            (at, ref.id),
        )
        await _audit(conn, at, account, "graduation.confirm", ref.id, {
            "case_id": case_id, "score": score.score, "model_version": score.model_version,
            "period": score.period, "visit_id": r.visit_id, "ready": r.ready,
            "unmet": [key for key, _ in r.unmet],
        })  # fmt: skip
        asked = await _ask_family(conn, settings, now, case_id, ref, r.ready)
    return Proposed(case_id, ref, r.ready, asked)


async def confirm(
    db: Database,
    settings: Settings,
    account: Account,
    nik: str,
    statement: str,
    now: dt.datetime,
) -> int:
    """/konfirmasi <NIK>: propose() for the recipient with that NIK; returns the case id."""
    if account.role != "facilitator":
        raise GraduationError("facilitator_only")
    ref = await find_recipient(db, account, nik)
    return (await propose(db, settings, account, ref.id, statement, now)).case_id


async def _audit(
    conn: Any, at: str, account: Account, action: str, rid: int, details: dict
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, ?, 'recipient', ?, ?)",
        (at, f"account:{account.id}", action, str(rid), json.dumps(details, ensure_ascii=False)),
    )


async def _decided_error(db: Database, case: Any) -> GraduationError:
    """'already_decided' naming who decided and when."""
    who = await db.fetchval(
        "SELECT coalesce(display_name, 'akun ' || id) FROM accounts WHERE id = ?",
        (case["decided_by"],),
    )
    when = dt.datetime.fromisoformat(case["decided_at"]).astimezone(WIB)
    return GraduationError("already_decided", who=who or "-", date=when.date(),
                           time=when.strftime("%H:%M"), status=case["status"])  # fmt: skip


async def _open_case(db: Database, account: Account, case_id: int) -> tuple[Any, RecipientRef]:
    case = await db.fetchone("SELECT * FROM graduation_cases WHERE id = ?", (case_id,))
    if case is None or case["kind"] != "graduation":
        raise GraduationError("no_case")
    try:
        ref = await get_recipient(db, account, case["recipient_id"])
    except GraduationError:  # outside the account's scope: the same answer as no case at all
        raise GraduationError("no_case") from None
    if case["status"] != "confirmed":
        raise await _decided_error(db, case)
    return case, ref


async def open_case(db: Database, account: Account, case_id: int) -> RecipientRef:
    """A proposal staff may still decide (no_case / already_decided otherwise)."""
    _require_staff(account)
    return (await _open_case(db, account, case_id))[1]


def approval_gaps(case: Any) -> list[dict[str, Any]]:
    """What an approval would pass over: the family has not answered, the family objected
    (with its reason), the score did not call the family ready. Empty: approving without a
    written reason is true to the facts."""
    gaps: list[dict[str, Any]] = []
    if case["family_answer"] == "object":
        gaps.append({"key": "objected", "reason": case["family_reason"],
                     "voice": bool(case["family_voice_file_id"])})  # fmt: skip
    elif case["family_answer"] != "agree":
        gaps.append({"key": "no_answer"})
    if not case["proposed_ready"]:
        gaps.append({"key": "not_ready", "score": case["score"]})
    return gaps


async def approval_check(
    db: Database, account: Account, case_id: int
) -> tuple[RecipientRef, list[dict[str, Any]]]:
    """Before approving: the family and what the approval would pass over (approval_gaps)."""
    _require_staff(account)
    case, ref = await _open_case(db, account, case_id)
    return ref, approval_gaps(case)


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """A decision's reason, spaces squeezed; GraduationError('reason_short') when too short."""
    reason = " ".join((reason or "").split())
    if not reason and not required:
        return None
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise GraduationError("reason_short", min=REASON_MIN, max=REASON_MAX)
    return reason


async def decide(
    db: Database,
    settings: Settings,
    account: Account,
    case_id: int,
    approve: bool,
    reason: str | None,
    now: dt.datetime,
) -> Decision:
    """Staff approve (recipient graduated) or reject (a reason of 10+ characters) a proposal;
    the facilitator and the family are told through the outbox (quiet hours respected)."""
    _require_staff(account)
    written = check_reason(reason, required=not approve)
    case, ref = await _open_case(db, account, case_id)
    if approve and written is None and approval_gaps(case):
        # the standard reason would be false: staff say why in their own words
        raise GraduationError("approve_reason_needed", min=REASON_MIN, max=REASON_MAX)
    reason = written or DEFAULT_APPROVE_REASON
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
        await conn.execute("DELETE FROM graduation_waits WHERE case_id = ?", (case_id,))
        await conn.execute(
            "UPDATE graduation_requests SET status = 'closed', closed_at = ?"
            " WHERE recipient_id = ? AND status = 'open'",
            (at, ref.id),
        )
        await _tell_decision(conn, settings, now, case_id, ref, approve, reason, account)
    chat = await db.fetchone(
        "SELECT chat_id, language FROM accounts WHERE recipient_id = ? AND reachable = 1",
        (ref.id,),
    )
    return Decision(
        case_id, ref, status, case["score"], case["model_version"],
        chat["chat_id"] if chat and approve else None, chat["language"] if chat else "id",
        reason,
    )  # fmt: skip


# --- notices through the outbox -------------------------------------------------------------


async def _rows(conn: Any, sql: str, args: Any) -> list[Any]:
    async with conn.execute(sql, args) as cur:
        return list(await cur.fetchall())


async def family_account(conn: Any, recipient_id: int) -> Any:
    """The family's reachable account (id, chat_id, language), or None."""
    rows = await _rows(
        conn,
        "SELECT id, chat_id, language FROM accounts WHERE recipient_id = ? AND role = 'recipient'"
        " AND reachable = 1 ORDER BY id LIMIT 1",
        (recipient_id,),
    )
    return rows[0] if rows else None


async def facilitator_accounts(conn: Any, facilitator_id: int | None) -> list[Any]:
    if facilitator_id is None:
        return []
    return await _rows(
        conn,
        "SELECT id, chat_id, language FROM accounts WHERE facilitator_id = ?"
        " AND role = 'facilitator' AND reachable = 1 ORDER BY id",
        (facilitator_id,),
    )


async def staff_accounts(conn: Any, kecamatan_code: str) -> list[Any]:
    """Staff of the family's kecamatan (and staff of the whole kabupaten)."""
    return await _rows(
        conn,
        "SELECT id, chat_id, language FROM accounts WHERE role = 'staff' AND reachable = 1"
        " AND (kecamatan_code IS NULL OR kecamatan_code = ?) ORDER BY id",
        (kecamatan_code,),
    )


async def plan_notice(
    conn: Any, settings: Settings, now: dt.datetime, to: Any, template: str, key: str,
    context: dict[str, Any], attachment: dict[str, Any] | None = None,
) -> bool:  # fmt: skip
    """One message for someone else's chat, once per (template, key), outside quiet hours."""
    text = render(template, to["language"], **context)
    when = out_of_quiet_hours(now, settings.cycle, settings.tz)
    message = PlannedMessage(
        "notice", f"acc:{to['id']}", "-", f"{template}:{key}", to["chat_id"], to["id"], text,
        PRIORITY_NOTICE, when, f"{template} -> acc {to['id']}", attachment=attachment,
    )  # fmt: skip
    return await enqueue(conn, message, now)


def buttons(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    """reply_markup JSON for an outbox row: rows of (label, callback data)."""
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


async def _ask_family(
    conn: Any, settings: Settings, now: dt.datetime, case_id: int, ref: RecipientRef,
    ready: bool = False,
) -> bool:  # fmt: skip
    """ready: the score called the family ready; only then does the question say the business
    is going well (a family nominated despite its score is asked in neutral words)."""
    from bot.callbacks import encode

    fam = await family_account(conn, ref.id)
    if fam is None:
        return False
    lang = fam["language"]
    markup = buttons([
        (render("graduasi_label", lang, key="agree"), encode("grd", "fy", case_id)),
        (render("graduasi_label", lang, key="object"), encode("grd", "fn", case_id)),
    ])  # fmt: skip
    ctx = {"name": ref.name, "pkh": ref.receives_pkh, "sembako": ref.receives_sembako,
           "ready": ready}  # fmt: skip
    return await plan_notice(conn, settings, now, fam, "graduasi_family_ask", f"case:{case_id}",
                             ctx, {"type": "text", "reply_markup": markup})  # fmt: skip


async def _tell_decision(
    conn: Any, settings: Settings, now: dt.datetime, case_id: int, ref: RecipientRef,
    approve: bool, reason: str, staff: Account,
) -> None:  # fmt: skip
    key = f"case:{case_id}"
    for fac in await facilitator_accounts(conn, ref.facilitator_id):
        await plan_notice(conn, settings, now, fac, "graduasi_notice_facilitator", key, {
            "approved": approve, "name": ref.name, "desa": ref.desa, "case_id": case_id,
            "reason": reason, "staff": staff.display_name,
        })  # fmt: skip
    fam = await family_account(conn, ref.id)
    if fam is not None:
        template = "graduasi_selamat" if approve else "graduasi_lanjut"
        await plan_notice(conn, settings, now, fam, template, key, {
            "name": ref.name, "pkh": ref.receives_pkh, "sembako": ref.receives_sembako,
        })  # fmt: skip


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
    open_case: int | None = None  # a proposal waiting for staff (no second one is offered)


async def score_view(
    db: Database, settings: Settings, account: Account, nik: str, now: dt.datetime
) -> ScoreView:
    """/skor <NIK>: a facilitator's or staff member's view of one recipient in scope."""
    if account.role not in ("facilitator", "staff", "admin"):
        raise GraduationError("not_found")
    ref = await find_recipient(db, account, nik)
    return await score_view_of(db, settings, account, ref.id, now)


async def score_view_of(
    db: Database, settings: Settings, account: Account, recipient_id: int, now: dt.datetime
) -> ScoreView:
    """/skor by id (a name search or a pick): the latest period that has data."""
    if account.role not in ("facilitator", "staff", "admin"):
        raise GraduationError("not_found")
    ref = await get_recipient(db, account, recipient_id)
    period = await scoring.latest_data_period(db, ref.id, now, settings.timezone)
    result = await scoring.recompute_recipient(db, settings, ref.id, now, period)
    if result is None:
        raise GraduationError("not_active")
    flags = await scoring.risk_flags_for(db, ref.id, result.period)
    open_case = await db.fetchval(
        "SELECT id FROM graduation_cases WHERE recipient_id = ? AND kind = 'graduation'"
        " AND status = 'confirmed' ORDER BY id DESC LIMIT 1",
        (ref.id,),
    )
    can_confirm = account.role == "facilitator" and result.band == BAND_READY and not open_case
    return ScoreView(
        ref, result, flags, can_confirm, params_from_settings(settings).essential_items,
        open_case,
    )  # fmt: skip


async def search_people(db: Database, account: Account, query: str) -> list[RecipientRef]:
    """People in the account's scope whose name contains the query (any case), for commands
    that take a person: a NIK, or part of a name. Active and paused first, by name."""
    needle = " ".join(query.split()).casefold()
    if len(needle) < 2:
        raise GraduationError("search_short")
    if account.role not in ("facilitator", "staff", "admin"):
        raise GraduationError("not_found")
    sql = _REF_SQL + " WHERE lower(r.name) LIKE ?"
    args: list[Any] = ["%" + needle.replace("%", "").replace("_", "") + "%"]
    if account.role == "facilitator":
        sql += " AND r.facilitator_id = ?"
        args.append(account.facilitator_id)
    elif account.role == "staff" and account.kecamatan_code is not None:
        sql += " AND r.kecamatan_code = ?"
        args.append(account.kecamatan_code)
    rows = await db.fetchall(sql + " ORDER BY r.status <> 'active', r.name, r.id LIMIT 50", args)
    found = [_ref(r) for r in rows if needle in r["name"].casefold()]
    if not found:
        raise GraduationError("search_none", query=query.strip()[:40])
    return found


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
