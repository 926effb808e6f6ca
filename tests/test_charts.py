"""Charts: valid PNGs of a phone-friendly size, not blank, no overlapping text; no data -> None."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from matplotlib.text import Text
from PIL import Image

from bot.charts import (
    bands_chart,
    bands_chart_figure,
    monthly_charts,
    profit_chart,
    profit_chart_figure,
    response_rate_chart,
    response_rate_chart_figure,
    rupiah_axis,
    short_period,
    write_charts,
)
from bot.domain.digest import Progress, monthly_report
from tests.digest_fixtures import LEB, PERIOD, SINCE, SNAPSHOTS, snap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KECAMATAN = [
    "Margasari", "Bumijawa", "Bojong", "Balapulang", "Pagerbarang", "Lebaksiu",
    "Jatinegara", "Kedungbanteng", "Pangkah", "Slawi", "Adiwerna", "Talang",
    "Dukuhturi", "Tarub", "Kramat", "Suradadi", "Warureja", "Dukuhwaru",
]  # fmt: skip


def full_report():
    """All 18 kecamatan, three programmes, six months: the busiest chart a month can give."""
    rows = []
    for i in range(18 * 12):
        kec = KECAMATAN[i % 18]
        status = ("reported", "reported", "draft", "silent")[i % 4]
        profits = {p: 250_000 * (i % 7) + 10_000 * j - 300_000
                   for j, p in enumerate(("2023-08", "2023-09", "2023-10", "2023-11",
                                          "2023-12", "2024-01"))}  # fmt: skip
        s = snap(i + 1, LEB, 1, ("tata boga", "menjahit", "ternak kambing")[i % 3], status,
                 profits=profits, band=("siap", "menuju", "intensif", None)[i % 4])  # fmt: skip
        rows.append(s.__class__(**{**s.__dict__, "kecamatan": kec}))
    return monthly_report(rows, PERIOD, SINCE, programmes=("tata boga", "menjahit"))


def check_png(data: bytes) -> Image.Image:
    assert data[:8] == PNG_SIGNATURE
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG"
    w, h = img.size
    assert 900 <= w <= 1280 and 900 <= h <= 1280, img.size
    colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) >= 8  # not blank: text, bars, background
    # and not almost all one colour either
    assert max(c for c, _ in colours) < 0.97 * w * h
    return img


def drawn_texts(fig) -> list[Text]:
    """Every text the image shows: tick labels only for ticks inside the axis limits."""
    ticks = []
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for loc, label in zip(
                axis.get_majorticklocs(), axis.get_majorticklabels(), strict=False
            ):
                if lo - 1e-9 <= loc <= hi + 1e-9:
                    ticks.append(label)
                else:
                    hidden.add(id(label))
    others = [t for t in fig.findobj(Text) if id(t) not in hidden and t not in ticks]
    return [t for t in [*ticks, *others] if t.get_visible() and str(t.get_text()).strip()]


def text_boxes(fig):
    """Window extents of every drawn text in the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for t in drawn_texts(fig):
        assert t.get_fontsize() >= 16, t.get_text()  # large enough to read on a phone
        boxes.append((t.get_text(), t.get_window_extent(renderer)))
    return boxes


