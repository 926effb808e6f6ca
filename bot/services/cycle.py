"""`tick(db, settings, now)`: compute from the rows what the cycle owes at `now`, plan it.

Everything planned goes into the outbox with a unique key (kind, person, period, step), so a
second tick, a tick after a crash, or one after days of outage plans each message once.
Which steps are due comes from bot.domain.cycle (pure); this module only reads and writes rows.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from bot.config import Settings
from bot.db import Database
from bot.domain import cycle
from bot.domain.followup import in_window
from bot.domain.periods import mentoring_periods_of, period_of, prev_period
from bot.render import render

PRIORITY_NOTICE = 2
PRIORITY_ESCALATION = 3
PRIORITY_CYCLE = 5
PRIORITY_BROADCAST = 7


def iso(when: dt.datetime) -> str:
    """A UTC ISO time to the second, as the cycle's rows store it."""
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PlannedMessage:
    kind: str
    person: str
    period: str
    step: str
    chat_id: int
    account_id: int | None
    text: str
    priority: int
    not_before: dt.datetime
    who: str  # a readable label for CLI output: 'recipient Siti (acc 3)'
    broadcast_id: int | None = None
    # outbox.attachment (JSON): a file to send, and/or "reply_markup" (inline buttons)
    attachment: dict[str, Any] | None = None


@dataclass(frozen=True)
class StepOutcome:
    period: str
    step: str
    due: dt.datetime
    status: str  # 'done' (ran now) | 'skipped' (superseded, never ran) | 'current' (ran before)
    planned: int


@dataclass
class TickResult:
    now: dt.datetime
    dry_run: bool
    steps: list[StepOutcome] = field(default_factory=list)
    planned: list[PlannedMessage] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)  # recipients whose mentoring ended

    def lines(self, tz: dt.tzinfo) -> list[str]:
        """What happened, one readable line each."""

        def wib(when: dt.datetime) -> str:
            return when.astimezone(tz).strftime("%Y-%m-%d %H:%M WIB")

        out = [f"tick at {wib(self.now)}{' (dry run: nothing written)' if self.dry_run else ''}"]
        for s in self.steps:
            if s.status == "done":
                out.append(
                    f"  period {s.period} step {s.step} (due {wib(s.due)}): "
                    f"{'would run' if self.dry_run else 'ran'}, "
                    f"{s.planned} message(s) planned"
                )
            elif s.status == "skipped":
                out.append(
                    f"  period {s.period} step {s.step} (due {wib(s.due)}): skipped, "
                    "a later step is already due"
                )
            elif s.planned:
                out.append(
                    f"  period {s.period} step {s.step} (still current): "
                    f"{s.planned} late message(s) planned"
                )
        if not self.steps:
            out.append("  no cycle step is due")
        for m in self.planned:
            when = "" if m.not_before <= self.now else f", waits until {wib(m.not_before)}"
            out.append(f"  planned {m.kind} {m.period} {m.step} -> {m.who}{when}")
        if self.ended:
            out.append(f"  mentoring ended for {len(self.ended)} recipient(s)")
        return out


class _DryRun(Exception):
    """Raised to roll the tick's transaction back in a dry run."""


async def _all(conn: aiosqlite.Connection, sql: str, params: Any = ()) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


async def enqueue(conn: aiosqlite.Connection, m: PlannedMessage, now: dt.datetime) -> bool:
    """Insert one outbox row unless its key exists; True when it is new."""
    cur = await conn.execute(
        "INSERT INTO outbox (kind, person, period, step, account_id, chat_id, text, priority,"
        " broadcast_id, not_before, created_at, attachment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (kind, person, period, step) DO NOTHING",
        (
            m.kind, m.person, m.period, m.step, m.account_id, m.chat_id, m.text, m.priority,
            m.broadcast_id, iso(m.not_before), iso(now),
            json.dumps(m.attachment) if m.attachment else None,
        ),
    )  # fmt: skip
    inserted = cur.rowcount == 1
    await cur.close()
    return inserted


async def _reopened_windows(conn: aiosqlite.Connection) -> dict[int, tuple[str, str]]:
    """Mentoring reopened after graduation (bot/services/followup.py): each recipient's latest
    window (first, last period). A few rows, read once per pass instead of once per recipient."""
    rows = await _all(
        conn, "SELECT recipient_id, first_period, last_period FROM followup_reopenings ORDER BY id"
    )
    return {r["recipient_id"]: (r["first_period"], r["last_period"]) for r in rows}


