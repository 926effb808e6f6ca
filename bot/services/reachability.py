"""Reachability: who the bot can no longer write to, and who is told.

- 403 Forbidden or 400 chat not found: the account is unreachable (accounts.reachable = 0),
  its pending rows are closed and the facilitator of a recipient gets a notice;
- a group chat with no account (a staff group the bot was removed from) goes into
  unreachable_chats, its pending rows are closed, admins get one notice, and digests skip it
  from then on;
- a person who writes to the bot again is reachable again (`mark_reachable`).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from telegram.error import BadRequest, Forbidden, TelegramError

from bot.config import Settings
from bot.db import Database
from bot.render import render
from bot.services.cycle import PRIORITY_NOTICE, PlannedMessage, enqueue, iso
from bot.services.outbox_store import finish_broadcast_if_done

log = logging.getLogger("pendamping.outbox")


def unreachable_reason(exc: TelegramError) -> str | None:
    """The Indonesian reason when a Telegram error means the chat cannot be reached, else None."""
    text = str(exc).lower()
    if isinstance(exc, Forbidden):
        if "blocked" in text:
            return "memblokir bot"
        if "deactivated" in text:
            return "akun Telegram dihapus"
        if "kicked" in text:
            return "bot dikeluarkan dari grup"
        return "bot tidak diizinkan mengirim pesan"
    if isinstance(exc, BadRequest) and "chat not found" in text:
        return "chat tidak ditemukan"
    return None


async def mark_unreachable(
    db: Database,
    settings: Settings,
    row_id: int,
    chat_id: int,
    reason: str,
    error: str,
    now: dt.datetime,
) -> int:
    """Settle the row as unreachable, close what else waits for that account or group chat,
    and plan the notices (one transaction); return how many notices were queued."""
    notices = 0
    async with db.transaction() as conn:
        async with conn.execute("SELECT account_id FROM outbox WHERE id = ?", (row_id,)) as cur:
            row = await cur.fetchone()
        account_id = row["account_id"] if row else None
        await conn.execute(
            "UPDATE outbox SET status = 'unreachable', last_error = ? WHERE id = ?",
            (error, row_id),
        )
        if account_id is not None:
            notices = await _account_unreachable(conn, account_id, reason, now)
        else:
            notices = await _chat_unreachable(conn, chat_id, reason, now)
        await finish_broadcast_if_done(conn, row_id, now, settings)
    log.info("event=outbox_unreachable account=%s", account_id)
    return notices


async def _account_unreachable(conn: Any, account_id: int, reason: str, now: dt.datetime) -> int:
    await conn.execute(
        "UPDATE accounts SET reachable = 0, unreachable_reason = ? WHERE id = ?",
        (reason, account_id),
    )
    # nothing more goes to this account until it comes back
    await conn.execute(
        "UPDATE outbox SET status = 'unreachable', last_error = 'account unreachable'"
        " WHERE account_id = ? AND status = 'pending'",
        (account_id,),
    )
    notice = await _facilitator_notice(conn, account_id, reason, now)
    return int(notice is not None and bool(await enqueue(conn, notice, now)))


async def _chat_unreachable(conn: Any, chat_id: int, reason: str, now: dt.datetime) -> int:
    await conn.execute(
        "UPDATE outbox SET status = 'unreachable', last_error = 'chat unreachable'"
        " WHERE chat_id = ? AND account_id IS NULL AND status = 'pending'",
        (chat_id,),
    )
    # a group chat (a staff group): remembered so digests skip it; admins told once
    cur = await conn.execute(
        "INSERT INTO unreachable_chats (chat_id, reason, since) VALUES (?, ?, ?)"
        " ON CONFLICT (chat_id) DO NOTHING",
        (chat_id, reason, iso(now)),
    )
    first = cur.rowcount == 1
    await cur.close()
    if not first:
        return 0
    log.warning("event=chat_unreachable chat=%s reason=%s", chat_id, reason)
    notices = 0
    for notice in await _admin_notices(conn, chat_id, reason, now):
        if await enqueue(conn, notice, now):
            notices += 1
    return notices


async def _facilitator_notice(
    conn: Any, account_id: int, reason: str, now: dt.datetime
) -> PlannedMessage | None:
    """A notice to the facilitator of the recipient behind `account_id` (if linked)."""
    async with conn.execute(
        "SELECT r.name, d.name AS desa, fa.id AS fac_account, fa.chat_id, fa.language"
        " FROM accounts a JOIN recipients r ON r.id = a.recipient_id"
        " LEFT JOIN desa d ON d.id = r.desa_id"
        " JOIN accounts fa ON fa.facilitator_id = r.facilitator_id AND fa.role = 'facilitator'"
        " WHERE a.id = ? AND a.role = 'recipient' AND fa.reachable = 1",
        (account_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    text = render("notice_unreachable", row["language"], person=row["name"], desa=row["desa"],
                  reason=reason)  # fmt: skip
    return PlannedMessage(
        "notice", f"acc:{row['fac_account']}", "-", f"unreachable:acc:{account_id}:{iso(now)}",
        row["chat_id"], row["fac_account"], text, PRIORITY_NOTICE, now,
        f"facilitator (acc {row['fac_account']})",
    )  # fmt: skip


async def _admin_notices(
    conn: Any, chat_id: int, reason: str, now: dt.datetime
) -> list[PlannedMessage]:
    """One notice per reachable admin account: the bot can no longer write to a group."""
    async with conn.execute(
        "SELECT id, chat_id, language FROM accounts WHERE role = 'admin' AND reachable = 1"
        " ORDER BY id"
    ) as cur:
        rows = await cur.fetchall()
    return [
        PlannedMessage(
            "notice",
            f"acc:{r['id']}",
            "-",
            f"chat_unreachable:{chat_id}:{iso(now)}",
            r["chat_id"],
            r["id"],
            render("notice_chat_unreachable", r["language"], chat_id=chat_id, reason=reason),
            PRIORITY_NOTICE,
            now,
            f"admin (acc {r['id']})",
        )  # fmt: skip
        for r in rows
    ]


async def mark_reachable(db: Database, telegram_user_id: int) -> bool:
    """A person who writes to the bot can be reached again; True when that changed."""
    row = await db.fetchone(
        "SELECT id FROM accounts WHERE telegram_user_id = ? AND reachable = 0", (telegram_user_id,)
    )
    if row is None:
        return False
    await db.execute(
        "UPDATE accounts SET reachable = 1, unreachable_reason = NULL WHERE id = ?", (row["id"],)
    )
    return True
