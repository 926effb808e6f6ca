"""`plan_digests(db, settings, now)`: put the digests that are due at `now` into the outbox.

The database is the source of truth: the minute job (handlers/cycle.py) and `pendamping tick`
only call this; every digest is planned once thanks to digest_runs (chat, kind, slot) and the
outbox's unique key, so a second call, or one after a crash, plans nothing new.

- weekly staff digest (`[digest] weekday`/`hour`, default Monday 08:00 WIB; none until the
  period has been open `[digest] min_open_days`, default 7): to every staff
  target of the cycle (bot.services.cycle.staff_targets: the configured staff groups see the
  whole kabupaten, staff accounts their kecamatan, admins the kabupaten);
- weekly facilitator digest, same time: to every reachable facilitator account (caseload);
- monthly report when the cycle has closed a period (cycle_periods.closed_at): to the same staff
  targets, the text, then each chart as a photo (none when the region has no reports), then the
  export (.xlsx, NIK masked) as a document. Files are written once per region and language
  under `<database dir>/digests/<period>/` and the outbox rows keep their path
  (outbox.attachment, migration 0006).

A weekly digest missed by an outage still goes out up to `catch_up_hours` after its time;
planned during the quiet hours (`[cycle]`), it waits for the morning like every message.
"New" flags of a digest are those created since the previous digest of that kind to the chat
(digest_runs.planned_at), else in the last 7 days. Chats in unreachable_chats (the bot was
removed from the group: the outbox sender records it) are skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.db import Database
from bot.domain import cycle
from bot.domain.periods import period_of
from bot.private_files import private_dir
from bot.services.cycle import StaffTarget, iso, staff_targets
from bot.services.digests import MonthlyBundle, facilitator_weekly, monthly, staff_weekly

log = logging.getLogger("pendamping.digest")

KIND = "digest"  # outbox kind
PRIORITY_DIGEST = 6  # after the cycle's messages (5), before broadcasts (7)
WEEK = dt.timedelta(days=7)
MONTHLY_WINDOW = dt.timedelta(days=7)  # a period closed longer ago than this is not reported


@dataclass(frozen=True)
class PlannedDigest:
    kind: str  # 'staff_weekly' | 'facilitator_weekly' | 'monthly'
    chat_id: int
    period: str
    parts: int  # outbox rows (text + photos + document)
    who: str


@dataclass
class DigestPlan:
    planned: list[PlannedDigest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per planned digest and per digest that could not be planned."""
        out = [
            f"  planned digest {p.kind} {p.period} -> {p.who} ({p.parts} message(s))"
            for p in self.planned
        ]
        return out + [f"  digest not planned: {e}" for e in self.errors]


def weekly_slot(now: dt.datetime, settings: Settings) -> dt.datetime | None:
    """The scheduled time of this week's digest if it is due at `now` (at or after it and
    within catch_up_hours), else None."""
    cfg = settings.digest
    local = now.astimezone(settings.tz)
    day = local.date() - dt.timedelta(days=(local.weekday() - cfg.weekday) % 7)
    slot = dt.datetime(day.year, day.month, day.day, cfg.hour, tzinfo=settings.tz)
    if slot > local:
        slot -= WEEK
    if now - slot.astimezone(dt.UTC) >= dt.timedelta(hours=cfg.catch_up_hours):
        return None
    return slot


async def period_opened(db: Database, settings: Settings, period: str) -> dt.datetime:
    """When reporting on the period opened: the cycle's recorded open, else its scheduled one."""
    opened = await db.fetchval("SELECT opened_at FROM cycle_periods WHERE period = ?", (period,))
    if opened:
        return dt.datetime.fromisoformat(opened)
    return cycle.step_by_name(settings.cycle, period, cycle.OPEN, settings.tz).due


async def open_long_enough(db: Database, settings: Settings, slot: dt.datetime) -> bool:
    """A weekly digest's slot is at least `[digest] min_open_days` (local) days after its
    period opened: a digest on the opening day would show 0% and name 'lowest' at 0%."""
    period = period_of(slot, settings.tz)
    opened = (await period_opened(db, settings, period)).astimezone(settings.tz).date()
    return (slot.astimezone(settings.tz).date() - opened).days >= settings.digest.min_open_days


def data_dir(settings: Settings) -> Path:
    """Where rendered digest files live: next to the database (Settings.files_folder)."""
    return settings.files_folder / "digests"


async def _unreachable_chats(db: Database) -> set[int]:
    return {r[0] for r in await db.fetchall("SELECT chat_id FROM unreachable_chats")}


async def _done(db: Database, chat_id: int, kind: str, slot: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM digest_runs WHERE chat_id = ? AND kind = ? AND slot = ?",
            (chat_id, kind, slot),
        )
    )


