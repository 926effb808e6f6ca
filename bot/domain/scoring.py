"""Graduation readiness score: a pure function from baseline + monthly observations + visits.

No I/O. The method, its sources and worked examples are in docs/scoring.md; every rule below
is written there in words. The score recommends; staff decide (UU 27/2022).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
    "sources",
    "savings_books",
    "facilitator",
    "reporting",
)

RISK_KINDS = ("business_stopped", "income_drop", "no_report", "goats_lost", "unreachable")


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    """Everything the score depends on besides the recipient's data.

    No defaults here: the defaults live once, in bot.config (ScoringSettings, Thresholds), and
    params_from_settings is the one way in."""

    poverty_line: int
    extreme_poverty_line: int
    umk: int
    weights: Mapping[str, int]
    ready_score: int
    intensive_below: int
    gate_months: int
    window_months: int
    income_umk_share: float
    comfortable_multiple: float
    swing_limit_pct: int
    outlier_factor: int
    default_household_size: int
    min_income_sources: int
    risk_income_drop_pct: int
    package_goats: Mapping[str, int]
    version: str

    @cached_property
    def model_version(self) -> str:
        """'1.0+3f9a1c2e': the human version plus a short hash of every parameter."""
        return f"{self.version}+{config_hash(self)}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["weights"] = dict(self.weights)
        data["package_goats"] = dict(self.package_goats)
        return data


def config_hash(params: Params) -> str:
    text = json.dumps(params.as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def params_from_settings(settings: Any) -> Params:
    """Build Params from bot.config.Settings (duck-typed so this module imports nothing)."""
    sc = settings.scoring
    th = settings.thresholds
    return Params(
        poverty_line=th.poverty_line,
        extreme_poverty_line=th.extreme_poverty_line,
        umk=th.umk,
        weights={
            "income": sc.weight_income,
            "stability": sc.weight_stability,
            "continuity": sc.weight_continuity,
            "sources": sc.weight_sources,
            "savings_books": sc.weight_savings_books,
            "facilitator": sc.weight_facilitator,
            "reporting": sc.weight_reporting,
        },
        ready_score=sc.ready_score,
        intensive_below=sc.intensive_below,
        gate_months=sc.gate_months,
        window_months=sc.window_months,
        income_umk_share=sc.income_umk_share,
        comfortable_multiple=sc.comfortable_multiple,
        swing_limit_pct=sc.swing_limit_pct,
        outlier_factor=sc.outlier_factor,
        default_household_size=sc.default_household_size,
        min_income_sources=sc.min_income_sources,
        risk_income_drop_pct=sc.risk_income_drop_pct,
        package_goats=dict(sc.package_goats),
        version=sc.version,
    )


@dataclass(frozen=True)
class Baseline:
    """What is known about the family before the reports (P3KE import, hand-over)."""

    household_size: int | None = None
    programme: str = ""
    assistance_value: int | None = None
    goats_received: int | None = None  # None: assume the programme's package (Params)
    start_period: str | None = None  # first period a report was expected ('YYYY-MM')


class Observation(NamedTuple):
    """One month's report as it counts (see services.scoring for which revision counts).

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


class Visit(NamedTuple):
    """A facilitator visit: date and the rubric scores (1-5 each, None if not given)."""

    visit_date: str  # YYYY-MM-DD
    rubric: tuple[int | None, ...] = ()
    business_running: bool | None = None


# --- outputs --------------------------------------------------------------------------------


class Component(NamedTuple):
    key: str
    value: Any  # the measured value (JSON-friendly)
    points: int
    max_points: int
    reason: str  # one line, Indonesian


def component_dicts(items: Sequence[Any]) -> list[dict[str, Any]]:
    """Stored components -> dicts by field name.

    Stored as JSON lists in Component's field order (a third less to encode and write for
    100,000 recipients than objects); rows written before that hold objects, kept as they are.
    """
    return [
        item if isinstance(item, Mapping) else dict(zip(Component._fields, item, strict=True))
        for item in items
    ]


@dataclass(frozen=True)
class ScoreResult:
    period: str
    score: int
    band: str
    gate_met: bool
    gate_months: int  # consecutive months (ending at the period) business profit >= UMK
    confidence: int  # percent: months counted / months expected in the window
    components: tuple[Component, ...]
    model_version: str
    inputs: dict[str, Any]

    @property
    def band_label(self) -> str:
        return BAND_LABELS[self.band]

    def component(self, key: str) -> Component:
        return next(c for c in self.components if c.key == key)


