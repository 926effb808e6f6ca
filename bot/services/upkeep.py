"""What the per-minute job does after the cycle's tick, each part idempotent:

- scores at period close: the most recently closed period (cycle_periods.closed_at) is
  scored once with scoring.recompute_all; an audit_log row 'scores.period_close' marks it
  done, so a crash between the close and the scoring is caught up at the next minute, and
  a close made by the `tick` CLI is scored by the running bot;
- the daily automatic backup (backup.run_due_backup: at most one per local day);
- delivered messages lose their text after `[outbox] keep_text_hours`, and the digest files
  they carried are deleted (outbox.clear_settled_texts);
- operator alerts: every FAIL of doctor.alert_checks goes to Settings.chats.operator through
  the outbox, once per (problem, local day).

Each part is guarded on its own: one failing never stops the others nor the tick.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.db import Database
from bot.render import now_label, render
from bot.services import backup, doctor, scoring
from bot.services.cycle import iso
from bot.services.notices import operator_message
from bot.services.outbox import clear_settled_texts

log = logging.getLogger("pendamping.upkeep")

SCORED_AT_CLOSE = "scores.period_close"


@dataclass
class UpkeepResult:
    scored_period: str | None = None
    scored: int = 0
    backup: Path | None = None
    cleared: int = 0  # delivered messages whose text was cleared
    alerts: list[str] = field(default_factory=list)  # names of the problems newly alerted
    errors: list[str] = field(default_factory=list)  # parts that failed (logged)


async def score_closed_period(
    db: Database, settings: Settings, now: dt.datetime
) -> tuple[str, int] | None:
    """Score the most recently closed period once; (period, count) when it ran now."""
    period = await db.fetchval(
        "SELECT period FROM cycle_periods WHERE closed_at IS NOT NULL ORDER BY period DESC LIMIT 1"
    )
    if period is None:
        return None
    done = await db.fetchval(
        "SELECT 1 FROM audit_log WHERE action = ? AND entity = 'period' AND entity_id = ?",
        (SCORED_AT_CLOSE, period),
    )
    if done:
        return None
    n = await scoring.recompute_all(db, settings, period, now)
    await db.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, 'system', ?, 'period', ?, ?)",
        (iso(now), SCORED_AT_CLOSE, period, json.dumps({"scored": n})),
    )
    log.info("event=scores_at_close period=%s scored=%d", period, n)
    return period, n


async def alert_operator(db: Database, settings: Settings, now: dt.datetime) -> list[str]:
    """Plan an alert for each failing check not yet alerted today; return their names."""
    if settings.chats.operator is None:
        return []
    day = now.astimezone(settings.tz).date().isoformat()
    sent = []
    for check in await doctor.alert_checks(db, settings, now):
        text = render("operator_alert", settings.language, name=check.name,
                      message=check.message, action=check.action,
                      time=now_label(now, settings.tz))  # fmt: skip
        if await operator_message(db, settings, now, text, f"alert:{check.name}:{day}"):
            sent.append(check.name)
    if sent:
        log.warning("event=operator_alert problems=%s", ",".join(sent))
    return sent


async def after_tick(db: Database, settings: Settings, now: dt.datetime) -> UpkeepResult:
    """The minute job's upkeep after tick (handlers/cycle.py)."""
    result = UpkeepResult()
    try:
        scored = await score_closed_period(db, settings, now)
        if scored is not None:
            result.scored_period, result.scored = scored
    except Exception:
        log.exception("event=upkeep_failed part=scores")
        result.errors.append("scores")
    try:
        if db.is_file:  # PostgreSQL: pg_dump on the server's schedule (docs/operations.md)
            result.backup = (await backup.run_due_backup(db.path, settings, now)).made
    except Exception:
        log.exception("event=upkeep_failed part=backup")
        result.errors.append("backup")
    try:
        result.cleared = await clear_settled_texts(db, now, settings.outbox.keep_text_hours)
    except Exception:
        log.exception("event=upkeep_failed part=outbox_texts")
        result.errors.append("outbox_texts")
    try:
        result.alerts = await alert_operator(db, settings, now)
    except Exception:
        log.exception("event=upkeep_failed part=alerts")
        result.errors.append("alerts")
    return result