def _in_mentoring(
    handover: str | None, period: str, count: int, reopened: tuple[str, str] | None = None
) -> bool:
    """A recipient is mentored in `period` when it lies in their window of `count` periods.

    No hand-over date on record: mentored (the office has not told us otherwise). Mentoring
    reopened after graduation (bot/services/followup.py) replaces the window with its own.
    """
    if reopened is not None:
        return in_window(period, reopened)
    if not handover:
        return True
    try:
        first, last = mentoring_periods_of(dt.date.fromisoformat(handover[:10]), count)
    except ValueError:
        return True
    return first <= period <= last


async def _eligible_recipients(
    conn: aiosqlite.Connection, settings: Settings, period: str
) -> list[aiosqlite.Row]:
    """Active recipients mentored in `period`, with report status and account (if linked)."""
    rows = await _all(
        conn,
        "SELECT r.id, r.name, r.handover_date, r.kecamatan_code, r.facilitator_id,"
        " d.name AS desa, f.name AS facilitator,"
        " a.id AS account_id, a.chat_id, a.language, a.muted, a.reachable,"
        " EXISTS (SELECT 1 FROM reports p WHERE p.recipient_id = r.id AND p.period = ?)"
        "   AS reported"
        " FROM recipients r"
        " LEFT JOIN desa d ON d.id = r.desa_id"
        " LEFT JOIN facilitators f ON f.id = r.facilitator_id"
        " LEFT JOIN accounts a ON a.recipient_id = r.id AND a.role = 'recipient'"
        " WHERE r.status = 'active' ORDER BY r.name, r.id",
        (period,),
    )
    n = settings.cycle.mentoring_periods
    windows = await _reopened_windows(conn)
    return [r for r in rows if _in_mentoring(r["handover_date"], period, n, windows.get(r["id"]))]


@dataclass(frozen=True)
class StaffTarget:
    person: str
    chat_id: int
    account_id: int | None
    kecamatan_code: str | None  # region limit; None = whole kabupaten
    language: str
    who: str


async def staff_targets(conn: aiosqlite.Connection, settings: Settings) -> list[StaffTarget]:
    """Staff and admin accounts (reachable) and the configured staff chats."""
    rows = await _all(
        conn,
        "SELECT id, chat_id, role, kecamatan_code, language, display_name FROM accounts"
        " WHERE role IN ('staff', 'admin') AND reachable = 1 ORDER BY id",
    )
    targets = [
        StaffTarget(
            f"acc:{r['id']}",
            r["chat_id"],
            r["id"],
            r["kecamatan_code"] if r["role"] == "staff" else None,
            r["language"],
            f"{r['role']} {r['display_name'] or ''} (acc {r['id']})".replace("  ", " "),
        )
        for r in rows
    ]
    for chat in settings.chats.staff:
        targets.append(
            StaffTarget(f"chat:{chat}", chat, None, None, settings.language, f"staff chat {chat}")
        )
    return targets


async def _kecamatan_name(conn: aiosqlite.Connection, code: str | None) -> str | None:
    if code is None:
        return None
    rows = await _all(conn, "SELECT name FROM kecamatan WHERE code = ?", (code,))
    return rows[0]["name"] if rows else code


async def _plan_step(
    conn: aiosqlite.Connection,
    settings: Settings,
    step: cycle.Step,
    now: dt.datetime,
    send_at: dt.datetime,
) -> list[PlannedMessage]:
    """The messages a current step owes (before deduplication)."""
    period = step.period
    eligible = await _eligible_recipients(conn, settings, period)
    # who already has this step's message: skip them before rendering (the tick runs every
    # minute; the unique key would drop them anyway, this only saves the work)
    have = {
        r["person"]
        for r in await _all(
            conn,
            "SELECT person FROM outbox WHERE kind = 'cycle' AND period = ? AND step = ?",
            (period, step.name),
        )
    }
    if cycle.is_recipient_step(step.name):
        return await _plan_recipient_step(conn, settings, step, now, send_at, eligible, have)
    if step.name == cycle.ESCALATE_FACILITATOR:
        return await _plan_facilitator_escalation(conn, step, send_at, eligible, have)
    if step.name in (cycle.ESCALATE_STAFF, cycle.CLOSE):
        return await _plan_staff_step(conn, settings, step, send_at, eligible, have)
    return []


