"""Service tests of bot/services/scoring.py on a real SQLite database."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.config import ScoringSettings
from bot.domain.scoring import params_from_settings
from bot.services import scoring as svc
from tests.scoring_db import (
    add_account,
    add_checklist,
    add_recipient,
    add_report,
    add_visit,
    at,
)
from tests.scoring_examples import B_OBS, C_OBS, EXAMPLES, PERIOD

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NOW = at("2024-07-01T02:00:00+00:00")


async def _seed_example(db, name: str, nik: str) -> int:
    baseline, obs, visits, checks, *_ = EXAMPLES[name]
    goat = baseline.programme == "ternak kambing"
    rid = await add_recipient(
        db, nik, programme=baseline.programme, household_size=baseline.household_size,
        package="Paket 2 ekor kambing betina" if goat else None,
    )  # fmt: skip
    for o in obs:
        await add_report(db, rid, o)
    for v in visits:
        await add_visit(db, rid, v.visit_date, v.rubric)
    await add_checklist(db, rid, checks)
    return rid


async def test_worked_examples_through_the_database(db, settings) -> None:
    niks = {name: f"33280641078500{i + 1:02d}" for i, name in enumerate(sorted(EXAMPLES))}
    ids = {name: await _seed_example(db, name, nik) for name, nik in niks.items()}
    count = await svc.recompute_all(db, settings, PERIOD, NOW)
    assert count == len(EXAMPLES)
    for name, rid in ids.items():
        *_, score, band, points = EXAMPLES[name]
        stored = await svc.latest_score(db, settings, rid, PERIOD)
        assert stored is not None
        assert (stored.score, stored.band) == (score, band)
        assert {c["key"]: c["points"] for c in stored.components} == points
    row = await db.fetchone("SELECT inputs FROM scores WHERE recipient_id = ?", (ids["D_gaps"],))
    assert json.loads(row[0])["months_reported"] == 3


async def test_recompute_recipient_defaults_to_period_being_reported(db, settings) -> None:
    rid = await _seed_example(db, "B_stable_above_umk", "3328064107850001")
    result = await svc.recompute_recipient(db, settings, rid, NOW)
    assert result is not None and result.period == "2024-06"
    assert result.band == "siap"
    assert await svc.recompute_recipient(db, settings, 9999, NOW) is None


async def test_latest_revision_and_recipient_preferred(db, settings) -> None:
    rid = await add_recipient(db)
    o = B_OBS[-1]
    await add_report(db, rid, o._replace(profit=100_000), role="facilitator")
    await add_report(db, rid, o._replace(profit=200_000), role="recipient", revision=1)
    await add_report(db, rid, o._replace(profit=2_400_000), role="recipient", revision=2)
    obs = (await svc.load_observations(db, "2024-06", "2024-06", rid))[rid]
    assert [x.profit for x in obs] == [2_400_000]


async def test_counting_report_does_not_depend_on_insert_order(db, settings, monkeypatch) -> None:
    """Rows stored newest first still pick the recipient's latest revision, in the one-recipient
    loader and in the worker processes' id-range loader (which reads another index)."""
    rid = await add_recipient(db)
    o = B_OBS[-1]
    await add_report(db, rid, o._replace(profit=2_400_000), role="recipient", revision=2)
    await add_report(db, rid, o._replace(profit=100_000), role="facilitator", revision=3)
    await add_report(db, rid, o._replace(profit=200_000), role="recipient", revision=1)
    obs = (await svc.load_observations(db, "2024-06", "2024-06", rid))[rid]
    assert [x.profit for x in obs] == [2_400_000]
    monkeypatch.setattr(svc, "PARALLEL_MIN_RECIPIENTS", 1)
    assert await svc.recompute_all(db, settings, PERIOD, NOW, workers=2) == 1
    stored = await svc.latest_score(db, settings, rid, PERIOD)
    assert stored is not None and stored.components[0]["value"]["business"] == 2_400_000


async def test_facilitator_report_counts_when_recipient_silent(db, settings) -> None:
    rid = await add_recipient(db)
    await add_report(db, rid, B_OBS[-1]._replace(profit=777_000), role="facilitator")
    obs = (await svc.load_observations(db, "2024-06", "2024-06", rid))[rid]
    assert obs[0].profit == 777_000


async def test_flagged_value_counts_only_after_confirmation(db, settings) -> None:
    rid = await add_recipient(db)
    for o in B_OBS[:-1]:
        await add_report(db, rid, o)
    before = await svc.recompute_recipient(db, settings, rid, NOW, "2024-06")
    report_id = await add_report(db, rid, B_OBS[-1]._replace(profit=9_000_000))
    flag_id = await db.execute(
        "INSERT INTO report_flags (recipient_id, period, kind, field, report_id, created_at)"
        " VALUES (?, '2024-06', 'jump', 'profit', ?, ?)",
        (rid, report_id, NOW.isoformat()),
    )
    flagged = await svc.recompute_recipient(db, settings, rid, NOW, "2024-06")
    assert flagged.component("income").value == before.component("income").value
    assert flagged.component("income").points == before.component("income").points
    await db.execute(
        "UPDATE report_flags SET status = 'resolved', resolved_value = 2400000 WHERE id = ?",
        (flag_id,),
    )
    confirmed = await svc.recompute_recipient(db, settings, rid, NOW, "2024-06")
    assert confirmed.component("income").value["business"] == 2_400_000
    assert confirmed.gate_months == 4


