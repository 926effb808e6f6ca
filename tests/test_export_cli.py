"""`pendamping export` as a person runs it: files, running count, masked NIK, bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.db import open_migrated
from tests.cli_helpers import run_cli
from tests.digest_db import NIKS, seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


@pytest.fixture
def dbfile(tmp_path: Path) -> Path:
    path = tmp_path / "pendamping.db"

    async def build() -> None:
        db = await open_migrated(str(path), dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
        await seed(db)
        await db.close()

    asyncio.run(build())
    return path


def export(tmp_path: Path, dbfile: Path, *args: str):
    return run_cli("export", *args, cwd=tmp_path, env={"PENDAMPING_DB": str(dbfile)})


def test_export_xlsx_masked(tmp_path: Path, dbfile: Path) -> None:
    out = tmp_path / "jan.xlsx"
    r = export(tmp_path, dbfile, "--period", "2024-01", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "penerima 6, laporan 3, kunjungan 1, tanda 1" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == f"wrote {out}"
    wb = load_workbook(out, read_only=True)
    assert wb.sheetnames == ["penerima", "laporan", "kunjungan", "tanda", "keterangan"]
    niks = [row[1] for row in wb["penerima"].iter_rows(min_row=2, values_only=True)]
    assert niks and all("********" in n for n in niks)


def test_export_csv_one_kecamatan_full_nik(tmp_path: Path, dbfile: Path) -> None:
    out = tmp_path / "slawi.csv"
    r = export(tmp_path, dbfile, "--period", "2024-01", "--out", str(out),
               "--kecamatan", "slawi", "--full-nik")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "period 2024-01, Slawi: penerima 3" in r.stdout
    assert "no reports for period 2024-01 yet" in r.stdout  # none in Slawi
    assert "full NIK" in r.stderr
    text = out.read_text(encoding="utf-8-sig")
    assert NIKS[3] in text and NIKS[1] not in text
    assert (tmp_path / "slawi-laporan.csv").exists()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_running_count_on_stderr(tmp_path: Path, dbfile: Path, monkeypatch, capsys) -> None:
    import bot.export
    from bot.cli import main

    monkeypatch.setattr(bot.export, "PROGRESS_EVERY", 2)  # 5000 in real use
    monkeypatch.setenv("PENDAMPING_DB", str(dbfile))
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--period", "2024-01", "--out", str(tmp_path / "x.xlsx")]) == 0
    err = capsys.readouterr().err
    # 6 + 3 + 1 + 1 = 11 rows: a count at 2, 4, ..., 10
    assert [line for line in err.splitlines() if line.startswith("exporting")] == [
        f"exporting: {n} rows" for n in (2, 4, 6, 8, 10)
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "2023-05"), "period 2023-05 does not exist"),
        (("--period", "2999-01"), "has not started yet"),
        (("--period", "2024-1"), "not a period"),
        (
            ("--period", "2024-01", "--kecamatan", "Margasari"),
            "no recipients in kecamatan Margasari",
        ),
        (("--period", "2024-01", "--kecamatan", "Atlantis"), "'Atlantis' is not known"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, dbfile: Path, args, message: str) -> None:
    out = tmp_path / "x.xlsx"
    r = export(tmp_path, dbfile, *args, "--out", str(out))
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_file_name_and_missing_database(tmp_path: Path, dbfile: Path) -> None:
    r = export(tmp_path, dbfile, "--period", "2024-01", "--out", str(tmp_path / "x.pdf"))
    assert r.returncode == 2 and ".xlsx or .csv" in r.stderr
    r = run_cli("export", "--period", "2024-01", "--out", str(tmp_path / "x.xlsx"),
                cwd=tmp_path, env={"PENDAMPING_DB": str(tmp_path / "none.db")})  # fmt: skip
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert not (tmp_path / "none.db").exists()
