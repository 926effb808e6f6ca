"""After graduation: the +3 and +6 month check-ins, alerts on a bad answer, reopened mentoring.

- plan_checkins() runs inside the cycle's tick (bot/services/cycle.py): each graduate whose
  check-in is current (bot.domain.followup) gets one question with three buttons, through
  the outbox, out of quiet hours. A followup_checkins row (UNIQUE case, step) and the outbox
  key ('followup', person, '-', 'case<id>:<step>') make it once, however often or late the
  tick runs.
- answer_checkin(): a button press is stored once; 'belum cukup' or 'usaha tutup' alerts the
  family's facilitator and the staff of its region (outbox kind 'alert').
- reopen(): staff put a graduate back into mentoring with a reason (audit_log); the cycle
  mentors the family again for REOPEN_PERIODS periods from the month of the decision.
- with_followup(): the answers and a reopening as columns of the graduates export.

SQL is portable: `?` placeholders, ON CONFLICT ... DO NOTHING, RETURNING id, ISO-text times.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.callbacks import encode
from bot.config import Settings
from bot.db import Database
from bot.domain import followup as fu
from bot.domain.cycle import OPEN, out_of_quiet_hours, step_by_name
from bot.render import render
from bot.services.accounts import Account
from bot.services.cycle import (
    PRIORITY_CYCLE,
    PRIORITY_NOTICE,
    PlannedMessage,
    enqueue,
    iso,
    staff_targets,
)

FollowupError = fu.FollowupError
SEARCH_LIMIT = 10


def _parse(value: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def local_date(stored: str, tz: dt.tzinfo) -> dt.date:
    """A stored UTC time as the local (WIB) date people know it by."""
    return _parse(stored).astimezone(tz).date()


def _markup(rows: list[list[tuple[str, str]]]) -> dict[str, Any]:
    """outbox.attachment for a text message with inline buttons (label, callback data)."""
    return {
        "type": "text",
        "reply_markup": {
            "inline_keyboard": [
                [{"text": text, "callback_data": data} for text, data in row] for row in rows
            ]
        },
    }


def checkin_attachment(checkin_id: int, language: str) -> dict[str, Any]:
    """The three answer buttons under a check-in question, one per row."""
    return _markup(
        [
            [(render("followup_button", language, key=a), encode("flw", "a", checkin_id, a))]
            for a in fu.ANSWERS
        ]
    )


# --- planning (inside the tick's transaction) -----------------------------------------------


async def _all(conn: aiosqlite.Connection, sql: str, params: Any = ()) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


async def plan_checkins(
    conn: aiosqlite.Connection, settings: Settings, now: dt.datetime
) -> list[PlannedMessage]:
    """Plan every check-in current at `now` that was not planned before; returns the new ones.

    Asked: graduates (status 'graduated', their latest approved graduation case) with a
    reachable, unmuted recipient account. One not linked yet is asked once they link, while
    the check-in is still current.
    """
    tz, cfg = settings.tz, settings.cycle
    first, last = fu.STEPS[0], fu.STEPS[-1]
    # decisions whose check-ins may be current (bounds generous; current_checkin() decides)
    oldest = fu.add_months(now.astimezone(tz).date(), -fu.STALE_AFTER_MONTHS - 1)
    rows = await _all(
        conn,
        "SELECT g.id AS case_id, g.decided_at, r.id AS recipient_id, r.name,"
        " a.id AS account_id, a.chat_id, a.language"
        " FROM graduation_cases g"
        " JOIN recipients r ON r.id = g.recipient_id"
        " JOIN accounts a ON a.recipient_id = r.id AND a.role = 'recipient'"
        " WHERE g.kind = 'graduation' AND g.status = 'approved' AND g.decided_at >= ?"
        " AND g.decided_at <= ? AND r.status = 'graduated' AND a.reachable = 1 AND a.muted = 0"
        # asked already: the last check-in, or any while the last cannot be due yet
        " AND NOT EXISTS (SELECT 1 FROM followup_checkins c WHERE c.case_id = g.id"
        "   AND (c.step = ? OR g.decided_at > ?))"
        " AND NOT EXISTS (SELECT 1 FROM graduation_cases g2 WHERE g2.recipient_id = g.recipient_id"
        "   AND g2.kind = 'graduation' AND g2.status = 'approved' AND g2.decided_at > g.decided_at)"
        " ORDER BY g.decided_at, g.id",
        (oldest.isoformat(), iso(fu.latest_decision(now, first[1], tz)), last[0],
         iso(fu.latest_decision(now, last[1], tz))),
    )  # fmt: skip
    if not rows:
        return []
    send_at = out_of_quiet_hours(now, cfg, tz)
    out: list[PlannedMessage] = []
    for r in rows:
        current = fu.current_checkin(_parse(r["decided_at"]), now, cfg.delivery_hour, tz)
        if current is None:
            continue
        async with conn.execute(
            "INSERT INTO followup_checkins (case_id, recipient_id, step, due_at, account_id,"
            " asked_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, step) DO NOTHING"
            " RETURNING id",
            (r["case_id"], r["recipient_id"], current.step, iso(current.due), r["account_id"],
             iso(now)),
        ) as cur:  # fmt: skip
            found = await cur.fetchone()
        if found is None:  # asked before (the bounds above are generous)
            continue
        checkin_id = int(found[0])
        text = render("followup_checkin", r["language"], name=r["name"], months=current.months)
        message = PlannedMessage(
            "followup", f"acc:{r['account_id']}", "-", f"case{r['case_id']}:{current.step}",
            r["chat_id"], r["account_id"], text, PRIORITY_CYCLE, send_at,
            f"graduate {r['name']} (acc {r['account_id']}), {current.months}-month check-in",
            attachment=checkin_attachment(checkin_id, r["language"]),
        )  # fmt: skip
        if await enqueue(conn, message, now):
            out.append(message)
    return out


# --- answering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    answer: str
    months: int
    alerts: int  # outbox messages planned for the facilitator and staff


async def answer_checkin(
    db: Database,
    settings: Settings,
    account: Account | None,
    checkin_id: int,
    answer: str,
    now: dt.datetime,
) -> Answered:
    """Store the graduate's answer once; 'belum'/'tutup' alerts facilitator and staff.

    FollowupError('stale'): not this person's check-in, an unknown one, or one whose family is
    no longer a graduate of that case (reopened, graduated again); 'already': answered before.
    """
    answer = fu.parse_answer(answer)
    if account is None or account.role != "recipient" or account.recipient_id is None:
        raise FollowupError("stale")
    row = await db.fetchone(
        "SELECT c.id, c.case_id, c.step, c.recipient_id, c.answer, r.status, r.name, r.nik,"
        " r.kecamatan_code, r.facilitator_id, d.name AS desa, g.decided_at,"
        " EXISTS (SELECT 1 FROM followup_reopenings fr WHERE fr.case_id = c.case_id)"
        "   AS reopened"
        " FROM followup_checkins c JOIN recipients r ON r.id = c.recipient_id"
        " JOIN graduation_cases g ON g.id = c.case_id"
        " LEFT JOIN desa d ON d.id = r.desa_id WHERE c.id = ?",
        (checkin_id,),
    )
    if row is None or row["recipient_id"] != account.recipient_id:
        raise FollowupError("stale")
    if row["answer"] is not None:
        raise FollowupError("already")
    if row["status"] != "graduated" or row["reopened"]:
        raise FollowupError("stale")
    months = dict(fu.STEPS)[row["step"]]
    at = iso(now)
    alerts = 0
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE followup_checkins SET answer = ?, answered_at = ?, answered_by = ?"
            " WHERE id = ? AND answer IS NULL",
            (answer, at, account.id, checkin_id),
        )
        if cur.rowcount != 1:
            raise FollowupError("already")
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'followup.answer', 'recipient', ?, ?)",
            (at, f"account:{account.id}", str(row["recipient_id"]),
             json.dumps({"case_id": row["case_id"], "step": row["step"], "answer": answer})),
        )  # fmt: skip
        if answer in fu.ALERT_ANSWERS:
            for m in await _alerts(conn, settings, row, answer, months, now):
                alerts += await enqueue(conn, m, now)
    return Answered(answer, months, alerts)


async def _alerts(
    conn: aiosqlite.Connection,
    settings: Settings,
    row: Any,
    answer: str,
    months: int,
    now: dt.datetime,
) -> list[PlannedMessage]:
    """The alert to the family's facilitator and to the staff of its region."""
    context = {"name": row["name"], "nik": row["nik"], "desa": row["desa"], "answer": answer,
               "months": months, "decided": local_date(row["decided_at"], settings.tz)}  # fmt: skip
    step = f"followup:{row['id']}"
    out = []
    facs = await _all(
        conn,
        "SELECT id, chat_id, language, display_name FROM accounts WHERE role = 'facilitator'"
        " AND facilitator_id = ? AND reachable = 1 ORDER BY id",
        (row["facilitator_id"],),
    )
    for f in facs:
        text = render("followup_alert", f["language"], role="facilitator", case_id=None, **context)
        out.append(PlannedMessage(
            "alert", f"acc:{f['id']}", "-", step, f["chat_id"], f["id"], text, PRIORITY_NOTICE,
            now, f"facilitator {f['display_name'] or ''} (acc {f['id']}), follow-up alert",
        ))  # fmt: skip
    for t in await staff_targets(conn, settings):
        if t.kecamatan_code is not None and t.kecamatan_code != row["kecamatan_code"]:
            continue
        # a reopen button in a private chat only (the chat gate refuses buttons in groups)
        button = None
        if t.account_id is not None:
            label = render("followup_button", t.language, key="reopen")
            button = _markup([[(label, encode("flw", "r", row["case_id"]))]])
        text = render("followup_alert", t.language, role="staff", case_id=row["case_id"],
                      **context)  # fmt: skip
        out.append(PlannedMessage(
            "alert", t.person, "-", step, t.chat_id, t.account_id, text, PRIORITY_NOTICE, now,
            f"{t.who}, follow-up alert", attachment=button,
        ))  # fmt: skip
    return out


