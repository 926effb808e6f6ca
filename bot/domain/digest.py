"""Digest numbers for staff and facilitators, from plain per-recipient snapshots (pure).

The caller (bot/services/digest_data.py) loads one `RecipientSnapshot` per recipient expected
to report in a period; everything here counts, groups and sorts those snapshots. Nothing here
reads the clock or the database, so every number can be checked by hand in a unit test.

Period status of a recipient:
- reported: at least one report (any reporter, any revision) exists for the period;
- draft: no report, but an open draft of the monthly form for the period;
- silent: neither.

Reach of a recipient (three separate counts): unlinked (no Telegram account), unreachable
(linked, the account stopped answering: blocked or left), linked and silent (linked,
reachable, no report). Graduation: a proposal confirmed by the facilitator awaits staff's
decision (`candidate`); band 'siap' without a proposal awaits the facilitator's visit (`ready`).
Every count is defined in docs/digests.md ("What is counted").
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

STATUS_REPORTED = "reported"
STATUS_DRAFT = "draft"
STATUS_SILENT = "silent"
STATUSES = (STATUS_REPORTED, STATUS_DRAFT, STATUS_SILENT)

# Score bands of the graduation readiness score (bot/domain/scoring.py), best first.
BAND_READY = "siap"
BAND_TOWARDS = "menuju"
BAND_INTENSIVE = "intensif"
BANDS = (BAND_READY, BAND_TOWARDS, BAND_INTENSIVE)
BAND_LABELS_ID = {
    BAND_READY: "Siap graduasi",
    BAND_TOWARDS: "Menuju graduasi",
    BAND_INTENSIVE: "Perlu pendampingan intensif",
}
BAND_LABELS_EN = {
    BAND_READY: "Ready to graduate",
    BAND_TOWARDS: "Towards graduation",
    BAND_INTENSIVE: "Needs intensive mentoring",
}

NO_FACILITATOR = "(tanpa pendamping)"
PROFIT_WINDOW = 6  # periods shown in the profit-by-programme chart and table


# --- periods (small private helpers; 'YYYY-MM') ----------------------------------------------


def _period_index(period: str) -> int:
    year, month = period.split("-")
    if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(f"not a period (YYYY-MM): {period!r}")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"not a period (YYYY-MM): {period!r}")
    return int(year) * 12 + int(month) - 1


def _index_period(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def last_periods(period: str, count: int = PROFIT_WINDOW) -> tuple[str, ...]:
    """The `count` periods ending at `period`, oldest first: ('2023-09', ..., '2024-02')."""
    end = _period_index(period)
    return tuple(_index_period(i) for i in range(end - count + 1, end + 1))


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskFlag:
    """An open flag on a recipient: a report cross-check, a help request or a score risk."""

    kind: str  # 'mismatch_income' | 'jump' | 'photo_reused' | 'help_request' | 'income_drop' ...
    period: str | None
    created_at: str  # ISO-8601 UTC; 'new' means created_at >= the digest's `since`


@dataclass(frozen=True)
class RecipientSnapshot:
    """What the digests need to know about one recipient in one period."""

    id: int
    name: str
    kecamatan_code: str
    kecamatan: str
    desa: str | None
    facilitator_id: int | None
    facilitator: str | None  # facilitator's name; None = nobody assigned
    programme: str
    status: str  # STATUS_REPORTED | STATUS_DRAFT | STATUS_SILENT for the digest's period
    profits: Mapping[str, int] = field(default_factory=dict)  # period -> profit of that month
    band: str | None = None  # score band of the latest score, if any
    candidate: bool = False  # graduation proposed by the facilitator, awaiting staff's decision
    ready: bool = False  # band 'siap', no proposal yet: awaiting the facilitator's visit
    flags: tuple[RiskFlag, ...] = ()
    reachable: bool = True  # False: the recipient's Telegram account stopped answering
    linked: bool = True  # False: no Telegram account linked (the facilitator reports for them)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown period status {self.status!r}")


@dataclass(frozen=True)
class Scope:
    """Which recipients a reader may see: kecamatan codes (None = the whole kabupaten)."""

    kecamatan_codes: frozenset[str] | None = None
    facilitator_id: int | None = None  # a facilitator sees only their caseload

    @classmethod
    def for_staff(cls, kecamatan_code: str | None) -> Scope:
        """A staff member's scope: one kecamatan, or the whole kabupaten for None."""
        return cls(None if kecamatan_code is None else frozenset({kecamatan_code}))

    @classmethod
    def for_facilitator(cls, facilitator_id: int) -> Scope:
        """A facilitator's scope: their caseload."""
        return cls(None, facilitator_id)

    def allows(self, snap: RecipientSnapshot) -> bool:
        """Whether the recipient is inside this scope."""
        if self.kecamatan_codes is not None and snap.kecamatan_code not in self.kecamatan_codes:
            return False
        return self.facilitator_id is None or snap.facilitator_id == self.facilitator_id