async def _plan_recipient_step(
    conn: aiosqlite.Connection,
    settings: Settings,
    step: cycle.Step,
    now: dt.datetime,
    send_at: dt.datetime,
    eligible: list[aiosqlite.Row],
    have: set[str],
) -> list[PlannedMessage]:
    """The invitation or a reminder to each linked recipient who has not reported."""
    from bot.services.invitations import report_now_attachment

    tz = settings.tz
    period = step.period
    close_date = cycle.step_by_name(settings.cycle, period, cycle.CLOSE, tz).due.astimezone(tz)
    template = "cycle_open" if step.name == cycle.OPEN else "cycle_reminder"
    last = step.name == cycle.reminder_name(len(settings.cycle.reminder_days))
    # read after the close (sent late, out of quiet hours): no "Tekan Lapor sekarang"
    closed = max(now, send_at) >= close_date
    # A person invited in the last day (linked late: the invitation came at consent) is
    # not reminded yet.
    recent = {
        r["person"]
        for r in await _all(
            conn,
            "SELECT person FROM outbox WHERE kind = 'cycle' AND period = ? AND step = ?"
            " AND created_at > ?",
            (period, cycle.OPEN, iso(now - dt.timedelta(days=1))),
        )
    } if step.name != cycle.OPEN else set()  # fmt: skip
    out: list[PlannedMessage] = []
    for r in eligible:
        if r["account_id"] is None or r["reported"] or r["muted"] or not r["reachable"]:
            continue
        if f"acc:{r['account_id']}" in have or f"acc:{r['account_id']}" in recent:
            continue
        text = render(template, r["language"], person=r["name"], period=period,
                      close_date=close_date.date(), last=last, closed=closed)  # fmt: skip
        out.append(
            PlannedMessage(
                "cycle",
                f"acc:{r['account_id']}",
                period,
                step.name,
                r["chat_id"],
                r["account_id"],
                text,
                PRIORITY_CYCLE,
                send_at,
                f"recipient {r['name']} (acc {r['account_id']})",
                attachment=None if closed else report_now_attachment(r["language"]),
            )  # fmt: skip
        )
    return out


async def _plan_facilitator_escalation(
    conn: aiosqlite.Connection,
    step: cycle.Step,
    send_at: dt.datetime,
    eligible: list[aiosqlite.Row],
    have: set[str],
) -> list[PlannedMessage]:
    """To each reachable facilitator: the families of theirs that have not reported."""
    period = step.period
    silent: dict[int, list[aiosqlite.Row]] = {}
    for r in eligible:
        if not r["reported"] and r["facilitator_id"] is not None:
            silent.setdefault(r["facilitator_id"], []).append(r)
    if not silent:
        return []
    marks = ",".join("?" * len(silent))
    facs = await _all(
        conn,
        "SELECT f.id, f.name, a.id AS account_id, a.chat_id, a.language FROM facilitators f"
        " JOIN accounts a ON a.facilitator_id = f.id AND a.role = 'facilitator'"
        f" WHERE f.id IN ({marks}) AND a.reachable = 1 ORDER BY f.id",
        list(silent),
    )
    out: list[PlannedMessage] = []
    for f in facs:
        if f"acc:{f['account_id']}" in have:
            continue
        families = [
            {"name": r["name"], "desa": r["desa"], "linked": r["account_id"] is not None}
            for r in silent[f["id"]]
        ]
        text = render("cycle_escalate_facilitator", f["language"], person=f["name"],
                      period=period, families=families)  # fmt: skip
        out.append(
            PlannedMessage(
                "cycle",
                f"acc:{f['account_id']}",
                period,
                step.name,
                f["chat_id"],
                f["account_id"],
                text,
                PRIORITY_ESCALATION,
                send_at,
                f"facilitator {f['name']} (acc {f['account_id']}), {len(families)} silent",
            )  # fmt: skip
        )
    return out


