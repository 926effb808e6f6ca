"""Digest numbers against the hand-counted fixture in tests/digest_fixtures.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.digest import (
    NO_FACILITATOR,
    STATUSES,
    Progress,
    RecipientSnapshot,
    RiskFlag,
    Scope,
    bands_by_kecamatan,
    facilitator_digest,
    last_periods,
    monthly_report,
    profit_medians,
    progress_by,
    staff_digest,
)
from tests.digest_fixtures import ANI, BUDI, LEB, PERIOD, SINCE, SLA, SNAPSHOTS, snap

PROGRAMMES = ("tata boga", "menjahit", "ternak kambing")


def ids(people) -> list[int]:
    return [p.id for p in people]


def test_staff_digest_whole_kabupaten() -> None:
    d = staff_digest(SNAPSHOTS, PERIOD, SINCE)
    assert d.total == Progress(reported=5, draft=2, silent=3)
    assert d.total.total == 10 and d.total.percent == 50
    assert d.by_kecamatan == (
        ("Lebaksiu", Progress(2, 1, 1)),
        ("Pangkah", Progress(1, 1, 0)),
        ("Slawi", Progress(2, 0, 2)),
    )
    # lowest response rate first: nobody assigned 0 %, Budi 2/4, Ani 3/5
    assert d.by_facilitator == (
        (NO_FACILITATOR, Progress(0, 0, 1)),
        ("Budi", Progress(2, 0, 2)),
        ("Ani", Progress(3, 2, 0)),
    )
    assert [(f.recipient.id, f.kind) for f in d.new_flags] == [
        (9, "photo_reused"),
        (3, "help_request"),
        (9, "mismatch_income"),
    ]
    assert d.open_flags == 4
    assert ids(d.candidates) == [1]  # proposed, awaiting staff
    assert ids(d.awaiting_visit) == [6]  # siap, awaiting the facilitator's visit
    # reach, three separate counts: no account 7, 9; blocked/left 4, 8; linked and silent 3
    assert d.unlinked == 2
    assert ids(d.unreachable) == [4, 8]
    assert d.linked_silent == 1
    assert d.has_reports and not d.is_empty
    # all three at 50 % (2/4, 1/2, 2/4): ties go by name
    assert [k for k, _ in d.lowest_kecamatan(2)] == ["Lebaksiu", "Pangkah"]


def test_staff_digest_scoped_to_one_kecamatan_sees_only_it() -> None:
    d = staff_digest(SNAPSHOTS, PERIOD, SINCE, Scope.for_staff(SLA))
    assert d.total == Progress(2, 0, 2)
    assert [k for k, _ in d.by_kecamatan] == ["Slawi"]
    assert d.by_facilitator == (
        (NO_FACILITATOR, Progress(0, 0, 1)),
        ("Budi", Progress(2, 0, 1)),
    )
    assert d.new_flags == () and d.open_flags == 0
    assert ids(d.candidates) == [] and ids(d.awaiting_visit) == [6]
    assert ids(d.unreachable) == [8]
    assert (d.unlinked, d.linked_silent) == (1, 0)  # 7 has no account; 8 is unreachable


def test_staff_digest_region_without_recipients_is_empty() -> None:
    d = staff_digest(SNAPSHOTS, PERIOD, SINCE, Scope.for_staff("33.28.01"))
    assert d.is_empty and not d.has_reports
    assert d.total.percent == 0 and d.by_kecamatan == ()


def test_period_with_no_reports_says_so() -> None:
    silent = [
        snap(1, LEB, ANI, "menjahit", "silent"),
        snap(2, LEB, ANI, "menjahit", "draft"),
    ]
    d = staff_digest(silent, PERIOD, SINCE)
    assert not d.has_reports and not d.is_empty
    assert d.total == Progress(0, 1, 1)
    report = monthly_report(silent, PERIOD, SINCE)
    assert report.profits == () and report.bands == ()


def test_facilitator_digest_ani() -> None:
    d = facilitator_digest(SNAPSHOTS, PERIOD, ANI)
    assert d.total == Progress(3, 2, 0)
    assert ids(d.silent) == []
    assert ids(d.drafts) == [3, 9]  # Lebaksiu before Pangkah
    assert [(f.recipient.id, f.kind) for f in d.flags] == [
        (3, "help_request"),
        (9, "photo_reused"),
        (9, "mismatch_income"),
    ]
    assert ids(d.candidates) == []  # 1 is already proposed: it waits for staff, not for Ani


def test_facilitator_digest_budi_sees_only_caseload() -> None:
    d = facilitator_digest(SNAPSHOTS, PERIOD, BUDI)
    assert d.total == Progress(2, 0, 2)
    assert ids(d.silent) == [4, 7]
    assert ids(d.drafts) == []
    assert [(f.recipient.id, f.kind) for f in d.flags] == [(4, "jump")]
    assert ids(d.candidates) == [6]


def test_profit_medians_by_programme_over_six_periods() -> None:
    series = profit_medians(SNAPSHOTS, PERIOD, PROGRAMMES)
    assert [s.programme for s in series] == list(PROGRAMMES)
    tb, mj, tk = series
    assert tb.periods == ("2023-08", "2023-09", "2023-10", "2023-11", "2023-12", "2024-01")
    # tata boga 2024-01: 400.000, 800.000, 1.200.000 -> 800.000; 2023-12: 700.000
    assert tb.medians == (None, None, None, None, 700_000, 800_000)
    assert tb.counts == (0, 0, 0, 0, 1, 3)
    assert mj.medians == (None, None, None, None, 500_000, None)
    # ternak kambing 2024-01: -100.000 and 300.000 -> 100.000; 2023-07 is outside the window
    assert tk.medians == (None, 100_000, None, None, None, 100_000)
    assert tk.counts == (0, 1, 0, 0, 0, 2)
    assert tb.latest == 800_000 and tb.previous == 700_000


def test_median_rounds_half_up_to_whole_rupiah() -> None:
    rows = [
        snap(1, LEB, ANI, "menjahit", "reported", profits={PERIOD: 100_001}),
        snap(2, LEB, ANI, "menjahit", "reported", profits={PERIOD: 100_002}),
    ]
    (s,) = profit_medians(rows, PERIOD)
    assert s.latest == 100_002


def test_bands_by_kecamatan() -> None:
    assert bands_by_kecamatan(SNAPSHOTS) == (
        ("Lebaksiu", {"siap": 1, "menuju": 1, "intensif": 1}),
        ("Pangkah", {"siap": 0, "menuju": 1, "intensif": 0}),
        ("Slawi", {"siap": 1, "menuju": 0, "intensif": 1}),
    )


def test_monthly_report_scoped() -> None:
    r = monthly_report(SNAPSHOTS, PERIOD, SINCE, Scope.for_staff(LEB), PROGRAMMES)
    assert r.digest.total == Progress(2, 1, 1)
    assert [s.programme for s in r.profits] == ["tata boga", "menjahit"]
    assert r.band_totals == {"siap": 1, "menuju": 1, "intensif": 1}


def test_progress_by_programme() -> None:
    by = progress_by(SNAPSHOTS, "programme")
    assert by["tata boga"] == Progress(3, 0, 1)
    assert by["menjahit"] == Progress(0, 1, 2)
    assert by["ternak kambing"] == Progress(2, 1, 0)


def test_last_periods_across_a_year() -> None:
    assert last_periods("2024-02", 3) == ("2023-12", "2024-01", "2024-02")
    with pytest.raises(ValueError):
        last_periods("2024-13")


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError):
        RecipientSnapshot(1, "x", LEB, "Lebaksiu", None, None, None, "menjahit", "late")


# --- properties: the groupings always add up, and scopes partition the kabupaten -------------


KECS = {"33.28.06": "Lebaksiu", "33.28.10": "Slawi", "33.28.09": "Pangkah"}

snapshots_strategy = st.lists(
    st.builds(
        lambda i, kec, fac, status, profit, band, flag, reachable: RecipientSnapshot(
            id=i,
            name=f"P{i}",
            kecamatan_code=kec,
            kecamatan=KECS[kec],
            desa=None,
            facilitator_id=fac,
            facilitator=None if fac is None else f"F{fac}",
            programme="menjahit" if i % 2 else "tata boga",
            status=status,
            profits={} if profit is None else {"2024-01": profit},
            band=band,
            candidate=band == "siap",
            flags=(RiskFlag("jump", "2024-01", flag),) if flag else (),
            reachable=reachable,
        ),
        st.integers(1, 10_000),
        st.sampled_from(sorted(KECS)),
        st.sampled_from([None, 1, 2, 3]),
        st.sampled_from(STATUSES),
        st.none() | st.integers(-1_000_000, 10_000_000),
        st.sampled_from([None, "siap", "menuju", "intensif"]),
        st.sampled_from([None, "2024-01-20T00:00:00+00:00", "2024-02-03T00:00:00+00:00"]),
        st.booleans(),
    ),  # fmt: skip
    max_size=60,
)


@given(snapshots_strategy)
def test_groupings_add_up_to_the_total(snaps) -> None:
    d = staff_digest(snaps, PERIOD, SINCE)
    assert d.total.total == len(snaps)
    for grouping in (d.by_kecamatan, d.by_facilitator):
        assert sum(p.reported for _, p in grouping) == d.total.reported
        assert sum(p.draft for _, p in grouping) == d.total.draft
        assert sum(p.silent for _, p in grouping) == d.total.silent
    assert d.open_flags == sum(len(s.flags) for s in snaps)
    assert len(d.new_flags) == sum(1 for s in snaps for f in s.flags if f.created_at >= SINCE)
    assert 0 <= d.total.percent <= 100


@given(snapshots_strategy)
def test_kecamatan_scopes_partition_the_kabupaten(snaps) -> None:
    whole = staff_digest(snaps, PERIOD, SINCE)
    parts = [staff_digest(snaps, PERIOD, SINCE, Scope.for_staff(code)) for code in KECS]
    for field in ("reported", "draft", "silent"):
        assert sum(getattr(p.total, field) for p in parts) == getattr(whole.total, field)
    assert sum(len(p.candidates) for p in parts) == len(whole.candidates)
    for code, part in zip(KECS, parts, strict=True):
        assert {k for k, _ in part.by_kecamatan} <= {KECS[code]}
    bands = dict(bands_by_kecamatan(snaps))
    assert sum(sum(c.values()) for c in bands.values()) == sum(1 for s in snaps if s.band)


@given(snapshots_strategy)
def test_medians_lie_between_min_and_max(snaps) -> None:
    for series in profit_medians(snaps, PERIOD):
        values = [s.profits[PERIOD] for s in snaps
                  if s.programme == series.programme and PERIOD in s.profits]  # fmt: skip
        assert series.counts[-1] == len(values)
        if values:
            assert min(values) <= series.latest <= max(values)