async def test_each_risk_flag_is_stored(db, settings) -> None:
    stopped = await add_recipient(db, "3328064107850001")
    for i, o in enumerate(B_OBS):
        status = "berhenti_sementara" if i == 4 else ("tutup" if i == 5 else o.business_status)
        await add_report(db, stopped, o._replace(business_status=status))
    drop = await add_recipient(db, "3328064107850002")
    for i, o in enumerate(B_OBS):
        await add_report(db, drop, o._replace(profit=500_000) if i == 5 else o)
    silent = await add_recipient(db, "3328064107850003")
    for o in B_OBS[:4]:
        await add_report(db, silent, o)
    goats = await add_recipient(db, "3328064107850004", programme="ternak kambing",
                                livestock_received=5)  # fmt: skip
    for o in C_OBS:  # the herd grows from 2 to 4, but the register says 5 were handed over
        await add_report(db, goats, o)
    away = await add_recipient(db, "3328064107850005")
    for o in B_OBS:
        await add_report(db, away, o)
    await add_account(db, 501, "recipient", recipient_id=away, reachable=0)
    await svc.recompute_all(db, settings, PERIOD, NOW)
    assert "business_stopped" in await svc.risk_flags_for(db, stopped, PERIOD)
    assert "income_drop" in await svc.risk_flags_for(db, drop, PERIOD)
    assert "no_report" in await svc.risk_flags_for(db, silent, PERIOD)
    assert "goats_lost" in await svc.risk_flags_for(db, goats, PERIOD)
    assert await svc.risk_flags_for(db, away, PERIOD) == ["unreachable"]
    # a correction that removes the risk withdraws the (not yet digested) flag
    await add_report(db, drop, B_OBS[5], revision=2)
    await svc.recompute_recipient(db, settings, drop, NOW, PERIOD)
    assert "income_drop" not in await svc.risk_flags_for(db, drop, PERIOD)


async def test_every_risk_kind_the_model_raises_is_stored(db, settings) -> None:
    """The schema accepts every kind the model raises (a goat family whose goat died and whose
    herd does not add up gets goats_died and goats_mismatch stored, not an IntegrityError)."""
    from bot.domain.scoring import RISK_KINDS

    goats = await add_recipient(db, "3328064107850006", programme="ternak kambing")
    for i, o in enumerate(C_OBS):
        if i == len(C_OBS) - 1:  # one goat died, and one more is missing from the count
            o = o._replace(goats_died=1, goats=(o.goats or 0) - 2)
        await add_report(db, goats, o)
    await svc.recompute_all(db, settings, PERIOD, NOW)
    flags = await svc.risk_flags_for(db, goats, PERIOD)
    assert "goats_died" in flags and "goats_mismatch" in flags
    for n, kind in enumerate(RISK_KINDS):
        await db.execute(
            "INSERT INTO risk_flags (recipient_id, period, kind, created_at) VALUES (?, ?, ?, ?)",
            (goats, f"2020-{n + 1:02d}", kind, NOW.isoformat()),
        )


async def test_config_change_and_recompute_keeps_history(db, settings) -> None:
    rid = await _seed_example(db, "A_just_below_line", "3328064107850001")
    await svc.recompute_history(db, settings, NOW)
    v1 = params_from_settings(settings).model_version
    first = await db.fetchall("SELECT period, score FROM scores WHERE model_version = ?", (v1,))
    assert len(first) == 6  # every period with reports
    changed = replace(
        settings, scoring=replace(ScoringSettings(), version="2.1", weight_income=25,
                                  weight_checklist=10)
    )  # fmt: skip
    done = await svc.recompute_history(db, changed, NOW)
    v2 = params_from_settings(changed).model_version
    assert v2 != v1 and v2.startswith("2.1+")
    assert sum(done.values()) == 6
    versions = await db.fetchall(
        "SELECT model_version, count(*) FROM scores GROUP BY model_version ORDER BY 1"
    )
    assert {r[0]: r[1] for r in versions} == {v1: 6, v2: 6}
    assert await db.fetchval("SELECT count(*) FROM score_models") == 2
    new = await svc.latest_score(db, changed, rid, PERIOD)
    old = await svc.latest_score(db, settings, rid, PERIOD)
    assert new.model_version == v2 and old.model_version == v1


