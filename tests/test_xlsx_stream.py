"""The fast .xlsx reader gives the same values as openpyxl's read-only mode."""

from __future__ import annotations

import datetime as dt

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
    if not path.exists():
        pytest.skip("sample workbooks not found at ../shared/data beside the repo")
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
