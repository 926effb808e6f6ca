"""The registry import: sample and messy workbooks, upsert, audit, dry-run, file errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from bot.services.registry_import import import_registry
from bot.services.registry_source import ImportFileError, open_source
from tests.registry_helpers import MESSY, SAMPLE, run_cli

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

PROGRAMMES = ["tata boga", "menjahit", "ternak kambing"]


async def _import(db, path, clock, **kw):
    source = open_source(path, kw.pop("sheet", None))
    try:
        return await import_registry(db, source, clock(), PROGRAMMES, **kw)
    finally:
        source.close()


def _by_sheet(result):
    return {s.sheet: s for s in result.sheets}


async def test_sample_workbook_imports_everything(db, clock):
    result = await _import(db, SAMPLE, clock)
    sheets = _by_sheet(result)
    assert [s.sheet for s in result.sheets] == ["pendamping", "penerima"]
    assert (sheets["pendamping"].added, sheets["pendamping"].rejected) == (10, 0)
    assert (sheets["penerima"].added, sheets["penerima"].rejected) == (298, 0)
    rows = await db.fetchall("SELECT programme, count(*) AS n FROM recipients GROUP BY programme")
    assert {r["programme"]: r["n"] for r in rows} == {
        "tata boga": 128, "menjahit": 42, "ternak kambing": 128,
    }  # fmt: skip
    assert await db.fetchval("SELECT count(DISTINCT kecamatan_code) FROM recipients") == 5
    assert await db.fetchval("SELECT count(*) FROM desa") == 25
    assert await db.fetchval("SELECT count(*) FROM desa WHERE code IS NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM recipients WHERE facilitator_id IS NULL") == 0
    row = await db.fetchone(
        "SELECT r.*, d.name AS desa, f.code AS fcode FROM recipients r JOIN desa d ON d.id = r.desa_id"
        " JOIN facilitators f ON f.id = r.facilitator_id WHERE nik = '3328026704830002'"
    )
    assert row["name"] == "Cut Cinta Ramadan" and row["gender"] == "P"
    assert row["birth_date"] == "1983-04-27" and row["handover_date"] == "2023-11-22"
    assert row["desa"] == "Bumijawa" and row["fcode"] == "PD-101"
    assert row["assistance_value"] == 2500000 and row["phone"] == "6283857980247"
    assert row["receives_pkh"] == 1 and row["household_size"] == 4


async def test_reimport_is_idempotent(db, clock):
    await _import(db, SAMPLE, clock)
    clock.advance(days=1)
    result = await _import(db, SAMPLE, clock)
    for sheet in result.sheets:
        assert (sheet.added, sheet.updated, sheet.rejected) == (0, 0, 0)
    assert _by_sheet(result)["penerima"].unchanged == 298
    assert await db.fetchval("SELECT count(*) FROM recipients") == 298
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE '%.update'") == 0


async def test_changed_field_is_updated_and_audit_logged(db, clock, tmp_path):
    await _import(db, SAMPLE, clock)
    wb = openpyxl.load_workbook(SAMPLE)
    ws = wb["penerima"]
    assert ws["B2"].value == "3328026704830002"
    ws["V2"] = "0811 1111 2222"  # no_hp
    ws["M2"] = 5  # jumlah_anggota_keluarga
    changed = tmp_path / "changed.xlsx"
    wb.save(changed)
    result = await _import(db, changed, clock)
    sheet = _by_sheet(result)["penerima"]
    assert (sheet.added, sheet.updated, sheet.unchanged) == (0, 1, 297)
    row = await db.fetchone("SELECT id, phone, household_size FROM recipients WHERE nik = ?",
                            ("3328026704830002",))  # fmt: skip
    assert (row["phone"], row["household_size"]) == ("6281111112222", 5)
    audit = await db.fetchone(
        "SELECT * FROM audit_log WHERE action = 'recipient.update' AND entity_id = ?",
        (str(row["id"]),),
    )
    details = json.loads(audit["details"])
    assert details["fields"]["phone"] == {"old": "6283857980247", "new": "6281111112222"}
    assert details["fields"]["household_size"] == {"old": 4, "new": 5}
    assert "3328026704830002" not in audit["details"]


# ---- the messy workbook: one expected outcome per README row -----------------------------

MESSY_REJECTS = {
    3: "format kolom NIK sebagai Teks",
    6: "NIK sama dengan baris 2",
    7: "NIK harus 16 angka",
    9: "kecamatan 'SLAWI KOTA' tidak ada",
    11: "jenis pelatihan 'budidaya lele' bukan program",
    12: "id pendamping PD-999 tidak ada",  # decision: reject (docs/decisions.md)
    14: "tanggal lahir '31-02-1980' tidak ada di kalender",
    15: "nama penerima kosong",
    17: "jumlah anggota keluarga 'enam' harus ditulis dengan angka",  # decision: reject
}
# Accepted rows with the cleaned value the README asks for: (NIK, column, value).
MESSY_ACCEPTS = {
    2: ("3328024110750002", "name", "Asmuni Firgantoro"),
    4: ("3328066709910004", "name", "Cut Victoria Hariyah"),
    5: ("3328074407710005", "name", "Maida Rahayu"),
    8: ("3328075302890008", "kecamatan_code", "33.28.07"),
    10: ("3328045904700010", "programme", "tata boga"),
    13: ("3328045705960013", "assistance_value", 2500000),
    16: ("3328040101840016", "phone", "6281234567890"),
}


@pytest.fixture
async def messy(db, clock):
    result = await _import(db, MESSY, clock)
    return db, _by_sheet(result)["penerima"]


async def test_messy_totals(messy):
    db, sheet = messy
    assert sorted(r.row for r in sheet.rejects) == sorted(MESSY_REJECTS)
    assert sheet.added == 40 - len(MESSY_REJECTS)
    assert await db.fetchval("SELECT count(*) FROM recipients") == sheet.added


@pytest.mark.parametrize("row", sorted(MESSY_REJECTS))
async def test_messy_rejected_row(messy, row):
    _, sheet = messy
    reasons = {r.row: r.reason for r in sheet.rejects}
    assert MESSY_REJECTS[row] in reasons[row]


@pytest.mark.parametrize("row", sorted(MESSY_ACCEPTS))
async def test_messy_accepted_row(messy, row):
    db, _ = messy
    nik, column, value = MESSY_ACCEPTS[row]
    assert await db.fetchval(f"SELECT {column} FROM recipients WHERE nik = ?", (nik,)) == value


async def test_messy_repeat_keeps_first_row(messy):
    db, _ = messy
    name = await db.fetchval("SELECT name FROM recipients WHERE nik = '3328024110750002'")
    assert name == "Asmuni Firgantoro"


# ---- sources -----------------------------------------------------------------------------


def _write_xlsx(path: Path, rows: list[list], title: str = "penerima") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a clerk may type it
    wb.save(path)
    return path


HEADER = ["NIK", "Nama Penerima", "Kecamatan", "Jenis Pelatihan", "Desa"]


async def test_header_below_title_rows_and_formula_text(db, clock, tmp_path):
    path = _write_xlsx(
        tmp_path / "t.xlsx",
        [["DAFTAR PENERIMA 2024"], [], HEADER,
         ["3328064211650004", "=HYPERLINK(1)", "Lebaksiu", "Menjahit", "Kajen"]],
    )  # fmt: skip
    result = await _import(db, path, clock)
    assert result.sheets[0].added == 1
    row = await db.fetchone("SELECT name, programme FROM recipients")
    assert (row["name"], row["programme"]) == ("=HYPERLINK(1)", "menjahit")


async def test_reject_row_numbers_are_excel_rows_when_data_starts_lower_and_right(
    db, clock, tmp_path
):
    # a title row, blank rows, the table starting in column B, a NIK in a number cell
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "penerima"
    ws["B2"] = "DAFTAR PENERIMA 2024"
    for col, name in enumerate(HEADER, start=2):
        ws.cell(4, col, name)
    for col, value in enumerate(["3328064211650004", "Siti", "Lebaksiu", "menjahit", "Kajen"], 2):
        ws.cell(5, col, value)
    for col, value in enumerate([3328064211650005, "Budi", "Lebaksiu", "menjahit", "Kajen"], 2):
        ws.cell(7, col, value)
    wb.save(path)
    result = await _import(db, path, clock)
    sheet = result.sheets[0]
    assert sheet.added == 1
    assert [r.row for r in sheet.rejects] == [7]
    assert "format kolom NIK sebagai Teks" in sheet.rejects[0].reason
    assert await db.fetchval("SELECT name FROM recipients") == "Siti"


async def test_csv_import_with_semicolons(db, clock, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(
        "nik;kepala_keluarga;kecamatan;jenis_pelatihan;no_hp\n"
        "'3328064211650004;Siti;SLAWI;tata boga;+62 812-3456-7890\n"
        "3328064211650005;Budi;Mars;tata boga;\n",
        encoding="utf-8",
    )
    result = await _import(db, path, clock)
    sheet = result.sheets[0]
    assert (sheet.added, [r.row for r in sheet.rejects]) == (1, [3])
    assert await db.fetchval("SELECT phone FROM recipients") == "6281234567890"


async def test_dry_run_writes_nothing(db, clock, tmp_path):
    path = _write_xlsx(
        tmp_path / "t.xlsx", [HEADER, ["3328064211650004", "Siti", "Lebaksiu", "menjahit", "Kajen"]]
    )
    result = await _import(db, path, clock, dry_run=True)
    assert result.sheets[0].added == 1
    assert await db.fetchval("SELECT count(*) FROM recipients") == 0
    assert await db.fetchval("SELECT count(*) FROM desa") == 0


def test_no_header_is_a_file_error(tmp_path):
    path = _write_xlsx(tmp_path / "t.xlsx", [["a", "b"], [1, 2]])
    with pytest.raises(ImportFileError, match="judul kolom tidak ditemukan"):
        open_source(path)


# ---- the CLI: exit codes, output, files ---------------------------------------------------


def test_cli_messy_exit_1_lines_and_rejects_workbook(tmp_path):
    db = tmp_path / "p.db"
    out = tmp_path / "ditolak.xlsx"
    proc = run_cli("import", str(MESSY), "--rejects-out", str(out), db=db, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "pendamping: 10 ditambah, 0 diperbarui, 0 tidak berubah, 0 ditolak"
    assert lines[1] == "penerima: 31 ditambah, 0 diperbarui, 0 tidak berubah, 9 ditolak"
    assert lines[2].startswith("penerima baris 3: NIK tersimpan sebagai angka")
    wb = openpyxl.load_workbook(out)
    ws = wb["penerima"]
    assert ws.max_row == 10
    assert ws.cell(1, ws.max_column).value == "alasan_ditolak"
    assert ws.cell(2, 3).value == "Tasnim Permadi"
    # the fixed rows re-import: the file has the same header
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM recipients").fetchone()[0] == 31


def test_cli_rejects_workbook_beside_the_input_by_default(tmp_path):
    import shutil

    messy = tmp_path / "data.xlsx"
    shutil.copy(MESSY, messy)
    proc = run_cli("import", str(messy), "--rejects-out", db=tmp_path / "p.db", cwd=tmp_path)
    assert proc.returncode == 1
    out = tmp_path / "data-ditolak.xlsx"
    assert out.exists() and f"ditulis ke {out}" in proc.stdout
    # the fixed workbook's header is recognised again
    source = open_source(out)
    assert [(s.name, s.kind) for s in source.sheets] == [("penerima", "recipients")]
    assert len(list(source.sheets[0].rows())) == 9
    source.close()


def test_cli_json_and_dry_run_creates_no_database(tmp_path):
    db = tmp_path / "never.db"
    proc = run_cli("import", str(SAMPLE), "--dry-run", "--json", db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(s["sheet"], s["added"], s["rejected"]) for s in data["sheets"]] == [
        ("pendamping", 10, 0), ("penerima", 298, 0),
    ]  # fmt: skip
    assert not db.exists()
    assert not list(tmp_path.glob("never.db*"))


def test_cli_dry_run_against_existing_database_changes_nothing(tmp_path):
    db = tmp_path / "p.db"
    assert run_cli("import", str(SAMPLE), db=db, cwd=tmp_path).returncode == 0
    before = db.read_bytes()
    proc = run_cli("import", str(SAMPLE), "--dry-run", db=db, cwd=tmp_path)
    assert proc.returncode == 0
    assert "penerima: 0 ditambah, 0 diperbarui, 298 tidak berubah, 0 ditolak" in proc.stdout
    assert db.read_bytes() == before


def _ole_encrypted(path: Path) -> Path:
    # An encrypted .xlsx is an OLE compound file holding an EncryptionInfo stream.
    path.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 504
        + "EncryptionInfo".encode("utf-16-le")
        + b"\0" * 512
    )
    return path


FILE_ERRORS = {
    "empty": (lambda p: (p / "kosong.xlsx").write_bytes(b"") and None or p / "kosong.xlsx", "kosong"),
    "no_header": (lambda p: _write_xlsx(p / "x.xlsx", [["judul"], ["a", "b"]]), "judul kolom tidak ditemukan"),
    "password": (lambda p: _ole_encrypted(p / "rahasia.xlsx"), "dilindungi kata sandi"),
    "corrupt": (lambda p: (p / "rusak.xlsx").write_bytes(b"PK\x03\x04garbage" * 10) and None or p / "rusak.xlsx", "rusak"),
    "xls": (lambda p: (p / "lama.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100) and None or p / "lama.xls", "format Excel lama"),
    "too_big": (lambda p: _sparse(p / "besar.xlsx", 51 * 1024 * 1024), "terlalu besar"),
    "empty_csv": (lambda p: (p / "kosong.csv").write_text("\n\n") and None or p / "kosong.csv", "kosong"),
}  # fmt: skip


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


@pytest.mark.parametrize("case", sorted(FILE_ERRORS))
def test_cli_file_level_errors_exit_2_one_line_nothing_written(tmp_path, case):
    make, expected = FILE_ERRORS[case]
    path = make(tmp_path)
    db = tmp_path / "p.db"
    proc = run_cli("import", str(path), db=db, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert expected in proc.stderr
    assert not db.exists()


def test_rejects_workbook_keeps_formula_like_text_as_text(tmp_path):
    from bot.services.spreadsheets import write_workbook

    out = tmp_path / "r.xlsx"
    write_workbook(out, [("penerima", ["nama", "alasan"], [["=1+1", "x"], ["@SUM(A1)", "y"]])])
    ws = openpyxl.load_workbook(out)["penerima"]
    assert [(c.value, c.data_type) for c in ws["A"][1:]] == [("=1+1", "s"), ("@SUM(A1)", "s")]


def _truncated_copy(src: Path, dest: Path, sheet_part: str) -> Path:
    """The workbook with one sheet's XML cut in half (a damaged download), zip itself valid."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == sheet_part:
                data = data[: len(data) // 2]
            zout.writestr(item, data)
    return dest


def test_cli_damaged_sheet_midway_leaves_database_as_before(tmp_path):
    db = tmp_path / "p.db"
    assert run_cli("import", str(MESSY), db=db, cwd=tmp_path).returncode == 1
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*), max(updated_at) FROM recipients").fetchone()
        audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    import zipfile

    with zipfile.ZipFile(SAMPLE) as z:
        parts = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))
    # the recipients sheet is the big one
    with zipfile.ZipFile(SAMPLE) as z:
        part = max(parts, key=lambda n: z.getinfo(n).file_size)
    damaged = _truncated_copy(SAMPLE, tmp_path / "rusak.xlsx", part)
    proc = run_cli("import", str(damaged), db=db, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "rusak" in proc.stderr and "Tidak ada yang disimpan" in proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), max(updated_at) FROM recipients").fetchone() == before
        assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == audit
        assert conn.execute("SELECT count(*) FROM facilitators").fetchone() == (10,)


def test_damaged_sheet_is_a_file_error_before_any_row_is_read(tmp_path):
    import zipfile

    with zipfile.ZipFile(SAMPLE) as z:
        part = max(
            (n for n in z.namelist() if n.startswith("xl/worksheets/sheet")),
            key=lambda n: z.getinfo(n).file_size,
        )
    damaged = _truncated_copy(SAMPLE, tmp_path / "rusak.xlsx", part)
    with pytest.raises(ImportFileError, match="rusak.*Tidak ada yang disimpan"):
        open_source(damaged)