def _silent_per_facilitator(mine: list[aiosqlite.Row], language: str) -> list[dict[str, Any]]:
    """Reported and silent counts per facilitator, by name (the staff escalation's table)."""
    per: dict[str, list[int]] = {}
    for r in mine:
        key = r["facilitator"] or ("tanpa pendamping" if language == "id"
                                   else "no facilitator")  # fmt: skip
        counts = per.setdefault(key, [0, 0])
        counts[0 if r["reported"] else 1] += 1
    return [{"facilitator": k, "reported": v[0], "silent": v[1]}
            for k, v in sorted(per.items())]  # fmt: skip


async def _plan_staff_step(
    conn: aiosqlite.Connection,
    settings: Settings,
    step: cycle.Step,
    send_at: dt.datetime,
    eligible: list[aiosqlite.Row],
    have: set[str],
) -> list[PlannedMessage]:
    """The staff escalation or the close summary to each staff target, within its region."""
    period = step.period
    out: list[PlannedMessage] = []
    for target in await staff_targets(conn, settings):
        if target.person in have:
            continue
        mine = [
            r for r in eligible
            if target.kecamatan_code is None or r["kecamatan_code"] == target.kecamatan_code
        ]  # fmt: skip
        if not mine:
            continue
        reported = sum(1 for r in mine if r["reported"])
        kecamatan = await _kecamatan_name(conn, target.kecamatan_code)
        if step.name == cycle.ESCALATE_STAFF:
            rows = _silent_per_facilitator(mine, target.language)
            text = render("cycle_escalate_staff", target.language, period=period, rows=rows,
                          kecamatan=kecamatan, reported=reported, total=len(mine))  # fmt: skip
        else:
            text = render("cycle_close", target.language, period=period, reported=reported,
                          total=len(mine), kecamatan=kecamatan)  # fmt: skip
        out.append(
            PlannedMessage(
                "cycle",
                target.person,
                period,
                step.name,
                target.chat_id,
                target.account_id,
                text,
                PRIORITY_ESCALATION,
                send_at,
                f"{target.who}, {reported}/{len(mine)} reported",
            )  # fmt: skip
        )
    return out


async def _end_mentoring(
    conn: aiosqlite.Connection, settings: Settings, period: str, now: dt.datetime
) -> list[int]:
    """At the close of a recipient's last period: status 'ended' (selesai), audited."""
    rows = await _all(
        conn,
        "SELECT id, handover_date FROM recipients WHERE status = 'active'",
    )
    windows = await _reopened_windows(conn)
    ended = []
    for r in rows:
        window = windows.get(r["id"])
        if window is not None:
            if window[1] <= period:
                ended.append(r["id"])
            continue
        if not r["handover_date"]:
            continue
        try:
            _, last = mentoring_periods_of(
                dt.date.fromisoformat(r["handover_date"][:10]), settings.cycle.mentoring_periods
            )
        except ValueError:
            continue
        if last <= period:
            ended.append(r["id"])
    for rid in ended:
        await conn.execute(
            "UPDATE recipients SET status = 'ended', status_reason = 'selesai',"
            " status_changed_at = ?, updated_at = ? WHERE id = ? AND status = 'active'",
            (iso(now), iso(now), rid),
        )
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, 'system', 'recipient.mentoring_ended', 'recipient', ?, ?)",
            (iso(now), str(rid), json.dumps({"last_period": period})),
        )
    return ended


async def tick(
    db: Database, settings: Settings, now: dt.datetime, dry_run: bool = False
) -> TickResult:
    """One pass of the cycle at `now`: record steps, plan what they owe; idempotent."""
    result = TickResult(now=now, dry_run=dry_run)
    try:
        async with db.transaction() as conn:
            await _tick(conn, settings, now, result)
            if not dry_run:
                await conn.execute(
                    "INSERT INTO tick_runs (started_at, now, planned, steps, dry_run)"
                    " VALUES (?, ?, ?, ?, 0)",
                    (
                        iso(dt.datetime.now(dt.UTC)), iso(now), len(result.planned),
                        json.dumps([f"{s.period}/{s.step}:{s.status}" for s in result.steps
                                    if s.status != "current" or s.planned]),
                    ),
                )  # fmt: skip
            else:
                raise _DryRun
    except _DryRun:
        pass
    return result


