"""Binding a recipient's invite to the right person, and revoking Telegram accounts.

An invite link is a bearer token: whoever opens it could claim the family. So opening a
recipient's link only starts a pending link (bot.services.invites.redeem); it completes when
- the person shares their OWN phone number with Telegram's contact button (the contact's
  user_id is the sender's) and it matches the register's number (both normalised with
  bot.domain.cells.parse_phone); or
- the number does not match, or the register has none, and a second person confirms the new
  account in chat: the family's facilitator, or, when the facilitator made the link
  themselves (/undang), staff of the family's kecamatan (so nobody vouches alone for an
  account they could hold themselves).
A number that belongs to a facilitator, and a Telegram account that is already a facilitator,
staff or admin, are never linked as a recipient. Revoked Telegram accounts cannot link again
and are told so when they write.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from bot.db import Database
from bot.domain.cells import CellError, parse_phone
from bot.services.access import INVITABLE_RECIPIENT, ROLES, can_see_recipient
from bot.services.accounts import Account, get_account


class BindingError(Exception):
    """Not a pending link this account may decide (or none at all): one answer for both."""


@dataclass(frozen=True)
class Confirmer:
    chat_id: int
    language: str


@dataclass
class ContactOutcome:
    # 'linked' | 'confirm' | 'not_own' | 'staff_number' | 'no_request' | 'lapsed'
    status: str
    account: Account | None = None
    pending_id: int | None = None
    name: str = ""
    confirmers: list[Confirmer] = field(default_factory=list)
    register_phone: bool = False  # the register has a number (which did not match)


@dataclass(frozen=True)
class Decision:
    status: str  # 'linked' | 'refused' | 'taken'
    name: str
    chat_id: int
    language: str
    account_id: int | None


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def normalise_phone(text: str | None) -> str | None:
    """'+62 812-3456-7890', '081234567890' -> '6281234567890'; None when not a mobile number."""
    try:
        return parse_phone(text)
    except CellError:
        return None


async def is_revoked(db: Database, telegram_user_id: int) -> bool:
    """Whether access of this Telegram account was revoked (it may not link again)."""
    return bool(
        await db.fetchval(
            "SELECT 1 FROM revoked_telegram WHERE telegram_user_id = ?", (telegram_user_id,)
        )
    )


async def waiting_for_contact(db: Database, telegram_user_id: int) -> bool:
    """True while this Telegram account has opened a family's link and not shared a number."""
    return bool(
        await db.fetchval(
            "SELECT 1 FROM pending_links WHERE telegram_user_id = ? AND status = 'contact'",
            (telegram_user_id,),
        )
    )


async def waiting_for_confirmation(db: Database, telegram_user_id: int) -> bool:
    """True while this Telegram account's new link waits for a facilitator's (staff's) yes."""
    return bool(
        await db.fetchval(
            "SELECT 1 FROM pending_links WHERE telegram_user_id = ? AND status = 'confirm'",
            (telegram_user_id,),
        )
    )


async def _staff_numbers(db: Database) -> set[str]:
    """Normalised numbers of every facilitator (the register keeps no staff numbers)."""
    rows = await db.fetchall("SELECT phone FROM facilitators WHERE phone IS NOT NULL")
    return {n for n in (normalise_phone(r["phone"]) for r in rows) if n}


_PENDING_SQL = (
    "SELECT p.*, i.used_at, i.expires_at, i.created_by, i.role, i.facilitator_id AS inv_fac,"
    " i.kecamatan_code AS inv_kec, i.display_name AS inv_name, r.name, r.phone AS register_phone,"
    " r.facilitator_id, r.kecamatan_code FROM pending_links p JOIN invites i ON i.id = p.invite_id"
    " JOIN recipients r ON r.id = p.recipient_id"
)


def _invite_row(p: Any) -> dict[str, Any]:
    """The invite fields bot.services.invites.link_in_tx reads."""
    return {"id": p["invite_id"], "role": "recipient", "recipient_id": p["recipient_id"],
            "facilitator_id": None, "kecamatan_code": None, "display_name": None}  # fmt: skip


async def _usable(db: Database, p: Any, now: dt.datetime) -> bool:
    """The invite is still unused and valid, and the record still in mentoring."""
    if p["used_at"] is not None or p["expires_at"] <= _iso(now):
        return False
    return bool(
        await db.fetchval(
            f"SELECT 1 FROM recipients r WHERE r.id = ? AND {INVITABLE_RECIPIENT}",
            (p["recipient_id"],),
        )
    )


async def _family_facilitator_account(db: Database, facilitator_id: int | None) -> Any:
    if facilitator_id is None:
        return None
    return await db.fetchone(
        "SELECT id, chat_id, language FROM accounts WHERE role = 'facilitator'"
        " AND facilitator_id = ? AND telegram_user_id > 0",
        (facilitator_id,),
    )


