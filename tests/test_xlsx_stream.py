"""The python-calamine adapter gives the same values as openpyxl's read-only mode, with Excel's
row numbers and columns, number cells kept as numbers and date cells as datetimes."""

from __future__ import annotations

import datetime as dt
import re
import zipfile

import openpyxl
import pytest

from bot.services.xlsx_stream import XlsxReader
from tests.registry_helpers import MESSY, SAMPLE


def _openpyxl_rows(path, sheet):
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(r) for r in wb[sheet].iter_rows(min_row=1, values_only=True)]
    finally:
        wb.close()


def _same(path):
    reader = XlsxReader(path)
    try:
        for sheet in reader.sheetnames:
            ours = [values for _, values in reader.rows(sheet)]
            theirs = _openpyxl_rows(path, sheet)
            assert len(ours) == len(theirs), sheet
            for a, b in zip(ours, theirs, strict=True):
                assert a + [None] * (len(b) - len(a)) == b
            numbers = [n for n, _ in reader.rows(sheet)]
            assert numbers == list(range(1, len(numbers) + 1))
    finally:
        reader.close()


@pytest.mark.parametrize("path", [SAMPLE, MESSY], ids=["sample", "messy"])
def test_sample_workbooks_read_like_openpyxl(path):
    _same(path)


def test_types_shared_strings_dates_gaps_and_escapes(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "penerima"
    ws.append(["nik", "tanggal", "nilai", "teks"])
    ws.append(["3328064211650004", dt.datetime(1980, 2, 28), 2500000, 'A & B <c> "d"'])
    ws.append([None, None, 2.5, True])
    ws["A6"] = "after a gap"
    ws["E6"] = "=1+1"
    ws["E6"].data_type = "s"
    wb.save(path)
    _same(path)
    reader = XlsxReader(path)
    rows = dict(reader.rows("penerima"))
    assert rows[2][1] == dt.datetime(1980, 2, 28)
    assert rows[2][3] == 'A & B <c> "d"'
    assert rows[4] == [] and rows[6][4] == "=1+1"
    reader.close()


def test_rows_and_columns_keep_excel_positions(tmp_path):
    # calamine's own rows start at the first used column; the adapter puts columns back
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C3"] = "judul"
    ws["C5"] = "nik"
    ws["D7"] = 7
    wb.save(path)
    _same(path)
    reader = XlsxReader(path)
    rows = list(reader.rows(ws.title))
    reader.close()
    assert [n for n, _ in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert rows[2] == (3, [None, None, "judul"])
    assert rows[4] == (5, [None, None, "nik"]) and rows[5] == (6, [])
    assert rows[6] == (7, [None, None, None, 7])


def test_number_cells_stay_numbers_dates_are_datetimes_errors_are_empty(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([3328064211650004, 2500000, 2.5, 1e20, -3])
    ws.append([dt.date(2023, 11, 22), dt.datetime(1980, 2, 28, 13, 5), dt.time(10, 30), False])
    ws["A3"] = "=1/0"
    wb.save(path)
    _with_sheet_xml(
        path,
        lambda x: x.replace(
            '<c r="A3"><f>1/0</f><v /></c>', '<c r="A3" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        ),
    )
    reader = XlsxReader(path)
    rows = dict(reader.rows(ws.title))
    reader.close()
    # a NIK typed into a number cell is a number, so the import refuses it (format as Text)
    assert rows[1] == [3328064211650004, 2500000, 2.5, 1e20, -3]
    assert [type(v) for v in rows[1]] == [int, int, float, float, int]
    assert rows[2] == [dt.datetime(2023, 11, 22), dt.datetime(1980, 2, 28, 13, 5),
                       dt.time(10, 30), False]  # fmt: skip
    assert type(rows[2][0]) is dt.datetime
    assert rows[3] == []


def test_empty_sheet_gives_no_rows(tmp_path):
    path = tmp_path / "t.xlsx"
    openpyxl.Workbook().save(path)
    reader = XlsxReader(path)
    assert list(reader.rows(reader.sheetnames[0])) == []
    reader.close()


def _with_sheet_xml(path, change):
    """Rewrite the first sheet's XML in place (to build what other writers produce)."""
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    name = "xl/worksheets/sheet1.xml"
    new = change(parts[name].decode())
    assert new != parts[name].decode()
    parts[name] = new.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for part, data in parts.items():
            z.writestr(part, data)


def test_namespace_prefixed_sheet_xml_and_cells_without_reference(tmp_path):
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["nik", "nama"])
    ws.append(["3328064211650004", "Siti"])
    wb.save(path)

    def prefixed(x: str) -> str:
        x = x.replace(
            'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
            'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
        )
        x = re.sub(r"<(/?)(?=[a-zA-Z])", r"<\1x:", x)
        return re.sub(r'(<x:c) r="[A-Z]+[0-9]+"', r"\1", x)  # fmt: skip

    _with_sheet_xml(path, prefixed)
    reader = XlsxReader(path)
    assert list(reader.rows(ws.title)) == [(1, ["nik", "nama"]), (2, ["3328064211650004", "Siti"])]
    reader.close()
