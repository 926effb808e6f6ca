"""Every count of the digests recounted from the database with plain SQL written here.

Each count has one definition in docs/digests.md ("What is counted"); the queries below follow
those words, not the service's code, and every count of the staff digest (kabupaten and each
kecamatan), the facilitator digest (each facilitator) and the monthly report must match them.

Scenario: tests/digest_db.py (period 2024-01) plus the rows of `more()` below, and the period
closed on 20 February 2024 08:00 WIB.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import Settings
from bot.db import Database
from bot.domain.digest import Scope, facilitator_digest
from bot.domain.scoring import params_from_settings
from bot.services.digest_data import build_monthly_report, build_staff_digest, load_snapshots
from tests.digest_db import seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

P, PREV = "2024-01", "2023-12"
CLOSED = "2024-02-20T01:00:00+00:00"
SINCE = dt.datetime(2024, 2, 3, tzinfo=dt.UTC)
T = "2024-01-01T00:00:00+00:00"


async def more(db: Database, settings: Settings) -> None:
    """Reach, graduation, scores, risk flags and status changes around the close."""
    current = params_from_settings(settings).model_version
    async with db.transaction() as c:
        await c.execute("INSERT INTO cycle_periods (period, closed_at) VALUES (?, ?)", (P, CLOSED))
        extra = [
            # id, name, kecamatan, facilitator, status, changed at
            (7, "Tuti", "33.28.06", 1, "ended", CLOSED),  # ended by the close: expected
            (8, "Ayu", "33.28.10", 2, "active", None),  # linked, reachable, silent
            (9, "Nur", "33.28.10", 2, "graduated", "2024-02-10T01:00:00+00:00"),  # before close
            (10, "Lina", "33.28.09", 2, "active", None),  # linked, blocked the bot, reported
        ]
        for rid, name, kec, fac, status, changed in extra:
            await c.execute(
                "INSERT INTO recipients (id, nik, name, gender, kecamatan_code, programme,"
                " facilitator_id, status, status_changed_at, handover_date, created_at,"
                " updated_at) VALUES (?, ?, ?, 'P', ?, 'menjahit', ?, ?, ?, '2023-10-01', ?, ?)",
                (rid, f"33280642116501{rid:02d}", name, kec, fac, status, changed, T, T),
            )
        for aid, rid, reachable in ((11, 8, 1), (12, 10, 0), (13, 7, 1)):
            await c.execute(
                "INSERT INTO accounts (id, telegram_user_id, chat_id, role, recipient_id,"
                " reachable, linked_at) VALUES (?, ?, ?, 'recipient', ?, ?, ?)",
                (aid, 900 + aid, 900 + aid, rid, reachable, T),
            )
        for rep_id, rid in ((11, 7), (12, 10), (13, 9)):
            await c.execute(
                "INSERT INTO reports (id, recipient_id, period, reporter_role, submitted_at,"
                " business_status, revenue, costs, profit, answers)"
                " VALUES (?, ?, ?, 'recipient', '2024-02-06T01:00:00+00:00', 'berjalan',"
                " 300000, 100000, 200000, '{}')",
                (rep_id, rid, P),
            )
        for version in ("0.9+old", current):
            await c.execute(
                "INSERT INTO score_models (version, label, params, created_at) VALUES (?,?,'{}',?)",
                (version, version, T),
            )
        scores = [
            (1, P, current, "siap"),  # Siti: siap, no proposal yet -> awaiting a visit
            (2, P, current, "menuju"),
            (2, P, "0.9+old", "siap"),  # an old model's band never counts
            (3, PREV, current, "intensif"),
            (6, P, current, "siap"),  # Sri: siap and proposed -> awaiting staff
            (8, PREV, current, "siap"),  # Ayu: band for P (latest up to P) is siap ...
            (8, "2024-02", current, "intensif"),  # ... but no longer a graduation candidate
            (10, P, current, "menuju"),
        ]
        for rid, period, version, band in scores:
            await c.execute(
                "INSERT INTO scores (recipient_id, period, model_version, score, band,"
                " gate_months, confidence, components, inputs, computed_at)"
                " VALUES (?, ?, ?, 50, ?, 0, 80, '[]', '{}', ?)",
                (rid, period, version, band, T),
            )
        await c.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, created_at)"
            " VALUES (6, 'graduation', 'confirmed', ?), (2, 'graduation', 'rejected', ?)",
            (T, T),
        )
        flags = [
            (3, P, "income_drop", "2024-02-04T00:00:00+00:00"),  # new
            (2, PREV, "no_report", "2024-01-15T00:00:00+00:00"),  # open, old
            (1, "2023-10", "business_stopped", "2023-11-15T00:00:00+00:00"),  # too old
        ]
        for rid, period, kind, at in flags:
            await c.execute(
                "INSERT INTO risk_flags (recipient_id, period, kind, created_at)"
                " VALUES (?, ?, ?, ?)",
                (rid, period, kind, at),
            )
        await c.execute(
            "INSERT INTO report_flags (recipient_id, period, kind, status, created_at)"
            " VALUES (8, ?, 'jump', 'open', '2024-02-07T00:00:00+00:00')",
            (P,),
        )


@pytest.fixture
async def scenario(db: Database, settings: Settings) -> Database:
    await seed(db)
    await more(db, settings)
    return db


# --- the definitions, in plain SQL (docs/digests.md, "What is counted") ---------------------

# expected to report in P: handed over (or, unknown, created) by the end of P, and active
# throughout P's reporting window: active now, or left 'active' at or after P's close
EXPECTED = (
    "SELECT rc.id FROM recipients rc"
    " WHERE COALESCE(rc.handover_date, substr(rc.created_at, 1, 10)) <= '2024-01-31'"
    " AND (rc.status = 'active' OR rc.status_changed_at >= "
    "      (SELECT closed_at FROM cycle_periods WHERE period = '2024-01'))"
)
REPORTED = "SELECT recipient_id FROM reports WHERE period = '2024-01'"
DRAFTING = (
    "SELECT recipient_id FROM report_drafts"
    " WHERE period = '2024-01' AND form = 'monthly' AND status = 'open'"
)
LATEST_BAND = (
    "(SELECT s.band FROM scores s WHERE s.recipient_id = rc.id AND s.model_version = :model"
    "  AND s.period <= '2024-01' ORDER BY s.period DESC, s.computed_at DESC LIMIT 1)"
)
# the graduation service's candidates: the latest score under the current model, any period
CURRENT_BAND = (
    "(SELECT s.band FROM scores s WHERE s.recipient_id = rc.id AND s.model_version = :model"
    "  ORDER BY s.period DESC LIMIT 1)"
)
CONFIRMED = (
    "SELECT recipient_id FROM graduation_cases WHERE kind = 'graduation' AND status = 'confirmed'"
)

COUNTS = {
    "expected": f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED}) {{scope}}",
    "reported": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        f" AND rc.id IN ({REPORTED}) {{scope}}"
    ),
    "draft": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        f" AND rc.id NOT IN ({REPORTED}) AND rc.id IN ({DRAFTING}) {{scope}}"
    ),
    "silent": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        f" AND rc.id NOT IN ({REPORTED}) AND rc.id NOT IN ({DRAFTING}) {{scope}}"
    ),
    "unlinked": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        " AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.recipient_id = rc.id) {scope}"
    ),
    "unreachable": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        " AND EXISTS (SELECT 1 FROM accounts a WHERE a.recipient_id = rc.id"
        "             AND a.reachable = 0) {scope}"
    ),
    "linked_silent": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        " AND EXISTS (SELECT 1 FROM accounts a WHERE a.recipient_id = rc.id"
        f"            AND a.reachable = 1) AND rc.id NOT IN ({REPORTED}) {{scope}}"
    ),
    "awaiting_decision": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        f" AND rc.status = 'active' AND rc.id IN ({CONFIRMED}) {{scope}}"
    ),
    "awaiting_visit": (
        f"SELECT count(*) FROM recipients rc WHERE rc.id IN ({EXPECTED})"
        f" AND rc.status = 'active' AND {CURRENT_BAND} = 'siap'"
        f" AND rc.id NOT IN ({CONFIRMED}) {{scope}}"
    ),
    "open_flags": (
        "SELECT (SELECT count(*) FROM report_flags f JOIN recipients rc ON rc.id = f.recipient_id"
        f"        WHERE f.status = 'open' AND rc.id IN ({EXPECTED}) {{scope}})"
        " + (SELECT count(*) FROM risk_flags f JOIN recipients rc ON rc.id = f.recipient_id"
        f"        WHERE f.period IN ('2024-01', '2023-12') AND rc.id IN ({EXPECTED}) {{scope}})"
    ),
    "new_flags": (
        "SELECT (SELECT count(*) FROM report_flags f JOIN recipients rc ON rc.id = f.recipient_id"
        f"        WHERE f.status = 'open' AND f.created_at >= :since"
        f"        AND rc.id IN ({EXPECTED}) {{scope}})"
        " + (SELECT count(*) FROM risk_flags f JOIN recipients rc ON rc.id = f.recipient_id"
        "        WHERE f.period IN ('2024-01', '2023-12') AND f.created_at >= :since"
        f"        AND rc.id IN ({EXPECTED}) {{scope}})"
    ),
}


async def recount(db: Database, name: str, scope: str, model: str) -> int:
    sql = COUNTS[name].format(scope=scope)
    params = {"model": model, "since": SINCE.isoformat(timespec="seconds")}
    return await db.fetchval(sql, {k: v for k, v in params.items() if f":{k}" in sql})


def counted(d) -> dict[str, int]:
    """The same names, as the staff digest counts them."""
    return {
        "expected": d.total.total,
        "reported": d.total.reported,
        "draft": d.total.draft,
        "silent": d.total.silent,
        "unlinked": d.unlinked,
        "unreachable": len(d.unreachable),
        "linked_silent": d.linked_silent,
        "awaiting_decision": len(d.candidates),
        "awaiting_visit": len(d.awaiting_visit),
        "open_flags": d.open_flags,
        "new_flags": len(d.new_flags),
    }


SCOPES = [
    (None, ""),
    ("33.28.06", "AND rc.kecamatan_code = '33.28.06'"),
    ("33.28.09", "AND rc.kecamatan_code = '33.28.09'"),
    ("33.28.10", "AND rc.kecamatan_code = '33.28.10'"),
]


@pytest.mark.parametrize(("kecamatan", "where"), SCOPES)
async def test_staff_digest_counts_match_a_recount(
    scenario: Database, settings: Settings, kecamatan: str | None, where: str
) -> None:
    model = params_from_settings(settings).model_version
    d = await build_staff_digest(scenario, P, SINCE, Scope.for_staff(kecamatan), settings)
    expected = {name: await recount(scenario, name, where, model) for name in COUNTS}
    assert counted(d) == expected
    # the monthly report counts the same, whatever it is built after
    r = await build_monthly_report(scenario, P, SINCE, Scope.for_staff(kecamatan), (), settings)
    assert counted(r.digest) == expected


async def test_the_kabupaten_recount_by_hand(scenario: Database, settings: Settings) -> None:
    """The recount itself, checked against the scenario's table once (so it is not vacuous)."""
    model = params_from_settings(settings).model_version
    got = {name: await recount(scenario, name, "", model) for name in COUNTS}
    # expected: Siti, Rina, Wati, Sri, Tuti (ended at the close), Ayu, Lina; not Yuni (paused),
    # Dewi (handed over later), Nur (graduated before the close)
    assert got == {
        "expected": 7,
        "reported": 4,  # Siti, Sri, Tuti, Lina
        "draft": 1,  # Rina
        "silent": 2,  # Wati, Ayu
        "unlinked": 2,  # Wati, Sri
        "unreachable": 2,  # Rina, Lina
        "linked_silent": 1,  # Ayu
        "awaiting_decision": 1,  # Sri
        "awaiting_visit": 1,  # Siti; Ayu's siap (2023-12) has since become intensif
        "open_flags": 4,  # Wati help_request + income_drop, Rina no_report, Ayu jump
        "new_flags": 2,  # income_drop (4 Feb), Ayu's jump (7 Feb)
    }