async def _confirmers(db: Database, p: Any) -> tuple[str, list[Confirmer]]:
    """Who confirms: the family's facilitator, unless that facilitator made the link."""
    fac = await _family_facilitator_account(db, p["facilitator_id"])
    if fac is not None and p["created_by"] != f"account:{fac['id']}":
        return "facilitator", [Confirmer(fac["chat_id"], fac["language"])]
    rows = await db.fetchall(
        "SELECT chat_id, language FROM accounts WHERE telegram_user_id > 0 AND"
        " ((role = 'staff' AND (kecamatan_code IS NULL OR kecamatan_code = ?)) OR role = 'admin')"
        " ORDER BY role DESC, id",
        (p["kecamatan_code"],),
    )
    return "staff", [Confirmer(r["chat_id"], r["language"]) for r in rows]


async def share_contact(
    db: Database,
    now: dt.datetime,
    *,
    telegram_user_id: int,
    contact_user_id: int | None,
    phone: str | None,
) -> ContactOutcome:
    """A contact shared in private chat: complete, refuse or hand over the pending link."""
    p = await db.fetchone(
        _PENDING_SQL + " WHERE p.telegram_user_id = ? AND p.status = 'contact'"
        " ORDER BY p.id DESC LIMIT 1",
        (telegram_user_id,),
    )
    if p is None:
        return ContactOutcome("no_request")
    if contact_user_id != telegram_user_id:
        return ContactOutcome("not_own", pending_id=p["id"])
    if not await _usable(db, p, now) or await get_account(db, telegram_user_id) is not None:
        await db.execute("UPDATE pending_links SET status = 'lapsed' WHERE id = ?", (p["id"],))
        return ContactOutcome("lapsed", pending_id=p["id"])
    number = normalise_phone(phone)
    if number is not None and number in await _staff_numbers(db):
        await _decide_row(db, now, p["id"], "refused", None, number, "staff_number")
        return ContactOutcome("staff_number", pending_id=p["id"])
    register = normalise_phone(p["register_phone"])
    if number is not None and register is not None and number == register:
        account_id = await _link(db, now, p, number, actor=f"telegram:{telegram_user_id}")
        if account_id is None:
            return ContactOutcome("lapsed", pending_id=p["id"])
        return ContactOutcome("linked", await get_account(db, telegram_user_id), p["id"], p["name"])
    confirmer, confirmers = await _confirmers(db, p)
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE pending_links SET status = 'confirm', phone = ?, confirmer = ? WHERE id = ?",
            (number, confirmer, p["id"]),
        )
        await _audit(conn, now, f"telegram:{telegram_user_id}", "account.link_pending", p,
                     {"confirmer": confirmer, "register_phone": register is not None})  # fmt: skip
    return ContactOutcome("confirm", None, p["id"], p["name"], confirmers, register is not None)


async def _audit(conn: Any, now: dt.datetime, actor: str, action: str, p: Any, details: dict):
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, ?, 'pending_link', ?, ?)",
        (_iso(now), actor, action, str(p["id"]), json.dumps(details)),
    )


async def _decide_row(
    db: Database, now: dt.datetime, pending_id: int, status: str, by: int | None,
    phone: str | None, why: str,
) -> None:  # fmt: skip
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE pending_links SET status = ?, decided_at = ?, decided_by = ?,"
            " phone = COALESCE(?, phone) WHERE id = ?",
            (status, _iso(now), by, phone, pending_id),
        )
        await _audit(conn, now, f"account:{by}" if by else "bot", f"account.link_{status}",
                     {"id": pending_id}, {"why": why})  # fmt: skip


async def _link(
    db: Database, now: dt.datetime, p: Any, number: str | None, *, actor: str,
    decided_by: int | None = None,
) -> int | None:  # fmt: skip
    from bot.services.invites import link_in_tx

    async with db.transaction() as conn:
        account_id = await link_in_tx(
            conn, now, _invite_row(p), telegram_user_id=p["telegram_user_id"],
            chat_id=p["chat_id"], display_name=p["display_name"], language=p["language"],
            actor=actor,
        )  # fmt: skip
        if account_id is None:
            await conn.execute(
                "UPDATE pending_links SET status = 'lapsed' WHERE id = ?", (p["id"],)
            )
            return None
        await conn.execute(
            "UPDATE pending_links SET status = 'linked', phone = COALESCE(?, phone),"
            " decided_at = ?, decided_by = ? WHERE id = ?",
            (number, _iso(now), decided_by, p["id"]),
        )
        # every other open attempt on this invite lapses with it
        await conn.execute(
            "UPDATE pending_links SET status = 'lapsed' WHERE invite_id = ? AND id != ?"
            " AND status IN ('contact', 'confirm')",
            (p["invite_id"], p["id"]),
        )
    return account_id


