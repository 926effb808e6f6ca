"""The cycle reaches everyone: the "Lapor sekarang" button, the invitation for a person who
links while a period is open, and reminders of an unfinished report (draft).

Everything is an outbox row with the cycle's unique key (kind 'cycle', person, period, step):
- the invitation a late linker gets at consent is the period's 'open' row itself, so the tick
  never sends it twice;
- an unfinished monthly report is reminded once 24 hours after its last answer ('draft1') and
  once more on the day before the close ('draft2'), out of quiet hours, from `tick(now)`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiosqlite

from bot.callbacks import encode
from bot.config import Settings
from bot.db import Database
from bot.domain import cycle
from bot.domain.periods import period_of, prev_period
from bot.render import render
from bot.services.accounts import Account
from bot.services.cycle import PRIORITY_CYCLE, PlannedMessage, enqueue

REPORT_NOW = encode("lap", "now")  # handlers.menu.on_report_now
DRAFT_IDLE = dt.timedelta(hours=24)
BEFORE_CLOSE = dt.timedelta(days=1)


def report_now_attachment(language: str) -> dict[str, Any]:
    """outbox.attachment for a message with the inline "Lapor sekarang" button."""
    label = render("family_label", language, name="report_now")
    return {"type": "text",
            "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": REPORT_NOW}]]}}  # fmt: skip


def open_period(settings: Settings, now: dt.datetime) -> tuple[str, dt.datetime] | None:
    """The period open for reports at `now` (its 'open' step done, its close not yet) and its
    close time; None between a close and the next open."""
    tz = settings.tz
    for period in (period_of(now, tz), prev_period(period_of(now, tz))):
        steps = {s.name: s for s in cycle.period_steps(settings.cycle, period, tz)}
        if steps[cycle.OPEN].due <= now < steps[cycle.CLOSE].due:
            return period, steps[cycle.CLOSE].due
    return None


async def invite_now(
    db: Database, settings: Settings, now: dt.datetime, account: Account, step: str | None = None
) -> bool:
    """A recipient who has just consented while a period is open gets its invitation at once
    (the period's 'open' row; nothing if they reported, are muted or not mentored now).
    `step` names another outbox row for the same text (a facilitator's 'send it again')."""
    if account.role != "recipient" or account.recipient_id is None or account.muted:
        return False
    found = open_period(settings, now)
    if found is None:
        return False
    period, close = found
    from bot.services.cycle import _eligible_recipients  # the tick's own rule of who is due

    async with db.transaction() as conn:
        rows = [r for r in await _eligible_recipients(conn, settings, period)
                if r["account_id"] == account.id]  # fmt: skip
        if not rows or rows[0]["reported"]:
            return False
        r = rows[0]
        text = render("cycle_open", r["language"], person=r["name"], period=period,
                      close_date=close.astimezone(settings.tz).date())  # fmt: skip
        message = PlannedMessage(
            "cycle", f"acc:{account.id}", period, step or cycle.OPEN, r["chat_id"], account.id,
            text,
            PRIORITY_CYCLE, now, f"recipient {r['name']} (acc {account.id}), linked late",
            attachment=report_now_attachment(r["language"]),
        )  # fmt: skip
        return await enqueue(conn, message, now)


async def plan_draft_reminders(
    conn: aiosqlite.Connection, settings: Settings, now: dt.datetime, send_at: dt.datetime
) -> list[PlannedMessage]:
    """Reminders of unfinished monthly reports of the open period (before deduplication)."""
    found = open_period(settings, now)
    if found is None:
        return []
    period, close = found
    async with conn.execute(
        "SELECT d.id, d.updated_at, a.id AS account_id, a.chat_id, a.language, r.name,"
        " EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'cycle' AND o.person = 'acc:' || a.id"
        "   AND o.period = d.period AND o.step = 'draft1') AS sent1,"
        " EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'cycle' AND o.person = 'acc:' || a.id"
        "   AND o.period = d.period AND o.step = 'draft2') AS sent2"
        " FROM report_drafts d JOIN accounts a ON a.id = d.account_id"
        " JOIN recipients r ON r.id = d.recipient_id"
        " WHERE d.status = 'open' AND d.form = 'monthly' AND d.period = ?"
        " AND d.reporter_role = 'recipient' AND a.role = 'recipient' AND a.muted = 0"
        " AND a.reachable = 1 AND r.status = 'active'"
        " AND NOT EXISTS (SELECT 1 FROM reports p WHERE p.recipient_id = d.recipient_id"
        "   AND p.period = d.period AND p.reporter_role = 'recipient')",
        (period,),
    ) as cur:
        rows = list(await cur.fetchall())
    out = []
    for r in rows:
        sent = {step for step in ("draft1", "draft2") if r[f"sent{step[-1]}"]}
        idle = dt.datetime.fromisoformat(r["updated_at"]) <= now - DRAFT_IDLE
        if now >= close - BEFORE_CLOSE and "draft2" not in sent:
            step = "draft2"
        elif idle and "draft1" not in sent and now < close - BEFORE_CLOSE:
            step = "draft1"
        else:
            continue
        text = render("cycle_draft_reminder", r["language"], person=r["name"], period=period,
                      close_date=close.astimezone(settings.tz).date(), last=step == "draft2",
                      closed=max(now, send_at) >= close)  # fmt: skip
        out.append(PlannedMessage(
            "cycle", f"acc:{r['account_id']}", period, step, r["chat_id"], r["account_id"], text,
            PRIORITY_CYCLE, send_at, f"recipient {r['name']} (acc {r['account_id']}), draft open",
            attachment=report_now_attachment(r["language"]),
        ))  # fmt: skip
    return out
