"""Telegram accounts and their roles."""

from __future__ import annotations

from dataclasses import dataclass

from bot.db import Database


@dataclass(frozen=True)
class Account:
    id: int
    telegram_user_id: int
    chat_id: int
    role: str
    display_name: str | None
    recipient_id: int | None
    facilitator_id: int | None
    kecamatan_code: str | None
    language: str
    muted: bool
    reachable: bool
    consent_version: str | None = None
    consent_at: str | None = None


@dataclass(frozen=True)
class Greeting:
    """What /start shows a linked account."""

    role: str
    name: str
    kecamatan: str | None


async def get_account(db: Database, telegram_user_id: int) -> Account | None:
    """The account linked to this Telegram user, or None."""
    row = await db.fetchone(
        "SELECT id, telegram_user_id, chat_id, role, display_name, recipient_id, facilitator_id,"
        " kecamatan_code, language, muted, reachable, consent_version, consent_at"
        " FROM accounts WHERE telegram_user_id = ?",
        (telegram_user_id,),
    )
    if row is None:
        return None
    return Account(
        id=row["id"],
        telegram_user_id=row["telegram_user_id"],
        chat_id=row["chat_id"],
        role=row["role"],
        display_name=row["display_name"],
        recipient_id=row["recipient_id"],
        facilitator_id=row["facilitator_id"],
        kecamatan_code=row["kecamatan_code"],
        language=row["language"],
        muted=bool(row["muted"]),
        reachable=bool(row["reachable"]),
        consent_version=row["consent_version"],
        consent_at=row["consent_at"],
    )


async def greeting_for(db: Database, account: Account) -> Greeting:
    """The name and scope to greet a linked account with."""
    name = account.display_name or ""
    if account.recipient_id is not None:
        name = (
            await db.fetchval("SELECT name FROM recipients WHERE id = ?", (account.recipient_id,))
            or name
        )
    elif account.facilitator_id is not None:
        name = (
            await db.fetchval(
                "SELECT name FROM facilitators WHERE id = ?", (account.facilitator_id,)
            )
            or name
        )
    kecamatan = None
    if account.kecamatan_code:
        kecamatan = await db.fetchval(
            "SELECT name FROM kecamatan WHERE code = ?", (account.kecamatan_code,)
        )
    return Greeting(account.role, name, kecamatan)
