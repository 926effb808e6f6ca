"""Reading an import file (.xlsx through python-calamine, or .csv) into sheets.

Every file-level problem becomes one ImportFileError line (exit 2) before anything is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.domain.headers import (
    FACILITATOR_COLUMNS,
    FACILITATOR_REQUIRED,
    RECIPIENT_COLUMNS,
    RECIPIENT_REQUIRED,
    find_header,
)

MAX_FILE_BYTES = 50 * 1024 * 1024
RECIPIENT_SHEET = "penerima"
FACILITATOR_SHEET = "pendamping"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Row = tuple[int, Sequence[object]]


class ImportFileError(Exception):
    """The file as a whole cannot be imported; one line for the clerk."""


@dataclass
class SheetSource:
    name: str
    kind: str  # 'recipients' | 'facilitators'
    header_row: int
    header: list[str]
    mapping: dict[str, int]
    _open_rows: object  # () -> Iterator[Row]

    def rows(self) -> Iterator[Row]:
        """Data rows after the header, with their 1-based spreadsheet row numbers."""
        rows = self._open_rows()  # type: ignore[operator]
        while True:
            try:
                number, cells = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # a damaged part of the file, found while streaming
                raise ImportFileError(
                    f"sheet {self.name!r} rusak dan tidak bisa dibaca sampai habis "
                    f"({type(exc).__name__}); simpan ulang dari Excel. Tidak ada yang disimpan."
                ) from None
            if number > self.header_row:
                yield number, cells


@dataclass
class Source:
    path: Path
    sheets: list[SheetSource]
    _workbook: object = None

    def close(self) -> None:
        """Close the workbook, when its reader can be closed."""
        close = getattr(self._workbook, "close", None)
        if callable(close):
            close()


def _detect(name: str, rows: Iterator[Row], hint: str | None) -> tuple[str, int, dict] | None:
    """(kind, header row, mapping) from the first rows; hint from the sheet name."""
    head = []
    for row in rows:
        head.append(row)
        if len(head) >= 20:
            break
    order = [("recipients", RECIPIENT_COLUMNS, RECIPIENT_REQUIRED),
             ("facilitators", FACILITATOR_COLUMNS, FACILITATOR_REQUIRED)]  # fmt: skip
    if hint == "facilitators":
        order.reverse()
    if hint is not None:
        order = [o for o in order if o[0] == hint]
    for kind, columns, required in order:
        found = find_header(head, columns, required)
        if found:
            return kind, found[0], found[1]
    return None


def _kind_hint(sheet_name: str) -> str | None:
    key = sheet_name.strip().casefold()
    if key == RECIPIENT_SHEET:
        return "recipients"
    if key == FACILITATOR_SHEET:
        return "facilitators"
    return None


def open_source(path: str | Path, sheet: str | None = None) -> Source:
    """Check the file and find each sheet's header; raise ImportFileError for the whole file."""
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"file {path} tidak ditemukan")
    if not path.is_file():
        raise ImportFileError(f"{path} bukan file")
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(f"file {path.name} kosong")
    if size > MAX_FILE_BYTES:
        raise ImportFileError(
            f"file {path.name} terlalu besar ({size // (1024 * 1024)} MB, batas 50 MB); "
            "bagi menjadi beberapa file"
        )
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        magic = fh.read(8)
    if suffix == ".xls":
        raise ImportFileError(
            f"{path.name} memakai format Excel lama (.xls); buka di Excel lalu "
            "Simpan Sebagai .xlsx dan impor lagi"
        )
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, magic, sheet)
    if suffix in (".csv", ".txt"):
        return _open_csv(path, sheet)
    raise ImportFileError(f"{path.name}: hanya file .xlsx atau .csv yang bisa diimpor")


