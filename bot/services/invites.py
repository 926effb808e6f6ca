"""Invite codes, linking a Telegram account to its record, consent, unlinking.

A code has 128 bits of randomness (secrets.token_urlsafe(16)); only its SHA-256 is stored.
Used, expired and unknown codes get the same answer; more than 5 wrong codes within 10 minutes
from one Telegram account are throttled.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from bot.db import Database
from bot.domain.nik import mask_nik
from bot.services.access import INVITABLE_RECIPIENT, ROLES, AccessDenied, require_recipient
from bot.services.accounts import Account

CODE_BYTES = 16  # 128 bits
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = dt.timedelta(minutes=10)


class InviteError(ValueError):
    """An invite cannot be created as asked (CLI/usage level, English or Indonesian line)."""


@dataclass(frozen=True)
class InviteCard:
    """Everything printed on one card or list row. The NIK is masked."""

    code: str
    link: str
    role: str
    name: str
    nik_masked: str
    desa: str
    kecamatan: str
    facilitator: str
    expires_at: str


@dataclass(frozen=True)
class LinkOutcome:
    # 'linked' | 'contact_needed' | 'invalid' | 'throttled' | 'already_linked' |
    # 'record_taken' | 'revoked'
    status: str
    account: Account | None = None


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds")


def new_code() -> str:
    """A fresh random invite code (URL-safe)."""
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    """The stored form of an invite code (SHA-256; the code itself is never stored)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def invite_link(bot_username: str, code: str) -> str:
    """The t.me deep link that starts the bot with the code."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


# ---- creating ---------------------------------------------------------------------------

_RECIPIENT_CARD_SQL = (
    "SELECT r.id, r.name, r.nik, COALESCE(d.name, '') AS desa, k.name AS kecamatan,"
    " COALESCE(f.name, '') AS facilitator FROM recipients r"
    " JOIN kecamatan k ON k.code = r.kecamatan_code"
    " LEFT JOIN desa d ON d.id = r.desa_id LEFT JOIN facilitators f ON f.id = r.facilitator_id"
)
_UNLINKED_RECIPIENT = (
    "NOT EXISTS (SELECT 1 FROM accounts a WHERE a.recipient_id = r.id AND a.telegram_user_id > 0)"
)
_UNLINKED_FACILITATOR = (
    "NOT EXISTS (SELECT 1 FROM accounts a WHERE a.facilitator_id = f.id AND a.telegram_user_id > 0)"
)


async def _targets(
    db: Database,
    role: str,
    *,
    niks: list[str] | None,
    facilitator_code: str | None,
    all_unlinked: bool,
    kecamatan_code: str | None,
    name: str | None,
) -> list[dict[str, Any]]:
    if role == "recipient":
        if niks:
            marks = ",".join("?" * len(niks))
            rows = await db.fetchall(
                f"{_RECIPIENT_CARD_SQL} WHERE r.nik IN ({marks}) AND {INVITABLE_RECIPIENT}", niks
            )
            missing = set(niks) - {r["nik"] for r in rows}
            if missing:
                raise InviteError(
                    "no recipient in mentoring with NIK "
                    + ", ".join(sorted(mask_nik(n) for n in missing))
                )
            return [dict(r) for r in rows]
        where, params = [], []
        if facilitator_code:
            fid = await db.fetchval(
                "SELECT id FROM facilitators WHERE code = ?", (facilitator_code,)
            )
            if fid is None:
                raise InviteError(f"no facilitator with id {facilitator_code}")
            where.append("r.facilitator_id = ?")
            params.append(fid)
        if kecamatan_code:
            where.append("r.kecamatan_code = ?")
            params.append(kecamatan_code)
        if not (facilitator_code or all_unlinked or kecamatan_code):
            raise InviteError("say whom to invite: --nik, --facilitator ID or --all-unlinked")
        where.append(_UNLINKED_RECIPIENT)
        where.append(INVITABLE_RECIPIENT)
        rows = await db.fetchall(
            f"{_RECIPIENT_CARD_SQL} WHERE {' AND '.join(where)} ORDER BY k.name, desa, r.name",
            params,
        )
        return [dict(r) for r in rows]
    if role == "facilitator":
        sql = (
            "SELECT f.id, f.name, '' AS nik, '' AS desa, COALESCE(k.name, '') AS kecamatan,"
            " f.name AS facilitator FROM facilitators f LEFT JOIN kecamatan k"
            " ON k.code = f.kecamatan_code"
        )
        if facilitator_code:
            rows = await db.fetchall(f"{sql} WHERE f.code = ?", (facilitator_code,))
            if not rows:
                raise InviteError(f"no facilitator with id {facilitator_code}")
        elif all_unlinked or kecamatan_code:
            where, params = [_UNLINKED_FACILITATOR, "f.status = 'active'"], []
            if kecamatan_code:
                where.append("f.kecamatan_code = ?")
                params.append(kecamatan_code)
            rows = await db.fetchall(f"{sql} WHERE {' AND '.join(where)} ORDER BY f.code", params)
        else:
            raise InviteError("say which facilitator: --facilitator ID or --all-unlinked")
        return [dict(r) for r in rows]
    # staff / admin: one invite for a named person
    if niks or facilitator_code or all_unlinked:
        raise InviteError(f"a {role} invite is for one person: use --name (and --kecamatan)")
    kecamatan = ""
    if kecamatan_code:
        kecamatan = await db.fetchval(
            "SELECT name FROM kecamatan WHERE code = ?", (kecamatan_code,)
        )
    return [{"id": None, "name": name or role, "nik": "", "desa": "", "kecamatan": kecamatan or "",
             "facilitator": ""}]  # fmt: skip


async def resolve_kecamatan(db: Database, value: str | None) -> str | None:
    """'Lebaksiu', '33.28.06' or '06' -> '33.28.06'."""
    if not value:
        return None
    from bot.domain.regions import match_kecamatan
    from bot.services.regions import current as current_regions

    regions = await current_regions(db)
    codes = regions.kecamatan
    text = value.strip()
    if text in codes:
        return text
    if text.isdigit() and f"{regions.code}.{int(text):02d}" in codes:
        return f"{regions.code}.{int(text):02d}"
    try:
        return match_kecamatan(text, codes, regions.name)
    except ValueError:
        raise InviteError(f"unknown kecamatan {value!r}") from None


async def create_invites(
    db: Database,
    now: dt.datetime,
    *,
    role: str,
    bot_username: str,
    expiry_days: int,
    niks: list[str] | None = None,
    facilitator_code: str | None = None,
    all_unlinked: bool = False,
    kecamatan: str | None = None,
    name: str | None = None,
    created_by: str = "cli",
) -> list[InviteCard]:
    """Create one single-use invite per target; older unused invites of a target lapse."""
    if role not in ROLES:
        raise InviteError(f"unknown role {role!r}")
    kecamatan_code = await resolve_kecamatan(db, kecamatan)
    targets = await _targets(
        db, role, niks=niks, facilitator_code=facilitator_code, all_unlinked=all_unlinked,
        kecamatan_code=kecamatan_code, name=name,
    )  # fmt: skip
    return await _insert_invites(db, now, role, targets, bot_username, expiry_days,
                                 kecamatan_code if role == "staff" else None, created_by)  # fmt: skip


async def _insert_invites(
    db, now, role, targets, bot_username, expiry_days, kecamatan_code, created_by
) -> list[InviteCard]:
    expires = now + dt.timedelta(days=expiry_days)
    cards = []
    async with db.transaction() as conn:
        for t in targets:
            code = new_code()
            recipient_id = t["id"] if role == "recipient" else None
            facilitator_id = t["id"] if role == "facilitator" else None
            if recipient_id is not None:
                await conn.execute(
                    "UPDATE invites SET expires_at = ? WHERE recipient_id = ? AND used_at IS NULL"
                    " AND expires_at > ?",
                    (_iso(now), recipient_id, _iso(now)),
                )
            if facilitator_id is not None:
                await conn.execute(
                    "UPDATE invites SET expires_at = ? WHERE facilitator_id = ? AND role ="
                    " 'facilitator' AND used_at IS NULL AND expires_at > ?",
                    (_iso(now), facilitator_id, _iso(now)),
                )
            await conn.execute(
                "INSERT INTO invites (code_hash, role, recipient_id, facilitator_id,"
                " kecamatan_code, display_name, created_by, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (hash_code(code), role, recipient_id, facilitator_id, kecamatan_code,
                 t["name"] if role in ("staff", "admin") else None, created_by, _iso(now),
                 _iso(expires)),
            )  # fmt: skip
            cards.append(
                InviteCard(
                    code=code,
                    link=invite_link(bot_username, code),
                    role=role,
                    name=t["name"],
                    nik_masked=mask_nik(t["nik"]) if t["nik"] else "",
                    desa=t["desa"],
                    kecamatan=t["kecamatan"],
                    facilitator=t["facilitator"],
                    expires_at=_iso(expires),
                )
            )
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, details) VALUES (?, ?, ?, 'invite', ?)",
            (
                _iso(now),
                created_by,
                "invite.create",
                json.dumps({"role": role, "count": len(cards)}),
            ),
        )
    return cards


async def facilitator_invite(
    db: Database, now: dt.datetime, account: Account, recipient_id: int, *, bot_username: str,
    expiry_days: int,
) -> InviteCard:  # fmt: skip
    """A facilitator invites a family of their own caseload from the bot."""
    if account.role != "facilitator":
        raise AccessDenied("role")
    await require_recipient(db, account, recipient_id)
    row = await db.fetchone(
        f"{_RECIPIENT_CARD_SQL} WHERE r.id = ? AND {INVITABLE_RECIPIENT}", (recipient_id,)
    )
    if row is None:
        raise InviteError("tidak dalam pendampingan")
    if await db.fetchval(
        "SELECT 1 FROM accounts WHERE recipient_id = ? AND telegram_user_id > 0", (recipient_id,)
    ):
        raise InviteError("sudah terhubung")
    cards = await _insert_invites(
        db, now, "recipient", [dict(row)], bot_username, expiry_days, None, f"account:{account.id}"
    )
    return cards[0]


# ---- redeeming --------------------------------------------------------------------------


async def _recent_failures(db: Database, telegram_user_id: int, now: dt.datetime) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM invite_failures WHERE telegram_user_id = ? AND at > ?",
        (telegram_user_id, _iso(now - THROTTLE_WINDOW)),
    )


async def redeem(
    db: Database,
    now: dt.datetime,
    *,
    telegram_user_id: int,
    chat_id: int,
    display_name: str | None,
    code: str,
    language: str = "id",
) -> LinkOutcome:
    """Open an invite. Staff, admin and facilitator invites link the account at once (consent
    comes next); a recipient's invite starts a pending link that completes when the person
    shares their phone number (bot.services.binding): status 'contact_needed'."""
    from bot.services.accounts import get_account
    from bot.services.binding import is_revoked

    if await _recent_failures(db, telegram_user_id, now) >= THROTTLE_FAILURES:
        return LinkOutcome("throttled")
    if await is_revoked(db, telegram_user_id):
        return LinkOutcome("revoked")
    existing = await get_account(db, telegram_user_id)
    if existing is not None:
        return LinkOutcome("already_linked", existing)
    async with db.transaction() as conn:
        async with conn.execute(
            "SELECT i.id, i.role, i.recipient_id, i.facilitator_id, i.kecamatan_code,"
            " i.display_name, i.expires_at, i.used_at, i.created_by FROM invites i"
            " LEFT JOIN recipients r ON r.id = i.recipient_id"
            f" WHERE i.code_hash = ? AND (i.recipient_id IS NULL OR ({INVITABLE_RECIPIENT}))",
            (hash_code(code),),
        ) as cur:
            invite = await cur.fetchone()
        if invite is None or invite["used_at"] is not None or invite["expires_at"] <= _iso(now):
            await conn.execute(
                "INSERT INTO invite_failures (telegram_user_id, at) VALUES (?, ?)",
                (telegram_user_id, _iso(now)),
            )
            return LinkOutcome("invalid")
        if invite["role"] == "recipient":
            if await _record_taken(conn, "recipient_id", invite["recipient_id"]):
                return LinkOutcome("record_taken")
            await conn.execute(
                "UPDATE pending_links SET status = 'lapsed' WHERE telegram_user_id = ?"
                " AND status IN ('contact', 'confirm')",
                (telegram_user_id,),
            )
            await conn.execute(
                "INSERT INTO pending_links (invite_id, recipient_id, telegram_user_id, chat_id,"
                " display_name, language, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (invite["id"], invite["recipient_id"], telegram_user_id, chat_id, display_name,
                 language, _iso(now)),
            )  # fmt: skip
            return LinkOutcome("contact_needed")
        linked = await link_in_tx(
            conn, now, invite, telegram_user_id=telegram_user_id, chat_id=chat_id,
            display_name=display_name, language=language,
        )  # fmt: skip
        if linked is None:
            return LinkOutcome("record_taken")
    return LinkOutcome("linked", await get_account(db, telegram_user_id))


async def _record_taken(conn: Any, record_col: str, record_id: int) -> bool:
    async with conn.execute(
        f"SELECT 1 FROM accounts WHERE {record_col} = ? AND telegram_user_id > 0", (record_id,)
    ) as cur:
        return await cur.fetchone() is not None


async def link_in_tx(
    conn: Any,
    now: dt.datetime,
    invite: Any,
    *,
    telegram_user_id: int,
    chat_id: int,
    display_name: str | None,
    language: str,
    actor: str | None = None,
) -> int | None:
    """Link the Telegram account to the invite's record inside the caller's transaction and use
    the invite up; the account id, or None when another account holds the record."""
    role = invite["role"]
    # The record's earlier, unlinked account (negative id) is reused to keep its history.
    record_col = {"recipient": "recipient_id", "facilitator": "facilitator_id"}.get(role)
    old = None
    if record_col:
        async with conn.execute(
            f"SELECT id, telegram_user_id FROM accounts WHERE {record_col} = ?",
            (invite[record_col],),
        ) as cur:
            old = await cur.fetchone()
        if old is not None and old["telegram_user_id"] > 0:
            return None
    if old is not None:
        account_id = old["id"]
        await conn.execute(
            "UPDATE accounts SET telegram_user_id = ?, chat_id = ?, display_name = ?,"
            " language = ?, reachable = 1, unreachable_reason = NULL, consent_version = NULL,"
            " consent_at = NULL, linked_at = ? WHERE id = ?",
            (telegram_user_id, chat_id, display_name, language, _iso(now), account_id),
        )
    else:
        cur = await conn.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, recipient_id,"
            " facilitator_id, kecamatan_code, language, linked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (telegram_user_id, chat_id, invite["display_name"] or display_name, role,
             invite["recipient_id"], invite["facilitator_id"],
             invite["kecamatan_code"] if role == "staff" else None, language, _iso(now)),
        )  # fmt: skip
        account_id = cur.lastrowid
        await cur.close()
    await conn.execute(
        "UPDATE invites SET used_at = ?, used_by_account_id = ? WHERE id = ?",
        (_iso(now), account_id, invite["id"]),
    )
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, 'account.link', 'account', ?, ?)",
        (_iso(now), actor or f"account:{account_id}", str(account_id),
         json.dumps({"role": role})),
    )  # fmt: skip
    return account_id


async def acknowledge_notice(
    db: Database, now: dt.datetime, account: Account, version: str
) -> None:
    """Record that the account acknowledged this version of the privacy notice."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE accounts SET consent_version = ?, consent_at = ? WHERE id = ?",
            (version, _iso(now), account.id),
        )
        await conn.execute(
            "INSERT INTO consents (account_id, notice_version, action, at)"
            " VALUES (?, ?, 'acknowledged', ?)",
            (account.id, version, _iso(now)),
        )