def scoped(snapshots: Iterable[RecipientSnapshot], scope: Scope) -> list[RecipientSnapshot]:
    """Only the snapshots the scope allows (region for staff, caseload for a facilitator)."""
    return [s for s in snapshots if scope.allows(s)]


# --- outputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Reported / draft / silent counts of one group in one period."""

    reported: int = 0
    draft: int = 0
    silent: int = 0

    @property
    def total(self) -> int:
        """Everyone expected to report: reported, in draft and silent."""
        return self.reported + self.draft + self.silent

    @property
    def rate(self) -> float:
        """Share of the group that reported, 0.0 - 1.0 (0.0 for an empty group)."""
        return self.reported / self.total if self.total else 0.0

    @property
    def percent(self) -> int:
        """Response rate in whole percent, rounded half up."""
        return int(self.rate * 100 + 0.5) if self.total else 0


@dataclass(frozen=True)
class PersonRef:
    """One recipient as a digest line shows them."""

    id: int
    name: str
    kecamatan: str
    desa: str | None
    facilitator: str | None


@dataclass(frozen=True)
class FlagRef:
    recipient: PersonRef
    kind: str
    period: str | None
    created_at: str


@dataclass(frozen=True)
class StaffDigest:
    period: str
    total: Progress
    by_kecamatan: tuple[tuple[str, Progress], ...]  # by name
    by_facilitator: tuple[tuple[str, Progress], ...]  # lowest response rate first
    new_flags: tuple[FlagRef, ...]
    open_flags: int
    candidates: tuple[PersonRef, ...]  # proposals awaiting staff's decision
    unreachable: tuple[PersonRef, ...]  # linked, account reachable = 0 (blocked, left)
    awaiting_visit: tuple[PersonRef, ...] = ()  # band 'siap', awaiting the facilitator's visit
    unlinked: int = 0  # no Telegram account
    linked_silent: int = 0  # linked, reachable, no report for the period

    @property
    def has_reports(self) -> bool:
        """Whether anyone in scope has reported this period."""
        return self.total.reported > 0

    @property
    def is_empty(self) -> bool:
        """Nobody in scope is expected to report in this period."""
        return self.total.total == 0

    def lowest_kecamatan(self, count: int = 3) -> tuple[tuple[str, Progress], ...]:
        """The kecamatan with the lowest response rate (ties by name), for the short digest."""
        return tuple(sorted(self.by_kecamatan, key=lambda kv: (kv[1].rate, kv[0]))[:count])


@dataclass(frozen=True)
class FacilitatorDigest:
    period: str
    facilitator_id: int
    total: Progress
    silent: tuple[PersonRef, ...]
    drafts: tuple[PersonRef, ...]
    flags: tuple[FlagRef, ...]
    candidates: tuple[PersonRef, ...]  # band 'siap', awaiting this facilitator's visit

    @property
    def has_reports(self) -> bool:
        """Whether anyone in scope has reported this period."""
        return self.total.reported > 0


@dataclass(frozen=True)
class ProfitSeries:
    """Median monthly profit of one programme per period (None: nobody reported a profit)."""

    programme: str
    periods: tuple[str, ...]
    medians: tuple[int | None, ...]
    counts: tuple[int, ...]

    @property
    def latest(self) -> int | None:
        """The median of the newest period."""
        return self.medians[-1]

    @property
    def previous(self) -> int | None:
        """The median of the period before the newest, if there is one."""
        return self.medians[-2] if len(self.medians) > 1 else None

    @property
    def has_data(self) -> bool:
        """Whether any period has a reported profit."""
        return any(c > 0 for c in self.counts)


