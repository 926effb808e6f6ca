"""Graduation proposals in chat: the staff's paged cards, the family's answer, a family asking
to graduate itself, and the words a person is asked for in their next message.

A proposal is a graduation_cases row (kind 'graduation'); its id is the one number staff see on
the card, on the buttons and in /setujui N and /tolak N. The decision itself, its audit and its
notices live in bot/services/graduation.py.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bot.callbacks import encode
from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.domain.sparkline import sparkline
from bot.domain.timefmt import format_periods_in
from bot.render import render
from bot.services import graduation as grad
from bot.services.accounts import Account
from bot.services.cycle import iso
from bot.services.read_model import effective_reports

PAGE_SIZE = 5
FILTERS = ("wait", "obj", "all")
SPARK_MONTHS = 6
# How long a question waits for its answer in the person's next message.
WAITS = {
    "reject_reason": dt.timedelta(hours=2),
    "approve_reason": dt.timedelta(hours=2),
    "reopen_reason": dt.timedelta(hours=2),
    "statement": dt.timedelta(hours=2),
    "objection": dt.timedelta(days=1),
}
OBJECTION_MIN, OBJECTION_MAX = 3, 500
# What a card shows of free text (a page of five cards stays one Telegram message).
CUT = {"name": 60, "desa": 40, "statement": 220, "family_reason": 220, "notes": 160,
       "decision_reason": 160, "gate": 110, "facilitator": 40, "who": 40}  # fmt: skip


def _cut(text: str | None, kind: str) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    limit = CUT[kind]
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head and text[limit - 1] != " ":  # at a word boundary, never mid-word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:") + "…"


@dataclass(frozen=True)
class ProposalCard:
    case_id: int
    recipient_id: int
    status: str  # confirmed (waiting) | approved | rejected
    name: str
    desa: str | None
    programme: str
    pkh: bool | None
    sembako: bool | None
    desil: int | None
    score: int | None
    period: str | None
    model_version: str | None
    ready: bool | None  # the score said "Siap graduasi" at the proposal (None: before 0015)
    gates: list[dict[str, Any]]  # {"key", "met", "reason"}
    checklist: dict[str, str]  # item -> met | not_met | unknown
    spark: str
    profits: list[int | None]  # oldest first, SPARK_MONTHS months ending at the score period
    visit: dict[str, Any] | None  # {"date", "notes", "photo"}
    facilitator: str | None
    statement: str | None
    family_answer: str | None  # agree | object | None
    family_reason: str | None
    family_voice: bool
    linked: bool
    unreachable: bool
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None


@dataclass(frozen=True)
class ProposalPage:
    filter: str
    page: int
    pages: int
    total: int
    counts: dict[str, int]
    cards: list[ProposalCard]
    waiting_visit: int  # candidates the score calls ready, not proposed yet


def _region(account: Account) -> str | None:
    return account.kecamatan_code if account.role == "staff" else None


_FILTER_SQL = {
    "wait": " AND g.status = 'confirmed' AND (g.family_answer IS NULL OR g.family_answer = 'agree')",
    "obj": " AND g.status = 'confirmed' AND g.family_answer = 'object'",
    "all": "",
}
_ORDER_SQL = {
    "wait": " ORDER BY g.id",
    "obj": " ORDER BY g.id",
    "all": " ORDER BY CASE WHEN g.status = 'confirmed' THEN 0 ELSE 1 END, g.id DESC",
}

_CARD_SQL = (
    "SELECT g.id, g.status, g.statement, g.family_answer, g.family_reason, g.family_voice_file_id,"
    " g.proposed_ready, g.score, g.model_version, g.period, g.decision_reason, g.decided_at,"
    " r.id AS rid, r.name, d.name AS desa, r.programme, r.receives_pkh, r.receives_sembako,"
    " r.welfare_decile, s.inputs, v.visit_date, v.notes, v.photo_file_id,"
    " f.name AS facilitator, coalesce(da.display_name, 'akun ' || da.id) AS decided_by,"
    " (SELECT count(*) FROM accounts a WHERE a.recipient_id = r.id"
    "   AND a.role = 'recipient') AS linked,"
    " (SELECT count(*) FROM accounts a WHERE a.recipient_id = r.id AND a.role = 'recipient'"
    "   AND a.reachable = 0) AS unreachable"
    " FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
    " LEFT JOIN desa d ON d.id = r.desa_id LEFT JOIN scores s ON s.id = g.score_id"
    # the family's last visit (a later one than the proposal's counts: it is the newest news)
    " LEFT JOIN visits v ON v.id = (SELECT x.id FROM visits x WHERE x.recipient_id = r.id"
    "   ORDER BY x.visit_date DESC, x.id DESC LIMIT 1)"
    " LEFT JOIN facilitators f ON f.id = r.facilitator_id"
    " LEFT JOIN accounts da ON da.id = g.decided_by"
    " WHERE g.kind = 'graduation'"
)


async def proposal_page(
    db: Database, settings: Settings, account: Account, filter_: str = "wait", page: int = 0
) -> ProposalPage:
    """/graduasi: proposals in the staff member's region under a filter, 5 to a page."""
    if account.role not in ("staff", "admin"):
        raise grad.GraduationError("staff_only")
    if filter_ not in FILTERS:
        raise grad.GraduationError("stale")
    region = _region(account)
    where, args = "", []
    if region:
        where, args = " AND r.kecamatan_code = ?", [region]
    row = await db.fetchone(
        "SELECT"
        " sum(CASE WHEN g.status = 'confirmed' AND (g.family_answer IS NULL"
        "   OR g.family_answer = 'agree') THEN 1 ELSE 0 END) AS wait,"
        " sum(CASE WHEN g.status = 'confirmed' AND g.family_answer = 'object'"
        "   THEN 1 ELSE 0 END) AS obj,"
        " count(*) AS total"
        " FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
        " WHERE g.kind = 'graduation'" + where,
        args,
    )
    assert row is not None  # an aggregate always answers one row
    counts = {"wait": row["wait"] or 0, "obj": row["obj"] or 0, "all": row["total"] or 0}
    total = counts[filter_]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = await db.fetchall(
        _CARD_SQL + _FILTER_SQL[filter_] + where + _ORDER_SQL[filter_] + " LIMIT ? OFFSET ?",
        [*args, PAGE_SIZE, page * PAGE_SIZE],
    )
    cards = await _cards(db, rows, account.language)
    ready = await grad.candidate_ids(db, settings, region)
    proposed = {
        r[0]
        for r in await db.fetchall(
            "SELECT recipient_id FROM graduation_cases WHERE status = 'confirmed'"
        )
    }
    return ProposalPage(filter_, page, pages, total, counts, cards, len(ready - proposed))


