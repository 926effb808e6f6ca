"""Graduation workflow service tests: candidates, confirmation, decisions, scope, audit, export."""

from __future__ import annotations

import json

import pytest

from bot.services import graduation as grad
from bot.services import scoring
from bot.services.accounts import get_account
from tests.scoring_db import (
    add_account,
    add_checklist,
    add_facilitator,
    add_recipient,
    add_report,
    add_visit,
    at,
)
from tests.scoring_examples import A_OBS, B_CHECKLIST, B_OBS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NOW = at("2024-07-03T02:00:00+00:00")
NIK = "3328064107850001"


@pytest.fixture
async def world(db, settings):
    fac = await add_facilitator(db)
    other_fac = await add_facilitator(db, "PD-202")
    ready = await add_recipient(db, NIK, facilitator_id=fac, receives_pkh=1, receives_sembako=0,
                                welfare_decile=2)  # fmt: skip
    for o in B_OBS:
        await add_report(db, ready, o)
    await add_visit(db, ready, "2024-06-15", (4, 4, 5, 5), fac)
    await add_checklist(db, ready, B_CHECKLIST)
    close = await add_recipient(db, "3328064107850002", name="Rina", facilitator_id=fac)
    for o in A_OBS:
        await add_report(db, close, o)
    await scoring.recompute_all(db, settings, "2024-06", NOW)
    await add_account(db, 100, "recipient", recipient_id=ready)
    await add_account(db, 200, "facilitator", facilitator_id=fac)
    await add_account(db, 201, "facilitator", facilitator_id=other_fac)
    await add_account(db, 300, "staff", kec="33.28.06")
    await add_account(db, 301, "staff", kec="33.28.10")
    accounts = {k: await get_account(db, tg) for k, tg in
                [("rec", 100), ("fac", 200), ("fac2", 201), ("staff", 300), ("staff_other", 301)]}  # fmt: skip
    return {"ready": ready, "close": close, **accounts}


async def test_candidates_are_ready_and_in_region(db, settings, world) -> None:
    found = await grad.candidates(db, settings, world["staff"])
    assert [c.recipient.id for c in found] == [world["ready"]]
    assert found[0].score.band == "siap" and found[0].case_id is None
    # the assistance a graduation would end, from the register
    ref = found[0].recipient
    assert (ref.receives_pkh, ref.receives_sembako, ref.welfare_decile) == (True, False, 2)
    assert await grad.candidates(db, settings, world["staff_other"]) == []
    with pytest.raises(grad.GraduationError, match="staff_only"):
        await grad.candidates(db, settings, world["fac"])


async def test_full_workflow_approve(db, settings, world) -> None:
    case_id = await grad.confirm(
        db, settings, world["fac"], NIK, "Usaha jahit stabil, sudah menabung rutin.", NOW
    )
    found = await grad.candidates(db, settings, world["staff"])
    assert found[0].case_id == case_id
    # the family has not answered: the standard reason would be false, staff must write one
    with pytest.raises(grad.GraduationError, match="approve_reason_needed"):
        await grad.decide(db, settings, world["staff"], case_id, True, None, NOW)
    await db.execute("UPDATE graduation_cases SET family_answer = 'agree' WHERE id = ?", (case_id,))
    decision = await grad.decide(db, settings, world["staff"], case_id, True, None, NOW)
    assert decision.reason == grad.DEFAULT_APPROVE_REASON
    assert decision.status == "approved" and decision.score == 94
    assert decision.recipient_chat_id == 100
    assert await db.fetchval("SELECT status FROM recipients WHERE id = ?", (world["ready"],)) == (
        "graduated"
    )
    rows = await db.fetchall("SELECT actor, action, details FROM audit_log ORDER BY id")
    assert [r["action"] for r in rows] == ["graduation.confirm", "graduation.approve"]
    details = json.loads(rows[1]["details"])
    assert rows[1]["actor"] == f"account:{world['staff'].id}"
    assert details["score"] == 94 and details["model_version"].startswith("2.0+")
    assert NIK not in rows[1]["details"]
    export = await grad.approved_graduates(db)
    assert export[0]["nik"] == NIK and export[0]["score"] == 94
    assert export[0]["desa"] == "Lebaksiu Kidul" and export[0]["decision_date"] == "2024-07-03"
    assert export[0]["approver"] == "user300"
    # graduated: no longer a candidate, no longer scored in batches
    assert await grad.candidates(db, settings, world["staff"]) == []
    with pytest.raises(grad.GraduationError, match="already_decided"):
        await grad.decide(db, settings, world["staff"], case_id, False, "terlambat diputuskan", NOW)