# --- reopening -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Graduate:
    case_id: int
    recipient_id: int
    name: str
    nik: str
    desa: str | None
    kecamatan_code: str
    status: str
    decided_at: str
    reopened: bool
    last_answer: str | None  # the latest follow-up answer, if any


_GRADUATE_SQL = (
    "SELECT g.id AS case_id, r.id AS recipient_id, r.name, r.nik, d.name AS desa,"
    " r.kecamatan_code, r.status, g.decided_at,"
    " EXISTS (SELECT 1 FROM followup_reopenings fr WHERE fr.case_id = g.id) AS reopened,"
    " (SELECT c.answer FROM followup_checkins c WHERE c.case_id = g.id AND c.answer IS NOT NULL"
    "   ORDER BY c.answered_at DESC, c.id DESC LIMIT 1) AS last_answer"
    " FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
    " LEFT JOIN desa d ON d.id = r.desa_id"
    " WHERE g.kind = 'graduation' AND g.status = 'approved'"
)


def _graduate(row: Any) -> Graduate:
    return Graduate(
        row["case_id"], row["recipient_id"], row["name"], row["nik"], row["desa"],
        row["kecamatan_code"], row["status"], row["decided_at"] or "", bool(row["reopened"]),
        row["last_answer"],
    )  # fmt: skip


