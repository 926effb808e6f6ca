"""The XlsxWriter adapter: files openpyxl reads back exactly, and text that never turns into
a formula, a number, a link or raw XML."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from bot.xlsx import StreamingWorkbook


def sheet_xml(path: Path, n: int = 1) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"xl/worksheets/sheet{n}.xml").decode()


def test_values_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    w = StreamingWorkbook(out, literal_prefixes="=+-@\t\r")
    w.add_sheet("satu", ["a", "b", "c", "d", "e", "f"], [10, 20, 30, 10, 10, 10])
    w.append([1, -2, 3.5, True, None, "Rp & <Sari> \"x\" 'y'"])
    w.append(["  spasi  ", "baris\nbaru", "bel\x07", "=1+1", "_x000D_ apa adanya", 12345678901234])
    w.append([float("nan"), float("inf"), "0812", "1e5", "www.contoh.id", 3328064211650004])
    w.append([10**400, -(10**15), 10**15 - 1])
    w.add_sheet("dua", ["x"])
    w.append(list(range(30)))  # beyond 26 columns: AA, AB, ...
    w.close()
    wb = load_workbook(out)
    assert wb.sheetnames == ["satu", "dua"]
    ws = wb["satu"]
    assert [c.value for c in ws[1]] == ["a", "b", "c", "d", "e", "f"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    assert [c.value for c in ws[2]] == [1, -2, 3.5, True, None, "Rp & <Sari> \"x\" 'y'"]
    # control characters and literal _xHHHH_ text use SpreadsheetML's escapes (Excel decodes
    # them; openpyxl leaves them in inline strings)
    assert [unescape(c.value) if isinstance(c.value, str) else c.value for c in ws[3]] == [
        "  spasi  ", "baris\nbaru", "bel\x07", "=1+1", "_x000D_ apa adanya", 12345678901234,
    ]  # fmt: skip
    assert ws["D3"].data_type == "s" and ws["D3"].quotePrefix
    assert not ws["A3"].quotePrefix
    # text stays text: no number, no link, no error value from NaN/inf, no rounded long number
    assert [c.value for c in ws[4]] == ["nan", "inf", "0812", "1e5", "www.contoh.id",
                                        "3328064211650004"]  # fmt: skip
    assert all(c.data_type == "s" and c.hyperlink is None for c in ws[4])
    assert [c.value for c in ws[5]][:3] == [str(10**400), "-1000000000000000", 10**15 - 1]
    assert ws.column_dimensions["B"].width == pytest.approx(20, abs=1)
    assert wb["dua"]["AD2"].value == 29


def test_nothing_is_ever_a_formula(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    w = StreamingWorkbook(out)  # even without prefixes: text is written with write_string
    w.add_sheet("s", ["h"])
    w.append(["=SUM(1,2)"])
    w.close()
    assert "<f>" not in sheet_xml(out)
    assert load_workbook(out)["s"]["A2"].data_type == "s"


def test_text_that_looks_like_rich_string_xml_stays_text(tmp_path: Path) -> None:
    """XlsxWriter passes "<r>...</r>" through as raw XML; the adapter must not let it."""
    evil = [
        '<r></r></is><f>HYPERLINK("http://x","klik")</f><is><r></r>',
        "<r><t>lain</t></r>",
        "<r></r>",
        "=<r></r>",  # formula-like too: quote prefix
    ]
    out = tmp_path / "t.xlsx"
    w = StreamingWorkbook(out, literal_prefixes="=")
    w.add_sheet("s", ["h"])
    for text in evil:
        w.append([text])
    w.append(["<r>bel\x07</r>"])  # control characters in such text are dropped
    w.close()
    xml = sheet_xml(out)
    assert "<f>" not in xml and "<t>lain</t>" not in xml
    ws = load_workbook(out)["s"]
    cells = [ws.cell(row=i, column=1) for i in range(2, 2 + len(evil))]
    assert [c.value for c in cells] == evil
    assert all(c.data_type == "s" for c in cells)
    assert cells[-1].quotePrefix and not cells[0].quotePrefix
    assert ws.cell(row=2 + len(evil), column=1).value == "<r>bel</r>"


def test_text_longer_than_excel_allows_is_cut_not_lost(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    w = StreamingWorkbook(out)
    w.add_sheet("s", ["h"])
    w.append(["a" * 40_000, "<r>" + "b" * 40_000 + "</r>"])
    w.close()
    ws = load_workbook(out)["s"]
    assert ws["A2"].value == "a" * 32_767
    assert ws["B2"].value == "<r>" + "b" * 32_764


def test_empty_workbook_and_bad_sheet_name(tmp_path: Path) -> None:
    out = tmp_path / "kosong.xlsx"
    StreamingWorkbook(out).close()
    assert load_workbook(out).sheetnames == ["Sheet1"]
    w = StreamingWorkbook(tmp_path / "x.xlsx")
    with pytest.raises(ValueError):
        w.append([1])  # no sheet yet
    with pytest.raises(ValueError):
        w.add_sheet("a/b", ["h"])
    w.abort()


def test_abort_writes_nothing_and_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "out" / "x.xlsx"
    out.parent.mkdir()
    w = StreamingWorkbook(out)
    w.add_sheet("s", ["h"])
    for i in range(100):
        w.append([i, "baris"])
    w.abort()
    assert list(out.parent.iterdir()) == [] and list(scratch.iterdir()) == []
    w = StreamingWorkbook(out)
    w.add_sheet("s", ["h"])
    w.append([1])
    w.close()
    assert out.exists() and list(scratch.iterdir()) == []
