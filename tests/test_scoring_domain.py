"""Unit tests of bot/domain/scoring.py: worked examples, bad input, properties, risk flags."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, ScoringSettings, Settings
from bot.domain.scoring import (
    BAND_LABELS,
    COMPONENT_KEYS,
    Baseline,
    CheckAnswer,
    Observation,
    Visit,
    checklist_states,
    compute_score,
    params_from_settings,
    progress_view,
    risk_flags,
    shift_period,
)
from tests.scoring_examples import (
    B_BASELINE,
    B_OBS,
    B_VISITS,
    C_BASELINE,
    C_OBS,
    EXAMPLES,
    PERIOD,
    months,
)

PARAMS = params_from_settings(Settings())


def _score(name: str, **changes):
    baseline, obs, visits, checks, *_ = EXAMPLES[name]
    return compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks, **changes)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_worked_example_pinned(name: str) -> None:
    baseline, obs, visits, checks, score, band, points = EXAMPLES[name]
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks)
    assert result.score == score
    assert result.band == band
    assert {c.key: c.points for c in result.components} == points
    assert sum(points.values()) == score
    assert [c.key for c in result.components] == list(COMPONENT_KEYS)
    assert all(c.reason and "\n" not in c.reason for c in result.components)
    # every unmet gate is an explanation line
    for gate in result.gates:
        assert (gate.reason in result.notes) is (not gate.met)


def test_example_b_all_gates_met() -> None:
    result = _score("B_stable_above_umk")
    assert result.gate_met and result.band_label == "Siap graduasi"
    assert result.gate_months == 4
    assert "Rp750.000" in result.component("income").reason
    assert result.confidence == 100


def test_six_person_family_not_ready_names_poverty_line() -> None:
    """Rp2.500.000 for 6 people = Rp416.667 each: below Rp497.315, so never 'siap'."""
    result = _score("E_six_people_below_line")
    assert result.band != "siap"
    assert not result.gate("poverty_line").met
    assert result.gate("umk").met  # the business alone would have passed the old gate
    reason = result.gate("poverty_line").reason
    assert "Rp416.667" in reason and "garis kemiskinan Rp497.315 (2024)" in reason
    assert reason in result.notes
    # even perfect marks everywhere do not buy readiness
    assert result.score >= 70


def test_zero_profit_family_is_intensive() -> None:
    result = _score("F_zero_profit")
    assert result.band == "intensif"
    assert result.component("stability").points == 0  # flat poverty earns no stability
    assert any("garis kemiskinan ekstrem Rp351.957" in n for n in result.notes)


def test_example_b_closed_month_keeps_gate() -> None:
    """A sick month (tutup, profit 0) is one of N-of-M: the gate holds, B stays ready."""
    baseline, obs, visits, checks, *_ = EXAMPLES["B_stable_above_umk"]
    obs = list(obs)
    obs[-1] = obs[-1]._replace(business_status="tutup", profit=0)
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks)
    assert result.gate("umk").met and result.gate_months == 3
    assert result.gate("poverty_line").met  # 5 of 6 months above the line
    assert result.band == "siap"


def test_example_b_missing_month_keeps_umk_gate() -> None:
    """A missing month is skipped, not a break: Feb-May are the last 4 verified months."""
    baseline, obs, visits, checks, *_ = EXAMPLES["B_stable_above_umk"]
    missing_last = [o for o in obs if o.period != "2024-06"]
    result = compute_score(baseline, missing_last, visits, PERIOD, PARAMS, checklist=checks)
    assert result.gate("umk").met and result.gate_months == 3
    # only the count rule says no: 5 verified months since hand-over, 6 needed
    assert [g.key for g in result.gates if not g.met] == ["months"]
    assert result.band != "siap"
    # one more reported month (July) and B is ready again, the gap in June notwithstanding
    july = obs[-1]._replace(period="2024-07")
    later = compute_score(
        baseline, [*missing_last, july], visits, "2024-07", PARAMS, checklist=checks
    )
    assert later.band == "siap"


def test_two_bad_months_of_four_fail_the_umk_gate() -> None:
    baseline, obs, visits, checks, *_ = EXAMPLES["B_stable_above_umk"]
    obs = list(obs)
    obs[-1] = obs[-1]._replace(profit=1_000_000)
    obs[-2] = obs[-2]._replace(profit=1_000_000)
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks)
    assert not result.gate("umk").met
    assert "perlu 3 dari 4" in result.gate("umk").reason and "UMK 2024 Rp2.191.161" in (
        result.gate("umk").reason
    )
    assert result.band != "siap"


def test_goats_grown_not_lost_and_sale_month_counts() -> None:
    baseline, obs, visits, checks, *_ = EXAMPLES["C_goats_grown_and_sold"]
    kinds = {f.kind for f in risk_flags(baseline, obs, PERIOD, PARAMS)}
    assert "goats_lost" not in kinds and "goats_mismatch" not in kinds
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks)
    assert result.component("assets").points == result.component("assets").max_points
    # the June sale is spread over the 12-month goat income: Rp300.000 a month becomes more
    no_sale = [o._replace(profit=300_000, goats_sold=0, goats=4) for o in obs]
    without = compute_score(baseline, no_sale, visits, PERIOD, PARAMS, checklist=checks)
    assert (
        result.component("income").value["business"] > without.component("income").value["business"]
    )
    assert result.inputs["incomes"]["2024-06"] == 3_800_000


def test_goats_received_from_package_text() -> None:
    from bot.domain.scoring import goats_in_package, goats_received

    assert goats_in_package("Paket 2 ekor kambing betina") == 2
    assert goats_in_package("mesin jahit") is None
    baseline = Baseline(4, "ternak kambing", goats_received=None)
    assert goats_received(baseline, PARAMS) == (2, "default")  # configured default


def test_goat_herd_mismatch_and_deaths_are_told_apart() -> None:
    baseline, obs, *_ = EXAMPLES["C_goats_grown_and_sold"]
    obs = list(obs)
    obs[-1] = obs[-1]._replace(goats=1, goats_sold=0, goats_died=1)  # 4 - 1 died = 3, not 1
    kinds = {f.kind: f.details for f in risk_flags(baseline, obs, PERIOD, PARAMS)}
    assert kinds["goats_died"] == {"died": 1}
    assert kinds["goats_mismatch"]["difference"] == -2
    assert "goats_lost" in kinds  # 1 goat now, none sold, 2 received


def test_thresholds_by_year() -> None:
    """2024 months use UMK 2024, 2026 months UMK 2026; a missing year says so."""
    baseline, obs, visits, checks, *_ = EXAMPLES["B_stable_above_umk"]
    r2024 = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=checks)
    assert "UMK 2024 Rp2.191.161" in r2024.gate("umk").reason
    assert r2024.inputs["lines"]["umk"] == [2_191_161, 2024]
    shifted = [o._replace(period=shift_period(o.period, 24)) for o in obs]
    late = [CheckAnswer(c.item, c.met, "2026-06-15") for c in checks]
    r2026 = compute_score(
        Baseline(4, "menjahit", start_period="2026-01"), shifted, visits, "2026-06", PARAMS,
        checklist=late,
    )  # fmt: skip
    assert "UMK 2026 Rp2.484.162" in r2026.gate("umk").reason
    assert r2026.gate_months == 0  # Rp2.400.000 is below UMK 2026
    # poverty line 2026 is not published: the 2024 value is used, and the notes say so
    assert r2026.inputs["lines"]["poverty"] == [497_315, 2024]
    assert "Ambang: garis kemiskinan 2026 belum ada, dipakai nilai 2024" in r2026.notes
    assert PARAMS.lines(2025).extreme == 391_000 and PARAMS.lines(2023).extreme == 351_957


def test_month_by_its_own_year_across_new_year() -> None:
    """Profit Rp2.300.000 clears UMK 2024 in Dec 2024 but not UMK 2025 in Jan 2025."""
    obs = [
        Observation(p, "berjalan", profit=2_300_000, other_income=0, household_size=2)
        for p in months(4, "2024-10")
    ]
    result = compute_score(Baseline(2, "menjahit", start_period="2024-10"), obs, [], "2025-01",
                           PARAMS)  # fmt: skip
    assert result.gate_months == 3


def test_checklist_met_not_met_unknown_and_old_answers() -> None:
    answers = [
        CheckAnswer("pangan", True, "2024-06-01"),
        CheckAnswer("sekolah", False, "2024-06-01"),
        CheckAnswer("jamban_air", None, "2024-06-01"),
        CheckAnswer("rumah", True, "2023-01-10"),  # 18 months old: unknown
    ]
    states = checklist_states(answers, PERIOD, PARAMS)
    assert states["pangan"] == "met"
    assert states["sekolah"] == "not_met"
    assert states["jamban_air"] == "unknown"
    assert states["rumah"] == "unknown"
    assert states["bpjs"] == "unknown"
    baseline, obs, visits, *_ = EXAMPLES["B_stable_above_umk"]
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS, checklist=answers)
    gate = result.gate("checklist")
    assert not gate.met and result.band != "siap"
    assert "sekolah belum terpenuhi" in gate.reason and "rumah belum diketahui" in gate.reason


def test_household_size_falls_back_to_register_and_says_so() -> None:
    baseline, obs, visits, checks, *_ = EXAMPLES["E_six_people_below_line"]
    unreported = [o._replace(household_size=None) for o in obs]
    result = compute_score(baseline, unreported, visits, PERIOD, PARAMS, checklist=checks)
    assert result.inputs["household_size"] == 6
    assert result.inputs["household_size_source"] == "register"
    assert any("dipakai data register (6)" in n for n in result.notes)
    assert result.confidence == 100


def test_household_size_carried_from_last_quarterly_answer() -> None:
    baseline, obs, visits, checks, *_ = EXAMPLES["E_six_people_below_line"]
    asked_once = [o._replace(household_size=3 if i == 0 else None) for i, o in enumerate(obs)]
    result = compute_score(Baseline(None, "menjahit", start_period="2024-01"), asked_once,
                           visits, PERIOD, PARAMS, checklist=checks)  # fmt: skip
    assert result.inputs["household_size"] == 3
    assert result.gate("poverty_line").met  # Rp2.500.000 / 3


def test_reporting_feeds_confidence_not_points() -> None:
    _, obs, visits, *_ = EXAMPLES["D_gaps"]
    result = compute_score(EXAMPLES["D_gaps"][0], obs, visits, PERIOD, PARAMS)
    assert result.confidence == 50
    assert "reporting" not in {c.key for c in result.components}
    # average of counted months only: a gap is not a month of zero income
    assert result.component("income").value["per_capita"] == 400_000


def test_sources_count_real_sources() -> None:
    baseline, obs, visits, checks, *_ = EXAMPLES["F_zero_profit"]
    claimed = [o._replace(income_sources=5) for o in obs]
    result = compute_score(baseline, claimed, visits, PERIOD, PARAMS, checklist=checks)
    assert result.component("sources").value == 1  # other income only; no business income


def test_no_reports() -> None:
    result = compute_score(Baseline(4, "tata boga", start_period="2024-01"), [], [], PERIOD, PARAMS)
    assert result.score == 0
    assert result.band == "intensif"
    assert result.confidence == 0
    assert all(c.points == 0 for c in result.components if c.key != "checklist")


def test_one_report() -> None:
    result = compute_score(B_BASELINE, B_OBS[-1:], [], PERIOD, PARAMS)
    assert 0 <= result.score <= 100
    assert "baru 1 bulan" in result.component("stability").reason


@pytest.mark.parametrize("size", [0, None])
def test_household_size_zero_or_missing_uses_default(size: int | None) -> None:
    obs = [o._replace(household_size=size) for o in B_OBS]
    result = compute_score(
        Baseline(size, "menjahit", start_period="2024-01"), obs, [], PERIOD, PARAMS
    )
    assert result.inputs["household_size"] == PARAMS.default_household_size
    assert result.inputs["household_size_source"] == "default"
    assert any("dianggap 4" in n for n in result.notes)
    assert result.confidence == 80


def test_absurd_outlier_held_back_until_confirmed() -> None:
    obs = list(B_OBS)
    obs[-1] = obs[-1]._replace(profit=240_000_000)  # 100x the previous month
    held = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert "2024-06" in held.inputs["held_back"]
    obs[-1] = obs[-1]._replace(verified=True)
    confirmed = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert confirmed.inputs["held_back"] == []
    assert confirmed.component("income").points > held.component("income").points


def test_unverified_value_does_not_move_score_until_confirmed() -> None:
    base = compute_score(B_BASELINE, B_OBS[:-1], B_VISITS, PERIOD, PARAMS)
    obs = list(B_OBS)
    obs[-1] = obs[-1]._replace(profit=9_000_000, verified=False)
    flagged = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    for key in ("income", "stability"):
        assert flagged.component(key).points == base.component(key).points
    assert flagged.component("income").value == base.component("income").value
    obs[-1] = obs[-1]._replace(verified=True)
    confirmed = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert confirmed.component("income").value != base.component("income").value


def test_model_version_changes_with_config() -> None:
    other = Settings(scoring=replace(ScoringSettings(), weight_income=25, weight_checklist=10))
    assert params_from_settings(other).model_version != PARAMS.model_version
    assert PARAMS.model_version.startswith("2.0+")
    assert params_from_settings(Settings()).model_version == PARAMS.model_version


def test_config_weights_must_sum_to_100() -> None:
    with pytest.raises(ConfigError, match="sum to 105"):
        ScoringSettings(weight_income=35).validate()


def test_config_gates_in_order() -> None:
    with pytest.raises(ConfigError, match="poverty_gate_months"):
        ScoringSettings(poverty_gate_months=7, poverty_gate_of=6).validate()


def test_config_file_scoring_section(tmp_path) -> None:
    from bot.config import load_settings

    path = tmp_path / "p.toml"
    path.write_text("[scoring]\nweight_income = 40\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    assert str(exc.value).count("\n") == 0
    path.write_text('[scoring]\nversion = "2.1"\n[scoring.package_goats]\n"ternak kambing" = 3\n')
    settings = load_settings(path, env={})
    assert settings.scoring.package_goats == {"ternak kambing": 3}


# --- risk flags ------------------------------------------------------------------------------


def _kinds(baseline, obs, period=PERIOD, reachable=True):
    return {f.kind for f in risk_flags(baseline, obs, period, PARAMS, reachable=reachable)}


def test_flag_business_stopped_two_months() -> None:
    obs = list(B_OBS)
    obs[-2] = obs[-2]._replace(business_status="berhenti_sementara")
    obs[-1] = obs[-1]._replace(business_status="tutup")
    assert "business_stopped" in _kinds(B_BASELINE, obs)
    assert "business_stopped" not in _kinds(B_BASELINE, B_OBS)


def test_flag_income_drop() -> None:
    obs = list(B_OBS)
    obs[-1] = obs[-1]._replace(profit=800_000)  # 3.0M -> 1.4M over two months
    assert "income_drop" in _kinds(B_BASELINE, obs)
    assert "income_drop" not in _kinds(B_BASELINE, B_OBS)


def test_flag_no_report_two_periods() -> None:
    assert "no_report" in _kinds(B_BASELINE, B_OBS[:4])
    assert "no_report" not in _kinds(B_BASELINE, B_OBS[:5])


def test_flag_goats_lost() -> None:
    died = [o._replace(goats=1, goats_born=0, goats_sold=0) for o in C_OBS]
    assert "goats_lost" in _kinds(C_BASELINE, died)
    assert "goats_lost" not in _kinds(C_BASELINE, C_OBS)


def test_flag_unreachable() -> None:
    assert "unreachable" in _kinds(B_BASELINE, B_OBS, reachable=False)


# --- properties -------------------------------------------------------------------------------

money = st.integers(min_value=-2_000_000, max_value=20_000_000)
statuses = st.sampled_from(["berjalan", "berhenti_sementara", "tutup", None])


@st.composite
def histories(draw):
    n = draw(st.integers(0, 12))
    periods = draw(st.lists(st.sampled_from(months(12)), min_size=n, max_size=n, unique=True))
    obs = [
        Observation(
            p,
            draw(statuses),
            profit=draw(st.none() | money),
            other_income=draw(st.none() | money),
            household_size=draw(st.none() | st.integers(0, 12)),
            has_savings=draw(st.none() | st.booleans()),
            keeps_books=draw(st.none() | st.booleans()),
            income_sources=draw(st.none() | st.integers(-1, 5)),
            equipment_ok=draw(st.none() | st.booleans()),
            goats=draw(st.none() | st.integers(-3, 20)),
            verified=draw(st.sampled_from([None, True, False])),
        )
        for p in sorted(periods)
    ]
    visits = [Visit("2024-03-01", tuple(draw(st.lists(st.none() | st.integers(1, 5), max_size=4))))]
    baseline = Baseline(
        draw(st.none() | st.integers(0, 12)),
        draw(st.sampled_from(["tata boga", "ternak kambing"])),
        start_period="2024-01",
    )
    return baseline, obs, visits


@given(histories(), st.sampled_from(months(12)))
def test_property_score_in_range_and_components_sum(history, period) -> None:
    baseline, obs, visits = history
    result = compute_score(baseline, obs, visits, period, PARAMS)
    assert 0 <= result.score <= 100
    assert result.score == sum(c.points for c in result.components)
    assert all(0 <= c.points <= c.max_points for c in result.components)
    assert sum(c.max_points for c in result.components) == 100
    assert result.band in BAND_LABELS
    assert 0 <= result.confidence <= 100


@given(
    st.integers(0, 10_000_000),
    st.integers(0, 5_000_000),
    st.integers(1, 8),
)
def test_property_monotonic_in_income(low: int, extra: int, size: int) -> None:
    """More steady income (same every month) never lowers income, stability or the total."""

    def run(profit: int):
        obs = [
            Observation(p, "berjalan", profit=profit, other_income=0, household_size=size,
                        has_savings=True, keeps_books=True, income_sources=2, equipment_ok=True,
                        verified=True)
            for p in months(6)
        ]  # fmt: skip
        return compute_score(
            Baseline(size, "menjahit", start_period="2024-01"), obs, [], PERIOD, PARAMS
        )

    a, b = run(low), run(low + extra)
    assert b.component("income").points >= a.component("income").points
    assert b.component("stability").points >= a.component("stability").points
    assert b.score >= a.score


def test_progress_view_has_no_score() -> None:
    result = compute_score(B_BASELINE, B_OBS, B_VISITS, PERIOD, PARAMS)
    progress = progress_view(result, B_OBS, PARAMS)
    assert progress.trend == "up"
    assert "running" in progress.going_well
    assert len(progress.profits) == 6


def test_component_dicts_reads_lists_and_older_objects() -> None:
    from bot.domain.scoring import component_dicts

    new = [["income", {"per_capita": 1}, 20, 30, "Pendapatan"], ["reporting", [5, 6], 4, 5, "x"]]
    old = [{"key": "income", "value": None, "points": 20, "max_points": 30, "reason": "r"}]
    assert component_dicts(new) == [
        {"key": "income", "value": {"per_capita": 1}, "points": 20, "max_points": 30,
         "reason": "Pendapatan"},
        {"key": "reporting", "value": [5, 6], "points": 4, "max_points": 5, "reason": "x"},
    ]  # fmt: skip
    assert component_dicts(old) == old


def test_progress_trend_accounts_for_missing_months() -> None:
    """350rb in January, nothing in February, 1,5jt in March: the profit rose (compared with
    January, February named as missing), whatever older months held."""
    from bot.domain.scoring import _latest_trend, _Month

    def month(index: int, business: int) -> _Month:
        return _Month(index, None, business, business, True)

    from bot.domain.scoring import period_index

    oct_, jan, mar = (period_index(p) for p in ("2023-10", "2024-01", "2024-03"))
    trend, compared, missing = _latest_trend([month(oct_, 2_000_000), month(jan, 350_000),
                                              month(mar, 1_500_000)])  # fmt: skip
    assert (trend, compared, missing) == ("up", "2024-01", ["2024-02"])
    assert _latest_trend([month(jan, 500_000), month(mar, -100_000)])[0] == "down"
    assert _latest_trend([month(mar, 1)])[0] == "unknown"