async def unlink(db: Database, now: dt.datetime, account: Account) -> None:
    """Detach the Telegram account; the record and its history stay, a new invite re-links."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE accounts SET telegram_user_id = ?, chat_id = ?, reachable = 0,"
            " unreachable_reason = 'unlinked', consent_version = NULL, consent_at = NULL"
            " WHERE id = ?",
            (-account.id, -account.id, account.id),
        )
        await conn.execute(
            "INSERT INTO consents (account_id, notice_version, action, at)"
            " VALUES (?, ?, 'unlinked', ?)",
            (account.id, account.consent_version or "-", _iso(now)),
        )
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'account.unlink', 'account', ?, '{}')",
            (_iso(now), f"account:{account.id}", str(account.id)),
        )


async def add_admin(db: Database, now: dt.datetime, telegram_id: int, name: str) -> int:
    """The first admin, from the CLI (private chat id = user id)."""
    if await db.fetchval("SELECT 1 FROM accounts WHERE telegram_user_id = ?", (telegram_id,)):
        raise InviteError(f"Telegram account {telegram_id} is already linked")
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, linked_at)"
            " VALUES (?, ?, ?, 'admin', ?)",
            (telegram_id, telegram_id, name, _iso(now)),
        )
        account_id = cur.lastrowid
        assert account_id is not None  # an INSERT always sets lastrowid
        await cur.close()
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, 'cli', 'account.admin_add', 'account', ?, '{}')",
            (_iso(now), str(account_id)),
        )
    return account_id


# ---- profile ----------------------------------------------------------------------------


async def profile(db: Database, account: Account) -> dict[str, Any]:
    """The account's own data for /profil; NIK masked here already."""
    out: dict[str, Any] = {
        "role": account.role, "name": account.display_name or "", "nik": "", "desa": "",
        "kecamatan": "", "facilitator": "", "phone": "", "programme": "",
        "consent_at": account.consent_at, "caseload": None,
    }  # fmt: skip
    if account.recipient_id is not None:
        row = await db.fetchone(
            f"{_RECIPIENT_CARD_SQL.replace('SELECT', 'SELECT r.phone, r.programme,', 1)}"
            " WHERE r.id = ?",
            (account.recipient_id,),
        )
        assert row is not None, "the account's recipient is a foreign key"
        out.update(name=row["name"], nik=mask_nik(row["nik"]), desa=row["desa"],
                   kecamatan=row["kecamatan"], facilitator=row["facilitator"],
                   phone=row["phone"] or "", programme=row["programme"])  # fmt: skip
    elif account.facilitator_id is not None:
        row = await db.fetchone(
            "SELECT f.name, f.phone, COALESCE(k.name, '') AS kecamatan FROM facilitators f"
            " LEFT JOIN kecamatan k ON k.code = f.kecamatan_code WHERE f.id = ?",
            (account.facilitator_id,),
        )
        assert row is not None, "the account's facilitator is a foreign key"
        out.update(name=row["name"], phone=row["phone"] or "", kecamatan=row["kecamatan"])
        out["caseload"] = await db.fetchval(
            "SELECT count(*) FROM recipients WHERE facilitator_id = ?", (account.facilitator_id,)
        )
    elif account.kecamatan_code:
        out["kecamatan"] = await db.fetchval(
            "SELECT name FROM kecamatan WHERE code = ?", (account.kecamatan_code,)
        )
    return out