async def _cards(db: Database, rows: list[Any], lang: str = "id") -> list[ProposalCard]:
    windows = {
        r["id"]: [P.add_periods(r["period"], -i) for i in range(SPARK_MONTHS - 1, -1, -1)]
        for r in rows
        if r["period"]
    }
    every = sorted({p for w in windows.values() for p in w})
    figures = await effective_reports(db, [r["rid"] for r in rows], every) if every else {}
    out = []
    for r in rows:
        inputs = json.loads(r["inputs"]) if r["inputs"] else {}
        # months as people read them ("Maret 2024", not "2024-03"), then cut to fit
        gates = [{"key": k, "met": bool(m), "reason": _cut(format_periods_in(reason, lang), "gate")}
                 for k, m, reason in inputs.get("gates", [])]  # fmt: skip
        profits = [
            (figures.get((r["rid"], p)) or {}).get("profit") for p in windows.get(r["id"], [])
        ]
        visit = None
        if r["visit_date"]:
            visit = {"date": dt.date.fromisoformat(r["visit_date"]),
                     "notes": _cut(r["notes"], "notes"), "photo": bool(r["photo_file_id"])}  # fmt: skip
        out.append(ProposalCard(
            r["id"], r["rid"], r["status"], _cut(r["name"], "name") or "", _cut(r["desa"], "desa"),
            r["programme"], grad._flag(r["receives_pkh"]), grad._flag(r["receives_sembako"]),
            r["welfare_decile"], r["score"], r["period"], r["model_version"],
            None if r["proposed_ready"] is None else bool(r["proposed_ready"]), gates,
            inputs.get("checklist", {}), sparkline(profits), profits, visit,
            _cut(r["facilitator"], "facilitator"), _cut(r["statement"], "statement"),
            r["family_answer"], _cut(r["family_reason"], "family_reason"),
            bool(r["family_voice_file_id"]), bool(r["linked"]), bool(r["unreachable"]),
            _cut(r["decided_by"], "who") if r["status"] != "confirmed" else None,
            r["decided_at"], _cut(r["decision_reason"], "decision_reason"),
        ))  # fmt: skip
    return out