def _require_staff(account: Account | None) -> Account:
    if account is None or account.role not in ("staff", "admin"):
        raise FollowupError("staff_only")
    return account


def _region(account: Account) -> str | None:
    """The kecamatan a staff member is limited to (None: the whole kabupaten, or admin)."""
    return account.kecamatan_code if account.role == "staff" else None


async def _graduates(db: Database, account: Account, where: str, args: list[Any]) -> list[Graduate]:
    sql, params = _GRADUATE_SQL + where, list(args)
    region = _region(account)
    if region is not None:
        sql += " AND r.kecamatan_code = ?"
        params.append(region)
    rows = await db.fetchall(sql + " ORDER BY r.name, g.decided_at DESC", params)
    return [_graduate(r) for r in rows]


async def search_graduates(db: Database, account: Account | None, query: str) -> list[Graduate]:
    """Graduates in the staff member's region whose name contains `query` (newest case each,
    at most SEARCH_LIMIT); FollowupError('search_short') for fewer than SEARCH_MIN letters."""
    account = _require_staff(account)
    text = " ".join(query.split()).lower()
    if len(text) < fu.SEARCH_MIN:
        raise FollowupError("search_short", min=fu.SEARCH_MIN)
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = await _graduates(
        db, account, " AND r.status = 'graduated' AND lower(r.name) LIKE ? ESCAPE '\\'",
        [pattern],
    )  # fmt: skip
    newest: dict[int, Graduate] = {}
    for g in found:  # newest case first per recipient (ordered by decided_at DESC)
        newest.setdefault(g.recipient_id, g)
    return list(newest.values())[:SEARCH_LIMIT]


