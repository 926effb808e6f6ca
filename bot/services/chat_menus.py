"""Per-role "/" menus: each linked facilitator's, staff member's and admin's private chat gets
its role's commands (BotCommandScopeChat); recipients and unlinked people see the default
scope, the recipients' menu (bot/app.py set_command_menus). Every list comes from the one
command table (bot/commands_menu.py).

What Telegram was told per chat is kept in `chat_menus` (migration 0013), so a pass calls the
Bot API only for chats whose menu changed: a new link, an unlink (the chat's own menu is
deleted), a role or language change. Passes run at start-up (every linked chat again, bounded),
after a link or unlink in onboarding, and in the per-minute job (changes made by the CLI).
Calls are paced and a pass is bounded; what is left waits for the next pass.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.commands_menu import commands_for
from bot.db import Database

log = logging.getLogger("pendamping.menus")

MENU_ROLES = ("facilitator", "staff", "admin")
START_LIMIT = 500  # chats set at start-up; the rest in the per-minute passes
PASS_LIMIT = 50  # chats per pass after a link/unlink or in the per-minute job
PACE_SECONDS = 0.05  # between two menu calls: 20 per second, under Telegram's 30

_ROLES_SQL = ", ".join(f"'{r}'" for r in MENU_ROLES)


@dataclass(frozen=True)
class MenuChange:
    chat_id: int
    role: str | None  # None: delete the chat's own menu (the default scope applies again)
    language: str = "id"

    @property
    def menu(self) -> str:
        """The menu key stored for the chat: '<role>:<language>'."""
        return f"{self.role}:{self.language}"


async def menu_changes(db: Database, limit: int, *, force: bool = False) -> list[MenuChange]:
    """Chats whose menu must be set (or, force, set again) or deleted, at most LIMIT."""
    same = "" if force else " AND (m.menu IS NULL OR m.menu <> a.role || ':' || a.language)"
    rows = await db.fetchall(
        "SELECT a.chat_id, a.role, a.language FROM accounts a"
        " LEFT JOIN chat_menus m ON m.chat_id = a.chat_id"
        f" WHERE a.telegram_user_id > 0 AND a.chat_id > 0 AND a.role IN ({_ROLES_SQL}){same}"
        " ORDER BY a.id LIMIT ?",
        (limit,),
    )
    changes = [MenuChange(r["chat_id"], r["role"], r["language"] or "id") for r in rows]
    if len(changes) < limit:
        stale = await db.fetchall(
            "SELECT m.chat_id FROM chat_menus m WHERE NOT EXISTS (SELECT 1 FROM accounts a"
            f" WHERE a.chat_id = m.chat_id AND a.telegram_user_id > 0 AND a.role IN ({_ROLES_SQL}))"
            " ORDER BY m.chat_id LIMIT ?",
            (limit - len(changes),),
        )
        changes += [MenuChange(r["chat_id"], None) for r in stale]
    return changes


async def record_menu(db: Database, now: dt.datetime, change: MenuChange) -> None:
    """Remember what Telegram was told for the chat."""
    async with db.transaction() as conn:
        if change.role is None:
            await conn.execute("DELETE FROM chat_menus WHERE chat_id = ?", (change.chat_id,))
        else:
            await conn.execute(
                "INSERT INTO chat_menus (chat_id, menu, set_at) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET menu = excluded.menu,"
                " set_at = excluded.set_at",
                (change.chat_id, change.menu, now.astimezone(dt.UTC).isoformat(timespec="seconds")),
            )


async def sync_chat_menus(
    bot: Bot,
    db: Database,
    now: dt.datetime,
    *,
    limit: int = PASS_LIMIT,
    force: bool = False,
    pace: float = PACE_SECONDS,
) -> int:
    """One bounded, paced pass; returns the number of chats brought up to date. Never raises:
    a menu is a convenience. A refusal (blocked, chat gone) is recorded as done; a network
    error or flood wait ends the pass and the next pass tries again."""
    done = 0
    try:
        changes = await menu_changes(db, limit, force=force)
    except Exception as exc:  # e.g. a database without migration 0013 in an old test copy
        log.warning("event=menus_skipped error=%s", type(exc).__name__)
        return 0
    for i, change in enumerate(changes):
        if i and pace > 0:
            await asyncio.sleep(pace)
        scope = BotCommandScopeChat(change.chat_id)
        try:
            if change.role is None:
                await bot.delete_my_commands(scope=scope)
            else:
                commands = commands_for(change.role, change.language)
                await bot.set_my_commands(
                    [BotCommand(name, desc) for name, desc in commands], scope=scope
                )
        except (Forbidden, BadRequest) as exc:  # permanent for this chat: do not retry
            log.warning("event=menu_refused role=%s error=%s", change.role, type(exc).__name__)
        except TelegramError as exc:
            log.warning("event=menu_failed role=%s error=%s", change.role, type(exc).__name__)
            break
        try:
            await record_menu(db, now, change)
        except Exception as exc:  # the database refused a write: the next pass tries again
            log.warning("event=menu_not_recorded error=%s", type(exc).__name__)
            break
        done += 1
    if done:
        log.info("event=menus_set count=%d", done)
    return done
