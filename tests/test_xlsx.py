"""The streaming XLSX writer produces files openpyxl reads back exactly."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.xlsx import Literal, XlsxWriter, column_letter


def test_values_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    w = XlsxWriter(out, literal_prefixes="=+-@\t\r")
    w.add_sheet("satu", ["a", "b", "c", "d", "e", "f"], [10, 20, 30, 10, 10, 10])
    w.append([1, -2, 3.5, True, None, "Rp & <Sari> \"x\" 'y'"])
    w.append(["  spasi  ", "baris\nbaru", "bel\x07", "=1+1", Literal("biasa"), 12345678901234])
    w.add_sheet("dua", ["x"])
    w.append(list(range(30)))  # beyond 26 columns: AA, AB, ...
    w.close()
    wb = load_workbook(out)
    assert wb.sheetnames == ["satu", "dua"]
    ws = wb["satu"]
    assert [c.value for c in ws[1]] == ["a", "b", "c", "d", "e", "f"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2"
    assert [c.value for c in ws[2]] == [1, -2, 3.5, True, None, "Rp & <Sari> \"x\" 'y'"]
    assert [c.value for c in ws[3]] == [
        "  spasi  ", "baris\nbaru", "bel", "=1+1", "biasa", 12345678901234,
    ]  # fmt: skip
    assert ws["D3"].data_type == "s" and ws["D3"].quotePrefix
    assert ws["E3"].quotePrefix and not ws["A3"].quotePrefix
    assert ws.column_dimensions["B"].width == 20
    assert wb["dua"]["AD2"].value == 29


def test_nothing_is_ever_a_formula(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    w = XlsxWriter(out)  # even without prefixes: inline strings are never formulas
    w.add_sheet("s", ["h"])
    w.append(["=SUM(1,2)"])
    w.close()
    with zipfile.ZipFile(out) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    assert load_workbook(out)["s"]["A2"].data_type == "s"


def test_empty_workbook_and_bad_sheet_name(tmp_path: Path) -> None:
    out = tmp_path / "kosong.xlsx"
    XlsxWriter(out).close()
    assert load_workbook(out).sheetnames == ["Sheet1"]
    w = XlsxWriter(tmp_path / "x.xlsx")
    with pytest.raises(ValueError):
        w.add_sheet("a/b", ["h"])
    with pytest.raises(ValueError):
        w.append([1])  # no sheet yet
    w.abort()


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