def _open_xlsx(path: Path, magic: bytes, sheet: str | None) -> Source:
    if magic == OLE_MAGIC:
        data = path.read_bytes()
        if "EncryptionInfo".encode("utf-16-le") in data or b"EncryptionInfo" in data:
            # an encrypted .xlsx is an OLE compound file holding an EncryptionInfo stream
            raise ImportFileError(_password(path))
        raise ImportFileError(
            f"{path.name} sebenarnya file Excel lama (.xls); Simpan Sebagai .xlsx lalu impor lagi"
        )
    wb = _load_workbook(path)

    def opener(ws):
        def rows() -> Iterator[Row]:
            yield from wb.rows(ws)

        return rows

    names = wb.sheetnames
    if sheet is not None:
        match = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if not match:
            wb.close()
            raise ImportFileError(
                f"sheet {sheet!r} tidak ada di {path.name} (ada: {', '.join(names)})"
            )
        chosen = match
    else:
        # facilitators first, so recipients can refer to them; then recipients
        by_kind = {_kind_hint(n): n for n in names if _kind_hint(n)}
        chosen = [by_kind[k] for k in ("facilitators", "recipients") if k in by_kind]
        if not chosen:
            chosen = names[:1]
    sheets = []
    try:
        for name in chosen:
            open_rows = opener(name)
            detected = _detect(name, open_rows(), _kind_hint(name))
            if detected is None:
                if _is_empty(open_rows()):
                    raise ImportFileError(f"sheet {name!r} di {path.name} kosong")
                raise ImportFileError(_no_header(name, _kind_hint(name)))
            kind, header_row, mapping = detected
            header = _header_cells(open_rows(), header_row)
            sheets.append(SheetSource(name, kind, header_row, header, mapping, open_rows))
    except ImportFileError:
        wb.close()
        raise
    except Exception as exc:  # calamine reads the whole sheet here: a damaged one fails now
        wb.close()
        raise ImportFileError(_damaged(path, exc)) from None
    return Source(path, sheets, wb)


def _load_workbook(path: Path):
    """The workbook through python-calamine (bot/services/xlsx_stream.py)."""
    from bot.services.xlsx_stream import CalamineError, PasswordError, XlsxReader, ZipError

    try:
        return XlsxReader(path)
    except PasswordError:
        raise ImportFileError(_password(path)) from None
    except ZipError:
        raise ImportFileError(
            f"{path.name} rusak atau bukan file .xlsx; simpan ulang dari Excel"
        ) from None
    except (CalamineError, OSError) as exc:  # a package with parts missing, unreadable XML
        raise ImportFileError(_damaged(path, exc)) from None


def _password(path: Path) -> str:
    return (
        f"{path.name} dilindungi kata sandi; buka di Excel, hapus kata sandinya, "
        "simpan, lalu impor lagi"
    )


def _damaged(path: Path, exc: BaseException) -> str:
    return (
        f"{path.name} rusak dan tidak bisa dibaca ({type(exc).__name__}); simpan ulang dari "
        "Excel. Tidak ada yang disimpan."
    )


def _no_header(name: str, hint: str | None) -> str:
    if hint == "facilitators":
        need = "id_pendamping dan nama"
    else:
        need = "nik, nama/kepala_keluarga, kecamatan, jenis_pelatihan"
    return f"sheet {name!r}: baris judul kolom tidak ditemukan (perlu kolom {need})"


def _is_empty(rows: Iterator[Row]) -> bool:
    for count, (_, cells) in enumerate(rows):
        if any(c not in (None, "") for c in cells):
            return False
        if count > 50:
            break
    return True


def _header_cells(rows: Iterator[Row], header_row: int) -> list[str]:
    for number, cells in rows:
        if number == header_row:
            return ["" if c is None else str(c) for c in cells]
    return []  # pragma: no cover - header_row came from these rows


def _open_csv(path: Path, sheet: str | None) -> Source:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if not text.strip():
        raise ImportFileError(f"file {path.name} kosong")
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","

    def open_rows() -> Iterator[Row]:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        for number, cells in enumerate(reader, start=1):
            yield number, [c if c != "" else None for c in cells]

    hint = _kind_hint(sheet) if sheet else None
    detected = _detect(path.stem, open_rows(), hint)
    if detected is None:
        raise ImportFileError(_no_header(path.name, hint))
    kind, header_row, mapping = detected
    header = _header_cells(open_rows(), header_row)
    name = sheet or (RECIPIENT_SHEET if kind == "recipients" else FACILITATOR_SHEET)
    return Source(path, [SheetSource(name, kind, header_row, header, mapping, open_rows)])
