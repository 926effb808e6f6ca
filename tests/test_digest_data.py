"""Digest queries against hand-inserted rows (tests/digest_db.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.db import Database
from bot.domain.digest import Progress, Scope
from bot.services.digest_data import (
    RegionError,
    build_monthly_report,
    build_staff_digest,
    count_recipients,
    format_components,
    load_snapshots,
    period_problem,
    resolve_kecamatan,
    write_period_export,
)
from tests.digest_db import NIKS, seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")
SINCE = dt.datetime(2024, 1, 25, tzinfo=dt.UTC)


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed(db)
    return db


async def test_snapshots_of_the_period(seeded: Database) -> None:
    snaps = {s.id: s for s in await load_snapshots(seeded, "2024-01")}
    # 4 paused, 5 handed over after the period: not expected to report
    assert sorted(snaps) == [1, 2, 3, 6]
    assert {i: s.status for i, s in snaps.items()} == {
        1: "reported", 2: "draft", 3: "silent", 6: "reported",
    }  # fmt: skip
    # the one read model: the recipient's own report counts over the facilitator's later one
    # (until a facilitator confirms a value on a flag); 2023-12 kept for the medians
    assert snaps[1].profits == {"2024-01": 500_000, "2023-12": 400_000}
    assert snaps[1].desa == "Lebaksiu Kidul" and snaps[1].facilitator == "Ani"
    assert [s.id for s in snaps.values() if not s.reachable] == [2]
    assert [f.kind for f in snaps[3].flags] == ["help_request"]  # the resolved jump is not open
    assert all(s.band is None and not s.candidate for s in snaps.values())  # no scores table
    # reach: Siti linked, Rina linked but unreachable, Wati and Sri without an account
    assert {i: s.linked for i, s in snaps.items()} == {1: True, 2: True, 3: False, 6: False}


async def test_staff_digest_whole_kabupaten(seeded: Database) -> None:
    d = await build_staff_digest(seeded, "2024-01", SINCE)
    assert d.total == Progress(2, 1, 1)
    assert d.by_kecamatan == (
        ("Lebaksiu", Progress(1, 1, 0)),
        ("Pangkah", Progress(1, 0, 0)),
        ("Slawi", Progress(0, 0, 1)),
    )
    assert dict(d.by_facilitator) == {"Ani": Progress(1, 1, 0), "Budi": Progress(1, 0, 1)}
    assert [(f.recipient.id, f.kind) for f in d.new_flags] == [(3, "help_request")]
    assert [p.id for p in d.unreachable] == [2]
    later = await build_staff_digest(seeded, "2024-01", dt.datetime(2024, 2, 3, tzinfo=dt.UTC))
    assert later.new_flags == () and later.open_flags == 1


async def test_staff_scoped_to_slawi_sees_only_slawi(seeded: Database) -> None:
    d = await build_staff_digest(seeded, "2024-01", SINCE, Scope.for_staff("33.28.10"))
    assert d.total == Progress(0, 0, 1)
    assert [k for k, _ in d.by_kecamatan] == ["Slawi"]
    assert d.unreachable == () and not d.has_reports
    caseload = await load_snapshots(seeded, "2024-01", Scope.for_facilitator(2))
    assert sorted(s.id for s in caseload) == [3, 6]


async def test_monthly_report_medians(seeded: Database) -> None:
    r = await build_monthly_report(seeded, "2024-01", SINCE, None, ("tata boga", "menjahit"))
    tb, mj = r.profits
    assert tb.programme == "tata boga" and tb.medians[-2:] == (400_000, 500_000)
    assert mj.medians[-1] == 300_000
    assert r.bands == ()


async def test_scores_table_is_used_when_present(seeded: Database) -> None:
    # the table of migration 0005 (scores); the latest computed row of a period wins
    await seeded.execute(
        "INSERT INTO score_models (version, label, params, created_at)"
        " VALUES ('1.0+test', '1.0', '{}', '2024-01-01T00:00:00+00:00')"
    )
    cols = "recipient_id, period, model_version, score, band, gate_months, confidence, components, inputs, computed_at"
    await seeded.execute(
        f"INSERT INTO scores ({cols}) VALUES"
        " (1, '2023-12', '1.0+test', 60, 'menuju', 0, 100, '[]', '{}', '2024-01-05T00:00:00+00:00'),"
        " (1, '2024-01', '1.0+test', 80, 'siap', 4, 100, '[{\"key\": \"income\", \"points\": 30, \"max_points\": 40}]', '{}', '2024-02-05T00:00:00+00:00'),"
        " (3, '2024-01', '1.0+test', 30, 'intensif', 0, 100, '[]', '{}', '2024-02-05T00:00:00+00:00'),"
        " (2, '2024-02', '1.0+test', 90, 'siap', 4, 100, '[]', '{}', '2024-03-05T00:00:00+00:00')"
    )
    r = await build_monthly_report(seeded, "2024-01", SINCE)
    assert r.bands == (
        ("Lebaksiu", {"siap": 1, "menuju": 0, "intensif": 0}),
        ("Slawi", {"siap": 0, "menuju": 0, "intensif": 1}),
    )
    # band 'siap' with no proposal: waiting for the facilitator's visit, not for staff
    assert [p.id for p in r.digest.awaiting_visit] == [1]  # 2's 'siap' is after the period
    assert r.digest.candidates == ()


async def test_scores_table_of_another_shape_is_ignored(seeded: Database) -> None:
    # a database whose scores table is not migration 0005's (e.g. hand-made) is tolerated
    await seeded.execute("DROP TABLE scores")
    await seeded.execute("CREATE TABLE scores (id INTEGER PRIMARY KEY, total INTEGER)")
    snaps = await load_snapshots(seeded, "2024-01")
    assert len(snaps) == 4 and all(s.band is None for s in snaps)


def test_format_components() -> None:
    raw = '[{"key": "income", "points": 30, "max_points": 40}, {"key": "savings", "points": 5, "max_points": 10}]'
    assert format_components(raw) == "income=30/40; savings=5/10"
    lists = '[["income", null, 30, 40, "r"], ["savings", {"savings": true}, 5, 10, "s"]]'
    assert format_components(lists) == "income=30/40; savings=5/10"
    assert format_components('[["income", 30]]') == '[["income", 30]]'  # not that shape
    assert format_components("not json") == "not json"
    assert format_components(None) is None


async def test_regions(seeded: Database) -> None:
    assert [k.code for k in await resolve_kecamatan(seeded, ["slawi", "33.28.06", "Slawi"])] == [
        "33.28.10", "33.28.06",
    ]  # fmt: skip
    with pytest.raises(RegionError, match="Nowhere"):
        await resolve_kecamatan(seeded, ["Nowhere"])
    assert await count_recipients(seeded, Scope.for_staff("33.28.01")) == 0
    assert await count_recipients(seeded, Scope.for_staff("33.28.10")) == 3


async def test_period_problem(seeded: Database) -> None:
    now = dt.datetime(2024, 2, 10, 3, tzinfo=dt.UTC)
    assert await period_problem(seeded, "2024-01", now, WIB) is None
    assert await period_problem(seeded, "2024-02", now, WIB) is None  # open, no reports yet
    assert "not started" in await period_problem(seeded, "2024-03", now, WIB)
    assert "does not exist" in await period_problem(seeded, "2023-08", now, WIB)
    assert await period_problem(seeded, "2023-09", now, WIB) is None  # Sri's record: Sept 2023
    assert "YYYY-MM" in await period_problem(seeded, "2024-13", now, WIB)


async def test_export_of_the_period(seeded: Database, tmp_path: Path) -> None:
    out = tmp_path / "jan.xlsx"
    result = await write_period_export(seeded, "2024-01", out)
    assert result.paths == [out] and result.has_reports
    assert result.counts == {"penerima": 6, "laporan": 3, "kunjungan": 1, "tanda": 1}
    wb = load_workbook(out)
    rec = list(wb["penerima"].iter_rows(values_only=True))
    head = rec[0]
    rows = {r[head.index("id_penerima")]: dict(zip(head, r, strict=True)) for r in rec[1:]}
    assert {i: r["status_laporan_periode"] for i, r in rows.items()} == {
        1: "sudah lapor", 2: "mengisi", 3: "belum lapor", 4: "-", 5: "-", 6: "sudah lapor",
    }  # fmt: skip
    assert rows[1]["laba"] == 500_000 and rows[1]["periode_laporan_terakhir"] == "2024-01"
    assert rows[1]["penerima_pkh"] in ("ya", "tidak", "-") and "desil" in rows[1]
    assert rows[1]["nik"] == "3328********0001"
    assert rows[2]["bisa_dihubungi"] == "tidak" and rows[3]["bisa_dihubungi"] == "-"
    note = wb["kunjungan"]["L2"]
    assert note.value == "=cmd|' /C calc'!A0" and note.data_type == "s"
    flags = list(wb["tanda"].iter_rows(min_row=2, values_only=True))
    assert [(f[1], f[5]) for f in flags] == [(3, "Minta bantuan")]  # code in kode_jenis
    head = flags and next(wb["tanda"].iter_rows(max_row=1, values_only=True))
    flag = dict(zip(head, flags[0], strict=True))
    assert flag["kode_jenis"] == "help_request" and flag["status"] == "Terbuka"
    assert flag["dibuat_wib"].endswith(" WIB") and "+00:00" not in flag["dibuat_wib"]
    assert {r["status_penerima"] for r in rows.values()} <= {"Aktif", "Ditunda", "Berhenti",
                                                             "Lulus graduasi"}  # fmt: skip
    reports = list(wb["laporan"].iter_rows(values_only=True))
    assert {dict(zip(reports[0], r, strict=True))["pelapor"] for r in reports[1:]} <= {
        "Penerima", "Pendamping",
    }  # fmt: skip
    assert "keterangan" in wb.sheetnames


async def test_export_scoped_with_full_nik(seeded: Database, tmp_path: Path) -> None:
    out = tmp_path / "slawi.csv"
    result = await write_period_export(
        seeded, "2024-01", out, Scope.for_staff("33.28.10"), full_nik=True
    )
    assert result.counts == {"penerima": 3, "laporan": 0, "kunjungan": 0, "tanda": 1}
    assert not result.has_reports
    text = out.read_text(encoding="utf-8-sig")
    assert NIKS[3] in text and NIKS[1] not in text  # Slawi only, full NIK as asked