async def graduate_case(db: Database, account: Account | None, case_id: int) -> Graduate:
    """One approved graduation case in the staff member's region (the reopen button)."""
    account = _require_staff(account)
    found = await _graduates(db, account, " AND g.id = ?", [case_id])
    if not found:
        raise FollowupError("not_found")
    return found[0]


async def _resolve(db: Database, account: Account, ref: str | int) -> Graduate:
    """A NIK (text) or a graduation case number (int) -> the graduate's approved case."""
    if isinstance(ref, str):
        found = await _graduates(db, account, " AND r.nik = ?", [ref])
        if not found:
            raise FollowupError("not_found")
        return max(found, key=lambda g: (g.decided_at, g.case_id))
    return await graduate_case(db, account, ref)


@dataclass(frozen=True)
class Reopened:
    graduate: Graduate
    reason: str
    first_period: str
    invitation_at: dt.datetime  # when the cycle invites the family next (its first period)


async def reopen(
    db: Database,
    settings: Settings,
    account: Account | None,
    ref: str | int,
    reason: str | None,
    now: dt.datetime,
) -> Reopened:
    """Staff reopen mentoring for a graduate (ref: a NIK, or a case number), audited."""
    account = _require_staff(account)
    text = fu.clean_reason(reason)
    grad = await _resolve(db, account, ref)
    if grad.reopened:
        raise FollowupError("already_reopened")
    if grad.status != "graduated":
        raise FollowupError("not_graduated")
    newer = await db.fetchval(
        "SELECT count(*) FROM graduation_cases WHERE recipient_id = ? AND kind = 'graduation'"
        " AND status = 'approved' AND decided_at > ?",
        (grad.recipient_id, grad.decided_at),
    )
    if newer:
        raise FollowupError("not_graduated")
    first, last = fu.reopen_window(now, settings.tz)
    at = iso(now)
    async with db.transaction() as conn:
        async with conn.execute(
            "INSERT INTO followup_reopenings (case_id, recipient_id, reopened_by, reason,"
            " reopened_at, first_period, last_period) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (case_id) DO NOTHING RETURNING id",
            (grad.case_id, grad.recipient_id, account.id, text, at, first, last),
        ) as cur:
            if await cur.fetchone() is None:
                raise FollowupError("already_reopened")
        cur2 = await conn.execute(
            "UPDATE recipients SET status = 'active', status_reason = ?, status_changed_at = ?,"
            " updated_at = ? WHERE id = ? AND status = 'graduated'",
            (f"dibuka kembali: {text}", at, at, grad.recipient_id),
        )
        if cur2.rowcount != 1:
            raise FollowupError("not_graduated")  # rolls the reopening back
        await conn.execute("DELETE FROM graduation_waits WHERE account_id = ?", (account.id,))
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'followup.reopen', 'recipient', ?, ?)",
            (at, f"account:{account.id}", str(grad.recipient_id),
             json.dumps({"case_id": grad.case_id, "reason": text, "first_period": first,
                         "last_period": last}, ensure_ascii=False)),
        )  # fmt: skip
        invitation = step_by_name(settings.cycle, first, OPEN, settings.tz).due
        await _tell_reopened(conn, settings, now, grad, account, text, first, invitation)
    return Reopened(grad, text, first, invitation)


