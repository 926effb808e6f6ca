"""Streaming XLSX for the export: XlsxWriter in constant-memory mode behind a thin adapter.

XlsxWriter (PyPI `XlsxWriter`) writes the SpreadsheetML; this module only fixes the options and
the few rules bot/export.py relies on, so that no caller can forget them:

- text is always a string cell: the workbook is made with strings_to_formulas, _numbers and
  _urls off and every str goes through write_string (never write()), so no text becomes a
  formula, a number or a link; text starting with one of `literal_prefixes` also gets the
  quote-prefix text style (Excel keeps it text even after the cell is edited);
- XlsxWriter passes a string that starts with "<r>" and ends with "</r>" through as ready-made
  rich-text XML, unescaped (its own rich strings are stored that way). Text from the database
  can look like that (a note typed in chat), and it could then carry XML - even a formula
  element - into the sheet. Such text is written as a rich string of plain runs instead, which
  XlsxWriter escapes; the cell reads back as the same text;
- constant_memory: one row in memory at a time, rows written in order, sheets one after the
  other. XlsxWriter keeps each sheet's rows in a temporary file until close(); they go to a
  temporary directory of our own beside the output (bot.private_files), removed on close()
  and abort(), and by the next writer in that folder if the process was killed;
- the workbook file is created 0600 whatever the umask.

Cell values: str, int, float, bool, None (blank); anything else is written as its str(),
as text; so are NaN/inf and integers of 16 digits or more (Excel would round them).
Text longer than Excel's 32,767 characters is cut to that length.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from bot.private_files import private_file, temp_dir_beside

OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}
# Excel keeps 15 significant digits: a longer integer (say a NIK that arrived as a number) is
# written as its digits, as text, rather than rounded.
EXACT_INT = 10**15
MAX_TEXT = 32767  # Excel's longest cell text; longer text is cut (write_string would too)
# XlsxWriter escapes control characters in a rich-string run twice (_x0007_ -> _x005F_x0007_);
# in the rare text written as a rich string (see above) they are dropped instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


def _looks_like_rich_xml(text: str) -> bool:
    return text.startswith("<r>") and text.endswith("</r>")


class StreamingWorkbook:
    """Write sheets one after the other into an .xlsx file (XlsxWriter, constant memory)."""

    def __init__(self, path: str | Path, literal_prefixes: str = "") -> None:
        self.path = Path(path)
        self.literal_prefixes = tuple(literal_prefixes)
        # beside the output (0700), not in /tmp: a killed export leaves no names in /tmp, and
        # the next writer in that folder removes what a dead process left behind
        self._tmpdir = temp_dir_beside(self.path, "xlsx")
        try:
            self._book = xlsxwriter.Workbook(str(self.path), {**OPTIONS, "tmpdir": self._tmpdir})
            self._header = self._book.add_format({"bold": True})
            # quote prefix + text number format "@": Excel keeps the cell text when edited
            self._literal = self._book.add_format({"quote_prefix": True, "num_format": "@"})
        except BaseException:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            raise
        self._sheet: Any = None
        self._row = 0
        self._closed = False

    def add_sheet(
        self, name: str, headers: Sequence[str], widths: Sequence[int] | None = None
    ) -> None:
        """Start a sheet with a bold header row frozen at the top. A bad name -> ValueError."""
        try:
            sheet = self._book.add_worksheet(name)
        except Exception as exc:  # XlsxWriter's InvalidWorksheetName, DuplicateWorksheetName
            raise ValueError(f"not a valid sheet name: {name!r} ({exc})") from exc
        for col, width in enumerate(widths or ()):
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        self._sheet = sheet
        self._row = 0
        for col, header in enumerate(headers):
            self._write_text(0, col, str(header), self._header)
        self._row = 1

    def append(self, values: Sequence[Any]) -> None:
        """One row. Text starting with one of `literal_prefixes` gets the quote-prefix style;
        nothing is ever written as a formula."""
        sheet = self._sheet
        if sheet is None:
            raise ValueError("add_sheet() first")
        row = self._row
        prefixes = self.literal_prefixes
        write_number = sheet.write_number
        for col, value in enumerate(values):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                fmt = self._literal if value.startswith(prefixes) else None
                self._write_text(row, col, value, fmt)
            elif kind is int and -EXACT_INT < value < EXACT_INT:
                write_number(row, col, value)
            elif kind is bool:
                sheet.write_boolean(row, col, value)
            elif isinstance(value, float) and math.isfinite(value):
                write_number(row, col, value)
            elif isinstance(value, int) and -EXACT_INT < value < EXACT_INT:  # IntEnum etc.
                write_number(row, col, int(value))
            else:  # str subclasses, NaN/inf, long ints, dates, anything else: as text
                text = str(value)
                fmt = self._literal if text.startswith(prefixes) else None
                self._write_text(row, col, text, fmt)
        self._row = row + 1

    def _write_text(self, row: int, col: int, text: str, fmt: Any) -> None:
        if not text:
            return  # XlsxWriter writes "" as a blank cell anyway
        if len(text) > MAX_TEXT // 2:  # Excel's limit counts UTF-16 units
            text = text.encode("utf-16-le")[: 2 * MAX_TEXT].decode("utf-16-le", "ignore")
        if _looks_like_rich_xml(text):
            text = _CONTROL.sub("", text)
            # three plain runs: "<", "r", rest (XlsxWriter wants at least three fragments)
            parts = (
                (text[0], text[1], text[2:], fmt)
                if fmt is not None
                else (text[0], text[1], text[2:])
            )
            self._sheet.write_rich_string(row, col, *parts)
        else:
            self._sheet.write_string(row, col, text, fmt)

    def close(self) -> None:
        """Write the file and remove the temporary row data."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._book.worksheets():
                self._book.add_worksheet()
            private_file(self.path)  # 0600 whatever the umask; XlsxWriter keeps the mode
            self._book.close()
        finally:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def abort(self) -> None:
        """Stop without writing the file (the caller removes any file at the path)."""
        if self._closed:
            return
        self._closed = True
        for sheet in self._book.worksheets():
            fh = getattr(sheet, "row_data_fh", None)  # XlsxWriter's per-sheet temp file
            if fh is not None:
                fh.close()
        self._sheet = None
        shutil.rmtree(self._tmpdir, ignore_errors=True)
