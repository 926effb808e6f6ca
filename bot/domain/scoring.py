"""Graduation readiness score: a pure function from baseline + monthly observations + visits.

No I/O. The method, its sources and worked examples are in docs/scoring.md; every rule below
is written there in words. The score recommends; staff decide (UU 27/2022).

Model 2: "Siap graduasi" needs every hard gate (household income per person above the poverty
line, business income at UMK level, enough verified months, the essential checklist items);
the points only rank the families that are not ready.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

BAND_READY = "siap"
BAND_TOWARDS = "menuju"
BAND_INTENSIVE = "intensif"
BAND_LABELS = {
    BAND_READY: "Siap graduasi",
    BAND_TOWARDS: "Menuju graduasi",
    BAND_INTENSIVE: "Perlu pendampingan intensif",
}

STATUS_RUNNING = "berjalan"
STATUS_PAUSED = "berhenti_sementara"
STATUS_CLOSED = "tutup"

COMPONENT_KEYS = (
    "income",
    "stability",
    "continuity",
    "assets",
    "sources",
    "savings_books",
    "facilitator",
    "checklist",
)

GATE_KEYS = ("poverty_line", "umk", "months", "checklist")

RISK_KINDS = (
    "business_stopped",
    "income_drop",
    "no_report",
    "goats_lost",
    "goats_died",
    "goats_mismatch",
    "unreachable",
)

# The non-income checklist (BRAC graduation criteria; PKH education and health components).
CHECKLIST_ITEMS = (
    "pangan",  # no food shortage in the last 12 months (eats at least twice a day)
    "sekolah",  # school-age children in school (no school-age children counts as met)
    "jamban_air",  # latrine and clean water
    "rumah",  # roof and floor of the house sound
    "tabungan",  # savings seen by the facilitator
    "rentenir",  # no debt to moneylenders
    "bpjs",  # BPJS PBI / JKN membership
)
MET = "met"
NOT_MET = "not_met"
UNKNOWN = "unknown"

GOAT_WORDS = ("kambing", "ternak", "domba")


# --- inputs ---------------------------------------------------------------------------------

YearTable = tuple[tuple[int, int], ...]  # ((year, value), ...) sorted by year


class YearLines(NamedTuple):
    """The thresholds that hold for one calendar year, and the year each was published for."""

    poverty: int
    extreme: int
    umk: int
    poverty_year: int
    extreme_year: int
    umk_year: int

    def fallbacks(self, year: int) -> list[str]:
        """Which thresholds borrow another year's value ('garis kemiskinan 2024', ...)."""
        out = []
        for name, used in (
            ("garis kemiskinan", self.poverty_year),
            ("garis kemiskinan ekstrem", self.extreme_year),
            ("UMK", self.umk_year),
        ):
            if used != year:
                out.append(f"{name} {year} belum ada, dipakai nilai {used}")
        return out


def pick_year(table: YearTable, year: int) -> tuple[int, int]:
    """(value, year used): the value of the year, else the latest earlier year, else the
    earliest year in the table (a month before every published value)."""
    chosen = table[0]
    for item in table:
        if item[0] <= year:
            chosen = item
        else:
            break
    return chosen[1], chosen[0]


@dataclass(frozen=True)
class Params:
    """Everything the score depends on besides the recipient's data.

    No defaults here: the defaults live once, in bot.config (ScoringSettings, Thresholds), and
    params_from_settings is the one way in."""

    poverty_lines: YearTable
    extreme_lines: YearTable
    umks: YearTable
    weights: Mapping[str, int]
    intensive_below: int
    poverty_gate_months: int
    poverty_gate_of: int
    umk_gate_months: int
    umk_gate_of: int
    umk_gate_share: float
    min_verified_months: int
    window_months: int
    income_umk_share: float
    comfortable_multiple: float
    swing_limit_pct: int
    outlier_factor: int
    default_household_size: int
    min_income_sources: int
    risk_income_drop_pct: int
    package_goats: Mapping[str, int]
    goat_income_months: int
    herd_growth_target: float
    essential_items: tuple[str, ...]
    checklist_max_age_months: int
    version: str

    @cached_property
    def model_version(self) -> str:
        """'2.0+3f9a1c2e': the human version plus a short hash of every parameter."""
        return f"{self.version}+{config_hash(self)}"

    @cached_property
    def _lines_cache(self) -> dict[int, YearLines]:
        return {}

    @cached_property
    def _notes_cache(self) -> dict[int, tuple[str, ...]]:
        return {}

    @cached_property
    def _checklist_cache(self) -> dict[tuple[str, ...], tuple[Component, Gate]]:
        return {}

    def year_notes(self, year: int) -> tuple[str, ...]:
        """'Ambang: ... belum ada, dipakai nilai ...' lines for a year with a fallback."""
        cache = self._notes_cache
        found = cache.get(year)
        if found is None:
            found = cache[year] = tuple(f"Ambang: {t}" for t in self.lines(year).fallbacks(year))
        return found

    def lines(self, year: int) -> YearLines:
        """The poverty line, extreme line and UMK that hold for a calendar year."""
        cache = self._lines_cache
        found = cache.get(year)
        if found is None:
            pov, pov_year = pick_year(self.poverty_lines, year)
            ext, ext_year = pick_year(self.extreme_lines, year)
            umk, umk_year = pick_year(self.umks, year)
            found = cache[year] = YearLines(pov, ext, umk, pov_year, ext_year, umk_year)
        return found

    @cached_property
    def history_months(self) -> int:
        """How many months before the scored period the loader reads for every recipient."""
        return max(
            self.window_months,
            self.poverty_gate_of,
            self.umk_gate_of,
            self.min_verified_months,
        )

    @cached_property
    def goat_history_months(self) -> int:
        """The same for goat rearing, whose income is judged over goat_income_months."""
        return max(self.history_months, self.goat_income_months)

    def as_dict(self) -> dict[str, Any]:
        # shallow, not dataclasses.asdict: this runs at every rescore (model version hash)
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["weights"] = dict(self.weights)
        data["package_goats"] = dict(self.package_goats)
        for key in ("poverty_lines", "extreme_lines", "umks"):
            data[key] = [list(item) for item in getattr(self, key)]
        data["essential_items"] = list(self.essential_items)
        return data