async def _tick(
    conn: aiosqlite.Connection, settings: Settings, now: dt.datetime, result: TickResult
) -> None:
    tz = settings.tz
    cfg = settings.cycle
    current = period_of(now, tz)
    periods = [current]
    # A period whose close fell during an outage across a month boundary: finish it.
    previous = prev_period(current)
    rows = await _all(conn, "SELECT closed_at FROM cycle_periods WHERE period = ?", (previous,))
    if rows and rows[0]["closed_at"] is None:
        periods.insert(0, previous)
    send_at = cycle.out_of_quiet_hours(now, cfg, tz)
    # Unfinished reports (drafts) of the open period: reminded after 24 h and before the close.
    from bot.services.invitations import plan_draft_reminders

    for m in await plan_draft_reminders(conn, settings, now, send_at):
        if await enqueue(conn, m, now):
            result.planned.append(m)
    # Graduates' check-ins at +3 and +6 months (planned and enqueued once each).
    from bot.services.followup import plan_checkins

    result.planned.extend(await plan_checkins(conn, settings, now))
    for period in periods:
        states = cycle.step_states(cfg, period, now, tz)
        if all(s.state == cycle.FUTURE for s in states):
            continue
        await conn.execute(
            "INSERT INTO cycle_periods (period) VALUES (?) ON CONFLICT (period) DO NOTHING",
            (period,),
        )
        done = {
            r["step"]: r["status"]
            for r in await _all(
                conn, "SELECT step, status FROM cycle_steps WHERE period = ?", (period,)
            )
        }
        for st in states:
            step = st.step
            if st.state == cycle.SUPERSEDED and step.name not in done:
                await conn.execute(
                    "INSERT INTO cycle_steps (period, step, due_at, status, processed_at)"
                    " VALUES (?, ?, ?, 'skipped', ?)",
                    (period, step.name, iso(step.due), iso(now)),
                )
                result.steps.append(StepOutcome(period, step.name, step.due, "skipped", 0))
            elif st.state == cycle.CURRENT:
                planned = [
                    m for m in await _plan_step(conn, settings, step, now, send_at)
                    if await enqueue(conn, m, now)
                ]  # fmt: skip
                result.planned.extend(planned)
                if step.name not in done:
                    await conn.execute(
                        "INSERT INTO cycle_steps (period, step, due_at, status, processed_at,"
                        " planned) VALUES (?, ?, ?, 'done', ?, ?)",
                        (period, step.name, iso(step.due), iso(now), len(planned)),
                    )
                    result.steps.append(StepOutcome(period, step.name, step.due, "done",
                                                    len(planned)))  # fmt: skip
                    if step.name == cycle.OPEN:
                        await conn.execute(
                            "UPDATE cycle_periods SET opened_at = ? WHERE period = ?",
                            (iso(now), period),
                        )
                    elif step.name == cycle.CLOSE:
                        await conn.execute(
                            "UPDATE cycle_periods SET closed_at = ? WHERE period = ?",
                            (iso(now), period),
                        )
                        result.ended = await _end_mentoring(conn, settings, period, now)
                elif planned:
                    await conn.execute(
                        "UPDATE cycle_steps SET planned = planned + ? WHERE period = ? AND step = ?",
                        (len(planned), period, step.name),
                    )
                    result.steps.append(StepOutcome(period, step.name, step.due, "current",
                                                    len(planned)))  # fmt: skip


@dataclass(frozen=True)
class CycleHealth:
    """For `doctor` and operators: is the tick running, is the outbox moving."""

    last_tick_at: str | None  # wall time of the last tick pass (UTC ISO)
    last_tick_now: str | None  # the `now` it ran for
    outbox: dict[str, int]  # rows per status
    oldest_pending: str | None  # created_at of the oldest pending row


async def cycle_health(db: Database) -> CycleHealth:
    """When the last real tick ran and for which instant (for `pendamping doctor`)."""
    last = await db.fetchone(
        "SELECT started_at, now FROM tick_runs WHERE dry_run = 0 ORDER BY id DESC LIMIT 1"
    )
    counts = {
        r["status"]: r["n"]
        for r in await db.fetchall("SELECT status, count(*) AS n FROM outbox GROUP BY status")
    }
    oldest = await db.fetchval("SELECT min(created_at) FROM outbox WHERE status = 'pending'")
    return CycleHealth(
        last["started_at"] if last else None, last["now"] if last else None, counts, oldest
    )