async def test_reject_needs_reason_and_keeps_active(db, settings, world) -> None:
    case_id = await grad.confirm(
        db, settings, world["fac"], NIK, "Usaha berjalan baik sekali.", NOW
    )
    with pytest.raises(grad.GraduationError, match="reason_short"):
        await grad.decide(db, settings, world["staff"], case_id, False, " ", NOW)
    with pytest.raises(grad.GraduationError, match="reason_short"):  # one word is not a reason
        await grad.decide(db, settings, world["staff"], case_id, False, "belum", NOW)
    # a case outside the staff member's region: the same answer as a case that does not exist
    with pytest.raises(grad.GraduationError, match="no_case"):
        await grad.decide(db, settings, world["staff_other"], case_id, True, None, NOW)
    decision = await grad.decide(
        db, settings, world["staff"], case_id, False, "Tunggu satu bulan lagi", NOW
    )
    assert decision.status == "rejected" and decision.recipient_chat_id is None
    assert await db.fetchval("SELECT status FROM recipients WHERE id = ?", (world["ready"],)) == (
        "active"
    )


async def test_confirm_refusals(db, settings, world) -> None:
    statement = "Sudah dikunjungi, usaha stabil."
    with pytest.raises(grad.GraduationError, match="not_found"):
        await grad.confirm(db, settings, world["fac2"], NIK, statement, NOW)
    # a family the score does not call ready may be nominated, but not without a visit
    with pytest.raises(grad.GraduationError, match="no_visit"):
        await grad.confirm(db, settings, world["fac"], "3328064107850002", statement, NOW)
    with pytest.raises(grad.GraduationError, match="statement_length"):
        await grad.confirm(db, settings, world["fac"], NIK, "ok", NOW)
    with pytest.raises(grad.GraduationError, match="no_visit"):
        await grad.confirm(
            db, settings, world["fac"], NIK, statement, at("2024-12-01T00:00:00+00:00")
        )
    with pytest.raises(grad.GraduationError, match="facilitator_only"):
        await grad.confirm(db, settings, world["staff"], NIK, statement, NOW)
    await grad.confirm(db, settings, world["fac"], NIK, statement, NOW)
    with pytest.raises(grad.GraduationError, match="already_confirmed"):
        await grad.confirm(db, settings, world["fac"], NIK, statement, NOW)
    assert await db.fetchval("SELECT count(*) FROM graduation_cases") == 1


async def test_end_mentoring_for_other_reasons(db, settings, world) -> None:
    with pytest.raises(grad.GraduationError, match="end_kind"):
        await grad.end_mentoring(db, world["staff"], NIK, "lost", "pindah ke Brebes", NOW)
    ref = await grad.end_mentoring(db, world["staff"], NIK, "moved", "Pindah ke Brebes", NOW)
    assert ref.id == world["ready"]
    row = await db.fetchone("SELECT status, status_reason FROM recipients WHERE id = ?", (ref.id,))
    assert row["status"] == "ended" and row["status_reason"] == "moved: Pindah ke Brebes"
    audit = await db.fetchone("SELECT action, details FROM audit_log ORDER BY id DESC LIMIT 1")
    assert audit["action"] == "mentoring.end" and "Brebes" in audit["details"]
    assert await grad.approved_graduates(db) == []
    with pytest.raises(grad.GraduationError, match="not_active"):
        await grad.end_mentoring(db, world["staff"], NIK, "declined", "tidak mau lagi", NOW)


async def test_progress_for_recipient_without_reports(db, settings) -> None:
    rid = await add_recipient(db, "3328064107850009", name="Tini")
    await add_account(db, 900, "recipient", recipient_id=rid)
    name, progress = await grad.progress_for(db, settings, await get_account(db, 900), NOW)
    assert name == "Tini" and progress.profits == [] and progress.trend == "unknown"
    assert progress.next_step in {"report_monthly", "grow_profit"}


async def test_score_view_scope(db, settings, world) -> None:
    view = await grad.score_view(db, settings, world["fac"], NIK, NOW)
    assert view.result.band == "siap" and view.can_confirm
    staff_view = await grad.score_view(db, settings, world["staff"], NIK, NOW)
    assert not staff_view.can_confirm
    for who in ("fac2", "staff_other", "rec"):
        with pytest.raises(grad.GraduationError, match="not_found"):
            await grad.score_view(db, settings, world[who], NIK, NOW)