@pytest.mark.parametrize("facilitator", [1, 2])
async def test_facilitator_digest_counts_match_a_recount(
    scenario: Database, settings: Settings, facilitator: int
) -> None:
    model = params_from_settings(settings).model_version
    snaps = await load_snapshots(
        scenario, P, Scope.for_facilitator(facilitator), with_profits=False, settings=settings
    )
    d = facilitator_digest(snaps, P, facilitator)
    where = f"AND rc.facilitator_id = {facilitator}"
    assert d.total.total == await recount(scenario, "expected", where, model)
    assert d.total.reported == await recount(scenario, "reported", where, model)
    assert len(d.drafts) == await recount(scenario, "draft", where, model)
    assert len(d.silent) == await recount(scenario, "silent", where, model)
    assert len(d.flags) == await recount(scenario, "open_flags", where, model)
    assert len(d.candidates) == await recount(scenario, "awaiting_visit", where, model)


async def test_band_counts_match_a_recount(scenario: Database, settings: Settings) -> None:
    model = params_from_settings(settings).model_version
    r = await build_monthly_report(scenario, P, SINCE, None, (), settings)
    rows = await scenario.fetchall(
        f"SELECT k.name AS kec, {LATEST_BAND} AS band, count(*) AS n FROM recipients rc"
        f" JOIN kecamatan k ON k.code = rc.kecamatan_code WHERE rc.id IN ({EXPECTED})"
        f" AND {LATEST_BAND} IS NOT NULL GROUP BY kec, band",
        {"model": model},
    )
    recounted: dict[str, dict[str, int]] = {}
    for row in rows:
        recounted.setdefault(row["kec"], {})[row["band"]] = row["n"]
    assert {kec: {b: n for b, n in c.items() if n} for kec, c in r.bands} == recounted