def assert_readable(fig) -> None:
    """No two texts overlap, and every text lies inside the image."""
    width, height = fig.canvas.get_width_height()
    boxes = text_boxes(fig)
    assert boxes
    for label, b in boxes:
        assert b.x0 >= -1 and b.y0 >= -1 and b.x1 <= width + 1 and b.y1 <= height + 1, label
    for (la, a), (lb, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"{la!r} overlaps {lb!r}"


def test_monthly_charts_are_valid_pngs(tmp_path: Path) -> None:
    charts = monthly_charts(full_report())
    assert set(charts) == {"respons-kecamatan", "laba-program", "skor-kecamatan"}
    paths = write_charts(charts, tmp_path)
    assert len(paths) == 3
    for path in paths:
        check_png(path.read_bytes())


@pytest.mark.parametrize("lang", ["id", "en"])
def test_charts_have_no_overlapping_or_clipped_text(lang: str) -> None:
    r = full_report()
    for fig in (
        response_rate_chart_figure(r.digest.by_kecamatan, lang),
        profit_chart_figure(r.profits, lang),
        bands_chart_figure(r.bands, lang),
    ):
        assert_readable(fig)


def test_charts_from_the_hand_counted_fixture() -> None:
    r = monthly_report(SNAPSHOTS, PERIOD, SINCE)
    for png in monthly_charts(r, "id").values():
        check_png(png)


def test_indonesian_labels_and_rupiah_axis() -> None:
    assert rupiah_axis(1_500_000) == "Rp1.500.000"
    assert rupiah_axis(-250_000.4) == "-Rp250.000"
    assert short_period("2024-05") == "Mei 24"
    assert short_period("2023-12", "en") == "Dec 23"
    fig = profit_chart_figure(full_report().profits)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels and all(lbl.startswith(("Rp", "-Rp")) for lbl in labels)
    assert any("." in lbl for lbl in labels)
    assert fig.axes[0].get_title() == "Median laba sebulan per program"


def test_no_data_gives_no_chart(tmp_path: Path) -> None:
    assert response_rate_chart([]) is None
    assert response_rate_chart([("Slawi", Progress(0, 0, 0))]) is None
    assert profit_chart([]) is None
    assert bands_chart([]) is None
    assert bands_chart([("Slawi", {"siap": 0})]) is None
    silent = monthly_report([snap(1, LEB, 1, "menjahit", "silent")], PERIOD, SINCE)
    charts = monthly_charts(silent)
    # the response chart still says 0 % for Lebaksiu; nothing to draw for profit or bands
    assert set(charts) == {"respons-kecamatan"}
    empty = monthly_report([], PERIOD, SINCE)
    assert monthly_charts(empty) == {}
    assert write_charts({}, tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []


def test_the_readability_check_catches_overlaps_and_clipping() -> None:
    fig = response_rate_chart_figure([("Slawi", Progress(1, 0, 1))])
    fig.axes[0].text(52, 0, "menimpa label", fontsize=20, va="center")  # on the bar's label
    with pytest.raises(AssertionError):
        assert_readable(fig)
    fig = response_rate_chart_figure([("Slawi", Progress(1, 0, 1))])
    fig.text(0.95, 0.5, "teks yang keluar dari gambar", fontsize=20)
    with pytest.raises(AssertionError):
        assert_readable(fig)


# --- the plotted values against a hand-counted fixture ---------------------------------------
#
# id kecamatan status   programme       profit 2024-01 (2023-12)  band
# 1  Bojong    reported tata boga       500.000 (400.000)         siap
# 2  Bojong    reported tata boga       700.000                   siap
# 3  Bojong    reported menjahit        200.000 (100.000)         menuju
# 4  Bojong    silent   menjahit        -                         -
# 5  Slawi     reported ternak kambing  900.000                   intensif
# 6  Slawi     draft    tata boga       - (300.000)               menuju
# 7  Slawi     silent   menjahit        -                         menuju
# 8  Slawi     silent   menjahit        -                         intensif
# 9  Pangkah   reported menjahit        300.000                   intensif
# 10 Pangkah   reported ternak kambing  1.100.000 (800.000)       intensif
#
# Counted by hand:
# - response: Slawi 1/4 = 25 %, Bojong 3/4 = 75 %, Pangkah 2/2 = 100 %
# - median profit 2023-12 / 2024-01: tata boga 350.000 (400, 300) / 600.000 (500, 700);
#   menjahit 100.000 / 250.000 (200, 300); ternak kambing 800.000 / 1.000.000 (900, 1.100)
# - bands: Bojong siap 2, menuju 1; Pangkah intensif 2; Slawi menuju 2, intensif 2
HAND = [
    (1, "Bojong", "reported", "tata boga", {"2024-01": 500_000, "2023-12": 400_000}, "siap"),
    (2, "Bojong", "reported", "tata boga", {"2024-01": 700_000}, "siap"),
    (3, "Bojong", "reported", "menjahit", {"2024-01": 200_000, "2023-12": 100_000}, "menuju"),
    (4, "Bojong", "silent", "menjahit", {}, None),
    (5, "Slawi", "reported", "ternak kambing", {"2024-01": 900_000}, "intensif"),
    (6, "Slawi", "draft", "tata boga", {"2023-12": 300_000}, "menuju"),
    (7, "Slawi", "silent", "menjahit", {}, "menuju"),
    (8, "Slawi", "silent", "menjahit", {}, "intensif"),
    (9, "Pangkah", "reported", "menjahit", {"2024-01": 300_000}, "intensif"),
    (10, "Pangkah", "reported", "ternak kambing", {"2024-01": 1_100_000, "2023-12": 800_000},
     "intensif"),
]  # fmt: skip
PROGRAMMES = ("tata boga", "menjahit", "ternak kambing")


def hand_report():
    rows = []
    for rid, kec, status, prog, profits, band in HAND:
        s = snap(rid, LEB, 1, prog, status, profits=profits, band=band)
        rows.append(s.__class__(**{**s.__dict__, "kecamatan": kec}))
    return monthly_report(rows, PERIOD, SINCE, programmes=PROGRAMMES)


def bars_top_down(fig) -> list[tuple[str, str, float, float]]:
    """(series label, category label, left, width) of every bar, top row first, then by
    series in drawing order; the category label is read from the axis tick at the bar."""
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = {
        round(pos, 6): label.get_text()
        for pos, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    }
    out = []
    for series, container in enumerate(ax.containers):
        for bar in container:
            y = round(bar.get_y() + bar.get_height() / 2, 6)
            out.append((-y, series, container.get_label(), ticks[y], bar.get_x(), bar.get_width()))
    return [(label, cat, left, width) for _, _, label, cat, left, width in sorted(out)]


def bar_texts(fig) -> dict[str, str]:
    """The text written beside each bar, by the category label of its row."""
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = {
        round(pos, 6): label.get_text()
        for pos, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    }
    return {ticks[round(t.get_position()[1], 6)]: t.get_text() for t in ax.texts}


def test_response_chart_plots_the_hand_counted_rates_lowest_on_top() -> None:
    fig = response_rate_chart_figure(hand_report().digest.by_kecamatan)
    rows = [(cat, width) for _, cat, _, width in bars_top_down(fig)]
    # the lowest response rate at the top: read first, as in the digest's "terendah" list
    assert rows == [("Slawi", 25.0), ("Bojong", 75.0), ("Pangkah", 100.0)]
    assert bar_texts(fig) == {
        "Slawi": "25% (1/4)",
        "Bojong": "75% (3/4)",
        "Pangkah": "100% (2/2)",
    }


def test_profit_chart_plots_each_programmes_medians() -> None:
    fig = profit_chart_figure(hand_report().profits)
    ax = fig.axes[0]
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Agu 23", "Sep 23", "Okt 23", "Nov 23", "Des 23", "Jan 24",
    ]  # fmt: skip
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    nan = None
    plotted = {ln.get_label(): [None if y != y else y for y in ln.get_ydata()] for ln in lines}
    assert [ln.get_label() for ln in lines] == list(PROGRAMMES)  # the configured order
    assert plotted == {
        "tata boga": [nan, nan, nan, nan, 350_000, 600_000],
        "menjahit": [nan, nan, nan, nan, 100_000, 250_000],
        "ternak kambing": [nan, nan, nan, nan, 800_000, 1_000_000],
    }
    assert all(list(ln.get_xdata()) == [0, 1, 2, 3, 4, 5] for ln in lines)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(PROGRAMMES)
    assert len({ln.get_color() for ln in lines}) == 3  # each programme its own colour


def test_bands_chart_stacks_the_hand_counted_bands() -> None:
    fig = bands_chart_figure(hand_report().bands)
    bars = [b for b in bars_top_down(fig) if b[3] > 0]  # zero-width segments draw nothing
    # kecamatan by name from the top; within a row siap, menuju, intensif from the left
    assert bars == [
        ("Siap graduasi", "Bojong", 0, 2),
        ("Menuju graduasi", "Bojong", 2, 1),
        ("Perlu pendampingan intensif", "Pangkah", 0, 2),
        ("Menuju graduasi", "Slawi", 0, 2),
        ("Perlu pendampingan intensif", "Slawi", 2, 2),
    ]
    colours = {c.get_label(): c.patches[0].get_facecolor() for c in fig.axes[0].containers}
    assert colours["Siap graduasi"] != colours["Perlu pendampingan intensif"]