async def test_parallel_batch_matches_single_process(db, settings, monkeypatch) -> None:
    """Worker processes (used for large batches) store exactly what one process computes."""
    for i, name in enumerate(sorted(EXAMPLES)):
        await _seed_example(db, name, f"33280641078500{i + 1:02d}")
    # a graduated recipient (not scored, id above every active one) with a risk no longer true
    ended = await add_recipient(db, "3328064107850099")
    await db.execute("UPDATE recipients SET status = 'graduated' WHERE id = ?", (ended,))
    ended_flag = (
        "INSERT INTO risk_flags (recipient_id, period, kind, details, created_at)"
        " VALUES (?, ?, 'no_report', '{}', 'x')"
    )
    await db.execute(ended_flag, (ended, PERIOD))
    await svc.recompute_all(db, settings, PERIOD, NOW, workers=1)
    single = await db.fetchall(
        "SELECT recipient_id, score, band, components, inputs FROM scores ORDER BY recipient_id"
    )
    single_flags = await db.fetchall("SELECT recipient_id, kind FROM risk_flags ORDER BY 1, 2")
    await db.execute("DELETE FROM scores")
    await db.execute("DELETE FROM risk_flags")
    # a risk no longer true (withdrawn by the batch) and one already sent (kept)
    stale = "INSERT INTO risk_flags (recipient_id, period, kind, details, created_at, digested_at)"
    await db.execute(stale + " VALUES (1, ?, 'unreachable', '{}', 'x', NULL)", (PERIOD,))
    await db.execute(stale + " VALUES (2, ?, 'unreachable', '{}', 'x', 'y')", (PERIOD,))
    await db.execute(ended_flag, (ended, PERIOD))
    pools: list[int] = []

    class CountedPool(svc.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs) -> None:
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(svc, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(svc, "PARALLEL_MIN_RECIPIENTS", 1)
    assert await svc.recompute_all(db, settings, PERIOD, NOW, workers=2) == len(EXAMPLES)
    assert pools == [2]  # the worker processes did the scoring
    sent = await db.fetchall("SELECT recipient_id, kind FROM risk_flags WHERE digested_at = 'y'")
    assert [tuple(r) for r in sent] == [(2, "unreachable")]
    await db.execute("DELETE FROM risk_flags WHERE digested_at = 'y'")
    parallel = await db.fetchall(
        "SELECT recipient_id, score, band, components, inputs FROM scores ORDER BY recipient_id"
    )
    assert [tuple(r) for r in parallel] == [tuple(r) for r in single]
    flags = await db.fetchall("SELECT recipient_id, kind FROM risk_flags ORDER BY 1, 2")
    assert [tuple(r) for r in flags] == [tuple(r) for r in single_flags]


async def test_saved_report_updates_the_score(db, settings) -> None:
    """The reports service's save() recomputes the recipient's score for the report's period."""
    from tests.report_seed import seed_basic
    from tests.test_reports_service import NOW as REPORT_NOW
    from tests.test_reports_service import report

    accounts = await seed_basic(db)
    saved = await report(db, settings, accounts["siti"])
    rid = await db.fetchval(
        "SELECT recipient_id FROM reports WHERE id = ?", (saved.saved["report_id"],)
    )
    stored = await svc.latest_score(db, settings, rid, saved.saved["period"])
    assert stored is not None and stored.computed_at == REPORT_NOW.isoformat(timespec="seconds")
    assert {c["key"] for c in stored.components} >= {"income", "checklist"}


async def test_components_are_stored_as_lists_and_read_as_dicts(db, settings) -> None:
    rid = await _seed_example(db, "B_stable_above_umk", "3328064107850001")
    result = await svc.recompute_recipient(db, settings, rid, NOW, PERIOD)
    raw = json.loads(
        await db.fetchval("SELECT components FROM scores WHERE recipient_id = ?", (rid,))
    )
    assert raw[0][:1] == ["income"] and len(raw) == len(result.components)
    stored = await svc.latest_score(db, settings, rid, PERIOD)
    assert [c["key"] for c in stored.components] == [c.key for c in result.components]
    assert [c["points"] for c in stored.components] == [c.points for c in result.components]
    assert stored.components[0]["reason"] == result.components[0].reason


async def test_goat_income_reads_a_year_of_reports(db, settings) -> None:
    """A goat sold in January still counts in October's 12-month goat income (the loader
    reads 12 months for goat rearing, 7 for the others)."""
    from bot.domain.scoring import Observation

    goats = await add_recipient(db, "3328064107850001", programme="ternak kambing",
                                livestock_received=2)  # fmt: skip
    for i in range(10):
        period = f"2024-{i + 1:02d}"
        sale = 3_000_000 if i == 0 else 0
        await add_report(db, goats, Observation(period, "berjalan", profit=200_000 + sale,
                                                other_income=0, household_size=4, goats=2,
                                                goats_sold=1 if sale else 0,
                                                goats_sold_value=sale))  # fmt: skip
    result = await svc.recompute_recipient(db, settings, goats, NOW, "2024-10")
    # October judged as (10 x 200.000 + 3.000.000) / 10 = Rp500.000; the income component
    # averages Aug (Rp575.000), Sep (Rp533.333) and Oct: Rp536.111. Without January's sale
    # it would be Rp200.000.
    assert result.component("income").value["business"] == 536_111
    assert "laba Rp500.000" in result.gate("umk").reason
