"""PNG charts for the monthly staff report, readable on a phone screen.

Every chart is 1080 x 1080 px (a square fits a phone held upright and Telegram does not crop
it), with large fonts, Indonesian labels and amounts as Rp1.500.000. A chart function returns
PNG bytes, or None when there is nothing to draw: an empty chart is never produced.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, thread-safe enough for one figure at a time

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from bot.domain.digest import (  # noqa: E402
    BAND_LABELS_EN,
    BAND_LABELS_ID,
    BANDS,
    ProfitSeries,
    Progress,
)
from bot.domain.money import format_number, format_rupiah  # noqa: E402
from bot.domain.timefmt import month_names  # noqa: E402
from bot.private_files import private_dir, private_file  # noqa: E402

SIZE_INCHES = (10.8, 10.8)
DPI = 100  # 1080 x 1080 px
TITLE_SIZE = 30
LABEL_SIZE = 22
TICK_SIZE = 20
BAR_TEXT_SIZE = 19
MAX_BARS = 20  # more rows than this would need a font too small to read on a phone

# Colour-blind-safe palette (Okabe-Ito); band colours read as good / middle / needs help.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
BAND_COLOURS = {"siap": "#009E73", "menuju": "#E69F00", "intensif": "#D55E00"}

TEXTS = {
    "id": {
        "response_title": "Persentase sudah lapor per kecamatan",
        "response_axis": "Sudah lapor (%)",
        "profit_title": "Median laba sebulan per program",
        "profit_axis": "Laba sebulan",
        "bands_title": "Kesiapan graduasi per kecamatan",
        "bands_axis": "Jumlah penerima",
    },
    "en": {
        "response_title": "Share reported by kecamatan",
        "response_axis": "Reported (%)",
        "profit_title": "Median monthly profit by programme",
        "profit_axis": "Monthly profit",
        "bands_title": "Graduation readiness by kecamatan",
        "bands_axis": "Recipients",
    },
}


def short_period(period: str, lang: str = "id") -> str:
    """'2024-01' -> 'Jan 24'."""
    year, month = period.split("-")
    months = month_names(lang)
    return f"{months[int(month) - 1][:3]} {year[2:]}"


def rupiah_axis(value: float, _pos: object = None) -> str:
    """Axis labels: whole rupiah with '.' thousands separators (Rp1.500.000)."""
    return format_rupiah(int(round(value)))


def _figure() -> Figure:
    # A Figure not registered with pyplot: nothing global to leak between calls or threads.
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    fig.patch.set_facecolor("white")
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _style(ax) -> None:
    ax.tick_params(labelsize=TICK_SIZE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def response_rate_chart_figure(
    rows: Sequence[tuple[str, Progress]], lang: str = "id"
) -> Figure | None:
    """Horizontal bars: share reported per kecamatan, lowest on top (as the digest lists
    them), with 'n/total' beside each bar."""
    rows = [(name, p) for name, p in rows if p.total > 0]
    if not rows:
        return None
    rows = sorted(rows, key=lambda kv: (kv[1].rate, kv[0]))[:MAX_BARS]
    rows.reverse()  # barh draws the first row at the bottom: the lowest rate goes on top
    t = TEXTS.get(lang, TEXTS["id"])
    fig = _figure()
    ax = fig.add_subplot()
    names = [name for name, _ in rows]
    values = [p.rate * 100 for _, p in rows]
    bars = ax.barh(names, values, color=PALETTE[0], height=0.7)
    for bar, (_, p) in zip(bars, rows, strict=True):
        label = f"{p.percent}% ({p.reported}/{p.total})"
        inside = bar.get_width() > 55
        ax.text(
            bar.get_width() - 1 if inside else bar.get_width() + 1,
            bar.get_y() + bar.get_height() / 2,
            label,
            va="center",
            ha="right" if inside else "left",
            fontsize=BAR_TEXT_SIZE,
            color="white" if inside else "black",
        )
    ax.set_xlim(0, 100)
    ax.set_xlabel(t["response_axis"], fontsize=LABEL_SIZE)
    ax.set_title(t["response_title"], fontsize=TITLE_SIZE, pad=20)
    _style(ax)
    fig.tight_layout()
    return fig


def profit_chart_figure(series: Sequence[ProfitSeries], lang: str = "id") -> Figure | None:
    """Lines: median monthly profit per programme over the last periods (gaps where no data)."""
    series = [s for s in series if s.has_data]
    if not series:
        return None
    t = TEXTS.get(lang, TEXTS["id"])
    fig = _figure()
    ax = fig.add_subplot()
    periods = series[0].periods
    xs = list(range(len(periods)))
    for i, s in enumerate(series):
        ys = [float("nan") if m is None else m for m in s.medians]
        ax.plot(
            xs, ys, marker="o", markersize=12, linewidth=4, color=PALETTE[i % len(PALETTE)],
            label=s.programme,
        )  # fmt: skip
    ax.set_xticks(xs, [short_period(p, lang) for p in periods])
    ax.yaxis.set_major_formatter(FuncFormatter(rupiah_axis))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.set_ylabel(t["profit_axis"], fontsize=LABEL_SIZE)
    ax.set_title(t["profit_title"], fontsize=TITLE_SIZE, pad=20)
    ax.grid(axis="y", alpha=0.3)
    ax.axhline(0, color="#555555", linewidth=1)
    # Legend under the plot, so it never sits on a line.
    ax.legend(
        fontsize=LABEL_SIZE, loc="upper center", bbox_to_anchor=(0.5, -0.1),
        ncol=1 if len(series) > 2 else len(series), frameon=False,
    )  # fmt: skip
    ax.set_xlim(-0.4, len(xs) - 0.6)
    _style(ax)
    fig.tight_layout()
    return fig


def bands_chart_figure(
    bands: Sequence[tuple[str, Mapping[str, int]]], lang: str = "id"
) -> Figure | None:
    """Stacked horizontal bars: score bands per kecamatan."""
    rows = [(kec, counts) for kec, counts in bands if sum(counts.values()) > 0][:MAX_BARS]
    if not rows:
        return None
    t = TEXTS.get(lang, TEXTS["id"])
    labels = BAND_LABELS_EN if lang == "en" else BAND_LABELS_ID
    fig = _figure()
    ax = fig.add_subplot()
    rows = list(reversed(rows))  # first kecamatan (by name) at the top
    names = [kec for kec, _ in rows]
    left = [0] * len(rows)
    present = [b for b in BANDS if any(c.get(b, 0) for _, c in rows)]
    extra = sorted({b for _, c in rows for b in c} - set(BANDS))
    for j, band in enumerate(present + extra):
        widths = [c.get(band, 0) for _, c in rows]
        if not any(widths):
            continue
        bars = ax.barh(
            names, widths, left=left, height=0.7, label=labels.get(band, band),
            color=BAND_COLOURS.get(band, PALETTE[j % len(PALETTE)]),
        )  # fmt: skip
        for bar, w in zip(bars, widths, strict=True):
            # A number only where the segment is wide enough to hold it.
            if w and bar.get_width() >= 0.06 * max(sum(c.values()) for _, c in rows):
                ax.text(
                    bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                    format_number(w), ha="center", va="center",
                    fontsize=BAR_TEXT_SIZE - 2, color="white",
                )  # fmt: skip
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: format_number(int(v))))
    ax.set_xlabel(t["bands_axis"], fontsize=LABEL_SIZE)
    ax.set_title(t["bands_title"], fontsize=TITLE_SIZE, pad=20)
    ax.legend(
        fontsize=LABEL_SIZE - 2, loc="upper center", bbox_to_anchor=(0.5, -0.1),
        ncol=1, frameon=False,
    )  # fmt: skip
    _style(ax)
    fig.tight_layout()
    return fig


def response_rate_chart(rows: Sequence[tuple[str, Progress]], lang: str = "id") -> bytes | None:
    """PNG of response_rate_chart_figure(), or None when there is no data."""
    fig = response_rate_chart_figure(rows, lang)
    return None if fig is None else _png(fig)


def profit_chart(series: Sequence[ProfitSeries], lang: str = "id") -> bytes | None:
    """PNG of profit_chart_figure(), or None when there is no data."""
    fig = profit_chart_figure(series, lang)
    return None if fig is None else _png(fig)


def bands_chart(bands: Sequence[tuple[str, Mapping[str, int]]], lang: str = "id") -> bytes | None:
    """PNG of bands_chart_figure(), or None when there is no data."""
    fig = bands_chart_figure(bands, lang)
    return None if fig is None else _png(fig)


def monthly_charts(report, lang: str = "id") -> dict[str, bytes]:
    """The three charts of a MonthlyReport that have data: name -> PNG bytes."""
    charts = {
        "respons-kecamatan": response_rate_chart(report.digest.by_kecamatan, lang),
        "laba-program": profit_chart(report.profits, lang),
        "skor-kecamatan": bands_chart(report.bands, lang),
    }
    return {name: png for name, png in charts.items() if png is not None}


def write_charts(charts: Mapping[str, bytes], directory: Path, prefix: str = "") -> list[Path]:
    """Write each chart as DIR/<prefix><name>.png; returns the paths written."""
    private_dir(directory, tighten=True)
    paths = []
    for name, png in charts.items():
        path = private_file(directory / f"{prefix}{name}.png")
        path.write_bytes(png)
        paths.append(path)
    return paths
