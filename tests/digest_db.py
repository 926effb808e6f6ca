"""Hand-inserted rows for the digest service and CLI tests (counts written out in the tests).

id name  kecamatan  facilitator programme      status  hand-over   account      2024-01
1  Siti  Lebaksiu   Ani         tata boga      active  2023-10-01  reachable    reported (recipient 500.000, then facilitator 600.000); 2023-12: 400.000
2  Rina  Lebaksiu   Ani         menjahit       active  2023-10-01  unreachable  open draft
3  Wati  Slawi      Budi        ternak kambing active  2023-10-01  none         silent; open help_request (new), resolved jump
4  Yuni  Slawi      Budi        tata boga      paused  2023-10-01  none         (not expected)
5  Dewi  Slawi      -           tata boga      active  2024-03-01  none         (not expected: handed over later)
6  Sri   Pangkah    Budi        menjahit       active  (created 2023-09-01)     reported 300.000; a cancelled draft
"""

from __future__ import annotations

from bot.db import Database

T = "2024-01-01T00:00:00+00:00"
NIKS = {i: f"33280642116500{i:02d}" for i in range(1, 7)}


async def seed(db: Database) -> None:
    async with db.transaction() as c:
        await c.execute(
            "INSERT INTO desa (id, kecamatan_code, name) VALUES (1, '33.28.06', 'Lebaksiu Kidul')"
        )
        for fid, code, name, kec in (
            (1, "PD-1", "Ani", "33.28.06"),
            (2, "PD-2", "Budi", "33.28.10"),
        ):
            await c.execute(
                "INSERT INTO facilitators (id, code, name, kecamatan_code, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (fid, code, name, kec, T, T),
            )
        recipients = [
            (1, "Siti", "33.28.06", 1, 1, "tata boga", "active", "2023-10-01", T),
            (2, "Rina", "33.28.06", 1, 1, "menjahit", "active", "2023-10-01", T),
            (3, "Wati", "33.28.10", None, 2, "ternak kambing", "active", "2023-10-01", T),
            (4, "Yuni", "33.28.10", None, 2, "tata boga", "paused", "2023-10-01", T),
            (5, "Dewi", "33.28.10", None, None, "tata boga", "active", "2024-03-01", T),
            (
                6,
                "Sri",
                "33.28.09",
                None,
                2,
                "menjahit",
                "active",
                None,
                "2023-09-01T03:00:00+00:00",
            ),
        ]
        for rid, name, kec, desa, fac, prog, status, handover, created in recipients:
            await c.execute(
                "INSERT INTO recipients (id, nik, name, gender, kecamatan_code, desa_id, programme,"
                " facilitator_id, status, handover_date, created_at, updated_at)"
                " VALUES (?, ?, ?, 'P', ?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, NIKS[rid], name, kec, desa, prog, fac, status, handover, created, created),
            )
        for aid, tg, rid, reachable in ((1, 101, 1, 1), (2, 102, 2, 0)):
            await c.execute(
                "INSERT INTO accounts (id, telegram_user_id, chat_id, role, recipient_id,"
                " reachable, linked_at) VALUES (?, ?, ?, 'recipient', ?, ?, ?)",
                (aid, tg, tg, rid, reachable, T),
            )
        await c.execute(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, role, facilitator_id, linked_at)"
            " VALUES (3, 103, 103, 'facilitator', 1, ?)",
            (T,),
        )
        reports = [
            (1, 1, "2024-01", "recipient", 1, "2024-02-03T01:00:00+00:00", 500_000),
            (2, 1, "2024-01", "facilitator", 3, "2024-02-05T01:00:00+00:00", 600_000),
            (3, 1, "2023-12", "recipient", 1, "2024-01-04T01:00:00+00:00", 400_000),
            (4, 6, "2024-01", "facilitator", None, "2024-02-04T01:00:00+00:00", 300_000),
        ]
        for rep_id, rid, period, role, acc, at, profit in reports:
            await c.execute(
                "INSERT INTO reports (id, recipient_id, period, reporter_role, reporter_account_id,"
                " submitted_at, business_status, revenue, costs, profit, answers)"
                " VALUES (?, ?, ?, ?, ?, ?, 'berjalan', ?, 100000, ?, '{}')",
                (rep_id, rid, period, role, acc, at, profit + 100_000, profit),
            )
        for did, acc, rid, period, status in (
            (1, 2, 2, "2024-01", "open"),
            (2, 3, 6, "2024-01", "cancelled"),
            (3, 3, 6, "2023-12", "open"),
        ):
            await c.execute(
                "INSERT INTO report_drafts (id, account_id, recipient_id, form, period,"
                " reporter_role, status, created_at, updated_at)"
                " VALUES (?, ?, ?, 'monthly', ?, 'recipient', ?, ?, ?)",
                (did, acc, rid, period, status, T, T),
            )
        await c.execute(
            "INSERT INTO report_flags (recipient_id, period, kind, status, created_at)"
            " VALUES (3, '2024-01', 'help_request', 'open', '2024-02-02T01:00:00+00:00')"
        )
        await c.execute(
            "INSERT INTO report_flags (recipient_id, period, kind, field, status, resolved_value,"
            " created_at, resolved_at) VALUES (3, '2023-12', 'jump', 'profit', 'resolved', 5,"
            " '2024-01-05T01:00:00+00:00', '2024-01-06T01:00:00+00:00')"
        )
        for vid, date, notes in ((1, "2024-01-15", "=cmd|' /C calc'!A0"), (2, "2024-02-02", "ok")):
            await c.execute(
                "INSERT INTO visits (id, recipient_id, facilitator_id, visit_date,"
                " business_running, score_quality, notes, created_at)"
                " VALUES (?, 1, 1, ?, 1, 4, ?, ?)",
                (vid, date, notes, T),
            )
