"""Who may see which records. Every service that reads registry data goes through here.

recipient: only their own record; facilitator: only their caseload; staff: their kecamatan
when scoped (kecamatan_code set), else all; admin: all.
"""

from __future__ import annotations

from typing import Any

from bot.db import Database
from bot.services.accounts import Account

ROLES = ("recipient", "facilitator", "staff", "admin")


# Only a record still in mentoring can be invited or linked: never an erased one (its NIK was
# replaced by 'X' + id, bot.services.persons) nor one whose mentoring ended.
INVITABLE_RECIPIENT = "r.status != 'ended' AND substr(r.nik, 1, 1) != 'X'"


class AccessDenied(Exception):
    """The account may not see or do this. Never says whether the record exists."""


def recipient_scope(account: Account | None, alias: str = "r") -> tuple[str, list[Any]]:
    """A WHERE fragment (and its parameters) limiting recipients to what account may see."""
    if account is None:
        return "1 = 0", []
    if account.role == "admin":
        return "1 = 1", []
    if account.role == "staff":
        if account.kecamatan_code:
            return f"{alias}.kecamatan_code = ?", [account.kecamatan_code]
        return "1 = 1", []
    if account.role == "facilitator" and account.facilitator_id is not None:
        return f"{alias}.facilitator_id = ?", [account.facilitator_id]
    if account.role == "recipient" and account.recipient_id is not None:
        return f"{alias}.id = ?", [account.recipient_id]
    return "1 = 0", []


def require_role(account: Account | None, *roles: str) -> Account:
    """The account when it has one of the roles; AccessDenied('role') otherwise."""
    if account is None or account.role not in roles:
        raise AccessDenied("role")
    return account


async def can_see_recipient(db: Database, account: Account | None, recipient_id: int) -> bool:
    """Whether the recipient is inside the account's scope (recipient_scope)."""
    where, params = recipient_scope(account)
    found = await db.fetchval(
        f"SELECT 1 FROM recipients r WHERE r.id = ? AND {where}", (recipient_id, *params)
    )
    return bool(found)


async def require_recipient(db: Database, account: Account | None, recipient_id: int) -> None:
    """AccessDenied('recipient') unless the account may see this recipient."""
    if not await can_see_recipient(db, account, recipient_id):
        raise AccessDenied("recipient")


async def visible_recipients(
    db: Database, account: Account | None, *, unlinked_only: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    """Recipients the account may see (id, name, desa), by name."""
    where, params = recipient_scope(account)
    extra = ""
    if unlinked_only:
        extra = (
            " AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.recipient_id = r.id"
            f" AND a.telegram_user_id > 0) AND {INVITABLE_RECIPIENT}"
        )
    sql = (
        "SELECT r.id, r.name, r.nik, d.name AS desa FROM recipients r"
        " LEFT JOIN desa d ON d.id = r.desa_id"
        f" WHERE {where}{extra} ORDER BY r.name, r.id"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [dict(row) for row in await db.fetchall(sql, params)]


def can_see_facilitator(
    account: Account | None, facilitator_id: int, kecamatan: str | None
) -> bool:
    """Admins see every facilitator, staff those of their kecamatan, a facilitator only themself."""
    if account is None:
        return False
    if account.role == "admin":
        return True
    if account.role == "staff":
        return not account.kecamatan_code or account.kecamatan_code == kecamatan
    if account.role == "facilitator":
        return account.facilitator_id == facilitator_id
    return False


# --- consent ---------------------------------------------------------------------
# The one check every data-collecting service makes: a recipient or facilitator who has not
# acknowledged the privacy notice (accounts.consent_at IS NULL) gives no data yet.
CONSENT_ROLES = ("recipient", "facilitator")


class ConsentNeeded(AccessDenied):
    """The account has to acknowledge the privacy notice first (show it again)."""


def require_consent(account: Account) -> None:
    """ConsentNeeded while a recipient or facilitator has not acknowledged the privacy notice."""
    if account.role in CONSENT_ROLES and account.consent_at is None:
        raise ConsentNeeded("consent")
