"""A fast streaming reader for .xlsx sheet data (zipfile + expat), values only.

openpyxl's read-only mode spends most of an import building cell objects; this reader keeps
only what an import needs: per row, the 1-based row number and a list of values (str, int,
float, bool, datetime, None), with dates recognised from the cell style like Excel does.
Memory stays flat: the sheet XML is fed to expat in chunks and rows are yielded as they end.
Shared strings are held once (they are what the cells point to).
"""

from __future__ import annotations

import codecs
import datetime as dt
import html
import posixpath
import re
import zipfile
from collections.abc import Iterator
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

CHUNK = 1 << 16
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_REF = re.compile(r"([A-Z]+)")
_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_ATTR_R = re.compile(r'\br="([^"]*)"')
_ATTR_T = re.compile(r'\bt="([^"]*)"')
_ATTR_S = re.compile(r'\bs="([^"]*)"')
_V = re.compile(r"<v>([^<]*)</v>")
_T = re.compile(r"<t\b[^>]*>([^<]*)</t>")
# The usual cell in one match: column letters, other attributes, and <v> or a plain inline <t>.
_FAST_CELL = re.compile(
    r'<c r="([A-Z]+)\d+"([^>]*)>(?:<f>[^<]*</f>)?(?:<v>([^<]*)</v>|<is><t[^>]*>([^<]*)</t></is>)</c>'
)
_COLUMNS: dict[str, int] = {}


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _parse(data: bytes, start, end=None, chars=None) -> None:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if chars:
        parser.CharacterDataHandler = chars
    parser.Parse(data, True)


def _column_letters(letters: str) -> int:
    index = _COLUMNS.get(letters)
    if index is None:
        index = 0
        for ch in letters:
            index = index * 26 + (ord(ch) - 64)
        index -= 1
        _COLUMNS[letters] = index
    return index


def _column_index(ref: str) -> int:
    m = _REF.match(ref)
    index = 0
    for ch in m.group(1) if m else "A":
        index = index * 26 + (ord(ch) - 64)
    return index - 1