@dataclass(frozen=True)
class MonthlyReport:
    """The monthly staff report: the digest plus the series the charts draw."""

    digest: StaffDigest
    profits: tuple[ProfitSeries, ...]
    bands: tuple[tuple[str, Mapping[str, int]], ...]  # kecamatan name -> band -> count

    @property
    def band_totals(self) -> dict[str, int]:
        """Recipients per readiness band, summed over the kecamatan."""
        totals = dict.fromkeys(BANDS, 0)
        for _, counts in self.bands:
            for band, n in counts.items():
                totals[band] = totals.get(band, 0) + n
        return totals


# --- computations -------------------------------------------------------------------------------


def _ref(s: RecipientSnapshot) -> PersonRef:
    return PersonRef(s.id, s.name, s.kecamatan, s.desa, s.facilitator)


def _progress(counter: Counter[str]) -> Progress:
    return Progress(
        counter[STATUS_REPORTED],
        counter[STATUS_DRAFT],
        counter[STATUS_SILENT],
    )


def _sort_people(people: Iterable[PersonRef]) -> tuple[PersonRef, ...]:
    return tuple(sorted(people, key=lambda p: (p.kecamatan, p.desa or "", p.name, p.id)))


def progress_by(snapshots: Iterable[RecipientSnapshot], key: str) -> dict[str, Progress]:
    """Progress grouped by 'kecamatan', 'facilitator', 'programme' or 'desa'."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for s in snapshots:
        label = getattr(s, key)
        if label is None:
            label = NO_FACILITATOR if key == "facilitator" else "-"
        groups[label][s.status] += 1
    return {label: _progress(c) for label, c in groups.items()}


def staff_digest(
    snapshots: Iterable[RecipientSnapshot],
    period: str,
    since: str,
    scope: Scope | None = None,
) -> StaffDigest:
    """The weekly staff digest for a period; flags created at or after `since` count as new."""
    _period_index(period)
    snaps = scoped(snapshots, scope or Scope()) if scope is not None else snapshots
    # Plain dicts keyed by (group, status): this loop runs once per recipient (100,000).
    by_kec_status: dict[tuple[str, str], int] = {}
    by_fac_status: dict[tuple[str, str], int] = {}
    new_flags: list[FlagRef] = []
    open_flags = 0
    candidates: list[PersonRef] = []
    awaiting_visit: list[PersonRef] = []
    unreachable: list[PersonRef] = []
    unlinked = linked_silent = 0
    for s in snaps:
        key = (s.kecamatan, s.status)
        by_kec_status[key] = by_kec_status.get(key, 0) + 1
        key = (s.facilitator or NO_FACILITATOR, s.status)
        by_fac_status[key] = by_fac_status.get(key, 0) + 1
        if s.flags:
            open_flags += len(s.flags)
            for f in s.flags:
                if f.created_at >= since:
                    new_flags.append(FlagRef(_ref(s), f.kind, f.period, f.created_at))
        if s.candidate:
            candidates.append(_ref(s))
        elif s.ready:
            awaiting_visit.append(_ref(s))
        if not s.linked:
            unlinked += 1
        elif not s.reachable:
            unreachable.append(_ref(s))
        elif s.status != STATUS_REPORTED:
            linked_silent += 1
    total: Counter[str] = Counter()
    by_kec: dict[str, Counter[str]] = defaultdict(Counter)
    by_fac: dict[str, Counter[str]] = defaultdict(Counter)
    for (kec, status), n in by_kec_status.items():
        by_kec[kec][status] += n
        total[status] += n
    for (fac, status), n in by_fac_status.items():
        by_fac[fac][status] += n
    fac_rows = [(name, _progress(c)) for name, c in by_fac.items()]
    fac_rows.sort(key=lambda kv: (kv[1].rate, -kv[1].total, kv[0]))
    new_flags.sort(key=lambda f: (f.created_at, f.recipient.id, f.kind))
    return StaffDigest(
        period=period,
        total=_progress(total),
        by_kecamatan=tuple(sorted((k, _progress(c)) for k, c in by_kec.items())),
        by_facilitator=tuple(fac_rows),
        new_flags=tuple(new_flags),
        open_flags=open_flags,
        candidates=_sort_people(candidates),
        unreachable=_sort_people(unreachable),
        awaiting_visit=_sort_people(awaiting_visit),
        unlinked=unlinked,
        linked_silent=linked_silent,
    )


def facilitator_digest(
    snapshots: Iterable[RecipientSnapshot], period: str, facilitator_id: int
) -> FacilitatorDigest:
    """A facilitator's weekly digest: their caseload only."""
    _period_index(period)
    caseload = scoped(snapshots, Scope.for_facilitator(facilitator_id))
    counts: Counter[str] = Counter(s.status for s in caseload)
    flags = [FlagRef(_ref(s), f.kind, f.period, f.created_at) for s in caseload for f in s.flags]
    flags.sort(key=lambda f: (f.recipient.name, f.recipient.id, f.created_at, f.kind))
    return FacilitatorDigest(
        period=period,
        facilitator_id=facilitator_id,
        total=_progress(counts),
        silent=_sort_people(_ref(s) for s in caseload if s.status == STATUS_SILENT),
        drafts=_sort_people(_ref(s) for s in caseload if s.status == STATUS_DRAFT),
        flags=tuple(flags),
        candidates=_sort_people(_ref(s) for s in caseload if s.ready and not s.candidate),
    )


