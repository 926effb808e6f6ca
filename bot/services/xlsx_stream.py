""".xlsx sheet data for the import, read with python-calamine (Rust calamine); values only.

A thin adapter: python-calamine parses the package (shared strings, inline strings, styles and
date formats, 1904 dates, namespace-prefixed XML) and this module only shapes its values like
openpyxl's read-only `values_only` rows, which the import's parsers expect:

- per row the 1-based Excel row number and a list of values (str, int, float, bool, datetime,
  time, timedelta, None); rows before the first cell come out as [] so numbers stay Excel's;
- empty and error cells are None (calamine gives ""); trailing empty cells are dropped;
- a number cell stays a number (int when integral, as openpyxl reads "2500000"), so a NIK typed
  into a number cell is still refused with the hint to format the column as Text;
- a date-only cell is a datetime at midnight (calamine gives a date), as openpyxl reads it.

calamine loads a whole sheet when it is first asked for (a damaged sheet fails there, before
anything is written); each sheet is loaded once and kept until close().
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from python_calamine import (
    CalamineError,
    CalamineSheet,
    CalamineWorkbook,
    PasswordError,
    ZipError,
)

__all__ = ["CalamineError", "PasswordError", "XlsxReader", "ZipError"]

_EXACT = 2**53  # integral floats below this are exact ints


def _value(v: object) -> object:
    """A calamine cell value that is not a non-empty str, as openpyxl would give it."""
    if type(v) is float:
        return int(v) if v.is_integer() and -_EXACT < v < _EXACT else v
    if v == "":
        return None
    if type(v) is dt.date:
        return dt.datetime(v.year, v.month, v.day)
    return v


def _call(fn, *args):
    """fn(*args), with a Rust panic inside calamine (pyo3's PanicException, a BaseException)
    turned into a CalamineError, so a strange file is a file error and never a crash."""
    try:
        return fn(*args)
    except Exception:
        raise
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":
            raise
        raise CalamineError(f"calamine: {exc}") from None


class XlsxReader:
    """Sheets of one workbook; open with XlsxReader(path), then rows(sheet_name).

    Raises python_calamine.CalamineError (ZipError, XmlError, PasswordError...) for a file or a
    sheet that cannot be read.
    """

    def __init__(self, path: str | Path) -> None:
        self.book = _call(CalamineWorkbook.from_path, str(path))
        self.sheetnames: list[str] = list(self.book.sheet_names)
        self._sheets: dict[str, CalamineSheet] = {}

    def close(self) -> None:
        """Release the workbook (closing twice is harmless)."""
        self._sheets.clear()
        with contextlib.suppress(CalamineError):  # already closed
            self.book.close()

    def _sheet(self, name: str) -> CalamineSheet:
        sheet = self._sheets.get(name)
        if sheet is None:
            sheet = self._sheets[name] = _call(self.book.get_sheet_by_name, name)
        return sheet

    def rows(self, sheet_name: str) -> Iterator[tuple[int, list[object]]]:
        """(row number, values) for every row from 1 to the last, gaps as []."""
        sheet = self._sheet(sheet_name)
        start = sheet.start
        if start is None:  # no cell at all
            return
        # calamine's rows begin at row 1 but at the first used column: put the columns back.
        pad: list[object] = [None] * start[1]
        value = _value
        for number, raw in enumerate(sheet.iter_rows(), start=1):
            values = [v if type(v) is str and v else value(v) for v in raw]
            while values and values[-1] is None:
                values.pop()
            yield number, (pad + values if pad and values else values)