class XlsxReader:
    """Sheets of one workbook; open with XlsxReader(path), then rows(sheet_name)."""

    def __init__(self, path) -> None:
        self.zip = zipfile.ZipFile(path)
        self.sheets = self._sheet_paths()
        self._strings: list[str] | None = None
        self._date_styles: set[int] | None = None

    def close(self) -> None:
        self.zip.close()

    @property
    def sheetnames(self) -> list[str]:
        return list(self.sheets)

    def _sheet_paths(self) -> dict[str, str]:
        rels: dict[str, str] = {}

        def rel(name, attrs):
            if _local(name) == "Relationship":
                target = attrs.get("Target", "")
                if target.startswith("/"):
                    target = target[1:]
                else:
                    target = posixpath.normpath(posixpath.join("xl", target))
                rels[attrs.get("Id", "")] = target

        _parse(self.zip.read("xl/_rels/workbook.xml.rels"), rel)
        sheets: dict[str, str] = {}

        def sheet(name, attrs):
            if _local(name) == "sheet":
                rid = next((v for k, v in attrs.items() if _local(k) == "id"), "")
                sheets[attrs.get("name", "")] = rels[rid]

        _parse(self.zip.read("xl/workbook.xml"), sheet)
        return sheets

    def _load_strings(self) -> list[str]:
        strings: list[str] = []
        if "xl/sharedStrings.xml" not in self.zip.namelist():
            return strings
        parts: list[str] = []
        state = {"in_t": False, "skip": 0}

        def start(name, attrs):
            tag = _local(name)
            if tag == "si":
                parts.clear()
            elif tag in ("rPh", "phoneticPr"):
                state["skip"] += 1
            elif tag == "t" and not state["skip"]:
                state["in_t"] = True

        def end(name):
            tag = _local(name)
            if tag == "si":
                strings.append("".join(parts))
            elif tag in ("rPh", "phoneticPr"):
                state["skip"] -= 1
            elif tag == "t":
                state["in_t"] = False

        def chars(text):
            if state["in_t"]:
                parts.append(text)

        _parse(self.zip.read("xl/sharedStrings.xml"), start, end, chars)
        return strings

    def _load_date_styles(self) -> set[int]:
        if "xl/styles.xml" not in self.zip.namelist():
            return set()
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_xfs": False}

        def start(name, attrs):
            tag = _local(name)
            if tag == "numFmt":
                custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            elif tag == "cellXfs":
                state["in_xfs"] = True
            elif tag == "xf" and state["in_xfs"]:
                xfs.append(int(attrs.get("numFmtId", "0")))

        def end(name):
            if _local(name) == "cellXfs":
                state["in_xfs"] = False

        _parse(self.zip.read("xl/styles.xml"), start, end)
        dates = set()
        for index, fmt_id in enumerate(xfs):
            code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id, "General")
            if is_date_format(code):
                dates.add(index)
        return dates

    def rows(self, sheet_name: str) -> Iterator[tuple[int, list[object]]]:
        """(row number, values) for every row from 1 to the last, gaps filled with []."""
        if self._strings is None:
            self._strings = self._load_strings()
            self._date_styles = self._load_date_styles()
        with self.zip.open(self.sheets[sheet_name]) as fh:
            head = fh.read(CHUNK)
        if re.search(rb"<\w+:sheetData\b", head):
            # namespace-prefixed XML (rare writers, strict OOXML): the general expat path
            yield from self._rows_expat(sheet_name)
        else:
            yield from self._rows_regex(sheet_name)

    def _rows_regex(self, sheet_name: str) -> Iterator[tuple[int, list[object]]]:
        """The common case, parsed with compiled regular expressions over complete rows."""
        strings, date_styles = self._strings or [], self._date_styles or set()
        convert = self._convert
        expected = 1
        last_row = 0
        buffer = ""
        with self.zip.open(self.sheets[sheet_name]) as fh:
            decoder = codecs.getincrementaldecoder("utf-8")()
            while True:
                chunk = fh.read(CHUNK)
                buffer += decoder.decode(chunk, final=not chunk)
                cut = buffer.rfind("</row>")
                if chunk and cut < 0:
                    continue
                body, buffer = (buffer, "") if not chunk else (buffer[: cut + 6], buffer[cut + 6 :])
                for m in _ROW.finditer(body):
                    attrs, inner = m.group(1), m.group(2)
                    rm = _ATTR_R.search(attrs)
                    number = int(rm.group(1)) if rm else last_row + 1
                    last_row = number
                    values: list[object] = []
                    inner = inner or ""
                    fast = _FAST_CELL.findall(inner)
                    if len(fast) == inner.count("<c "):
                        for letters, cattrs, v, t in fast:
                            col = _column_letters(letters)
                            if 't="' in cattrs:
                                tm = _ATTR_T.search(cattrs)
                                kind = tm.group(1) if tm else "n"
                            else:
                                kind = "n"
                            if 's="' in cattrs:
                                sm = _ATTR_S.search(cattrs)
                                style = int(sm.group(1)) if sm else 0
                            else:
                                style = 0
                            text = t if kind == "inlineStr" else v
                            if "&" in text:
                                text = html.unescape(text)
                            value = convert(text, kind, style, strings, date_styles)
                            if value is None:
                                continue
                            if len(values) <= col:
                                values.extend([None] * (col + 1 - len(values)))
                            values[col] = value
                        while expected < number:
                            yield expected, []
                            expected += 1
                        yield number, values
                        expected = number + 1
                        continue
                    next_col = 0
                    for c in _CELL.finditer(inner):
                        cattrs, cinner = c.group(1), c.group(2)
                        if not cinner:
                            next_col += 1
                            continue
                        ref = _ATTR_R.search(cattrs)
                        col = _column_index(ref.group(1)) if ref else next_col
                        next_col = col + 1
                        tm = _ATTR_T.search(cattrs)
                        kind = tm.group(1) if tm else "n"
                        sm = _ATTR_S.search(cattrs)
                        style = int(sm.group(1)) if sm else 0
                        if kind == "inlineStr":
                            text = "".join(_T.findall(cinner))
                        else:
                            vm = _V.search(cinner)
                            text = vm.group(1) if vm else ""
                        if "&" in text:
                            text = html.unescape(text)
                        value = convert(text, kind, style, strings, date_styles)
                        if value is None:
                            continue
                        if len(values) <= col:
                            values.extend([None] * (col + 1 - len(values)))
                        values[col] = value
                    while expected < number:
                        yield expected, []
                        expected += 1
                    yield number, values
                    expected = number + 1
                if not chunk:
                    if "</sheetData>" not in body and "<sheetData/>" not in body:
                        raise ValueError("the sheet's XML ends before </sheetData>")
                    break

    def _rows_expat(self, sheet_name: str) -> Iterator[tuple[int, list[object]]]:
        if self._strings is None:
            self._strings = self._load_strings()
            self._date_styles = self._load_date_styles()
        strings, date_styles = self._strings, self._date_styles or set()
        done: list[tuple[int, list[object]]] = []
        row: list[object] = []
        cell = {"col": 0, "t": "n", "s": 0, "text": []}
        state = {"row": 0, "in_value": False, "next_col": 0}

        def start(name, attrs):
            tag = _local(name)
            if tag == "c":
                ref = attrs.get("r")
                cell["col"] = _column_index(ref) if ref else state["next_col"]
                cell["t"] = attrs.get("t", "n")
                cell["s"] = int(attrs.get("s", "0"))
                cell["text"] = []
            elif tag in ("v", "t"):
                state["in_value"] = True
            elif tag == "row":
                r = attrs.get("r")
                state["row"] = int(r) if r else state["row"] + 1
                state["next_col"] = 0
                row.clear()

        def end(name):
            tag = _local(name)
            if tag in ("v", "t"):
                state["in_value"] = False
            elif tag == "c":
                text = "".join(cell["text"])
                col = cell["col"]
                state["next_col"] = col + 1
                value = self._convert(text, cell["t"], cell["s"], strings, date_styles)
                if value is None:
                    return
                if len(row) <= col:
                    row.extend([None] * (col + 1 - len(row)))
                row[col] = value
            elif tag == "row":
                done.append((state["row"], list(row)))

        def chars(text):
            if state["in_value"]:
                cell["text"].append(text)

        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        expected = 1
        with self.zip.open(self.sheets[sheet_name]) as fh:
            while True:
                chunk = fh.read(CHUNK)
                parser.Parse(chunk, not chunk)
                for number, values in done:
                    while expected < number:
                        yield expected, []
                        expected += 1
                    yield number, values
                    expected = number + 1
                done.clear()
                if not chunk:
                    break

    @staticmethod
    def _convert(text: str, kind: str, style: int, strings, date_styles) -> object:
        if kind == "s":
            return strings[int(text)] if text else None
        if kind in ("str", "inlineStr"):
            return text if text else None
        if kind == "b":
            return text == "1"
        if kind == "e":
            return None
        if kind == "d":
            return dt.datetime.fromisoformat(text) if text else None
        if not text:
            return None
        number: int | float
        if "." in text or "E" in text or "e" in text:
            number = float(text)
            if number.is_integer() and abs(number) < 2**53:
                number = int(number) if "E" not in text and "e" not in text else number
        else:
            number = int(text)
        if style in date_styles:
            return EXCEL_EPOCH + dt.timedelta(days=float(number))
        return number
