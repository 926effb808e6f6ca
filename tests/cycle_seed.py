"""Plain-SQL seeding for cycle/outbox/broadcast tests (independent of the import feature)."""

from __future__ import annotations

import itertools

from bot.db import Database

NOW = "2024-01-01T00:00:00+00:00"
_nik = itertools.count(1)
KEC_SLAWI = "33.28.10"
KEC_LEBAKSIU = "33.28.06"


async def desa(db: Database, name: str, kecamatan: str = KEC_SLAWI) -> int:
    return await db.execute(
        "INSERT INTO desa (kecamatan_code, name) VALUES (?, ?)", (kecamatan, name)
    )


async def facilitator(
    db: Database, name: str, *, kecamatan: str = KEC_SLAWI, chat_id: int | None = None
) -> int:
    """A facilitator; with chat_id also a linked facilitator account (user id = chat id)."""
    fid = await db.execute(
        "INSERT INTO facilitators (code, name, kecamatan_code, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (f"PD-{name}", name, kecamatan, NOW, NOW),
    )
    if chat_id is not None:
        await account(db, chat_id, "facilitator", facilitator_id=fid, name=name)
    return fid


async def recipient(
    db: Database,
    name: str,
    *,
    facilitator_id: int | None = None,
    kecamatan: str = KEC_SLAWI,
    desa_id: int | None = None,
    programme: str = "tata boga",
    handover: str | None = "2023-11-20",
    status: str = "active",
    chat_id: int | None = None,
    muted: bool = False,
) -> int:
    """A recipient; with chat_id also a linked recipient account (user id = chat id)."""
    n = next(_nik)
    rid = await db.execute(
        "INSERT INTO recipients (nik, name, kecamatan_code, desa_id, programme, handover_date,"
        " facilitator_id, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (f"332810{n:010d}", name, kecamatan, desa_id, programme, handover, facilitator_id,
         status, NOW, NOW),
    )  # fmt: skip
    if chat_id is not None:
        await account(db, chat_id, "recipient", recipient_id=rid, name=name, muted=muted)
    return rid


async def account(
    db: Database,
    chat_id: int,
    role: str,
    *,
    recipient_id: int | None = None,
    facilitator_id: int | None = None,
    kecamatan: str | None = None,
    name: str | None = None,
    muted: bool = False,
    language: str = "id",
) -> int:
    return await db.execute(
        "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, recipient_id,"
        " facilitator_id, kecamatan_code, language, muted, linked_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (chat_id, chat_id, name, role, recipient_id, facilitator_id, kecamatan, language,
         int(muted), NOW),
    )  # fmt: skip


async def report(db: Database, recipient_id: int, period: str, role: str = "recipient") -> int:
    return await db.execute(
        "INSERT INTO reports (recipient_id, period, reporter_role, submitted_at, business_status,"
        " answers) VALUES (?, ?, ?, ?, 'berjalan', '{}')",
        (recipient_id, period, role, NOW),
    )


async def outbox(db: Database, where: str = "1=1", params: tuple = ()) -> list[dict]:
    rows = await db.fetchall(f"SELECT * FROM outbox WHERE {where} ORDER BY id", params)
    return [dict(r) for r in rows]