# --- waiting for the next message -----------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    kind: str  # reject_reason | approve_reason | reopen_reason | statement | objection
    case_id: int | None
    recipient_id: int | None


async def set_wait(
    db: Database, now: dt.datetime, account: Account, kind: str, *, case_id: int | None = None,
    recipient_id: int | None = None,
) -> None:  # fmt: skip
    """The person's next message answers this question (replaces an older one)."""
    await db.execute(
        "INSERT INTO graduation_waits (account_id, kind, case_id, recipient_id, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET kind = excluded.kind,"
        " case_id = excluded.case_id, recipient_id = excluded.recipient_id,"
        " created_at = excluded.created_at",
        (account.id, kind, case_id, recipient_id, iso(now)),
    )


async def waiting(db: Database, now: dt.datetime, account: Account) -> Wait | None:
    """The question the person's next message answers, if one is still fresh."""
    row = await db.fetchone(
        "SELECT kind, case_id, recipient_id, created_at FROM graduation_waits WHERE account_id = ?",
        (account.id,),
    )
    if row is None:
        return None
    if dt.datetime.fromisoformat(row["created_at"]) < now - WAITS[row["kind"]]:
        await clear_wait(db, account)
        return None
    return Wait(row["kind"], row["case_id"], row["recipient_id"])


async def clear_wait(db: Database, account: Account) -> bool:
    return bool(await db.update("DELETE FROM graduation_waits WHERE account_id = ?", (account.id,)))


# --- staff: reject asks for the reason --------------------------------------------------------


async def start_reject(db: Database, now: dt.datetime, account: Account, case_id: int) -> str:
    """'Tolak' pressed (or /tolak N without a reason): the next message is the reason.
    Returns the family's name; no_case / already_decided as decide() would."""
    ref = await grad.open_case(db, account, case_id)
    await set_wait(db, now, account, "reject_reason", case_id=case_id)
    return ref.name


async def start_approve(
    db: Database, now: dt.datetime, account: Account, case_id: int
) -> tuple[str, list[dict[str, Any]]]:
    """'Setujui' pressed (or /setujui N without a reason): the family's name and what the
    approval would pass over. With gaps the next message is the reason (asked like Tolak);
    without, staff confirm with a second press."""
    ref, gaps = await grad.approval_check(db, account, case_id)
    if gaps:
        await set_wait(db, now, account, "approve_reason", case_id=case_id)
    else:
        await clear_wait(db, account)
    return ref.name, gaps


# --- the family's voice ----------------------------------------------------------------------


async def _family_case(db: Database, account: Account, case_id: int) -> Any:
    if account.role != "recipient" or account.recipient_id is None:
        raise grad.GraduationError("no_case")
    case = await db.fetchone(
        "SELECT g.id, g.status, g.recipient_id, r.name, r.facilitator_id, r.kecamatan_code,"
        " d.name AS desa FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
        " LEFT JOIN desa d ON d.id = r.desa_id WHERE g.id = ? AND g.kind = 'graduation'",
        (case_id,),
    )
    if case is None or case["recipient_id"] != account.recipient_id:
        raise grad.GraduationError("no_case")
    if case["status"] != "confirmed":
        raise grad.GraduationError("family_decided", status=case["status"])
    return case


async def family_agree(
    db: Database, settings: Settings, account: Account, case_id: int, now: dt.datetime
) -> str:
    """'Setuju' under the family's message: recorded on the proposal (staff see it)."""
    case = await _family_case(db, account, case_id)
    at = iso(now)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE graduation_cases SET family_answer = 'agree', family_reason = NULL,"
            " family_voice_file_id = NULL, family_answered_at = ? WHERE id = ?",
            (at, case_id),
        )
        await grad._audit(conn, at, account, "graduation.family_agree", case["recipient_id"],
                          {"case_id": case_id})  # fmt: skip
        await conn.execute("DELETE FROM graduation_waits WHERE account_id = ?", (account.id,))
    return case["name"]


async def start_objection(db: Database, now: dt.datetime, account: Account, case_id: int) -> str:
    """'Saya keberatan': the family's next message (text or voice note) is its reason."""
    case = await _family_case(db, account, case_id)
    await set_wait(db, now, account, "objection", case_id=case_id)
    return case["name"]


