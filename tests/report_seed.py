"""Plain-SQL seeding for report tests: desa, facilitators, recipients and accounts.

Independent of the registry/invite feature on purpose.
"""

from __future__ import annotations

from bot.db import Database
from bot.domain.consent import NOTICE_VERSION
from bot.services.accounts import Account, get_account

CREATED = "2024-01-15T00:00:00+00:00"
KEC = "33.28.06"


async def add_desa(db: Database, name: str, kecamatan: str = KEC) -> int:
    return await db.execute(
        "INSERT INTO desa (kecamatan_code, name) VALUES (?, ?)", (kecamatan, name)
    )


async def add_facilitator(db: Database, code: str = "PD-101", name: str = "Bu Rini") -> int:
    return await db.execute(
        "INSERT INTO facilitators (code, name, kecamatan_code, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (code, name, KEC, CREATED, CREATED),
    )


async def add_recipient(
    db: Database,
    n: int,
    name: str,
    programme: str = "tata boga",
    facilitator_id: int | None = None,
    desa_id: int | None = None,
    created_at: str = CREATED,
) -> int:
    nik = f"33280642116500{n:02d}" if n < 100 else f"332806421165{n:04d}"
    return await db.execute(
        "INSERT INTO recipients (nik, name, kecamatan_code, desa_id, programme, facilitator_id,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (nik, name, KEC, desa_id, programme, facilitator_id, created_at, created_at),
    )


async def add_account(
    db: Database,
    telegram_user_id: int,
    role: str,
    recipient_id: int | None = None,
    facilitator_id: int | None = None,
    name: str | None = None,
    consented: bool = True,
) -> Account:
    """A linked account; consented: the privacy notice is acknowledged, as every
    person who reports has done; False to test the notice being asked again."""
    await db.execute(
        "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, recipient_id,"
        " facilitator_id, linked_at, consent_version, consent_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (telegram_user_id, telegram_user_id, name, role, recipient_id, facilitator_id, CREATED,
         NOTICE_VERSION if consented else None, CREATED if consented else None),
    )  # fmt: skip
    account = await get_account(db, telegram_user_id)
    assert account is not None
    return account


async def seed_basic(db: Database) -> dict:
    """One facilitator (account 2001) with three recipients (one per programme, accounts
    1001-1003) in two desa, and a recipient of another facilitator (1009)."""
    d1 = await add_desa(db, "Lebaksiu Kidul")
    d2 = await add_desa(db, "Kajen")
    f1 = await add_facilitator(db)
    f2 = await add_facilitator(db, "PD-102", "Pak Joko")
    r1 = await add_recipient(db, 1, "Siti", "tata boga", f1, d1)
    r2 = await add_recipient(db, 2, "Aminah", "menjahit", f1, d2)
    r3 = await add_recipient(db, 3, "Warsini", "ternak kambing", f1, d1)
    r9 = await add_recipient(db, 9, "Lain", "tata boga", f2, d2)
    return {
        "desa": (d1, d2),
        "facilitator": f1,
        "recipients": (r1, r2, r3),
        "other_recipient": r9,
        "siti": await add_account(db, 1001, "recipient", recipient_id=r1, name="Siti"),
        "aminah": await add_account(db, 1002, "recipient", recipient_id=r2, name="Aminah"),
        "warsini": await add_account(db, 1003, "recipient", recipient_id=r3, name="Warsini"),
        "rini": await add_account(db, 2001, "facilitator", facilitator_id=f1, name="Rini"),
        "joko": await add_account(db, 2002, "facilitator", facilitator_id=f2, name="Joko"),
    }