async def _tell_reopened(
    conn: aiosqlite.Connection, settings: Settings, now: dt.datetime, grad: Graduate,
    staff: Account, reason: str, first: str, invitation: dt.datetime,
) -> None:  # fmt: skip
    """The family (last told its assistance ended) and its facilitator hear of the reopening,
    through the outbox (quiet hours respected), once per case; the family without the reason."""
    from bot.services import graduation as gs

    fac_id = (await _all(conn, "SELECT facilitator_id FROM recipients WHERE id = ?",
                         (grad.recipient_id,)))[0][0]  # fmt: skip
    ctx = {"name": grad.name, "desa": grad.desa, "period": first,
           "invitation": invitation.astimezone(settings.tz).date()}  # fmt: skip
    key = f"case:{grad.case_id}"
    family = await gs.family_account(conn, grad.recipient_id)
    if family is not None:
        await gs.plan_notice(conn, settings, now, family, "followup_reopen_notice", key,
                             {**ctx, "to": "family"})  # fmt: skip
    for fac in await gs.facilitator_accounts(conn, fac_id):
        await gs.plan_notice(conn, settings, now, fac, "followup_reopen_notice", key,
                             {**ctx, "to": "facilitator", "reason": reason,
                              "staff": staff.display_name})  # fmt: skip


async def start_reopen(
    db: Database, now: dt.datetime, account: Account | None, case_id: int
) -> Graduate:
    """Staff's "Buka kembali pendampingan" button: the reason is the next message."""
    from bot.services import proposals

    account = _require_staff(account)
    grad = await graduate_case(db, account, case_id)
    if grad.reopened:
        raise FollowupError("already_reopened")
    if grad.status != "graduated":
        raise FollowupError("not_graduated")
    await proposals.set_wait(db, now, account, "reopen_reason", case_id=case_id)
    return grad


# --- the graduates export --------------------------------------------------------------------

ANSWER_LABELS = {"cukup": "berjalan, cukup", "belum": "berjalan, belum cukup",
                 "tutup": "usaha tutup"}  # fmt: skip
UNANSWERED = "belum dijawab"
EXPORT_COLUMNS = [
    ("followup_m3", "Tindak lanjut 3 bulan"),
    ("followup_m3_date", "Tanggal jawaban 3 bulan"),
    ("followup_m6", "Tindak lanjut 6 bulan"),
    ("followup_m6_date", "Tanggal jawaban 6 bulan"),
    ("reopened_date", "Dibuka kembali"),
    ("reopen_reason", "Alasan dibuka kembali"),
]


async def with_followup(db: Database, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The graduates export's rows (bot.services.graduation.approved_graduates) with the
    follow-up answers and a reopening added (EXPORT_COLUMNS); '' where there is nothing.

    A row is matched to its case by NIK and decision date."""
    cases = await db.fetchall(
        "SELECT g.id, r.nik, g.decided_at FROM graduation_cases g"
        " JOIN recipients r ON r.id = g.recipient_id"
        " WHERE g.kind = 'graduation' AND g.status = 'approved'"
        " ORDER BY g.decided_at, g.id"
    )
    by_key = {(c["nik"], (c["decided_at"] or "")[:10]): c["id"] for c in cases}
    answers: dict[int, dict[str, Any]] = {}
    for c in await db.fetchall("SELECT case_id, step, answer, answered_at FROM followup_checkins"):
        answers.setdefault(c["case_id"], {})[c["step"]] = c
    reopened = {
        r["case_id"]: r
        for r in await db.fetchall("SELECT case_id, reason, reopened_at FROM followup_reopenings")
    }
    out = []
    for row in rows:
        case_id = by_key.get((row.get("nik"), row.get("decision_date") or ""))
        extra = {key: "" for key, _ in EXPORT_COLUMNS}
        for step, _months in fu.STEPS:
            asked = answers.get(case_id or -1, {}).get(step)
            if asked is not None:
                extra[f"followup_{step}"] = ANSWER_LABELS.get(asked["answer"], UNANSWERED)
                extra[f"followup_{step}_date"] = (asked["answered_at"] or "")[:10]
        again = reopened.get(case_id or -1)
        if again is not None:
            extra["reopened_date"] = again["reopened_at"][:10]
            extra["reopen_reason"] = again["reason"]
        out.append({**row, **extra})
    return out
