"""Seeding for the follow-up after graduation: two graduates, a neighbour still mentored, a
facilitator, staff of two kecamatan and an admin (plain SQL, as tests/cycle_seed.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.db import Database
from tests import cycle_seed as seed

WIB = ZoneInfo("Asia/Jakarta")
# approved on 3 July 2024 09:00 WIB: the 3-month check-in is due 3 October 2024 08:00 WIB
DECIDED = "2024-07-03T02:00:00+00:00"
SITI, WATI, ANI, BUDI, STAFF, FAR_STAFF, ADMIN = 1001, 1003, 1002, 2001, 3001, 3002, 4001


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


async def graduate(db: Database, rid: int, decided_by: int, decided: str = DECIDED) -> int:
    """An approved graduation case and the recipient's status, as the graduation service
    leaves them."""
    case = await db.execute(
        "INSERT INTO graduation_cases (recipient_id, kind, status, score, model_version, period,"
        " statement, decided_by, decision_reason, decided_at, created_at)"
        " VALUES (?, 'graduation', 'approved', 80, '2.0+test', '2024-06', 'usaha stabil', ?,"
        " 'Disetujui', ?, ?)",
        (rid, decided_by, decided, decided),
    )
    await db.execute(
        "UPDATE recipients SET status = 'graduated', status_reason = 'graduasi',"
        " status_changed_at = ? WHERE id = ?",
        (decided, rid),
    )
    return case


async def world(db: Database) -> None:
    d = await seed.desa(db, "Kalisapu")
    budi = await seed.facilitator(db, "Budi", chat_id=BUDI)
    siti = await seed.recipient(db, "Siti", facilitator_id=budi, desa_id=d, chat_id=SITI)
    wati = await seed.recipient(db, "Wati", facilitator_id=budi, desa_id=d, chat_id=WATI)
    await seed.recipient(db, "Ani", facilitator_id=budi, desa_id=d, chat_id=ANI,
                         handover="2024-06-20")  # fmt: skip
    staff = await seed.account(db, STAFF, "staff", kecamatan=seed.KEC_SLAWI, name="Staf Slawi")
    await seed.account(db, FAR_STAFF, "staff", kecamatan=seed.KEC_LEBAKSIU, name="Staf Lebaksiu")
    await seed.account(db, ADMIN, "admin", name="Admin")
    await graduate(db, siti, staff)
    await graduate(db, wati, staff)
