"""Messages for someone else's chat go through the outbox (not sent from the handler).

Each has a unique dedupe key (kind 'notice' or 'alert', person, period, step), so a retried
update or a repeated problem plans it once; the sender delivers it by priority. A help
request is the most urgent thing the bot sends (PRIORITY_URGENT, before everything else).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from bot.config import Settings
from bot.db import Database
from bot.render import render
from bot.services.cycle import PRIORITY_NOTICE, PlannedMessage, enqueue, iso
from bot.services.reports import Notice

log = logging.getLogger("pendamping.notices")

PRIORITY_URGENT = 1  # help requests: ahead of notices (2), escalations (3), cycle (5)


def _planned(notice: Notice, now: dt.datetime) -> PlannedMessage:
    person = f"acc:{notice.account_id}" if notice.account_id else f"chat:{notice.chat_id}"
    period = str(notice.context.get("period") or "-")
    key = notice.key or iso(now)
    text = render(notice.template, notice.language, **notice.context)
    priority = PRIORITY_URGENT if notice.urgent else PRIORITY_NOTICE
    return PlannedMessage(
        "notice", person, period, f"{notice.template}:{key}", notice.chat_id, notice.account_id,
        text, priority, now, f"{notice.template} -> {person}",
    )  # fmt: skip


async def enqueue_notices(db: Database, notices: Iterable[Notice], now: dt.datetime) -> int:
    """Plan the notices in one transaction; return how many were new (not duplicates)."""
    planned = [_planned(n, now) for n in notices]
    if not planned:
        return 0
    new = 0
    async with db.transaction() as conn:
        for m in planned:
            new += await enqueue(conn, m, now)
    return new


async def operator_message(
    db: Database, settings: Settings, now: dt.datetime, text: str, key: str
) -> bool:
    """A message to Settings.chats.operator, once per key; False when none is configured or
    the key was already planned."""
    chat = settings.chats.operator
    if chat is None:
        return False
    m = PlannedMessage("alert", f"chat:{chat}", "-", key, chat, None, text, PRIORITY_URGENT, now,
                       f"operator chat {chat}")  # fmt: skip
    async with db.transaction() as conn:
        return await enqueue(conn, m, now)