async def _may_decide(db: Database, account: Account, p: Any) -> bool:
    if p["confirmer"] == "facilitator":
        return account.role == "facilitator" and account.facilitator_id == p["facilitator_id"]
    return account.role in ("staff", "admin") and await can_see_recipient(
        db, account, p["recipient_id"]
    )


async def decide(
    db: Database, now: dt.datetime, account: Account, pending_id: int, approve: bool
) -> Decision:
    """The facilitator (or staff) answers "Akun baru untuk <nama>: benar?"."""
    p = await db.fetchone(_PENDING_SQL + " WHERE p.id = ?", (pending_id,))
    if p is None or p["status"] != "confirm" or not await _may_decide(db, account, p):
        raise BindingError("pending")
    out = {"name": p["name"], "chat_id": p["chat_id"], "language": p["language"]}
    if not approve:
        await _decide_row(db, now, pending_id, "refused", account.id, None, "not_confirmed")
        return Decision("refused", account_id=None, **out)
    if not await _usable(db, p, now) or await get_account(db, p["telegram_user_id"]):
        await db.execute("UPDATE pending_links SET status = 'lapsed' WHERE id = ?", (p["id"],))
        return Decision("taken", account_id=None, **out)
    account_id = await _link(db, now, p, None, actor=f"account:{account.id}", decided_by=account.id)
    return Decision("linked" if account_id else "taken", account_id=account_id, **out)


async def awaiting(db: Database, account: Account) -> list[tuple[int, str]]:
    """(pending id, family name) of the new accounts waiting for this account's answer."""
    rows = await db.fetchall(_PENDING_SQL + " WHERE p.status = 'confirm' ORDER BY p.id LIMIT 200")
    return [(r["id"], r["name"]) for r in rows if await _may_decide(db, account, r)]


# --- accounts: list and revoke (CLI) --------------------------------------------------------


async def list_accounts(
    db: Database, now: dt.datetime, role: str | None = None, actor: str = "cli"
) -> list[dict[str, Any]]:
    """Linked Telegram accounts with their role and record, by role (the listing is audited)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    await db.execute(
        "INSERT INTO audit_log (at, actor, action, entity, details)"
        " VALUES (?, ?, 'account.list', 'account', ?)",
        (_iso(now), actor, json.dumps({"role": role})),
    )
    rows = await db.fetchall(
        "SELECT a.id, a.telegram_user_id, a.role, a.linked_at, a.consent_at,"
        " COALESCE(r.name, f.name, a.display_name, '') AS name, a.kecamatan_code"
        " FROM accounts a LEFT JOIN recipients r ON r.id = a.recipient_id"
        " LEFT JOIN facilitators f ON f.id = a.facilitator_id"
        " WHERE a.telegram_user_id > 0 AND (? IS NULL OR a.role = ?) ORDER BY a.role, a.id",
        (role, role),
    )
    return [dict(r) for r in rows]


async def revoke(
    db: Database, now: dt.datetime, telegram_user_id: int, reason: str, actor: str = "cli"
) -> dict[str, Any]:
    """Detach the Telegram account from its record and refuse it from now on (audited)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("a reason is needed (--reason)")
    account = await get_account(db, telegram_user_id)
    if account is None and await is_revoked(db, telegram_user_id):
        raise ValueError(f"Telegram account {telegram_user_id} is already revoked")
    if account is None:
        raise ValueError(f"no linked Telegram account {telegram_user_id}")
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE accounts SET telegram_user_id = ?, chat_id = ?, reachable = 0,"
            " unreachable_reason = 'revoked', consent_version = NULL, consent_at = NULL"
            " WHERE id = ?",
            (-account.id, -account.id, account.id),
        )
        await conn.execute(
            "UPDATE report_drafts SET status = 'cancelled' WHERE account_id = ? AND status = 'open'",
            (account.id,),
        )
        await conn.execute(
            "UPDATE pending_links SET status = 'lapsed' WHERE telegram_user_id = ?"
            " AND status IN ('contact', 'confirm')",
            (telegram_user_id,),
        )
        await conn.execute(
            "INSERT INTO revoked_telegram (telegram_user_id, account_id, role, reason,"
            " revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?)",
            (telegram_user_id, account.id, account.role, reason, _iso(now), actor),
        )
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'account.revoke', 'account', ?, ?)",
            (_iso(now), actor, str(account.id),
             json.dumps({"role": account.role, "reason": reason}, ensure_ascii=False)),
        )  # fmt: skip
    return {"account_id": account.id, "role": account.role}