def test_default_period_is_the_month_before_in_wib() -> None:
    # 30 Jun 2024 20:00 UTC is already 1 July 03:00 WIB: the period reported on is June
    assert scoring.default_period(at("2024-06-30T20:00:00+00:00")) == "2024-06"
    assert scoring.default_period(at("2024-06-30T16:00:00+00:00")) == "2024-05"


async def test_erasure_covers_scores_and_graduation_cases(db, settings, world) -> None:
    """UU 27/2022 erasure reaches the tables of migration 0005 without FK errors."""
    from bot.services.persons import erase_recipient

    case_id = await grad.confirm(
        db, settings, world["fac"], NIK, "Usaha jahit Ibu Siti Aminah stabil.", NOW
    )
    await grad.decide(
        db, settings, world["staff"], case_id, True, "Siti Aminah memenuhi syarat", NOW
    )
    await erase_recipient(db, world["ready"], "permintaan", NOW, compact=False)
    case = await db.fetchone("SELECT * FROM graduation_cases WHERE id = ?", (case_id,))
    assert "Siti" not in (case["statement"] or "") and "Siti" not in (case["decision_reason"] or "")
    assert case["score"] == 94  # the anonymous number stays for statistics
    assert (
        await db.fetchval("SELECT count(*) FROM scores WHERE recipient_id = ?", (world["ready"],))
        >= 1
    )


async def test_score_without_period_shows_the_latest_month_with_data(db, settings, world) -> None:
    """/skor in September when the family last reported in June: June, not an empty August."""
    later = at("2024-09-10T02:00:00+00:00")
    view = await grad.score_view(db, settings, world["fac"], NIK, later)
    assert view.result.period == "2024-06" and view.result.score == 94


async def test_nomination_must_address_unmet_gates(db, settings, world) -> None:
    """A family the score does not call ready: the statement names every unmet gate."""
    from bot.services import proposals

    await add_visit(db, world["close"], "2024-06-20", (3, 3, 3, 3), None)
    r = await grad.readiness(db, settings, world["fac"], world["close"], NOW)
    assert not r.ready and r.unmet
    with pytest.raises(grad.GraduationError, match="statement_gates") as err:
        await grad.propose(db, settings, world["fac"], world["close"], "Rajin sekali orangnya",
                           NOW)  # fmt: skip
    assert set(err.value.context["gates"]) == {key for key, _ in r.unmet}
    words = " ".join(grad.GATE_WORDS[key][0] for key, _ in r.unmet)
    done = await grad.propose(db, settings, world["fac"], world["close"],
                              f"Sudah dicek: {words}", NOW)  # fmt: skip
    assert not done.ready
    row = await db.fetchone("SELECT proposed_ready, unmet_gates FROM graduation_cases")
    assert row["proposed_ready"] == 0 and json.loads(row["unmet_gates"])
    page = await proposals.proposal_page(db, settings, world["staff"], "wait", 0)
    assert [c.case_id for c in page.cards] == [done.case_id] and page.cards[0].ready is False
    with pytest.raises(grad.GraduationError, match="stale"):
        await proposals.proposal_page(db, settings, world["staff"], "semua", 0)
    with pytest.raises(grad.GraduationError, match="staff_only"):
        await proposals.proposal_page(db, settings, world["fac"], "wait", 0)


def test_sparkline() -> None:
    from bot.domain.sparkline import sparkline

    assert sparkline([0, 100, None, 50]) == "▁█·▅"
    assert sparkline([None, None]) == "··" and sparkline([5, 5]) == "▅▅"


async def test_a_question_waits_only_so_long(db, settings, world) -> None:
    """The next-message questions expire: a reason typed hours later is an ordinary message."""
    import datetime as dt

    from bot.services import proposals

    case_id = await grad.confirm(db, settings, world["fac"], NIK, "Usaha stabil dan menabung.",
                                 NOW)  # fmt: skip
    await proposals.start_reject(db, NOW, world["staff"], case_id)
    assert (await proposals.waiting(db, NOW, world["staff"])).case_id == case_id
    assert await proposals.waiting(db, NOW + dt.timedelta(hours=3), world["staff"]) is None
    assert await db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    # a decision clears every question about its case
    await proposals.start_reject(db, NOW, world["staff"], case_id)
    await grad.decide(db, settings, world["staff"], case_id, True, "Keluarga setuju lewat telepon",
                      NOW)  # fmt: skip
    assert await db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    with pytest.raises(grad.GraduationError, match="already_decided") as err:
        await proposals.start_reject(db, NOW, world["staff"], case_id)
    assert err.value.context["who"] == "user300"
