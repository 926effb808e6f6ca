"""Period export: XLSX (XlsxWriter, streamed through bot/xlsx.py) or CSV, four sheets.

Sheets: penerima (recipients with their latest report and score components), laporan (every
report of the period, all revisions), kunjungan (facilitator visits in the period's month) and
tanda (flags of the period and every flag still open).

The caller supplies the rows (dataclasses below, or tuples in column order) as iterables, so
100,000 recipients stream through without being held in memory. Safety is enforced here, not
by the caller:
- a text cell starting with = + - @ tab or CR is written as literal text (XLSX: a string cell
  (write_string) with the quote-prefix style, and no cell is ever written as a formula; CSV: a
  leading apostrophe), so no cell can become a formula;
- NIK columns are masked (3328********0001) unless the writer is made with full_nik=True,
  which only the CLI does; a full NIK is always text, never a number.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.domain.nik import mask_nik
from bot.xlsx import StreamingWorkbook

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 5000  # rows between two progress calls
FORMATS = ("xlsx", "csv")


class ExportError(Exception):
    """The export cannot be written (bad file name, unknown format); one line."""


@dataclass(frozen=True)
class Column:
    key: str  # attribute of the row dataclass
    header: str  # Indonesian header written in the file
    nik: bool = False  # masked unless full_nik
    width: int = 14


@dataclass(frozen=True)
class SheetSpec:
    name: str  # sheet name (XLSX) / file name suffix (CSV)
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecipientRow:
    id: int
    nik: str
    name: str
    gender: str | None
    kecamatan: str
    desa: str | None
    programme: str
    facilitator: str | None
    status: str  # active | paused | graduated | ended
    period_status: str  # sudah lapor | mengisi | belum lapor
    last_period: str | None  # period of the latest report
    business_status: str | None
    revenue: int | None
    costs: int | None
    profit: int | None
    other_income: int | None
    savings_amount: int | None
    score: int | None
    band: str | None
    score_components: str | None  # 'key=points/max; ...'
    reachable: str  # ya | tidak | - (no account)
    receives_pkh: str = "-"  # ya | tidak | - (register): assistance a graduation would end
    receives_sembako: str = "-"
    welfare_decile: int | None = None  # desil (register)


@dataclass(frozen=True, slots=True)
class ReportRow:
    id: int
    recipient_id: int
    nik: str
    name: str
    kecamatan: str
    desa: str | None
    programme: str
    period: str
    reporter_role: str
    revision: int
    submitted_at: str
    late: str
    business_status: str
    revenue: int | None
    costs: int | None
    profit: int | None
    other_income: int | None
    household_size: int | None
    has_savings: str | None
    savings_amount: int | None
    keeps_books: str | None
    income_sources: int | None
    wants_help: str | None
    equipment_ok: str | None
    goats: int | None


@dataclass(frozen=True, slots=True)
class VisitRow:
    id: int
    recipient_id: int
    name: str
    kecamatan: str
    facilitator: str | None
    visit_date: str
    business_running: str | None
    score_bookkeeping: int | None
    score_quality: int | None
    score_market: int | None
    score_motivation: int | None
    notes: str | None


@dataclass(frozen=True, slots=True)
class FlagRow:
    id: int
    recipient_id: int
    name: str
    kecamatan: str
    period: str | None
    kind: str
    field: str | None
    status: str
    resolved_value: int | None
    created_at: str
    resolved_at: str | None


RECIPIENTS = SheetSpec(
    "penerima",
    (
        Column("id", "id_penerima", width=10),
        Column("nik", "nik", nik=True, width=20),
        Column("name", "nama", width=24),
        Column("gender", "jenis_kelamin", width=8),
        Column("kecamatan", "kecamatan"),
        Column("desa", "desa"),
        Column("programme", "program"),
        Column("facilitator", "pendamping", width=20),
        Column("status", "status_penerima"),
        Column("period_status", "status_laporan_periode"),
        Column("last_period", "periode_laporan_terakhir"),
        Column("business_status", "status_usaha"),
        Column("revenue", "omzet"),
        Column("costs", "modal_belanja"),
        Column("profit", "laba"),
        Column("other_income", "pendapatan_lain"),
        Column("savings_amount", "tabungan"),
        Column("score", "skor", width=8),
        Column("band", "kategori_skor"),
        Column("score_components", "komponen_skor", width=40),
        Column("reachable", "bisa_dihubungi", width=8),
        Column("receives_pkh", "penerima_pkh", width=8),
        Column("receives_sembako", "penerima_sembako", width=8),
        Column("welfare_decile", "desil", width=6),
    ),
)
REPORTS = SheetSpec(
    "laporan",
    (
        Column("id", "id_laporan", width=10),
        Column("recipient_id", "id_penerima", width=10),
        Column("nik", "nik", nik=True, width=20),
        Column("name", "nama", width=24),
        Column("kecamatan", "kecamatan"),
        Column("desa", "desa"),
        Column("programme", "program"),
        Column("period", "periode", width=9),
        Column("reporter_role", "pelapor"),
        Column("revision", "revisi", width=7),
        Column("submitted_at", "dikirim_utc", width=22),
        Column("late", "terlambat", width=8),
        Column("business_status", "status_usaha"),
        Column("revenue", "omzet"),
        Column("costs", "modal_belanja"),
        Column("profit", "laba"),
        Column("other_income", "pendapatan_lain"),
        Column("household_size", "anggota_keluarga", width=8),
        Column("has_savings", "punya_tabungan", width=8),
        Column("savings_amount", "tabungan"),
        Column("keeps_books", "mencatat_keuangan", width=8),
        Column("income_sources", "sumber_pendapatan", width=8),
        Column("wants_help", "minta_bantuan", width=8),
        Column("equipment_ok", "alat_baik", width=8),
        Column("goats", "kambing", width=8),
    ),
)
VISITS = SheetSpec(
    "kunjungan",
    (
        Column("id", "id_kunjungan", width=10),
        Column("recipient_id", "id_penerima", width=10),
        Column("name", "nama", width=24),
        Column("kecamatan", "kecamatan"),
        Column("facilitator", "pendamping", width=20),
        Column("visit_date", "tanggal"),
        Column("business_running", "usaha_berjalan", width=8),
        Column("score_bookkeeping", "nilai_pembukuan", width=8),
        Column("score_quality", "nilai_mutu", width=8),
        Column("score_market", "nilai_pasar", width=8),
        Column("score_motivation", "nilai_semangat", width=8),
        Column("notes", "catatan", width=40),
    ),
)
FLAGS = SheetSpec(
    "tanda",
    (
        Column("id", "id_tanda", width=10),
        Column("recipient_id", "id_penerima", width=10),
        Column("name", "nama", width=24),
        Column("kecamatan", "kecamatan"),
        Column("period", "periode", width=9),
        Column("kind", "jenis", width=18),
        Column("field", "kolom"),
        Column("status", "status"),
        Column("resolved_value", "nilai_terverifikasi"),
        Column("created_at", "dibuat_utc", width=22),
        Column("resolved_at", "diselesaikan_utc", width=22),
    ),
)
SHEETS = (RECIPIENTS, REPORTS, VISITS, FLAGS)
ROW_TYPES = {
    RECIPIENTS.name: RecipientRow,
    REPORTS.name: ReportRow,
    VISITS.name: VisitRow,
    FLAGS.name: FlagRow,
}


def _check_specs() -> None:
    for spec in SHEETS:
        keys = [f.name for f in fields(ROW_TYPES[spec.name])]
        assert keys == [c.key for c in spec.columns], spec.name


_check_specs()


# --- cell safety --------------------------------------------------------------------------------


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def csv_safe(value: Any) -> Any:
    """A CSV cell that no spreadsheet will run: a leading apostrophe before = + - @ tab CR."""
    if is_formula_like(value):
        return "'" + value
    return value


def export_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"{path.name}: the file must end in .xlsx or .csv")
    return fmt


def csv_sheet_path(path: Path, spec: SheetSpec) -> Path:
    """CSV holds one table: the recipients go to PATH, other sheets to PATH-<sheet>.csv."""
    if spec.name == RECIPIENTS.name:
        return path
    return path.with_name(f"{path.stem}-{spec.name}{path.suffix}")


# --- writer -------------------------------------------------------------------------------------


class SheetWriter:
    """Rows of one sheet; append() converts, masks and escapes each row as it streams."""

    def __init__(self, export: ExportWriter, spec: SheetSpec, sink: Callable[[list], None]):
        self.export = export
        self.spec = spec
        self._sink = sink
        self._getter = operator.attrgetter(*(c.key for c in spec.columns))
        self._nik_idx = [i for i, c in enumerate(spec.columns) if c.nik]
        self.count = 0

    def _values(self, row: Any) -> list:
        if isinstance(row, (tuple, list)):
            values = list(row)
            if len(values) != len(self.spec.columns):
                raise ExportError(
                    f"sheet {self.spec.name}: a row has {len(values)} values, "
                    f"expected {len(self.spec.columns)}"
                )
        else:
            values = list(self._getter(row))
        if not self.export.full_nik:
            for i in self._nik_idx:
                values[i] = mask_nik(values[i])
        else:
            for i in self._nik_idx:
                values[i] = None if values[i] is None else str(values[i])
        return values

    def append(self, row: Any) -> None:
        self._sink(self._values(row))
        self.count += 1
        self.export._tick()

    def extend(self, rows: Iterable[Any]) -> int:
        n = 0
        for row in rows:
            self.append(row)
            n += 1
        return n


class ExportWriter:
    """Write the export sheet by sheet; call close() (or use `with`) to finish the file(s)."""

    def __init__(
        self,
        path: str | Path,
        *,
        full_nik: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.format = export_format(self.path)
        self.full_nik = full_nik
        self.progress = progress
        self.rows = 0
        self.paths: list[Path] = []
        self.counts: dict[str, int] = {}
        self._sheets: list[SheetWriter] = []
        self._csv_files: list[Any] = []
        self._workbook = (
            StreamingWorkbook(self.path, literal_prefixes="".join(FORMULA_PREFIXES))
            if self.format == "xlsx"
            else None
        )
        self._closed = False

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _tick(self) -> None:
        self.rows += 1
        if self.progress is not None and self.rows % PROGRESS_EVERY == 0:  # read at call time
            self.progress(self.rows)

    def sheet(self, spec: SheetSpec) -> SheetWriter:
        """Start a sheet (header row written); sheets appear in the order they are started."""
        if self._workbook is not None:
            book = self._workbook
            book.add_sheet(spec.name, spec.headers, [c.width for c in spec.columns])

            # the writer itself writes text starting with FORMULA_PREFIXES as literal text
            sink = book.append

        else:
            target = csv_sheet_path(self.path, spec)
            # UTF-8 with BOM: Excel then reads names with non-ASCII letters correctly.
            fh = open(target, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
            self._csv_files.append(fh)
            self.paths.append(target)
            writer = csv.writer(fh)
            writer.writerow(spec.headers)

            def sink(values: list, writer=writer) -> None:
                writer.writerow([csv_safe(v) for v in values])

        sheet = SheetWriter(self, spec, sink)
        self._sheets.append(sheet)
        return sheet

    def write_sheet(self, spec: SheetSpec, rows: Iterable[Any]) -> int:
        """Start a sheet and stream every row of `rows` into it; returns the row count."""
        return self.sheet(spec).extend(rows)

    def close(self) -> list[Path]:
        """Finish the file(s); returns every path written."""
        if self._closed:
            return self.paths
        self._closed = True
        self.counts = {s.spec.name: s.count for s in self._sheets}
        if self._workbook is not None:
            self._workbook.close()
            self.paths = [self.path]
        for fh in self._csv_files:
            fh.close()
        return self.paths

    def abort(self) -> None:
        """Close and remove what was written, so no half file is left behind."""
        self._closed = True
        for fh in self._csv_files:
            fh.close()
        if self._workbook is not None:
            self._workbook.abort()
        for p in {*self.paths, self.path}:
            p.unlink(missing_ok=True)


def write_export(
    path: str | Path,
    sheets: Sequence[tuple[SheetSpec, Iterable[Any]]],
    *,
    full_nik: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write the given sheets (spec, rows) to PATH (.xlsx or .csv); returns the paths written."""
    writer = ExportWriter(path, full_nik=full_nik, progress=progress)
    with writer:
        for spec, rows in sheets:
            writer.write_sheet(spec, rows)
    return writer.paths
