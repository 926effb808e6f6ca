"""One read model: the same month reads as one figure in every place that shows it.

A recipient reports a profit of Rp1.000.000 for June 2024; her facilitator reports
Rp2.000.000. The recipient's own report counts until the facilitator confirms a value on the
cross-check flag; then the confirmed value counts. The score, /kemajuan, the digest and its
charts, the export and the graduation view (/skor) must all agree, before and after.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.digest import Scope
from bot.domain.read_model import flag_changes
from bot.services import graduation as grad
from bot.services import read_model
from bot.services import scoring as svc
from bot.services.accounts import get_account
from bot.services.digest_data import build_monthly_report, load_snapshots, recipient_rows
from tests.scoring_db import add_account, add_facilitator, add_recipient, add_report, at
from tests.scoring_examples import B_OBS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NOW = at("2024-07-03T02:00:00+00:00")
NIK = "3328064107850001"


async def _figures(db, settings, rid: int) -> dict[str, int | None]:
    """The June profit as each reader shows it."""
    out: dict[str, int | None] = {}
    result = await svc.recompute_recipient(db, settings, rid, NOW, "2024-06")
    out["score"] = result.inputs["incomes"]["2024-06"] - 600_000  # household - other income
    out["score_business"] = result.component("income").value["business"]
    rec = await get_account(db, 100)
    _, progress = await grad.progress_for(db, settings, rec, NOW)
    out["kemajuan"] = dict(progress.profits)["2024-06"]
    snaps = {s.id: s for s in await load_snapshots(db, "2024-06", settings=settings)}
    out["digest"] = snaps[rid].profits["2024-06"]
    report = await build_monthly_report(
        db, "2024-06", dt.datetime(2024, 6, 25, tzinfo=dt.UTC), settings=settings
    )
    series = next(s for s in report.profits if s.programme == "menjahit")
    out["chart"] = series.medians[series.periods.index("2024-06")]
    rows = [r async for r in recipient_rows(db, "2024-06", Scope())]
    out["export"] = next(r.profit for r in rows if r.id == rid)
    effective = await read_model.effective_reports(db, [rid], ["2024-06"])
    out["effective_reports"] = effective[(rid, "2024-06")]["profit"]
    fac = await get_account(db, 200)
    view = await grad.score_view(db, settings, fac, NIK, NOW)
    out["skor"] = view.result.inputs["incomes"]["2024-06"] - 600_000
    return out


async def test_mismatch_reads_as_one_figure_everywhere(db, settings) -> None:
    fac = await add_facilitator(db)
    rid = await add_recipient(db, NIK, facilitator_id=fac)
    # three earlier months (all Rp1.000.000) so the business figure is the same in every month
    for o in B_OBS[2:5]:
        await add_report(db, rid, o._replace(profit=1_000_000))
    june = B_OBS[5]._replace(profit=1_000_000)
    await add_report(db, rid, june, role="recipient")
    report_id = await add_report(db, rid, june._replace(profit=2_000_000), role="facilitator")
    await add_account(db, 100, "recipient", recipient_id=rid)
    await add_account(db, 200, "facilitator", facilitator_id=fac)

    before = await _figures(db, settings, rid)
    assert set(before.values()) == {1_000_000}, before  # the recipient's own report counts

    # the facilitator checks the mismatch and confirms Rp2.000.000
    await db.execute(
        "INSERT INTO report_flags (recipient_id, period, kind, field, report_id, status,"
        " resolved_value, created_at) VALUES (?, '2024-06', 'mismatch_income', 'profit', ?,"
        " 'resolved', 2000000, ?)",
        (rid, report_id, NOW.isoformat()),
    )
    after = await _figures(db, settings, rid)
    # the months before June stay Rp1.000.000, so the 3-month business average moves by a third
    assert after.pop("score_business") == (1_000_000 * 2 + 2_000_000) // 3
    assert set(after.values()) == {2_000_000}, after


async def test_later_recipient_revision_wins_over_older_and_facilitator(db, settings) -> None:
    rid = await add_recipient(db, NIK)
    june = B_OBS[5]
    await add_report(db, rid, june._replace(profit=500_000), role="facilitator", revision=2)
    await add_report(db, rid, june._replace(profit=700_000), role="recipient", revision=1)
    await add_report(db, rid, june._replace(profit=900_000), role="recipient", revision=2)
    rows = [r async for r in recipient_rows(db, "2024-06", Scope())]
    snaps = {s.id: s for s in await load_snapshots(db, "2024-06")}
    observations = await read_model.load_observations(db, "2024-06", "2024-06", rid)
    assert rows[0].profit == snaps[rid].profits["2024-06"] == 900_000
    assert observations[rid][0].profit == 900_000


def test_flag_changes_rule() -> None:
    """Open flag: unverified; resolved: verified and the confirmed value replaces; profit
    follows a confirmed revenue."""
    current = {"revenue": 3_000_000, "costs": 1_000_000, "profit": 2_000_000}
    assert flag_changes([("profit", "open", None)], current) == ({}, False)
    assert flag_changes([("revenue", "resolved", 2_500_000)], current) == (
        {"revenue": 2_500_000, "profit": 1_500_000},
        True,
    )
    assert flag_changes([], current) == ({}, None)
