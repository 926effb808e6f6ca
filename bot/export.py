"""Period export: XLSX (XlsxWriter, streamed through bot/xlsx.py) or CSV, four sheets.

Sheets: penerima (recipients with their latest report and score components), laporan (every
report of the period, all revisions), kunjungan (facilitator visits in the period's month) and
tanda (flags of the period and every flag still open), then keterangan (one line per column of
each sheet: what it holds). The file is for people who read Indonesian: stored codes (status,
role, flag kind, score components) are written as their labels (bot/domain/labels.py) with the
code kept in an extra kode_* column at the end of the sheet, and stored UTC times are written
as '2024-03-05 10:00 WIB' under a *_wib header. Rows carry the stored codes and UTC times; the
conversion happens here, as the rows stream.

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
import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.domain.labels import components_text, label, wib_text
from bot.domain.nik import mask_nik
from bot.private_files import private_file
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
    note: str = ""  # one line for the keterangan sheet (tests/test_export.py wants one)
    labels: str | None = None  # bot.domain.labels table: the code is written as its label
    wib: bool = False  # a stored UTC ISO time, written as '2024-03-05 10:00 WIB'
    code: bool = False  # an extra column repeating KEY's stored code for machines

    def convert(self) -> Callable[[Any], Any] | None:
        """How a stored value becomes the cell value (None: as it is)."""
        if self.code:
            return None
        if self.wib:
            return wib_text
        if self.labels == "components":
            return components_text
        if self.labels is not None:
            return functools.partial(label, self.labels)
        return None


@dataclass(frozen=True)
class SheetSpec:
    name: str  # sheet name (XLSX) / file name suffix (CSV)
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def fields(self) -> list[str]:
        """The row's fields in order (code columns repeat a field and are not counted)."""
        return [c.key for c in self.columns if not c.code]


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
        Column("id", "id_penerima", width=10, note="Nomor penerima di sistem"),
        Column("nik", "nik", nik=True, width=20, note="NIK (disamarkan kecuali diminta penuh)"),
        Column("name", "nama", width=24, note="Nama penerima"),
        Column("gender", "jenis_kelamin", width=10, labels="gender", note="Laki-laki/Perempuan"),
        Column("kecamatan", "kecamatan", note="Kecamatan tempat tinggal"),
        Column("desa", "desa", note="Desa/kelurahan"),
        Column("programme", "program", note="Program pelatihan (tata boga, menjahit, ...)"),
        Column("facilitator", "pendamping", width=20, note="Pendamping yang ditugaskan"),
        Column(
            "status", "status_penerima", labels="recipient_status",
            note="Aktif, Ditunda, Lulus graduasi atau Berhenti",
        ),
        Column(
            "period_status", "status_laporan_periode",
            note="Laporan periode ini: sudah lapor, mengisi, belum lapor; - bila tidak wajib",
        ),
        Column("last_period", "periode_laporan_terakhir", note="Periode laporan terakhir"),
        Column(
            "business_status", "status_usaha", labels="business_status",
            note="Keadaan usaha pada laporan terakhir",
        ),
        Column("revenue", "omzet", note="Omzet sebulan (Rp), laporan terakhir"),
        Column("costs", "modal_belanja", note="Modal/belanja sebulan (Rp), laporan terakhir"),
        Column("profit", "laba", note="Untung sebulan (Rp), laporan terakhir"),
        Column("other_income", "pendapatan_lain", note="Penghasilan lain keluarga (Rp)"),
        Column("savings_amount", "tabungan", note="Jumlah tabungan (Rp)"),
        Column("score", "skor", width=8, note="Skor kesiapan graduasi (0-100)"),
        Column("band", "kategori_skor", width=20, labels="band", note="Kategori skor"),
        Column(
            "score_components", "komponen_skor", width=40, labels="components",
            note="Nilai tiap komponen skor: nilai/nilai tertinggi",
        ),
        Column(
            "reachable", "bisa_dihubungi", width=8,
            note="ya/tidak: pesan bot sampai; - bila belum terhubung ke bot",
        ),
        Column("receives_pkh", "penerima_pkh", width=8, note="ya/tidak: menerima PKH (register)"),
        Column(
            "receives_sembako", "penerima_sembako", width=8,
            note="ya/tidak: menerima sembako/BPNT (register)",
        ),
        Column("welfare_decile", "desil", width=6, note="Desil kesejahteraan DTSEN/P3KE (register)"),
        Column("status", "kode_status", code=True, note="Kode status untuk olah data"),
        Column("band", "kode_kategori_skor", code=True, note="Kode kategori skor"),
        Column(
            "score_components", "kode_komponen_skor", width=40, code=True,
            note="Kode komponen skor (kunci=nilai/tertinggi)",
        ),
    ),
)  # fmt: skip
REPORTS = SheetSpec(
    "laporan",
    (
        Column("id", "id_laporan", width=10, note="Nomor laporan"),
        Column("recipient_id", "id_penerima", width=10, note="Nomor penerima (lembar penerima)"),
        Column("nik", "nik", nik=True, width=20, note="NIK (disamarkan kecuali diminta penuh)"),
        Column("name", "nama", width=24, note="Nama penerima"),
        Column("kecamatan", "kecamatan", note="Kecamatan"),
        Column("desa", "desa", note="Desa/kelurahan"),
        Column("programme", "program", note="Program pelatihan"),
        Column("period", "periode", width=9, note="Periode laporan (tahun-bulan)"),
        Column("reporter_role", "pelapor", labels="role", note="Penerima atau Pendamping"),
        Column("revision", "revisi", width=7, note="Revisi ke- (laporan yang diperbaiki)"),
        Column(
            "submitted_at", "dikirim_wib", width=22, wib=True,
            note="Waktu laporan dikirim, Waktu Indonesia Barat",
        ),
        Column("late", "terlambat", width=8, note="ya bila dikirim setelah periode ditutup"),
        Column(
            "business_status", "status_usaha", labels="business_status", note="Keadaan usaha"
        ),
        Column("revenue", "omzet", note="Omzet sebulan (Rp)"),
        Column("costs", "modal_belanja", note="Modal/belanja sebulan (Rp)"),
        Column("profit", "laba", note="Untung sebulan (Rp)"),
        Column("other_income", "pendapatan_lain", note="Penghasilan lain keluarga (Rp)"),
        Column("household_size", "anggota_keluarga", width=8, note="Jumlah anggota keluarga"),
        Column("has_savings", "punya_tabungan", width=8, note="ya/tidak"),
        Column("savings_amount", "tabungan", note="Jumlah tabungan (Rp)"),
        Column("keeps_books", "mencatat_keuangan", width=8, note="ya/tidak: mencatat di buku"),
        Column("income_sources", "sumber_pendapatan", width=8, note="Jumlah sumber pendapatan"),
        Column("wants_help", "minta_bantuan", width=8, note="ya/tidak: ingin dikunjungi"),
        Column("equipment_ok", "alat_baik", width=8, note="ya/tidak: alat/mesin masih baik"),
        Column("goats", "kambing", width=8, note="Jumlah kambing (ternak kambing)"),
        Column("reporter_role", "kode_pelapor", code=True, note="Kode pelapor untuk olah data"),
    ),
)  # fmt: skip
VISITS = SheetSpec(
    "kunjungan",
    (
        Column("id", "id_kunjungan", width=10, note="Nomor kunjungan"),
        Column("recipient_id", "id_penerima", width=10, note="Nomor penerima (lembar penerima)"),
        Column("name", "nama", width=24, note="Nama penerima"),
        Column("kecamatan", "kecamatan", note="Kecamatan"),
        Column("facilitator", "pendamping", width=20, note="Pendamping yang berkunjung"),
        Column("visit_date", "tanggal", note="Tanggal kunjungan (WIB)"),
        Column("business_running", "usaha_berjalan", width=8, note="ya/tidak"),
        Column("score_bookkeeping", "nilai_pembukuan", width=8, note="Pencatatan, 1-5"),
        Column("score_quality", "nilai_mutu", width=8, note="Mutu produk, 1-5"),
        Column("score_market", "nilai_pasar", width=8, note="Akses pasar, 1-5"),
        Column("score_motivation", "nilai_semangat", width=8, note="Semangat, 1-5"),
        Column("notes", "catatan", width=40, note="Catatan pendamping"),
    ),
)  # fmt: skip
FLAGS = SheetSpec(
    "tanda",
    (
        Column("id", "id_tanda", width=10, note="Nomor tanda"),
        Column("recipient_id", "id_penerima", width=10, note="Nomor penerima (lembar penerima)"),
        Column("name", "nama", width=24, note="Nama penerima"),
        Column("kecamatan", "kecamatan", note="Kecamatan"),
        Column("period", "periode", width=9, note="Periode laporan yang ditandai"),
        Column("kind", "jenis", width=30, labels="flag_kind", note="Apa yang perlu dicek"),
        Column("field", "kolom", labels="flag_field", note="Isian laporan yang ditandai"),
        Column("status", "status", labels="flag_status", note="Terbuka atau Selesai"),
        Column("resolved_value", "nilai_terverifikasi", note="Angka yang dipastikan benar"),
        Column(
            "created_at", "dibuat_wib", width=22, wib=True,
            note="Waktu tanda dibuat, Waktu Indonesia Barat",
        ),
        Column(
            "resolved_at", "diselesaikan_wib", width=22, wib=True,
            note="Waktu tanda diselesaikan, Waktu Indonesia Barat",
        ),
        Column("kind", "kode_jenis", width=18, code=True, note="Kode jenis untuk olah data"),
        Column("status", "kode_status", code=True, note="Kode status untuk olah data"),
    ),
)  # fmt: skip
NOTES = SheetSpec(
    "keterangan",
    (
        Column("sheet", "lembar", note="Nama lembar"),
        Column("column", "kolom", width=26, note="Judul kolom"),
        Column("note", "keterangan", width=70, note="Arti kolom"),
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
        assert keys == spec.fields, spec.name
        assert all(c.key in keys for c in spec.columns if c.code), spec.name


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
        names = spec.fields
        self._getter = operator.attrgetter(*names)
        self._nik_idx = [names.index(c.key) for c in spec.columns if c.nik]
        # each written column: (index of its field in the row, how the value is converted)
        self._cells = [(names.index(c.key), c.convert()) for c in spec.columns]
        self._plain = all(conv is None for _, conv in self._cells) and len(self._cells) == len(
            names
        )
        self.count = 0

    def _values(self, row: Any) -> list:
        if isinstance(row, (tuple, list)):
            values = list(row)
            if len(values) != len(self.spec.fields):
                raise ExportError(
                    f"sheet {self.spec.name}: a row has {len(values)} values, "
                    f"expected {len(self.spec.fields)}"
                )
        else:
            values = list(self._getter(row))
        if not self.export.full_nik:
            for i in self._nik_idx:
                values[i] = mask_nik(values[i])
        else:
            for i in self._nik_idx:
                values[i] = None if values[i] is None else str(values[i])
        if self._plain:
            return values
        return [values[i] if conv is None else conv(values[i]) for i, conv in self._cells]

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
        """Start a sheet (header row written); sheets appear in the order they are started.

        close() adds the keterangan sheet that explains the columns of every sheet started."""
        sink: Callable[[list[Any]], None]
        if self._workbook is not None:
            book = self._workbook
            book.add_sheet(spec.name, spec.headers, [c.width for c in spec.columns])

            # the writer itself writes text starting with FORMULA_PREFIXES as literal text
            sink = book.append

        else:
            target = csv_sheet_path(self.path, spec)
            # UTF-8 with BOM: Excel then reads names with non-ASCII letters correctly.
            private_file(target)  # 0600 whatever the umask; open() keeps the mode
            fh = open(target, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
            self._csv_files.append(fh)
            self.paths.append(target)
            writer = csv.writer(fh)
            writer.writerow(spec.headers)

            def write_csv_row(values: list[Any], writer: Any = writer) -> None:
                writer.writerow([csv_safe(v) for v in values])

            sink = write_csv_row

        sheet = SheetWriter(self, spec, sink)
        if spec is not NOTES:
            self._sheets.append(sheet)
        return sheet

    def _write_notes(self) -> None:
        """The keterangan sheet: one row per column of every sheet written (not counted)."""
        notes = self.sheet(NOTES)
        for written in self._sheets:
            for c in written.spec.columns:
                notes._sink([written.spec.name, c.header, c.note or "-"])

    def write_sheet(self, spec: SheetSpec, rows: Iterable[Any]) -> int:
        """Start a sheet and stream every row of `rows` into it; returns the row count."""
        return self.sheet(spec).extend(rows)

    def close(self) -> list[Path]:
        """Finish the file(s); returns every path written."""
        if self._closed:
            return self.paths
        if self._sheets:
            self._write_notes()
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