def config_hash(params: Params) -> str:
    """A short hash of the parameters: part of the model version."""
    text = json.dumps(params.as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def year_table(values: Mapping[str, int]) -> YearTable:
    """{'2024': 2191161, ...} (config) -> ((2024, 2191161), ...) sorted by year."""
    return tuple(sorted((int(year), int(value)) for year, value in values.items()))


# The last (settings, Params) built: the bot passes the same frozen Settings object to every
# rescore, and a fresh Params would recompute its model version hash and threshold tables
# each time (a noticeable part of one recipient's update).
_last_params: list[tuple[Any, Params]] = []


def params_from_settings(settings: Any) -> Params:
    """Build Params from bot.config.Settings (duck-typed so this module imports nothing)."""
    if _last_params and _last_params[0][0] is settings:
        return _last_params[0][1]
    params = _params_from_settings(settings)
    _last_params[:] = [(settings, params)]
    return params


def _params_from_settings(settings: Any) -> Params:
    sc = settings.scoring
    th = settings.thresholds
    return Params(
        poverty_lines=year_table(th.poverty_line),
        extreme_lines=year_table(th.extreme_poverty_line),
        umks=year_table(th.umk),
        weights={key: getattr(sc, f"weight_{key}") for key in COMPONENT_KEYS},
        intensive_below=sc.intensive_below,
        poverty_gate_months=sc.poverty_gate_months,
        poverty_gate_of=sc.poverty_gate_of,
        umk_gate_months=sc.umk_gate_months,
        umk_gate_of=sc.umk_gate_of,
        umk_gate_share=sc.umk_gate_share,
        min_verified_months=sc.min_verified_months,
        window_months=sc.window_months,
        income_umk_share=sc.income_umk_share,
        comfortable_multiple=sc.comfortable_multiple,
        swing_limit_pct=sc.swing_limit_pct,
        outlier_factor=sc.outlier_factor,
        default_household_size=sc.default_household_size,
        min_income_sources=sc.min_income_sources,
        risk_income_drop_pct=sc.risk_income_drop_pct,
        package_goats=dict(sc.package_goats),
        goat_income_months=sc.goat_income_months,
        herd_growth_target=sc.herd_growth_target,
        essential_items=tuple(sc.essential_items),
        checklist_max_age_months=sc.checklist_max_age_months,
        version=sc.version,
    )


_GOAT_COUNT = re.compile(r"(\d+)\s*(?:ekor|ekr)?\s*(?:kambing|domba|ternak)", re.IGNORECASE)


def goats_in_package(text: str | None) -> int | None:
    """'Paket 2 ekor kambing betina' -> 2; None when the text names no goat count."""
    if not text:
        return None
    m = _GOAT_COUNT.search(text)
    return int(m.group(1)) if m else None


@lru_cache(maxsize=256)
def is_goat_programme(programme: str) -> bool:
    """Goat rearing ('ternak kambing', 'domba', ...): income judged over goat_income_months."""
    lowered = programme.lower()
    return any(word in lowered for word in GOAT_WORDS)


@dataclass(frozen=True)
class Baseline:
    """What is known about the family before the reports (P3KE import, hand-over)."""

    household_size: int | None = None  # register: jumlah anggota keluarga
    programme: str = ""
    assistance_value: int | None = None
    goats_received: int | None = None  # register column, else the package text (see service)
    start_period: str | None = None  # first period a report was expected ('YYYY-MM')


class Observation(NamedTuple):
    """One month's report as it counts (bot.services.read_model decides which one).

    verified: True = a facilitator confirmed the flagged value; None = nothing flagged;
    False = a cross-check flag is open, so the money/goat values do not count yet.
    """

    period: str
    business_status: str | None = STATUS_RUNNING
    revenue: int | None = None
    costs: int | None = None
    profit: int | None = None
    other_income: int | None = None
    household_size: int | None = None
    has_savings: bool | None = None
    keeps_books: bool | None = None
    income_sources: int | None = None
    equipment_ok: bool | None = None
    goats: int | None = None
    verified: bool | None = None
    goats_born: int | None = None
    goats_died: int | None = None
    goats_sold: int | None = None
    goats_sold_value: int | None = None


class Visit(NamedTuple):
    """A facilitator visit: date and the rubric scores (1-5 each, None if not given)."""

    visit_date: str  # YYYY-MM-DD
    rubric: tuple[int | None, ...] = ()
    business_running: bool | None = None


class CheckAnswer(NamedTuple):
    """The latest answer to one checklist item: True met, False not met, None unknown."""

    item: str
    met: bool | None
    checked_on: str  # YYYY-MM-DD


# --- outputs --------------------------------------------------------------------------------


class Component(NamedTuple):
    key: str
    value: Any  # the measured value (JSON-friendly)
    points: int
    max_points: int
    reason: str  # one line, Indonesian


class Gate(NamedTuple):
    key: str
    met: bool
    reason: str  # one line naming the figure and its threshold


def component_dicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    """Stored components -> dicts by field name.

    Stored as JSON lists in Component's field order (a third less to encode and write for
    100,000 recipients than objects); rows written before that hold objects, kept as they are.
    """
    return [
        dict(item) if isinstance(item, Mapping) else dict(zip(Component._fields, item, strict=True))
        for item in items
    ]


@dataclass(frozen=True)
class ScoreResult:
    period: str
    score: int
    band: str
    gate_met: bool  # every hard gate holds
    gate_months: int  # of the last umk_gate_of verified months, those at UMK level
    confidence: int  # percent: months counted / months expected in the window
    components: tuple[Component, ...]
    model_version: str
    inputs: dict[str, Any]
    gates: tuple[Gate, ...] = ()
    notes: tuple[str, ...] = ()  # explanation lines: unmet gates, fallbacks

    @property
    def band_label(self) -> str:
        return BAND_LABELS[self.band]

    def component(self, key: str) -> Component:
        return next(c for c in self.components if c.key == key)

    def gate(self, key: str) -> Gate:
        return next(g for g in self.gates if g.key == key)


# --- periods --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def period_index(period: str) -> int:
    """'2024-03' -> months since year 0 (so consecutive periods differ by 1)."""
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


@lru_cache(maxsize=4096)
def index_period(index: int) -> str:
    """The period 'YYYY-MM' of a month index (year * 12 + month - 1)."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def shift_period(period: str, months: int) -> str:
    """The period a number of months before (negative) or after this one."""
    return index_period(period_index(period) + months)


# --- helpers --------------------------------------------------------------------------------


def _rp(amount: float) -> str:
    """Rupiah text ('Rp2.191.161')."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(round(amount))):,}".replace(",", ".")


# Thresholds (lines, UMK) repeat for every family: their texts are cached. A family's own
# figures almost never repeat, and a cache miss costs more than the formatting it saves.
_rp_line = lru_cache(maxsize=256)(_rp)


def _points(weight: int, fraction: float) -> int:
    """Round half up, clamped to 0..weight: monotonic in fraction (NaN counts as 0)."""
    if not fraction > 0.0:
        return 0
    if fraction >= 1.0:
        return weight
    return int(weight * fraction + 0.5)


def household_income(obs: Observation) -> int | None:
    """Business net income (profit, else revenue - costs) plus other household income."""
    return _household(business_income(obs), obs.other_income)


def _household(business: int | None, other: int | None) -> int | None:
    if business is None and other is None:
        return None
    return (business or 0) + (other or 0)


def business_income(obs: Observation) -> int | None:
    """The month's profit: as reported, else revenue minus costs; None when unknown."""
    if obs.profit is not None:
        return obs.profit
    if obs.revenue is not None and obs.costs is not None:
        return obs.revenue - obs.costs
    if obs.revenue is not None:
        return obs.revenue
    return None


class _Month(NamedTuple):
    idx: int  # months since year 0 (period_index)
    obs: Observation
    income: int | None  # household income, None when it does not count (missing/unverified)
    business: int | None
    counted: bool  # money values count


def _prepare(observations: Sequence[Observation], period: str, params: Params) -> list[_Month]:
    """Observations up to the period, one per month, in order, with outliers held back.

    An observation whose verified flag is False does not count. One with no flag (None)
    whose household income exceeds outlier_factor x max(previous counted income, poverty
    line of its year) is treated as unverified (an absurd jump) until a facilitator confirms.
    """
    end = period_index(period)
    by_index: dict[int, Observation] = {}
    for obs in observations:
        idx = period_index(obs.period)
        if idx <= end:
            by_index[idx] = obs
    months: list[_Month] = []
    previous: int | None = None
    for idx in sorted(by_index):
        obs = by_index[idx]
        # business_income and _household inlined: this loop runs for every month of every
        # family in a batch (same rules, same order of tests)
        business = obs.profit
        if business is None and obs.revenue is not None:
            business = obs.revenue if obs.costs is None else obs.revenue - obs.costs
        other = obs.other_income
        income = None if business is None and other is None else (business or 0) + (other or 0)
        counted = obs.verified is not False and income is not None
        # cheap test first: the poverty line is only looked up for a large income
        if (
            counted
            and obs.verified is None
            and income is not None
            and income > params.outlier_factor * (previous or 0)
            and income > params.outlier_factor * params.lines(idx // 12).poverty
        ):
            counted = False
        if counted:
            previous = income
            months.append(_Month(idx, obs, income, business, True))
        else:
            months.append(_Month(idx, obs, None, None, False))
    return months


class _Counted(NamedTuple):
    """A counted month with what the gates and components judge it by."""

    idx: int
    obs: Observation
    business: int  # business income judged (goats: the average of goat_income_months)
    income: int  # business judged + other income
    household: int
    per_capita: float
    lines: YearLines


_NO_LINES = YearLines(0, 0, 0, 0, 0, 0)  # before the first month is judged


def _judged(
    all_months: Sequence[_Month], start: int, baseline: Baseline, params: Params
) -> tuple[list[_Counted], str]:
    """Counted months since hand-over with household size, judged business income, lines.

    Household size per month: the latest size reported up to that month (asked quarterly
    or when it changed), else the register's jumlah anggota keluarga, else the default.
    Returns (months, source of the latest size: 'laporan' | 'register' | 'default'); one
    pass over the months."""
    if baseline.household_size and baseline.household_size >= 1:
        fallback, source = baseline.household_size, "register"
    else:
        fallback, source = params.default_household_size, "default"
    goat = is_goat_programme(baseline.programme)
    span = params.goat_income_months
    out: list[_Counted] = []
    recent: list[tuple[int, int]] = []  # (index, business) of counted months, for goats
    known: int | None = None
    year, lines = -1, _NO_LINES
    for m in all_months:
        obs = m.obs
        reported_size = obs.household_size
        if reported_size is not None and reported_size >= 1:
            known = reported_size
        idx = m.idx
        if not m.counted or idx < start:
            continue
        business = m.business or 0
        if goat:
            recent.append((idx, business))
            while recent[0][0] <= idx - span:  # months come in order: drop from the front
                del recent[0]
            business = sum([b for _, b in recent]) // len(recent)
        income = business + (obs.other_income or 0)
        hh = known if known is not None else fallback
        if idx // 12 != year:
            year = idx // 12
            lines = params.lines(year)
        out.append(_Counted(idx, obs, business, income, hh, income / hh, lines))
    return out, "laporan" if known is not None else source


# --- the score ------------------------------------------------------------------------------


def compute_score(
    baseline: Baseline,
    observations: Sequence[Observation],
    visits: Sequence[Visit],
    period: str,
    params: Params,
    *,
    checklist: Sequence[CheckAnswer] = (),
    _months: Sequence[_Month] | None = None,
) -> ScoreResult:
    """The readiness score of one recipient for one period (see docs/scoring.md)."""
    w = params.weights
    end = period_index(period)
    all_months = _prepare(observations, period, params) if _months is None else _months
    handover = period_index(baseline.start_period) if baseline.start_period else None
    start = end - params.window_months + 1
    if handover is not None:
        start = max(start, handover)
    start = min(start, end)
    expected = end - start + 1
    first = index_period(start)
    window = [m for m in all_months if m.idx >= start]
    reported = len(window)
    judged, hh_source = _judged(
        all_months, handover if handover is not None else -1, baseline, params
    )
    counted = [c for c in judged if c.idx >= start]
    year_lines = params.lines(end // 12)
    notes: list[str] = list(params.year_notes(end // 12))
    hh_now: int | None
    if counted:
        hh_now = counted[-1].household
    elif hh_source == "register":
        hh_now = baseline.household_size
    else:
        hh_now = params.default_household_size
    if hh_source == "register":
        notes.append(
            f"Jumlah anggota keluarga belum dilaporkan; dipakai data register ({hh_now or '-'})"
        )
    elif hh_source == "default":
        notes.append(
            "Jumlah anggota keluarga tidak diketahui (laporan maupun register);"
            f" dianggap {params.default_household_size}"
        )

    confidence = len(counted) / expected if expected else 0.0
    if hh_source == "default":
        confidence *= 0.8
    states = checklist_states(checklist, period, params)
    check_points, check_gate = _checklist_judged(states, params)
    components = [
        _income(counted, params, w["income"]),
        _stability(judged, params, w["stability"]),
        _continuity(window, w["continuity"]),
        _assets(baseline, window, params, w["assets"]),
        _sources(judged, params, w["sources"]),
        _savings_books(window, w["savings_books"]),
        _facilitator(visits, first, period, w["facilitator"]),
        check_points,
    ]
    total = sum([c.points for c in components])
    umk_months = _umk_months(judged, params)
    gates = (
        _gate_poverty(judged, params),
        _gate_umk(judged, params, umk_months),
        _gate_months(judged, params),
        check_gate,
    )
    gate_met = all([g.met for g in gates])
    avg_per_capita = _average_per_capita(counted) if counted else 0.0
    below_extreme = bool(counted) and avg_per_capita < counted[-1].lines.extreme
    if gate_met:
        band = BAND_READY
    elif below_extreme or total < params.intensive_below:
        band = BAND_INTENSIVE
    else:
        band = BAND_TOWARDS
    unmet = [g.reason for g in gates if not g.met]
    unmet_gates = len(unmet)
    if below_extreme:
        unmet.append(
            f"Pendapatan per orang {_rp(avg_per_capita)} di bawah garis kemiskinan"
            f" ekstrem {_rp_line(counted[-1].lines.extreme)} ({counted[-1].lines.extreme_year}):"
            " perlu pendampingan intensif"
        )
    inputs = {
        "window": [first, period],
        "months_expected": expected,
        "months_reported": reported,
        "months_counted": len(counted),
        "household_size": hh_now,
        "household_size_source": hh_source,
        "incomes": {m.obs.period: m.income for m in window},
        "held_back": [m.obs.period for m in window if not m.counted],
        "visits": len(visits),
        "lines": {
            "poverty": [year_lines.poverty, year_lines.poverty_year],
            "extreme": [year_lines.extreme, year_lines.extreme_year],
            "umk": [year_lines.umk, year_lines.umk_year],
        },
        "gates": [[g.key, g.met, g.reason] for g in gates],  # unmet ones are notes too
        "checklist": states,
        "notes": unmet[unmet_gates:] + notes,
    }
    return ScoreResult(
        period=period,
        score=total,
        band=band,
        gate_met=gate_met,
        gate_months=umk_months,
        confidence=int(round(confidence * 100)),
        components=tuple(components),
        model_version=params.model_version,
        inputs=inputs,
        gates=gates,
        notes=tuple(unmet + notes),
    )


def _average_per_capita(counted: Sequence[_Counted]) -> float:
    recent = counted[-3:]
    return sum([c.per_capita for c in recent]) / len(recent)


def _month_name(index: int) -> str:
    return index_period(index)


def _gate_poverty(judged: Sequence[_Counted], params: Params) -> Gate:
    """(a) Household income per person >= poverty line in N of the last M verified months."""
    last = judged[-params.poverty_gate_of :]
    above = [c for c in last if c.per_capita >= c.lines.poverty]
    need = params.poverty_gate_months
    met = len(above) >= need
    if not last:
        return Gate("poverty_line", False, "Belum ada bulan terverifikasi untuk garis kemiskinan")
    c = last[-1]
    figure = (
        f"bulan {_month_name(c.idx)}: {_rp(c.income)} / {c.household} orang ="
        f" {_rp(c.per_capita)} per orang, garis kemiskinan {_rp_line(c.lines.poverty)}"
        f" ({c.lines.poverty_year})"
    )
    reason = (
        f"Pendapatan per orang di atas garis kemiskinan {len(above)} dari {len(last)} bulan"
        f" terverifikasi terakhir (perlu {need} dari {params.poverty_gate_of}); {figure}"
    )
    return Gate("poverty_line", met, reason)


def _umk_months(judged: Sequence[_Counted], params: Params) -> int:
    last = judged[-params.umk_gate_of :]
    share = params.umk_gate_share
    return sum([1 for c in last if c.business >= share * c.lines.umk])


def _gate_umk(judged: Sequence[_Counted], params: Params, count: int) -> Gate:
    """(b) Business income >= share x UMK in N of the last M verified months (count of them)."""
    last = judged[-params.umk_gate_of :]
    need = params.umk_gate_months
    if not last:
        return Gate("umk", False, "Belum ada bulan terverifikasi untuk laba usaha")
    c = last[-1]
    threshold = params.umk_gate_share * c.lines.umk
    share = "" if params.umk_gate_share == 1 else f"{int(round(params.umk_gate_share * 100))}% "
    reason = (
        f"Laba usaha setara UMK {count} dari {len(last)} bulan terverifikasi terakhir"
        f" (perlu {need} dari {params.umk_gate_of}); bulan {_month_name(c.idx)}:"
        f" laba {_rp(c.business)}, ambang {share}UMK {c.lines.umk_year} {_rp_line(threshold)}"
    )
    return Gate("umk", count >= need, reason)


def _gate_months(judged: Sequence[_Counted], params: Params) -> Gate:
    """(c) Enough verified months of observation since hand-over."""
    n = len(judged)
    need = params.min_verified_months
    reason = f"{n} bulan laporan terverifikasi sejak penyerahan (perlu {need})"
    return Gate("months", n >= need, reason)


def checklist_states(answers: Sequence[CheckAnswer], period: str, params: Params) -> dict[str, str]:
    """item -> met | not_met | unknown. An answer older than checklist_max_age_months before
    the period's end counts as unknown; an item never asked is unknown. Answers given in the
    month after the period count too (a period is scored while the next month runs, when the
    kunjungan graduasi takes place); later ones belong to later periods."""
    states = dict.fromkeys(CHECKLIST_ITEMS, UNKNOWN)
    if not answers:  # most families between two kunjungan graduasi
        return states
    end = period_index(period)
    oldest = end - params.checklist_max_age_months + 1
    for a in answers:
        if a.item not in states:
            continue
        month = period_index(a.checked_on[:7])
        if month < oldest or month > end + 1:
            continue
        states[a.item] = UNKNOWN if a.met is None else (MET if a.met else NOT_MET)
    return states


_STATE_WORDS = {MET: "terpenuhi", NOT_MET: "belum terpenuhi", UNKNOWN: "belum diketahui"}


def _gate_checklist(states: Mapping[str, str], params: Params) -> Gate:
    """(d) Every essential checklist item met (unknown is not met)."""
    missing = [i for i in params.essential_items if states.get(i, UNKNOWN) != MET]
    if not missing:
        return Gate("checklist", True, "Semua butir penting kunjungan graduasi terpenuhi")
    parts = [f"{item} {_STATE_WORDS[states.get(item, UNKNOWN)]}" for item in missing]
    return Gate("checklist", False, "Butir penting kunjungan graduasi: " + ", ".join(parts))


def _per_capita_fraction(pc: float, lines: YearLines, params: Params) -> float:
    """0 at Rp0, 0.3 at the extreme line, 0.6 at the poverty line, 1 at comfortable x line."""
    ext, pov = lines.extreme, lines.poverty
    top = pov * params.comfortable_multiple
    if pc <= 0:
        return 0.0
    if pc < ext:
        return 0.3 * pc / ext
    if pc < pov:
        return 0.3 + 0.3 * (pc - ext) / (pov - ext)
    if pc < top:
        return 0.6 + 0.4 * (pc - pov) / (top - pov)
    return 1.0


def _income(counted: Sequence[_Counted], params: Params, weight: int) -> Component:
    """Each of the last 3 counted months against its own year's lines and UMK."""
    recent = counted[-3:]
    if not recent:
        return Component(
            "income", None, 0, weight, "Belum ada pendapatan yang terverifikasi di periode ini"
        )
    n = len(recent)
    # one walk; the sums add in the same order as sum() did, so every figure is unchanged
    sum_fpc = sum_fumk = sum_pc = 0.0
    sum_business = 0
    for c in recent:
        sum_fpc += _per_capita_fraction(c.per_capita, c.lines, params)
        sum_fumk += min(1.0, max(0.0, c.business / c.lines.umk))
        sum_pc += c.per_capita
        sum_business += c.business
    f_pc = sum_fpc / n
    f_umk = sum_fumk / n
    share = params.income_umk_share
    points = _points(weight, (1 - share) * f_pc + share * f_umk)
    pc = sum_pc / n
    avg_business = sum_business / n
    lines = recent[-1].lines
    if pc < lines.extreme:
        where = (
            f"di bawah garis kemiskinan ekstrem {_rp_line(lines.extreme)} ({lines.extreme_year})"
        )
    elif pc < lines.poverty:
        where = f"di bawah garis kemiskinan {_rp_line(lines.poverty)} ({lines.poverty_year})"
    else:
        where = f"di atas garis kemiskinan {_rp_line(lines.poverty)} ({lines.poverty_year})"
    reason = (
        f"Pendapatan per orang {_rp(pc)}/bulan, {where};"
        f" laba usaha {_rp(avg_business)} = {int(round(100 * f_umk))}% UMK {lines.umk_year}"
    )
    value = {"per_capita": int(round(pc)), "business": int(round(avg_business)), "months": n}
    return Component("income", value, points, weight, reason)


def _stability(judged: Sequence[_Counted], params: Params, weight: int) -> Component:
    """Share of the last M verified months above the poverty line, x (0.6 + 0.4 x steadiness).

    A family that never reaches the line gets 0, however flat its income (flat poverty is
    not stability)."""
    last = judged[-params.poverty_gate_of :]
    if not last:
        return Component("stability", None, 0, weight, "Belum ada data untuk menilai kestabilan")
    above = 0
    swing_sum = 0.0
    prev: int | None = None
    for c in last:  # one walk: months above the line, month-to-month swings in order
        if c.per_capita >= c.lines.poverty:
            above += 1
        if prev is not None:
            swing_sum += abs(c.income - prev) / max(abs(prev), 1) * 100
        prev = c.income
    f_above = above / params.poverty_gate_of
    avg_swing: float | None
    if len(last) > 1:
        avg_swing = swing_sum / (len(last) - 1)
        f_swing = max(0.0, 1 - avg_swing / params.swing_limit_pct)
        swing_text = f"naik-turun rata-rata {int(round(avg_swing))}% per bulan"
    else:
        avg_swing = None
        f_swing = 0.0
        swing_text = "naik-turun belum bisa dinilai (baru 1 bulan)"
    points = _points(weight, f_above * (0.6 + 0.4 * f_swing))
    reason = (
        f"{above} dari {params.poverty_gate_of} bulan terakhir di atas garis kemiskinan;"
        f" {swing_text}"
    )
    value = {
        "months_above_line": above,
        "avg_swing_pct": None if avg_swing is None else int(round(avg_swing)),
    }
    return Component("stability", value, points, weight, reason)


_STATUS_FRACTION = {STATUS_RUNNING: 1.0, STATUS_PAUSED: 0.4}
_STATUS_TEXT = {
    STATUS_RUNNING: "Usaha berjalan",
    STATUS_PAUSED: "Usaha berhenti sementara",
    STATUS_CLOSED: "Usaha tutup",
}


def _continuity(window: Sequence[_Month], weight: int) -> Component:
    """Business status of the latest report: berjalan 1, berhenti sementara 0.4, tutup 0."""
    if not window:
        return Component("continuity", None, 0, weight, "Belum ada laporan tentang usaha")
    status = window[-1].obs.business_status
    f_status = _STATUS_FRACTION.get(status or "", 0.0)
    status_text = _STATUS_TEXT.get(status or "", "Status usaha tidak diketahui")
    return Component("continuity", {"status": status}, _points(weight, f_status), weight,
                     status_text)  # fmt: skip


def goats_received(baseline: Baseline, params: Params) -> tuple[int | None, str]:
    """Goats handed over and where the number comes from ('register' | 'default')."""
    if baseline.goats_received is not None:
        return baseline.goats_received, "register"
    default = params.package_goats.get(baseline.programme.lower())
    if default is None and is_goat_programme(baseline.programme):
        default = params.package_goats.get("ternak kambing")
    return (default or None), "default"


def _latest_goats(months: Sequence[_Month]) -> int | None:
    for m in reversed(months):
        if m.obs.goats is not None and m.obs.verified is not False:
            return m.obs.goats
    return None


def _assets(baseline: Baseline, window: Sequence[_Month], params: Params, weight: int) -> Component:
    """Productive assets: herd now / (received x herd_growth_target), or equipment ok."""
    if not window:
        return Component("assets", None, 0, weight, "Belum ada laporan tentang aset usaha")
    received, source = goats_received(baseline, params)
    goats_now = _latest_goats(window)
    if is_goat_programme(baseline.programme) and received and goats_now is not None:
        sold = sum([m.obs.goats_sold or 0 for m in window if m.obs.verified is not False])
        f_asset = min(1.0, max(0, goats_now) / (received * params.herd_growth_target))
        text = f"Kambing {goats_now} dari {received} yang diterima"
        if source == "default":
            text += " (jumlah diterima dari bawaan konfigurasi)"
        if sold:
            text += f"; {sold} dijual"
        value: dict[str, Any] = {"goats": goats_now, "goats_received": received, "sold": sold}
        return Component("assets", value, _points(weight, f_asset), weight, text)
    equipment = None
    for m in reversed(window):
        if m.obs.equipment_ok is not None:
            equipment = m.obs.equipment_ok
            break
    if equipment is None:
        f_asset, text = 0.5, "Keadaan alat/aset belum dilaporkan"
    elif equipment:
        f_asset, text = 1.0, "Alat usaha masih ada dan baik"
    else:
        f_asset, text = 0.0, "Alat usaha rusak atau tidak ada"
    equipment_value: dict[str, Any] = {
        "equipment_ok": equipment,
        "goats": goats_now,
        "goats_received": received,
    }
    return Component("assets", equipment_value, _points(weight, f_asset), weight, text)


def _sources(judged: Sequence[_Counted], params: Params, weight: int) -> Component:
    """Real sources in the latest counted month: business income > 0, other income > 0."""
    if not judged:
        return Component("sources", None, 0, weight, "Sumber pendapatan belum bisa dinilai")
    c = judged[-1]
    names = []
    if c.business > 0:
        names.append("usaha")
    if (c.obs.other_income or 0) > 0:
        names.append("penghasilan lain (bukan bansos)")
    n = len(names)
    reason = f"{n} sumber pendapatan nyata" + (f": {', '.join(names)}" if names else "")
    return Component("sources", n, _points(weight, n / params.min_income_sources), weight, reason)


def _savings_books(window: Sequence[_Month], weight: int) -> Component:
    savings = books = None
    for m in reversed(window):
        if savings is None:
            savings = m.obs.has_savings
        if books is None:
            books = m.obs.keeps_books
        if savings is not None and books is not None:
            break
    half = weight / 2
    points = min(weight, int((half if savings else 0) + (half if books else 0) + 0.5))
    parts = [
        "punya tabungan"
        if savings
        else ("belum menabung" if savings is False else "tabungan belum dilaporkan"),
        "mencatat keuangan usaha"
        if books
        else ("belum mencatat keuangan" if books is False else "pembukuan belum dilaporkan"),
    ]
    value = {"savings": savings, "books": books}
    return Component("savings_books", value, points, weight, "; ".join(parts).capitalize())


def _facilitator(visits: Sequence[Visit], first: str, period: str, weight: int) -> Component:
    """The latest rated visit inside the window: mean rubric 1..5 -> 0..weight."""
    cutoff = shift_period(period, 1) + "-01"
    since = first + "-01"
    visit = None
    for v in visits:
        if (
            since <= v.visit_date < cutoff
            and (visit is None or v.visit_date > visit.visit_date)
            and any(r is not None for r in v.rubric)
        ):
            visit = v
    if visit is None:
        return Component("facilitator", None, 0, weight, "Belum ada penilaian kunjungan pendamping")
    marks = [r for r in visit.rubric if r is not None]
    mean = sum(marks) / len(marks)
    points = _points(weight, (mean - 1) / 4)
    reason = f"Kunjungan {visit.visit_date}: nilai rata-rata {mean:.1f} dari 5"
    return Component("facilitator", round(mean, 2), points, weight, reason)


def _checklist_judged(states: dict[str, str], params: Params) -> tuple[Component, Gate]:
    """The checklist component and gate of these states.

    Both depend only on the states (always CHECKLIST_ITEMS, in that order), so they are
    worked out once per combination and shared; each family still gets its own dict."""
    key = tuple(states.values())
    cache = params._checklist_cache
    found = cache.get(key)
    if found is None:
        found = cache[key] = (
            _checklist_points(states, params.weights["checklist"]),
            _gate_checklist(states, params),
        )
    component, gate = found
    return component._replace(value=dict(states)), gate


def _checklist_points(states: Mapping[str, str], weight: int) -> Component:
    values = list(states.values())
    met = values.count(MET)
    unknown = values.count(UNKNOWN)
    n = len(states)
    reason = f"Kunjungan graduasi: {met} dari {n} butir terpenuhi"
    if unknown:
        reason += f", {unknown} belum diketahui"
    return Component("checklist", dict(states), _points(weight, met / n), weight, reason)


# --- risk flags -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskFlag:
    kind: str
    details: dict[str, Any]


def risk_flags(
    baseline: Baseline,
    observations: Sequence[Observation],
    period: str,
    params: Params,
    *,
    reachable: bool = True,
) -> list[RiskFlag]:
    """Risks to raise into the next digest for this period (see docs/scoring.md)."""
    months = _prepare(observations, period, params)
    return _risks(baseline, months, period_index(period), params, reachable)


def assess(
    baseline: Baseline,
    observations: Sequence[Observation],
    visits: Sequence[Visit],
    period: str,
    params: Params,
    *,
    reachable: bool = True,
    checklist: Sequence[CheckAnswer] = (),
) -> tuple[ScoreResult, list[RiskFlag]]:
    """The score and the risk flags together (the observations are prepared once)."""
    months = _prepare(observations, period, params)
    result = compute_score(
        baseline, observations, visits, period, params, checklist=checklist, _months=months
    )
    return result, _risks(baseline, months, period_index(period), params, reachable)


def herd_check(prev: Observation, cur: Observation) -> int | None:
    """Goats now minus (previous + births - deaths - sold); None when it cannot be checked."""
    if prev.goats is None or cur.goats is None:
        return None
    if cur.goats_born is None and cur.goats_died is None and cur.goats_sold is None:
        return None
    expected = prev.goats + (cur.goats_born or 0) - (cur.goats_died or 0) - (cur.goats_sold or 0)
    return cur.goats - expected


def _risks(
    baseline: Baseline, all_months: Sequence[_Month], end: int, params: Params, reachable: bool
) -> list[RiskFlag]:
    # all_months (from _prepare) is sorted, one per month, none after `end`: the months the
    # rules look at, end - 2 .. end, are among the last three
    cur: _Month | None = None
    prev: _Month | None = None
    two_ago: _Month | None = None
    for m in all_months[-3:]:
        if m.idx == end:
            cur = m
        elif m.idx == end - 1:
            prev = m
        elif m.idx == end - 2:
            two_ago = m
    flags: list[RiskFlag] = []
    stopped = (STATUS_PAUSED, STATUS_CLOSED)
    if (
        cur is not None
        and prev is not None
        and cur.obs.business_status in stopped
        and prev.obs.business_status in stopped
    ):
        flags.append(
            RiskFlag(
                "business_stopped",
                {"statuses": [prev.obs.business_status, cur.obs.business_status]},
            )
        )
    if (
        cur is not None
        and two_ago is not None
        and cur.counted
        and two_ago.counted
        and (two_ago.income or 0) > 0
        and not is_goat_programme(baseline.programme)  # goat income is judged over a year
    ):
        drop = ((two_ago.income or 0) - (cur.income or 0)) / (two_ago.income or 1) * 100
        if drop > params.risk_income_drop_pct:
            flags.append(
                RiskFlag(
                    "income_drop",
                    {"from": two_ago.income, "to": cur.income, "drop_pct": int(round(drop))},
                )
            )
    started = baseline.start_period is None or period_index(baseline.start_period) <= end - 1
    if started and cur is None and prev is None:
        flags.append(RiskFlag("no_report", {"periods": [index_period(end - 1), index_period(end)]}))
    received = goats_received(baseline, params)[0] if is_goat_programme(baseline.programme) else 0
    if received:
        latest_goats = _latest_goats(all_months)
        sold = sum([m.obs.goats_sold or 0 for m in all_months if m.obs.verified is not False])
        # a sale is not a loss: goats sold count as kept (their value is revenue)
        if latest_goats is not None and latest_goats + sold < received:
            flags.append(
                RiskFlag("goats_lost", {"goats": latest_goats, "received": received, "sold": sold})
            )
    if cur is not None and (cur.obs.goats_died or 0) > 0:
        flags.append(RiskFlag("goats_died", {"died": cur.obs.goats_died}))
    if cur is not None and prev is not None:
        diff = herd_check(prev.obs, cur.obs)
        if diff:
            flags.append(
                RiskFlag(
                    "goats_mismatch",
                    {"previous": prev.obs.goats, "now": cur.obs.goats, "difference": diff},
                )
            )
    if not reachable:
        flags.append(RiskFlag("unreachable", {}))
    return flags


# --- progress view for the recipient (never a score or band) ---------------------------------


@dataclass(frozen=True)
class Progress:
    """What /kemajuan shows the recipient: profit trend, what goes well, one next step."""

    profits: list[tuple[str, int]]  # (period, business profit) of counted months, oldest first
    trend: str  # 'up' | 'down' | 'flat' | 'unknown'
    going_well: list[str]  # keys: running, savings, books, sources, goats, reporting
    next_step: str  # key
    compared_to: str | None = None  # the trend compares the latest month with this one
    missing: list[str] = field(default_factory=list)  # months between them with no report


def progress_view(
    result: ScoreResult, observations: Sequence[Observation], params: Params
) -> Progress:
    """What /kemajuan shows a family: profit trend, what goes well, one next step."""
    months = [m for m in _prepare(observations, result.period, params) if m.counted]
    months = months[-params.window_months :]
    profits = [(index_period(m.idx), int(m.business or 0)) for m in months]
    trend, compared_to, missing = _latest_trend(months)
    comp = {c.key: c for c in result.components}
    well = []
    if (comp["continuity"].value or {}).get("status") == STATUS_RUNNING:
        well.append("running")
    sb = comp["savings_books"].value or {}
    if sb.get("savings"):
        well.append("savings")
    if sb.get("books"):
        well.append("books")
    if (comp["sources"].value or 0) >= params.min_income_sources:
        well.append("sources")
    assets = comp["assets"].value or {}
    if (
        assets.get("goats_received")
        and assets.get("goats") is not None
        and assets["goats"] + (assets.get("sold") or 0) >= assets["goats_received"]
    ):
        well.append("goats")
    if result.inputs.get("months_reported") == result.inputs.get("months_expected"):
        well.append("reporting")
    # one next step: the component with the largest gap between max and points, in plain words
    steps = {
        "savings_books": "books" if not sb.get("books") else "savings",
        "sources": "sources",
        "continuity": "keep_running",
        "assets": "keep_running",
        "income": "grow_profit",
        "stability": "steady",
        "facilitator": "visit",
        "checklist": "visit",
    }
    gaps = sorted(
        (c for c in result.components if c.max_points - c.points > 0),
        key=lambda c: (
            -(c.max_points - c.points) / max(c.max_points, 1),
            COMPONENT_KEYS.index(c.key),
        ),
    )
    if "reporting" not in well and result.inputs.get("months_expected"):
        next_step = "report_monthly"
    else:
        next_step = steps[gaps[0].key] if gaps else "keep_going"
    return Progress(profits, trend, well, next_step, compared_to, missing)


def _latest_trend(months: Sequence[_Month]) -> tuple[str, str | None, list[str]]:
    """The latest reported month against the reported month before it (months with no report
    are skipped, not read as a fall); when that is flat, against the window's first month:
    (trend, the month compared with, the months between them with no report)."""
    if len(months) < 2:
        return "unknown", None, []

    def direction(a: int, b: int) -> str:
        margin = abs(a) * 0.05
        return "up" if b > a + margin else "down" if b < a - margin else "flat"

    before, last = months[-2], months[-1]
    trend = direction(int(before.business or 0), int(last.business or 0))
    if trend == "flat" and len(months) > 2:
        trend = direction(int(months[0].business or 0), int(last.business or 0))
        if trend != "flat":
            before = months[0]
    reported = {m.idx for m in months}
    gap = [index_period(i) for i in range(before.idx + 1, last.idx) if i not in reported]
    return trend, index_period(before.idx), gap
