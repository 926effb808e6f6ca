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
    Observation,
    Visit,
    compute_score,
    params_from_settings,
    progress_view,
    risk_flags,
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


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_worked_example_pinned(name: str) -> None:
    baseline, obs, visits, score, band, points = EXAMPLES[name]
    result = compute_score(baseline, obs, visits, PERIOD, PARAMS)
    assert result.score == score
    assert result.band == band
    assert {c.key: c.points for c in result.components} == points
    assert sum(points.values()) == score
    assert [c.key for c in result.components] == list(COMPONENT_KEYS)
    assert all(c.reason and "\n" not in c.reason for c in result.components)


def test_example_b_gate_and_reasons() -> None:
    result = compute_score(B_BASELINE, B_OBS, B_VISITS, PERIOD, PARAMS)
    assert result.gate_months == 4 and result.gate_met
    assert result.band_label == "Siap graduasi"
    assert "Rp750.000" in result.component("income").reason
    assert result.confidence == 100


def test_example_d_gaps_lower_confidence_not_income() -> None:
    _, obs, visits, *_ = EXAMPLES["D_gaps"]
    result = compute_score(EXAMPLES["D_gaps"][0], obs, visits, PERIOD, PARAMS)
    assert result.confidence == 50
    # average of counted months only: a gap is not a month of zero income
    assert result.component("income").value["per_capita"] == 400_000


def test_high_score_without_gate_is_menuju() -> None:
    obs = [o._replace(profit=2_000_000, other_income=1_500_000) for o in B_OBS]
    result = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert result.score >= 75
    assert result.gate_months == 0
    assert result.band == "menuju"


def test_gap_breaks_the_gate() -> None:
    obs = [o for o in B_OBS if o.period != "2024-04"]
    result = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert result.gate_months == 2
    assert result.band != "siap"


def test_no_reports() -> None:
    result = compute_score(Baseline(4, "tata boga", start_period="2024-01"), [], [], PERIOD, PARAMS)
    assert result.score == 0
    assert result.band == "intensif"
    assert result.confidence == 0
    assert all(c.points == 0 for c in result.components)


def test_one_report() -> None:
    result = compute_score(B_BASELINE, B_OBS[-1:], [], PERIOD, PARAMS)
    assert 0 <= result.score <= 100
    assert result.component("reporting").value == [1, 6]
    assert "baru 1 bulan" in result.component("stability").reason


@pytest.mark.parametrize("size", [0, None])
def test_household_size_zero_or_missing_uses_default(size: int | None) -> None:
    obs = [o._replace(household_size=size) for o in B_OBS]
    result = compute_score(
        Baseline(size, "menjahit", start_period="2024-01"), obs, [], PERIOD, PARAMS
    )
    assert result.inputs["household_size"] == PARAMS.default_household_size
    assert result.inputs["household_size_known"] is False
    assert "dianggap 4" in result.component("income").reason
    assert result.confidence == 80


def test_absurd_outlier_held_back_until_confirmed() -> None:
    obs = list(B_OBS)
    obs[-1] = obs[-1]._replace(profit=240_000_000)  # 100x the previous month
    held = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert "2024-06" in held.inputs["held_back"]
    assert held.gate_months == 0
    obs[-1] = obs[-1]._replace(verified=True)
    confirmed = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert confirmed.inputs["held_back"] == []
    assert confirmed.component("income").points > held.component("income").points


def test_unverified_value_does_not_move_score_until_confirmed() -> None:
    base = compute_score(B_BASELINE, B_OBS[:-1], B_VISITS, PERIOD, PARAMS)
    obs = list(B_OBS)
    obs[-1] = obs[-1]._replace(profit=9_000_000, verified=False)
    flagged = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    # the flagged month counts as reported only: income and stability are as without it
    for key in ("income", "stability"):
        assert flagged.component(key).points == base.component(key).points
    assert flagged.component("income").value == base.component("income").value
    obs[-1] = obs[-1]._replace(verified=True)
    confirmed = compute_score(B_BASELINE, obs, B_VISITS, PERIOD, PARAMS)
    assert confirmed.component("income").value != base.component("income").value


def test_model_version_changes_with_config() -> None:
    other = Settings(scoring=replace(ScoringSettings(), weight_income=25, weight_reporting=10))
    assert params_from_settings(other).model_version != PARAMS.model_version
    assert PARAMS.model_version.startswith("1.0+")
    assert params_from_settings(Settings()).model_version == PARAMS.model_version


def test_config_weights_must_sum_to_100() -> None:
    with pytest.raises(ConfigError, match="sum to 105"):
        ScoringSettings(weight_income=35).validate()


def test_config_thresholds_in_order() -> None:
    with pytest.raises(ConfigError, match="out of order"):
        ScoringSettings(ready_score=40, intensive_below=50).validate()


def test_config_file_scoring_section(tmp_path) -> None:
    from bot.config import load_settings

    path = tmp_path / "p.toml"
    path.write_text("[scoring]\nweight_income = 40\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    assert str(exc.value).count("\n") == 0
    path.write_text('[scoring]\nversion = "1.1"\n[scoring.package_goats]\n"ternak kambing" = 3\n')
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
    assert "goats_lost" in _kinds(C_BASELINE, C_OBS)
    kept = [o._replace(goats=6) for o in C_OBS]
    assert "goats_lost" not in _kinds(C_BASELINE, kept)


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
