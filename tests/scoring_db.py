"""Helpers for scoring/graduation service tests: seed recipients, reports, visits, accounts."""

from __future__ import annotations

import datetime as dt

from bot.db import Database
from bot.domain.scoring import Observation

NOW = "2024-07-01T01:00:00+00:00"


async def add_facilitator(db: Database, code: str = "PD-101", kec: str = "33.28.06") -> int:
    return await db.execute(
        "INSERT INTO facilitators (code, name, kecamatan_code, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (code, f"Pendamping {code}", kec, NOW, NOW),
    )


async def add_recipient(
    db: Database,
    nik: str = "3328064107850001",
    *,
    name: str = "Siti Aminah",
    kec: str = "33.28.06",
    programme: str = "menjahit",
    household_size: int | None = 4,
    facilitator_id: int | None = None,
    handover: str = "2024-01-10",
    livestock_received: int | None = None,
    package: str | None = None,
    receives_pkh: int | None = None,
    receives_sembako: int | None = None,
    welfare_decile: int | None = None,
) -> int:
    desa = await db.fetchval(
        "SELECT id FROM desa WHERE kecamatan_code = ? AND name = 'Lebaksiu Kidul'", (kec,)
    )
    if desa is None:
        desa = await db.execute(
            "INSERT INTO desa (kecamatan_code, name) VALUES (?, 'Lebaksiu Kidul')", (kec,)
        )
    return await db.execute(
        "INSERT INTO recipients (nik, name, kecamatan_code, desa_id, household_size, programme,"
        " facilitator_id, handover_date, livestock_received, package, receives_pkh,"
        " receives_sembako, welfare_decile, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            nik,
            name,
            kec,
            desa,
            household_size,
            programme,
            facilitator_id,
            handover,
            livestock_received,
            package,
            receives_pkh,
            receives_sembako,
            welfare_decile,
            NOW,
            NOW,
        ),
    )


async def add_account(
    db: Database,
    tg_id: int,
    role: str,
    *,
    recipient_id: int | None = None,
    facilitator_id: int | None = None,
    kec: str | None = None,
    reachable: int = 1,
) -> int:
    return await db.execute(
        "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, recipient_id,"
        " facilitator_id, kecamatan_code, reachable, linked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (tg_id, tg_id, f"user{tg_id}", role, recipient_id, facilitator_id, kec, reachable, NOW),
    )


async def add_report(
    db: Database,
    recipient_id: int,
    obs: Observation,
    *,
    role: str = "recipient",
    revision: int = 1,
) -> int:
    return await db.execute(
        "INSERT INTO reports (recipient_id, period, reporter_role, revision, submitted_at,"
        " business_status, revenue, costs, profit, other_income, household_size, has_savings,"
        " keeps_books, income_sources, equipment_ok, goats, goats_born, goats_died, goats_sold,"
        " goats_sold_value, answers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
        (
            recipient_id, obs.period, role, revision, NOW, obs.business_status, obs.revenue,
            obs.costs, obs.profit, obs.other_income, obs.household_size,
            None if obs.has_savings is None else int(obs.has_savings),
            None if obs.keeps_books is None else int(obs.keeps_books),
            obs.income_sources,
            None if obs.equipment_ok is None else int(obs.equipment_ok),
            obs.goats, obs.goats_born, obs.goats_died, obs.goats_sold, obs.goats_sold_value,
        ),
    )  # fmt: skip


async def add_visit(
    db: Database, recipient_id: int, date: str, rubric: tuple[int, ...], facilitator_id=None
) -> int:
    return await db.execute(
        "INSERT INTO visits (recipient_id, facilitator_id, visit_date, business_running,"
        " score_bookkeeping, score_quality, score_market, score_motivation, created_at)"
        " VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (recipient_id, facilitator_id, date, *rubric, NOW),
    )


async def add_checklist(db: Database, recipient_id: int, answers: list) -> None:
    """CheckAnswer rows as a kunjungan graduasi would store them."""
    for a in answers:
        await db.execute(
            "INSERT INTO graduation_checks (recipient_id, item, met, checked_on, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (recipient_id, a.item, None if a.met is None else int(a.met), a.checked_on, NOW),
        )


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