async def family_object(
    db: Database, settings: Settings, account: Account, case_id: int, now: dt.datetime, *,
    text: str | None = None, voice_file_id: str | None = None,
) -> str:  # fmt: skip
    """The family's objection with its reason (typed, or a voice note passed on to staff);
    staff of the kecamatan and the facilitator are told through the outbox."""
    case = await _family_case(db, account, case_id)
    reason = " ".join((text or "").split()) or None
    if voice_file_id is None and (reason is None or not
                                  OBJECTION_MIN <= len(reason) <= OBJECTION_MAX):  # fmt: skip
        raise grad.GraduationError("objection_length", min=OBJECTION_MIN, max=OBJECTION_MAX)
    if reason is not None and len(reason) > OBJECTION_MAX:
        raise grad.GraduationError("objection_length", min=OBJECTION_MIN, max=OBJECTION_MAX)
    at = iso(now)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE graduation_cases SET family_answer = 'object', family_reason = ?,"
            " family_voice_file_id = ?, family_answered_at = ? WHERE id = ?",
            (reason, voice_file_id, at, case_id),
        )
        await grad._audit(conn, at, account, "graduation.family_object", case["recipient_id"],
                          {"case_id": case_id, "voice": voice_file_id is not None})  # fmt: skip
        await conn.execute("DELETE FROM graduation_waits WHERE account_id = ?", (account.id,))
        ctx = {"name": case["name"], "desa": case["desa"], "case_id": case_id, "reason": reason,
               "voice": voice_file_id is not None}  # fmt: skip
        attachment = {"type": "voice", "file_id": voice_file_id} if voice_file_id else None
        key = f"case:{case_id}:{at}"
        # staff decide on /graduasi; the facilitator cannot open it, so theirs points to
        # the family's card (/daftar, /cari)
        for role, people in (
            ("staff", await grad.staff_accounts(conn, case["kecamatan_code"])),
            ("facilitator", await grad.facilitator_accounts(conn, case["facilitator_id"])),
        ):
            for to in people:
                await grad.plan_notice(conn, settings, now, to, "graduasi_notice_objection", key,
                                       {**ctx, "to": role}, attachment)  # fmt: skip
    return case["name"]


async def ask_to_graduate(
    db: Database, settings: Settings, account: Account, now: dt.datetime
) -> str:
    """'Saya ingin mandiri': the family asks to graduate. Its facilitator gets the request
    (with the button that starts a proposal), staff are told. Returns the outcome key:
    'sent' | 'already_sent' | 'already_proposed'."""
    if account.role != "recipient" or account.recipient_id is None:
        raise grad.GraduationError("not_found")
    rid = account.recipient_id
    ref = await db.fetchone(
        "SELECT r.name, r.status, r.facilitator_id, r.kecamatan_code, d.name AS desa"
        " FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id WHERE r.id = ?",
        (rid,),
    )
    if ref is None or ref["status"] != "active":
        raise grad.GraduationError("not_active")
    if await db.fetchval(
        "SELECT id FROM graduation_cases WHERE recipient_id = ? AND status = 'confirmed'", (rid,)
    ):
        return "already_proposed"
    at = iso(now)
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO graduation_requests (recipient_id, account_id, status, created_at)"
            " VALUES (?, ?, 'open', ?) ON CONFLICT DO NOTHING RETURNING id",
            (rid, account.id, at),
        )
        row = await cur.fetchone()
        await cur.close()
        if row is None:
            return "already_sent"
        await grad._audit(conn, at, account, "graduation.family_request", rid,
                          {"request_id": row[0]})  # fmt: skip
        ctx = {"name": ref["name"], "desa": ref["desa"]}
        key = f"request:{row[0]}"
        for fac in await grad.facilitator_accounts(conn, ref["facilitator_id"]):
            markup = grad.buttons([(render("caseload_button", fac["language"], name="graduate", count=None),
                                    encode("fac", "cg", rid))])  # fmt: skip
            await grad.plan_notice(conn, settings, now, fac, "graduasi_notice_request", key,
                                   {**ctx, "to": "facilitator"},
                                   {"type": "text", "reply_markup": markup})  # fmt: skip
        for staff in await grad.staff_accounts(conn, ref["kecamatan_code"]):
            await grad.plan_notice(conn, settings, now, staff, "graduasi_notice_request", key,
                                   {**ctx, "to": "staff"})  # fmt: skip
    return "sent"
