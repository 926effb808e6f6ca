"""Report services against a real SQLite database (drafts, saving, revisions, flags, access)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import Settings
from bot.domain.forms import Photo, Pressed, Skip, Text
from bot.services import reports as R
from tests.report_seed import add_recipient, seed_basic

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

# 1 Feb 2024 08:00 UTC = 15:00 WIB: period 2024-01 is open.
NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)

BASE = {
    "status": Pressed("berjalan"),
    "revenue": Text("1,5 jt"),
    "costs": Text("500rb"),
    "profit_ok": Pressed("ya"),
    "tb_orders": Text("40"),
    "tb_days": Pressed("5"),
    "mj_pieces": Text("12"),
    "mj_machine": Pressed("ya"),
    "tk_adult": Text("3"),
    "tk_kid": Text("2"),
    "tk_moves": Pressed("ya"),
    "tk_births": Text("1"),
    "tk_deaths": Text("0"),
    "tk_sold": Text("1"),
    "tk_sold_value": Text("2 juta"),
    "tk_feed": Pressed("tidak"),
    "equipment_buy": Text("0"),
    "tb_equipment": Pressed("ya"),
    "changes": Pressed("anggota_keluarga"),
    "g_pangan": Pressed("ya"),
    "g_sekolah": Pressed("ya"),
    "g_jamban_air": Pressed("ya"),
    "g_rumah": Pressed("tidak"),
    "g_tabungan": Pressed("ya"),
    "g_tabungan_amount": Text("500rb"),
    "g_rentenir": Pressed("tidak"),
    "g_bpjs": Pressed("tidak_tahu"),
    "other_income": Text("300.000"),
    "household": Text("4"),
    "savings_books": Pressed("tabungan_buku"),
    "savings_amount": Text("100rb"),
    "problem": Pressed("modal"),
    "problem_text": Skip(),
    "help": Pressed("tidak"),
    "photo": Photo("file-1", "uniq-1", 1000),
    "v_date": Pressed("today"),
    "v_running": Pressed("ya"),
    "v_bookkeeping": Pressed("3"),
    "v_quality": Pressed("4"),
    "v_market": Pressed("2"),
    "v_motivation": Pressed("5"),
    "v_notes": Text("Usaha ramai"),
    "v_photo": Skip(),
}


async def fill(db, settings, account, now=NOW, overrides=None, step=None):
    """Answer every question of the open draft; return the final summary step."""
    answers = {**BASE, **(overrides or {})}
    step = step or await R.resume(db, now, settings, account)
    for _ in range(60):
        if step.kind == "summary":
            photo = answers.get("photo")
            if isinstance(photo, Photo) and step.summary.form_name == "monthly":
                # the photo is never asked: sent at the summary, it goes with the report
                step = await R.answer(db, now, settings, account, photo)
                assert step.kind == "summary" and step.note == "photo_attached", step
            return step
        assert step.kind == "question", step
        step = await R.answer(db, now, settings, account, answers[step.question.key])
    raise AssertionError("form did not finish")


async def report(db, settings, account, recipient_id=None, now=NOW, overrides=None):
    step = await R.start_report(db, now, settings, account, recipient_id)
    step = await fill(db, settings, account, now, overrides, step)
    saved = await R.save(db, now, settings, account, step.draft_id, step.step)
    assert saved.kind == "saved", saved
    return saved


@pytest.fixture
async def seeded(db):
    return await seed_basic(db)


async def test_recipient_report_each_programme(db, settings, seeded):
    for key in ("siti", "aminah", "warsini"):
        saved = await report(db, settings, seeded[key])
        assert saved.saved["revision"] == 1 and not saved.saved["late"]
    rows = {r["recipient_id"]: r for r in await db.fetchall("SELECT * FROM reports")}
    r1, r2, r3 = seeded["recipients"]
    assert rows[r1]["revenue"] == 1_500_000 and rows[r1]["profit"] == 1_000_000
    assert rows[r1]["income_sources"] == 2 and rows[r1]["goats"] is None
    assert rows[r2]["equipment_ok"] == 1
    assert rows[r3]["goats"] == 5
    assert rows[r1]["photo_unique_id"] == "uniq-1"


async def test_facilitator_reports_on_behalf_only_for_caseload(db, settings, seeded):
    r1 = seeded["recipients"][0]
    saved = await report(db, settings, seeded["rini"], r1)
    assert saved.saved["on_behalf"]
    row = await db.fetchone("SELECT reporter_role FROM reports")
    assert row["reporter_role"] == "facilitator"
    with pytest.raises(R.ReportError) as err:
        await R.start_report(db, NOW, settings, seeded["joko"], r1)
    assert err.value.key == "not_allowed"


async def test_invalid_amount_keeps_draft(db, settings, seeded):
    acc = seeded["siti"]
    await R.start_report(db, NOW, settings, acc)
    await R.answer(db, NOW, settings, acc, Pressed("berjalan"))
    for bad, error in [
        ("abc", "amount_no_digits"),
        ("12abc", "amount_letters"),
        ("-5000", "amount_negative"),
        ("😀😀", "amount_nonsense"),
        ("x" * 10_000, "too_long"),
    ]:
        step = await R.answer(db, NOW, settings, acc, Text(bad))
        assert step.kind == "invalid" and step.invalid.error == error
        assert step.question.key == "revenue"
    step = await R.answer(db, NOW, settings, acc, Text("1,5"))
    assert step.kind == "clarify" and step.clarify.choices == (1_500_000, 1_500)
    step = await R.answer(db, NOW, settings, acc, Pressed("1500"), step.draft_id, step.step)
    assert step.question.key == "costs"
    draft = await R.open_draft(db, acc)
    assert draft.answers == {"status": "berjalan", "revenue": 1500}


async def test_stale_button_and_double_press(db, settings, seeded):
    acc = seeded["siti"]
    first = await R.start_report(db, NOW, settings, acc)
    step = await R.answer(db, NOW, settings, acc, Pressed("berjalan"), first.draft_id, first.step)
    assert step.question.key == "revenue"
    again = await R.answer(db, NOW, settings, acc, Pressed("tutup"), first.draft_id, first.step)
    assert again.kind == "stale"
    draft = await R.open_draft(db, acc)
    assert draft.answers == {"status": "berjalan"} and draft.step == 1


async def test_edit_from_summary_and_revision(db, settings, seeded):
    acc = seeded["siti"]
    step = await R.start_report(db, NOW, settings, acc)
    step = await fill(db, settings, acc, step=step)
    menu = await R.edit_menu(db, acc, step.draft_id, step.step)
    assert "revenue" in menu.edit_keys
    step = await R.edit_answer(db, NOW, settings, acc, menu.draft_id, menu.step, "revenue")
    assert step.question.key == "revenue"
    step = await R.answer(db, NOW, settings, acc, Text("2 juta"))
    # profit confirmation depends on revenue: asked again, then back to the summary.
    assert step.question.key == "profit_ok"
    step = await R.answer(db, NOW, settings, acc, Pressed("tidak"))
    assert step.question.key == "profit"
    step = await R.answer(db, NOW, settings, acc, Text("1.200.000"))
    assert step.kind == "summary" and step.summary.context["profit"] == 1_200_000
    saved = await R.save(db, NOW, settings, acc, step.draft_id, step.step)
    assert saved.saved["profit"] == 1_200_000
    saved2 = await report(db, settings, acc)
    assert saved2.saved["revision"] == 2
    assert await db.fetchval("SELECT count(*) FROM reports") == 2


async def test_closed_business_skips_sales(db, settings, seeded):
    acc = seeded["aminah"]
    saved = await report(
        db, settings, acc, overrides={"status": Pressed("tutup"), "status_reason": Text("sakit")}
    )
    row = await db.fetchone("SELECT * FROM reports WHERE id = ?", (saved.saved["report_id"],))
    assert row["business_status"] == "tutup" and row["revenue"] == 0 and row["profit"] == 0
    assert row["income_sources"] == 1 and row["equipment_ok"] == 1


async def test_cancel_needs_confirmation(db, settings, seeded):
    acc = seeded["siti"]
    await R.start_report(db, NOW, settings, acc)
    ask = await R.ask_cancel(db, acc)
    assert ask.kind == "confirm_cancel"
    assert await R.open_draft(db, acc) is not None
    done = await R.cancel(db, NOW, acc, ask.draft_id, ask.step)
    assert done.kind == "cancelled" and await R.open_draft(db, acc) is None


async def test_late_report_marked(db, settings, seeded):
    late_now = dt.datetime(2024, 2, 21, 1, 0, tzinfo=dt.UTC)  # 21 Feb 08:00 WIB
    saved = await report(db, settings, seeded["siti"], now=late_now)
    assert saved.saved["late"] and saved.saved["period"] == "2024-01"
    on_time = dt.datetime(2024, 2, 20, 16, 0, tzinfo=dt.UTC)  # 20 Feb 23:00 WIB
    saved = await report(db, settings, seeded["aminah"], now=on_time)
    assert not saved.saved["late"]


async def test_missed_month_is_picked(db, settings, seeded):
    r = await add_recipient(db, 20, "Lama", created_at="2023-10-01T00:00:00+00:00")
    from tests.report_seed import add_account

    acc = await add_account(db, 1020, "recipient", recipient_id=r)
    step = await R.start_report(db, NOW, settings, acc)
    assert step.kind == "pick_period" and step.periods == [
        "2024-01",
        "2023-12",
        "2023-11",
        "2023-10",
    ]
    step = await R.start_report(db, NOW, settings, acc, period="2023-11")
    step = await fill(db, settings, acc, step=step)
    saved = await R.save(db, NOW, settings, acc, step.draft_id, step.step)
    assert saved.saved["period"] == "2023-11" and saved.saved["late"]
    with pytest.raises(R.ReportError):
        await R.start_report(db, NOW, settings, acc, period="2023-01")


async def test_cross_check_flags_and_effective_values(db, settings, seeded):
    r1, _, r3 = seeded["recipients"]
    # Mismatch on income: recipient profit 1.000.000, facilitator 2.000.000.
    await report(db, settings, seeded["siti"])
    saved = await report(
        db, settings, seeded["rini"], r1,
        overrides={"revenue": Text("2,5 juta"), "photo": Skip()},
    )  # fmt: skip
    assert "mismatch_income" in saved.saved["flags"]
    eff = await R.effective_reports(db, [r1], ["2024-01"])
    assert eff[(r1, "2024-01")]["source"] == "recipient"
    assert eff[(r1, "2024-01")]["unverified"] == ["profit"]
    flags = await R.open_flags(db, seeded["rini"])
    assert [f.kind for f in flags] == ["mismatch_income"]
    await R.resolve_flag(db, NOW, settings, seeded["rini"], flags[0].id, 1)  # facilitator's value
    eff = await R.effective_reports(db, None, ["2024-01"])
    assert eff[(r1, "2024-01")]["profit"] == 2_000_000
    assert eff[(r1, "2024-01")]["verified"] == {"profit": 2_000_000}
    # Goats mismatch.
    await report(db, settings, seeded["warsini"], overrides={"photo": Skip()})
    saved = await report(db, settings, seeded["rini"], r3,
                         overrides={"tk_adult": Text("10"), "photo": Skip()})  # fmt: skip
    assert "mismatch_goats" in saved.saved["flags"]
    # Jump: next month's profit more than 3x.
    march = dt.datetime(2024, 3, 2, 3, 0, tzinfo=dt.UTC)
    saved = await report(db, settings, seeded["siti"], now=march,
                         overrides={"revenue": Text("5 juta"), "photo": Skip()})  # fmt: skip
    assert saved.saved["flags"] == ["jump"]
    # Same photo for another recipient.
    saved = await report(db, settings, seeded["aminah"])
    assert "photo_reused" in saved.saved["flags"]
    assert saved.notices and saved.notices[0].template == "notice_flags"


async def test_typed_verified_value_resolves_flag(db, settings, seeded):
    r1 = seeded["recipients"][0]
    await report(db, settings, seeded["siti"])
    await report(db, settings, seeded["rini"], r1, overrides={"revenue": Text("5 jt")})
    flag = (await R.open_flags(db, seeded["rini"]))[0]
    step = await R.start_flag_value(db, NOW, settings, seeded["rini"], flag.id)
    assert step.question.key == "verified"
    done = await R.answer(db, NOW, settings, seeded["rini"], Text("1.100.000"))
    assert done.kind == "saved" and done.saved["value"] == 1_100_000
    eff = await R.effective_reports(db, [r1], ["2024-01"])
    assert eff[(r1, "2024-01")]["profit"] == 1_100_000
    assert await R.open_flags(db, seeded["rini"]) == []


async def test_help_request_notifies_and_visit_closes_it(db, settings, seeded):
    r1 = seeded["recipients"][0]
    saved = await report(db, settings, seeded["siti"], overrides={"help": Pressed("ya")})
    assert saved.saved["help"]
    (notice,) = saved.notices
    assert notice.chat_id == 2001 and notice.template == "notice_help_request"
    page = await R.caseload(db, NOW, settings, seeded["rini"])
    assert [c.help_open for c in page.rows if c.recipient_id == r1] == [True]
    step = await R.start_visit(db, NOW, settings, seeded["rini"], r1)
    step = await fill(db, settings, seeded["rini"], step=step)
    saved = await R.save(db, NOW, settings, seeded["rini"], step.draft_id, step.step)
    assert saved.saved["help_closed"] == 1
    visit = await db.fetchone("SELECT * FROM visits")
    assert visit["visit_date"] == "2024-02-01" and visit["score_market"] == 2
    eff = await R.effective_reports(db, [r1], ["2024-01"])
    assert eff[(r1, "2024-01")]["help_open"] is False


async def test_caseload_paging_by_desa(db, settings, seeded):
    from dataclasses import replace

    small = replace(settings, reports=replace(settings.reports, page_size=2))
    await report(db, settings, seeded["siti"])
    await R.start_report(db, NOW, settings, seeded["aminah"])
    page0 = await R.caseload(db, NOW, small, seeded["rini"], 0)
    assert page0.pages == 2 and page0.total == 3
    assert page0.counts == {"reported": 1, "draft": 1, "missing": 1}
    page1 = await R.caseload(db, NOW, small, seeded["rini"], 1)
    names = [c.name for c in page0.rows + page1.rows]
    assert names == ["Aminah", "Siti", "Warsini"]  # Kajen first, then Lebaksiu Kidul
    with pytest.raises(R.ReportError):
        await R.caseload(db, NOW, settings, seeded["siti"])


async def test_recipient_cannot_report_for_other(db, settings, seeded):
    with pytest.raises(R.ReportError):
        await R.check_access(db, seeded["siti"], seeded["recipients"][1])


async def test_concurrent_answers_do_not_double_apply(db, settings, seeded):
    import asyncio

    acc = seeded["siti"]
    await R.start_report(db, NOW, settings, acc)
    await R.answer(db, NOW, settings, acc, Pressed("berjalan"))
    a, b = await asyncio.gather(
        R.answer(db, NOW, settings, acc, Text("100000")),
        R.answer(db, NOW, settings, acc, Text("200000")),
    )
    draft = await R.open_draft(db, acc)
    kinds = sorted([a.kind, b.kind])
    assert kinds in (["question", "stale"], ["question", "question"])
    assert draft.step == 1 + kinds.count("question")
    assert draft.answers["revenue"] in (100_000, 200_000)


def test_settings_default_ceiling():
    assert Settings().reports.amount_ceiling == 100_000_000


async def test_effective_value_falls_back_to_facilitator(db, settings, seeded):
    r2 = seeded["recipients"][1]
    saved = await report(db, settings, seeded["rini"], r2, overrides={"help": Pressed("ya")})
    # The facilitator asked for help on the family's behalf: the request is open, no self-notice.
    assert saved.saved["help"] and saved.notices == []
    eff = await R.effective_reports(db, None, ["2024-01", "2023-12"])
    assert list(eff) == [(r2, "2024-01")]
    entry = eff[(r2, "2024-01")]
    assert entry["source"] == "facilitator" and entry["help_open"] is True
    assert entry["verified"] == {} and entry["unverified"] == []
    # A later recipient report wins over the facilitator's.
    await report(db, settings, seeded["aminah"], overrides={"revenue": Text("1.600.000")})
    entry = (await R.effective_reports(db, [r2], ["2024-01"]))[(r2, "2024-01")]
    assert entry["source"] == "recipient" and entry["revenue"] == 1_600_000
    assert await R.effective_reports(db, [], ["2024-01"]) == {}


async def test_drafts_of_visit_and_report_do_not_mix(db, settings, seeded):
    r1 = seeded["recipients"][0]
    await R.start_visit(db, NOW, settings, seeded["rini"], r1)
    again = await R.start_report(db, NOW, settings, seeded["rini"], r1)
    assert again.kind == "resumed" and again.question.key == "v_date"
    with pytest.raises(R.ReportError):
        await R.start_visit(db, NOW, settings, seeded["siti"], r1)


async def test_first_month_to_report_is_the_first_full_month_after_hand_over(db, settings):
    """Hand-over on 22-11-2023: November is not a mentoring period (the cycle's rule)."""

    rid = await add_recipient(db, 77, "Tini")
    await db.execute("UPDATE recipients SET handover_date = '2023-11-22' WHERE id = ?", (rid,))
    now = dt.datetime(2024, 1, 3, 5, 0, tzinfo=dt.UTC)  # January: December is open
    periods = await R.missing_periods(db, now, settings, rid, "recipient")
    assert periods == ["2023-12"]
    later = dt.datetime(2024, 3, 3, 5, 0, tzinfo=dt.UTC)  # December and January missed
    assert await R.missing_periods(db, later, settings, rid, "recipient") == [
        "2024-02",
        "2024-01",
        "2023-12",
    ]