def _median(values: Sequence[int]) -> int:
    """Median rounded half up to whole rupiah."""
    m = statistics.median(values)
    return int(m + 0.5) if m >= 0 else -int(-m + 0.5)


def profit_medians(
    snapshots: Iterable[RecipientSnapshot],
    period: str,
    programmes: Sequence[str] = (),
    window: int = PROFIT_WINDOW,
) -> tuple[ProfitSeries, ...]:
    """Median monthly profit by programme for the `window` periods ending at `period`.

    `programmes` fixes the order (the configured list); programmes found in the data and not
    listed follow in name order. A programme with no profit in any period is left out.
    """
    periods = last_periods(period, window)
    wanted = set(periods)
    values: dict[str, dict[str, list[int]]] = {}
    for s in snapshots:
        if not s.profits:
            continue
        per = values.get(s.programme)
        if per is None:
            per = values[s.programme] = {p: [] for p in periods}
        for p, profit in s.profits.items():
            if profit is not None and p in wanted:
                per[p].append(profit)
    order = [p for p in programmes if p in values] + sorted(set(values) - set(programmes))
    out = []
    for prog in order:
        per = values[prog]
        series = ProfitSeries(
            programme=prog,
            periods=periods,
            medians=tuple(_median(per[p]) if per.get(p) else None for p in periods),
            counts=tuple(len(per.get(p, ())) for p in periods),
        )
        if series.has_data:
            out.append(series)
    return tuple(out)


def bands_by_kecamatan(
    snapshots: Iterable[RecipientSnapshot],
) -> tuple[tuple[str, dict[str, int]], ...]:
    """Score band counts per kecamatan (only recipients with a band), by kecamatan name."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for s in snapshots:
        if s.band is not None:
            groups[s.kecamatan][s.band] += 1
    return tuple(
        (kec, {b: c[b] for b in (*BANDS, *sorted(set(c) - set(BANDS)))})
        for kec, c in sorted(groups.items())
    )


def monthly_report(
    snapshots: Iterable[RecipientSnapshot],
    period: str,
    since: str,
    scope: Scope | None = None,
    programmes: Sequence[str] = (),
) -> MonthlyReport:
    """The monthly staff report for a region: the digest, profit medians and score bands."""
    snaps = scoped(snapshots, scope or Scope())
    return MonthlyReport(
        digest=staff_digest(snaps, period, since),
        profits=profit_medians(snaps, period, programmes),
        bands=bands_by_kecamatan(snaps),
    )
