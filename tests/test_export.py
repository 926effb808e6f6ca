"""Export file: sheets and headers, literal text for formula-like cells, NIK masked by default."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from bot.export import (
    FLAGS,
    RECIPIENTS,
    REPORTS,
    SHEETS,
    VISITS,
    ExportError,
    ExportWriter,
    FlagRow,
    RecipientRow,
    ReportRow,
    VisitRow,
    csv_safe,
    write_export,
)

NIK = "3328064211650004"
EVIL = ['=HYPERLINK("http://x","klik")', "+6281234", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def recipient(i: int = 1, name: str = "Siti Aminah", **kw) -> RecipientRow:
    base = dict(
        id=i, nik=NIK, name=name, gender="P", kecamatan="Lebaksiu", desa="Lebaksiu Kidul",
        programme="tata boga", facilitator="Ani", status="active", period_status="sudah lapor",
        last_period="2024-01", business_status="berjalan", revenue=1_500_000, costs=700_000,
        profit=800_000, other_income=None, savings_amount=50_000, score=None, band=None,
        score_components=None, reachable="ya",
    )  # fmt: skip
    base.update(kw)
    return RecipientRow(**base)


def report(i: int = 1, **kw) -> ReportRow:
    base = dict(
        id=i, recipient_id=1, nik=NIK, name="Siti Aminah", kecamatan="Lebaksiu", desa=None,
        programme="tata boga", period="2024-01", reporter_role="recipient", revision=1,
        submitted_at="2024-02-03T01:00:00+00:00", late="tidak", business_status="berjalan",
        revenue=1_500_000, costs=700_000, profit=800_000, other_income=0, household_size=4,
        has_savings="ya", savings_amount=50_000, keeps_books="tidak", income_sources=2,
        wants_help="tidak", equipment_ok="ya", goats=None,
    )  # fmt: skip
    base.update(kw)
    return ReportRow(**base)


VISIT = VisitRow(1, 1, "Siti Aminah", "Lebaksiu", "Ani", "2024-01-15", "ya", 3, 4, 3, 5, EVIL[0])
FLAG = FlagRow(1, 1, "Siti Aminah", "Lebaksiu", "2024-01", "jump", "profit", "open", None,
               "2024-02-03T01:00:00+00:00", None)  # fmt: skip


def write_sample(path: Path, **kw) -> list[Path]:
    recipients = [recipient(1), recipient(2, name=EVIL[0]), recipient(3, name=EVIL[3])]
    recipients += [recipient(10 + j, name=v) for j, v in enumerate(EVIL)]
    return write_export(
        path,
        [(RECIPIENTS, recipients), (REPORTS, [report(1), report(2, revision=2)]),
         (VISITS, [VISIT]), (FLAGS, [FLAG])],
        **kw,
    )  # fmt: skip


def test_xlsx_has_the_sheets_and_headers(tmp_path: Path) -> None:
    out = tmp_path / "ekspor.xlsx"
    assert write_sample(out) == [out]
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames == ["penerima", "laporan", "kunjungan", "tanda", "keterangan"]
    for spec in SHEETS:
        header = next(wb[spec.name].iter_rows(max_row=1, values_only=True))
        assert list(header) == spec.headers
    assert len(list(wb["penerima"].iter_rows())) == 1 + 3 + len(EVIL)
    assert len(list(wb["laporan"].iter_rows())) == 3
    row = list(wb["penerima"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    assert row[2] == "Siti Aminah" and row[14] == 800_000  # money stays a number


def test_xlsx_formula_like_cells_stay_literal_text(tmp_path: Path) -> None:
    out = tmp_path / "ekspor.xlsx"
    write_sample(out)
    wb = load_workbook(out)  # full mode: cell types and styles
    # A CR is stored as the SpreadsheetML escape _x000D_ (as Excel itself does), which Excel
    # decodes on reading; openpyxl leaves escapes in inline strings, so decode them here.
    names = {unescape(c.value): c for c in wb["penerima"]["C"][1:]}
    for evil in EVIL:
        cell = names[evil]  # unchanged, literally
        assert cell.data_type == "s", evil
        assert cell.quotePrefix
    note = wb["kunjungan"]["L2"]
    assert note.value == EVIL[0] and note.data_type == "s"
    # no formula anywhere in the file
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(c.data_type != "f" for c in row)


def test_nik_is_masked_by_default_and_full_only_when_asked(tmp_path: Path) -> None:
    masked = tmp_path / "masked.xlsx"
    write_sample(masked)
    wb = load_workbook(masked, read_only=True)
    for sheet in ("penerima", "laporan"):
        rows = list(wb[sheet].iter_rows(values_only=True))
        col = rows[0].index("nik")
        niks = [row[col] for row in rows[1:]]
        assert niks and all(n == "3328********0004" for n in niks)
    with zipfile.ZipFile(masked) as zf:  # the full NIK is nowhere in the file
        assert all(NIK.encode() not in zf.read(name) for name in zf.namelist())
    full = tmp_path / "full.xlsx"
    write_sample(full, full_nik=True)
    ws = load_workbook(full)["penerima"]
    assert ws["B2"].value == NIK and ws["B2"].data_type == "s"  # text, not a rounded number


def test_csv_writes_one_file_per_sheet_escaped_and_masked(tmp_path: Path) -> None:
    out = tmp_path / "ekspor.csv"
    paths = write_sample(out)
    assert [p.name for p in paths] == [
        "ekspor.csv", "ekspor-laporan.csv", "ekspor-kunjungan.csv", "ekspor-tanda.csv",
        "ekspor-keterangan.csv",
    ]  # fmt: skip
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == RECIPIENTS.headers
    names = [r[2] for r in rows[1:]]
    for evil in EVIL:
        assert "'" + evil in names
    assert all(r[1] == "3328********0004" for r in rows[1:])
    with paths[2].open(encoding="utf-8-sig", newline="") as fh:
        visit = list(csv.reader(fh))
    assert visit[0] == VISITS.headers and visit[1][-1] == "'" + EVIL[0]


def _sheet_dicts(wb, name: str) -> list[dict]:
    rows = list(wb[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_labels_are_indonesian_times_wib_and_codes_kept(tmp_path: Path) -> None:
    out = tmp_path / "ekspor.xlsx"
    write_export(
        out,
        [(RECIPIENTS, [recipient(band="siap", score=80,
                                 score_components="income=30/40; reporting=5/10")]),
         (REPORTS, [report(reporter_role="facilitator")]),
         (VISITS, [VISIT]),
         (FLAGS, [FLAG, FlagRow(2, 1, "Siti", "Lebaksiu", "2024-01", "help_request", None,
                                "resolved", None, "2024-01-31T17:30:00+00:00",
                                "2024-02-01T03:05:00+00:00")])],
    )  # fmt: skip
    wb = load_workbook(out, read_only=True)
    (rec,) = _sheet_dicts(wb, "penerima")
    assert rec["status_penerima"] == "Aktif" and rec["kode_status"] == "active"
    assert rec["jenis_kelamin"] == "Perempuan" and rec["status_usaha"] == "Berjalan"
    assert rec["kategori_skor"] == "Siap graduasi" and rec["kode_kategori_skor"] == "siap"
    assert rec["komponen_skor"] == "Kecukupan pendapatan 30/40; Keteraturan melapor 5/10"
    assert rec["kode_komponen_skor"] == "income=30/40; reporting=5/10"
    (rep,) = _sheet_dicts(wb, "laporan")
    assert rep["pelapor"] == "Pendamping" and rep["kode_pelapor"] == "facilitator"
    assert rep["dikirim_wib"] == "2024-02-03 08:00 WIB"  # 01:00 UTC is 08:00 in Jakarta
    jump, help_ = _sheet_dicts(wb, "tanda")
    assert (jump["jenis"], jump["kolom"], jump["status"]) == (
        "Untung melonjak",
        "Untung",
        "Terbuka",
    )
    assert jump["diselesaikan_wib"] is None
    assert (help_["jenis"], help_["status"], help_["kode_jenis"], help_["kode_status"]) == (
        "Minta bantuan", "Selesai", "help_request", "resolved",
    )  # fmt: skip
    # 17:30 UTC on 31 January is already 1 February in WIB
    assert help_["dibuat_wib"] == "2024-02-01 00:30 WIB"
    assert help_["diselesaikan_wib"] == "2024-02-01 10:05 WIB"
    # no English code and no UTC time in any labelled column
    english = {"active", "recipient", "facilitator", "help_request", "jump", "open", "resolved"}
    for sheet in ("penerima", "laporan", "tanda"):
        for row in _sheet_dicts(wb, sheet):
            for header, value in row.items():
                if not header.startswith("kode_"):
                    assert value not in english, (sheet, header, value)
                    assert not (isinstance(value, str) and "+00:00" in value), (sheet, header)


def test_every_column_has_a_note() -> None:
    missing = [(s.name, c.header) for s in SHEETS for c in s.columns if not c.note]
    assert missing == []  # a new column says in one line what it holds (keterangan sheet)


def test_keterangan_explains_every_column_of_every_sheet(tmp_path: Path) -> None:
    out = tmp_path / "ekspor.xlsx"
    write_sample(out)
    wb = load_workbook(out, read_only=True)
    notes = list(wb["keterangan"].iter_rows(values_only=True))
    assert notes[0] == ("lembar", "kolom", "keterangan")
    expected = [(spec.name, header) for spec in SHEETS for header in spec.headers]
    assert [(n[0], n[1]) for n in notes[1:]] == expected
    assert all(isinstance(n[2], str) and len(n[2]) > 3 for n in notes[1:])
    explained = {(n[0], n[1]): n[2] for n in notes[1:]}
    assert "Waktu Indonesia Barat" in explained[("laporan", "dikirim_wib")]


def test_csv_safe() -> None:
    assert csv_safe("=1+1") == "'=1+1"
    assert csv_safe("Siti") == "Siti"
    assert csv_safe(-5000) == -5000  # a number is a number, not text
    assert csv_safe("") == ""


def test_tuple_rows_and_progress(tmp_path: Path) -> None:
    seen: list[int] = []
    out = tmp_path / "x.xlsx"
    with ExportWriter(out, progress=seen.append) as w:
        sheet = w.sheet(FLAGS)
        for i in range(12_000):
            sheet.append((i, 1, "n", "k", "2024-01", "jump", None, "open", None, "t", None))  # fmt: skip
    assert seen == [5000, 10000]
    assert w.counts == {"tanda": 12_000}
    with pytest.raises(ExportError), ExportWriter(tmp_path / "y.xlsx") as w:
        w.sheet(FLAGS).append((1, 2))


def test_bad_file_name_and_aborted_export_leave_nothing(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        ExportWriter(tmp_path / "ekspor.pdf")
    out = tmp_path / "ekspor.csv"
    with pytest.raises(RuntimeError), ExportWriter(out) as w:
        w.sheet(RECIPIENTS).append(recipient())
        w.sheet(REPORTS)
        raise RuntimeError("database went away")
    assert list(tmp_path.iterdir()) == []