async def _since(db: Database, chat_id: int, kind: str, now: dt.datetime) -> dt.datetime:
    """When the previous digest of this kind went to the chat (else a week ago)."""
    last = await db.fetchval(
        "SELECT max(planned_at) FROM digest_runs WHERE chat_id = ? AND kind = ?",
        (chat_id, kind),
    )
    return dt.datetime.fromisoformat(last) if last else now - WEEK


async def _store(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    *,
    kind: str,
    person: str,
    chat_id: int,
    account_id: int | None,
    period: str,
    slot: str,
    scope: str | None,
    parts: list[tuple[str, str, dict | None]],  # (step, text, attachment)
) -> bool:
    """One digest: its outbox rows and its digest_runs row, in one transaction."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO digest_runs (chat_id, kind, period, slot, scope, account_id, parts,"
            " planned_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (chat_id, kind, slot) DO NOTHING",
            (chat_id, kind, period, slot, scope, account_id, len(parts), iso(now)),
        )
        new = cur.rowcount == 1
        run_id = cur.lastrowid
        await cur.close()
        if not new:
            return False
        first_id = None
        for step, text, attachment in parts:
            cur = await conn.execute(
                "INSERT INTO outbox (kind, person, period, step, account_id, chat_id, text,"
                " priority, not_before, created_at, attachment) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (kind, person, period, step) DO NOTHING",
                (
                    KIND, person, period, step, account_id, chat_id, text, PRIORITY_DIGEST,
                    iso(cycle.out_of_quiet_hours(now, settings.cycle, settings.tz)), iso(now),
                    json.dumps(attachment) if attachment else None,
                ),
            )  # fmt: skip
            if first_id is None and cur.rowcount == 1:
                first_id = cur.lastrowid
            await cur.close()
        await conn.execute("UPDATE digest_runs SET outbox_id = ? WHERE id = ?", (first_id, run_id))
    return True


async def plan_digests(db: Database, settings: Settings, now: dt.datetime) -> DigestPlan:
    """Plan every digest due at `now` into the outbox; idempotent. A digest that cannot be
    built (a bug, a broken row) is logged and left out; the others still go."""
    plan = DigestPlan()
    slot = weekly_slot(now, settings)
    unreachable = await _unreachable_chats(db)
    targets = [t for t in await staff_targets(db.conn, settings) if t.chat_id not in unreachable]
    if slot is not None and await open_long_enough(db, settings, slot):
        await _plan_weekly(db, settings, now, slot.date().isoformat(), targets, plan)
    await _plan_monthly(db, settings, now, targets, plan)
    if plan.planned:
        log.info("event=digests_planned count=%d", len(plan.planned))
    return plan


ALL: frozenset[str] = frozenset({"*"})  # every staff target


async def _staff_escalation_today(
    db: Database, settings: Settings, period: str, slot: str
) -> frozenset[str] | None:
    """The staff targets whose weekly digest gives way to the cycle's staff escalation (the
    mid-month message: reported / not yet per facilitator) that falls on the same day, so a
    chat gets one progress message that day, not two near-duplicates. None: no escalation
    that day; ALL: it is due today but has not run yet; else the persons it went to."""
    due = cycle.step_by_name(settings.cycle, period, cycle.ESCALATE_STAFF, settings.tz).due
    if due.astimezone(settings.tz).date().isoformat() != slot:
        return None
    ran = await db.fetchval(
        "SELECT 1 FROM cycle_steps WHERE period = ? AND step = ?", (period, cycle.ESCALATE_STAFF)
    )
    if not ran:
        return ALL
    rows = await db.fetchall(
        "SELECT person FROM outbox WHERE kind = 'cycle' AND period = ? AND step = ?",
        (period, cycle.ESCALATE_STAFF),
    )
    return frozenset(r["person"] for r in rows)


async def _plan_weekly(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    slot: str,
    targets: list[StaffTarget],
    plan: DigestPlan,
) -> None:
    period = period_of(now, settings.tz)
    step = f"weekly:{slot}"
    gives_way = await _staff_escalation_today(db, settings, period, slot)
    for t in targets:
        kind = "staff_weekly"
        if await _done(db, t.chat_id, kind, slot):
            continue
        if gives_way is not None and (gives_way is ALL or t.person in gives_way):
            continue  # the cycle's mid-month message is this chat's one message today
        try:
            since = await _since(db, t.chat_id, kind, now)
            text = await staff_weekly(db, now, settings, t.kecamatan_code, since, t.language)
            if await _store(db, settings, now, kind=kind, person=t.person, chat_id=t.chat_id,
                            account_id=t.account_id, period=period, slot=slot,
                            scope=t.kecamatan_code, parts=[(step, text, None)]):  # fmt: skip
                plan.planned.append(PlannedDigest(kind, t.chat_id, period, 1, t.who))
        except Exception as exc:  # one broken digest must not stop the others
            log.exception("event=digest_failed kind=%s chat=%s", kind, t.chat_id)
            plan.errors.append(f"{kind} -> {t.who}: {type(exc).__name__}")
    facilitators = await db.fetchall(
        "SELECT id, chat_id, facilitator_id, language, display_name FROM accounts"
        " WHERE role = 'facilitator' AND reachable = 1 AND facilitator_id IS NOT NULL"
        " ORDER BY id"
    )
    for r in facilitators:
        kind = "facilitator_weekly"
        who = f"facilitator {r['display_name'] or ''} (acc {r['id']})".replace("  ", " ")
        if await _done(db, r["chat_id"], kind, slot):
            continue
        try:
            text = await facilitator_weekly(db, r["facilitator_id"], now, settings, r["language"])
            if await _store(db, settings, now, kind=kind, person=f"acc:{r['id']}", chat_id=r["chat_id"],
                            account_id=r["id"], period=period, slot=slot,
                            scope=f"fac:{r['facilitator_id']}",
                            parts=[(step, text, None)]):  # fmt: skip
                plan.planned.append(PlannedDigest(kind, r["chat_id"], period, 1, who))
        except Exception as exc:
            log.exception("event=digest_failed kind=%s account=%s", kind, r["id"])
            plan.errors.append(f"{kind} -> {who}: {type(exc).__name__}")
    if plan.planned:
        # score risk flags shown in this week's digests are no longer pending (migration 0005)
        await db.execute(
            "UPDATE risk_flags SET digested_at = ? WHERE digested_at IS NULL AND created_at <= ?",
            (iso(now), iso(now)),
        )


async def _plan_monthly(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    targets: list[StaffTarget],
    plan: DigestPlan,
) -> None:
    closed = await db.fetchall(
        "SELECT period FROM cycle_periods WHERE closed_at IS NOT NULL AND closed_at >= ?"
        " ORDER BY period",
        (iso(now - MONTHLY_WINDOW),),
    )
    kind = "monthly"
    for row in closed:
        period = row["period"]
        # one bundle per region and language: the export of 100,000 recipients takes a while,
        # and every chat of the same region gets the same report
        bundles: dict[tuple[str | None, str], MonthlyBundle] = {}
        for t in targets:
            if await _done(db, t.chat_id, kind, period):
                continue
            try:
                key = (t.kecamatan_code, t.language)
                bundle = bundles.get(key)
                if bundle is None:
                    region = t.kecamatan_code or "kabupaten"
                    private_dir(data_dir(settings), tighten=True)
                    private_dir(data_dir(settings) / period, tighten=True)
                    out_dir = data_dir(settings) / period / f"{region}-{t.language}"
                    since = await _since(db, t.chat_id, kind, now)
                    bundle = bundles[key] = await monthly(
                        db, period, now, settings, t.kecamatan_code, out_dir, t.language,
                        since=since,
                    )  # fmt: skip
                parts: list[tuple[str, str, dict | None]] = [("monthly", bundle.text, None)]
                for path in bundle.charts:
                    parts.append(
                        (f"monthly:chart:{path.stem}", "", {"type": "photo", "path": str(path)})
                    )
                parts.append(
                    (
                        "monthly:export",
                        "",
                        {"type": "document", "path": str(bundle.export),
                         "filename": bundle.export.name},
                    )
                )  # fmt: skip
                if await _store(db, settings, now, kind=kind, person=t.person, chat_id=t.chat_id,
                                account_id=t.account_id, period=period, slot=period,
                                scope=t.kecamatan_code, parts=parts):  # fmt: skip
                    plan.planned.append(PlannedDigest(kind, t.chat_id, period, len(parts), t.who))
            except Exception as exc:
                log.exception("event=digest_failed kind=%s chat=%s", kind, t.chat_id)
                plan.errors.append(f"{kind} {period} -> {t.who}: {type(exc).__name__}")


async def mark_chat_reachable(db: Database, chat_id: int) -> bool:
    """The bot hears from a group again (it was added back): digests resume; True if changed."""
    if chat_id >= 0:
        return False
    cur_rows = await db.fetchval("SELECT 1 FROM unreachable_chats WHERE chat_id = ?", (chat_id,))
    if not cur_rows:
        return False
    await db.execute("DELETE FROM unreachable_chats WHERE chat_id = ?", (chat_id,))
    log.info("event=chat_reachable chat=%s", chat_id)
    return True
