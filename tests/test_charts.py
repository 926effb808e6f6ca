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