# --- periods --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def period_index(period: str) -> int:
    """'2024-03' -> months since year 0 (so consecutive periods differ by 1)."""
    year, month = period.split("-")
    return int(year) * 12 + int(month) - 1


def index_period(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def shift_period(period: str, months: int) -> str:
    return index_period(period_index(period) + months)


# --- helpers --------------------------------------------------------------------------------


def _rp(amount: float) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(round(amount))):,}".replace(",", ".")


def _points(weight: int, fraction: float) -> int:
    """Round half up, clamped to 0..weight: monotonic in fraction (NaN counts as 0).

    Branches rather than min/max: this runs seven times per recipient in the batch."""
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
    if obs.profit is not None:
        return obs.profit
    if obs.revenue is not None and obs.costs is not None:
        return obs.revenue - obs.costs
    if obs.revenue is not None:
        return obs.revenue
    return None


class _Month(NamedTuple):
    index: int
    obs: Observation
    income: int | None  # household income, None when it does not count (missing/unverified)
    business: int | None
    counted: bool  # money values count


def _prepare(observations: Sequence[Observation], period: str, params: Params) -> list[_Month]:
    """Observations up to the period, one per month, in order, with outliers held back.

    An observation whose verified flag is False does not count. One with no flag (None)
    whose household income exceeds outlier_factor x max(previous counted income, poverty
    line) is treated as unverified (an absurd jump) until a facilitator confirms it.
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
        business = business_income(obs)
        income = _household(business, obs.other_income)
        counted = obs.verified is not False and income is not None
        if counted and obs.verified is None and income is not None:
            base = max(previous or 0, params.poverty_line)
            if income > params.outlier_factor * base:
                counted = False
        if counted:
            previous = income
            months.append(_Month(idx, obs, income, business, True))
        else:
            months.append(_Month(idx, obs, None, None, False))
    return months


# --- the score ------------------------------------------------------------------------------


def compute_score(
    baseline: Baseline,
    observations: Sequence[Observation],
    visits: Sequence[Visit],
    period: str,
    params: Params,
    *,
    _months: Sequence[_Month] | None = None,
) -> ScoreResult:
    """The readiness score of one recipient for one period (see docs/scoring.md)."""
    w = params.weights
    end = period_index(period)
    all_months = _prepare(observations, period, params) if _months is None else _months
    start = end - params.window_months + 1
    if baseline.start_period:
        start = max(start, period_index(baseline.start_period))
    start = min(start, end)
    expected = end - start + 1
    first = index_period(start)
    window = [m for m in all_months if m.index >= start]
    counted = [m for m in window if m.counted]
    reported = len(window)
    latest = window[-1].obs if window else (all_months[-1].obs if all_months else None)

    # household size: latest reported >= 1, else baseline >= 1, else the configured default
    hh: int | None = None
    for m in reversed(window):
        if m.obs.household_size and m.obs.household_size >= 1:
            hh = m.obs.household_size
            break
    hh_known = True
    if hh is None:
        if baseline.household_size and baseline.household_size >= 1:
            hh = baseline.household_size
        else:
            hh = params.default_household_size
            hh_known = False

    confidence = len(counted) / expected if expected else 0.0
    if not hh_known:
        confidence *= 0.8
    components = [
        _income(counted, hh, hh_known, params, w["income"]),
        _stability(counted, hh, params, w["stability"]),
        _continuity(baseline, window, params, w["continuity"]),
        _sources(latest, params, w["sources"]),
        _savings_books(window, w["savings_books"]),
        _facilitator(visits, first, period, w["facilitator"]),
        _reporting(reported, expected, w["reporting"]),
    ]
    total = sum([c.points for c in components])
    gate = _gate_streak(all_months, end, params.umk)
    gate_met = gate >= params.gate_months
    if total >= params.ready_score and gate_met:
        band = BAND_READY
    elif total >= params.intensive_below:
        band = BAND_TOWARDS
    else:
        band = BAND_INTENSIVE
    inputs = {
        "window": [first, period],
        "months_expected": expected,
        "months_reported": reported,
        "months_counted": len(counted),
        "household_size": hh,
        "household_size_known": hh_known,
        "incomes": {m.obs.period: m.income for m in window},
        "held_back": [m.obs.period for m in window if not m.counted],
        "visits": len(visits),
    }
    return ScoreResult(
        period=period,
        score=total,
        band=band,
        gate_met=gate_met,
        gate_months=gate,
        confidence=int(round(confidence * 100)),
        components=tuple(components),
        model_version=params.model_version,
        inputs=inputs,
    )


def _gate_streak(months: Sequence[_Month], end: int, umk: int) -> int:
    """Consecutive reported months ending at the period with business income >= UMK.

    The PENA gate needs evidence: a missing or unverified month breaks the streak.
    """
    by_index = {m.index: m for m in months}
    streak = 0
    idx = end
    while True:
        m = by_index.get(idx)
        if m is None or not m.counted or m.business is None or m.business < umk:
            return streak
        streak += 1
        idx -= 1


def _per_capita_fraction(pc: float, params: Params) -> float:
    """0 at Rp0, 0.3 at the extreme line, 0.6 at the poverty line, 1 at comfortable x line."""
    ext, pov = params.extreme_poverty_line, params.poverty_line
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


def _income(
    counted: Sequence[_Month], hh: int, hh_known: bool, params: Params, weight: int
) -> Component:
    recent = counted[-3:]
    if not recent:
        return Component(
            "income", None, 0, weight, "Belum ada pendapatan yang terverifikasi di periode ini"
        )
    avg_income = sum([m.income or 0 for m in recent]) / len(recent)
    avg_business = sum([m.business or 0 for m in recent]) / len(recent)
    pc = avg_income / hh
    f_pc = _per_capita_fraction(pc, params)
    f_umk = min(1.0, max(0.0, avg_business / params.umk))
    share = params.income_umk_share
    points = _points(weight, (1 - share) * f_pc + share * f_umk)
    if pc < params.extreme_poverty_line:
        where = "di bawah garis kemiskinan ekstrem"
    elif pc < params.poverty_line:
        where = "di bawah garis kemiskinan"
    else:
        where = "di atas garis kemiskinan"
    hh_note = "" if hh_known else f" (anggota keluarga tidak diketahui, dianggap {hh})"
    reason = (
        f"Pendapatan per orang {_rp(pc)}/bulan, {where}{hh_note}; "
        f"laba usaha {_rp(avg_business)} = {int(round(100 * avg_business / params.umk))}% UMK"
    )
    value = {
        "per_capita": int(round(pc)),
        "business": int(round(avg_business)),
        "months": len(recent),
    }
    return Component("income", value, points, weight, reason)


def _stability(counted: Sequence[_Month], hh: int, params: Params, weight: int) -> Component:
    """60%: counted months in a row at/above the poverty line (gaps skipped); 40%: swings."""
    if not counted:
        return Component("stability", None, 0, weight, "Belum ada data untuk menilai kestabilan")
    incomes = [m.income or 0 for m in counted]
    streak = 0
    for income in reversed(incomes):
        if income / hh >= params.poverty_line:
            streak += 1
        else:
            break
    f_streak = min(streak, params.gate_months) / params.gate_months
    swings = [
        abs(cur - prev) / max(abs(prev), 1) * 100
        for prev, cur in zip(incomes, incomes[1:], strict=False)
    ]
    if swings:
        avg_swing = sum(swings) / len(swings)
        f_swing = max(0.0, 1 - avg_swing / params.swing_limit_pct)
        swing_text = f"naik-turun rata-rata {int(round(avg_swing))}% per bulan"
    else:
        avg_swing = None
        f_swing = 0.0
        swing_text = "naik-turun belum bisa dinilai (baru 1 bulan)"
    points = _points(weight, 0.6 * f_streak + 0.4 * f_swing)
    reason = f"{streak} bulan berturut-turut di atas garis kemiskinan; {swing_text}"
    value = {
        "months_above_line": streak,
        "avg_swing_pct": None if avg_swing is None else int(round(avg_swing)),
    }
    return Component("stability", value, points, weight, reason)


def _continuity(
    baseline: Baseline, window: Sequence[_Month], params: Params, weight: int
) -> Component:
    """60%: business status of the latest report; 40%: goats kept, or equipment still ok."""
    if not window:
        return Component("continuity", None, 0, weight, "Belum ada laporan tentang usaha")
    latest = window[-1].obs
    status = latest.business_status
    f_status = {STATUS_RUNNING: 1.0, STATUS_PAUSED: 0.4}.get(status or "", 0.0)
    status_text = {
        STATUS_RUNNING: "usaha berjalan",
        STATUS_PAUSED: "usaha berhenti sementara",
        STATUS_CLOSED: "usaha tutup",
    }.get(status or "", "status usaha tidak diketahui")
    received = baseline.goats_received
    if received is None:
        received = params.package_goats.get(baseline.programme, 0) or None
    goats_now = None
    for m in reversed(window):
        if m.obs.goats is not None and m.obs.verified is not False:
            goats_now = m.obs.goats
            break
    if received and goats_now is not None:
        f_asset = min(1.0, max(0, goats_now) / received)
        asset_text = f"kambing {goats_now} dari {received} yang diterima"
    else:
        equipment = None
        for m in reversed(window):
            if m.obs.equipment_ok is not None:
                equipment = m.obs.equipment_ok
                break
        if equipment is None:
            f_asset = 0.5
            asset_text = "keadaan alat/aset belum dilaporkan"
        elif equipment:
            f_asset = 1.0
            asset_text = "alat usaha masih ada dan baik"
        else:
            f_asset = 0.0
            asset_text = "alat usaha rusak atau tidak ada"
    points = _points(weight, 0.6 * f_status + 0.4 * f_asset)
    value = {"status": status, "goats": goats_now, "goats_received": received}
    return Component("continuity", value, points, weight, f"{status_text}; {asset_text}")


def _sources(latest: Observation | None, params: Params, weight: int) -> Component:
    n = latest.income_sources if latest is not None else None
    if n is None:
        return Component("sources", None, 0, weight, "Jumlah sumber pendapatan belum dilaporkan")
    n = max(0, n)
    points = _points(weight, n / params.min_income_sources)
    return Component("sources", n, points, weight, f"{n} sumber pendapatan keluarga")


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


def _reporting(reported: int, expected: int, weight: int) -> Component:
    fraction = reported / expected if expected else 0.0
    points = _points(weight, fraction)
    reason = f"Melapor {reported} dari {expected} bulan"
    return Component("reporting", [reported, expected], points, weight, reason)


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
) -> tuple[ScoreResult, list[RiskFlag]]:
    """The score and the risk flags together (the observations are prepared once)."""
    months = _prepare(observations, period, params)
    result = compute_score(baseline, observations, visits, period, params, _months=months)
    return result, _risks(baseline, months, period_index(period), params, reachable)


def _risks(
    baseline: Baseline, all_months: Sequence[_Month], end: int, params: Params, reachable: bool
) -> list[RiskFlag]:
    months = {m.index: m for m in all_months}
    flags: list[RiskFlag] = []
    cur, prev = months.get(end), months.get(end - 1)
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
    two_ago = months.get(end - 2)
    if (
        cur is not None
        and two_ago is not None
        and cur.counted
        and two_ago.counted
        and (two_ago.income or 0) > 0
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
    received = baseline.goats_received
    if received is None:
        received = params.package_goats.get(baseline.programme, 0) or None
    if received:
        latest_goats = None
        for m in reversed(all_months):
            if m.obs.goats is not None and m.obs.verified is not False:
                latest_goats = m.obs.goats
                break
        if latest_goats is not None and latest_goats < received:
            flags.append(RiskFlag("goats_lost", {"goats": latest_goats, "received": received}))
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
    months = [m for m in _prepare(observations, result.period, params) if m.counted]
    months = months[-params.window_months :]
    profits = [(index_period(m.index), int(m.business or 0)) for m in months]
    trend, compared_to, missing = _latest_trend(months)
    comp = {c.key: c for c in result.components}
    well = []
    cont = comp["continuity"].value or {}
    if cont.get("status") == STATUS_RUNNING:
        well.append("running")
    sb = comp["savings_books"].value or {}
    if sb.get("savings"):
        well.append("savings")
    if sb.get("books"):
        well.append("books")
    if (comp["sources"].value or 0) >= params.min_income_sources:
        well.append("sources")
    if (
        cont.get("goats_received")
        and cont.get("goats") is not None
        and cont["goats"] >= cont["goats_received"]
    ):
        well.append("goats")
    rep = comp["reporting"]
    if rep.points == rep.max_points:
        well.append("reporting")
    # one next step: the component with the largest gap between max and points, in plain words
    steps = {
        "reporting": "report_monthly",
        "savings_books": "books" if not sb.get("books") else "savings",
        "sources": "sources",
        "continuity": "keep_running",
        "income": "grow_profit",
        "stability": "steady",
        "facilitator": "visit",
    }
    gaps = sorted(
        (c for c in result.components if c.max_points - c.points > 0),
        key=lambda c: (
            -(c.max_points - c.points) / max(c.max_points, 1),
            COMPONENT_KEYS.index(c.key),
        ),
    )
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
    reported = {m.index for m in months}
    gap = [index_period(i) for i in range(before.index + 1, last.index) if i not in reported]
    return trend, index_period(before.index), gap
