"""`pendamping score` through the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.db import open_migrated
from tests.cli_helpers import run_cli
from tests.scoring_db import add_checklist, add_recipient, add_report, add_visit
from tests.scoring_examples import B_CHECKLIST, B_OBS, B_VISITS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NIK = "3328064107850001"


async def _seed(path: Path) -> None:
    db = await open_migrated(str(path))
    try:
        rid = await add_recipient(db, NIK)
        for o in B_OBS:
            await add_report(db, rid, o)
        for v in B_VISITS:
            await add_visit(db, rid, v.visit_date, v.rubric)
        await add_checklist(db, rid, B_CHECKLIST)
    finally:
        await db.close()


def test_score_cli_shows_components_and_recompute_keeps_history(tmp_path: Path) -> None:
    dbfile = tmp_path / "p.db"
    asyncio.run(_seed(dbfile))
    env = {"PENDAMPING_DB": str(dbfile)}
    out = run_cli("score", "--nik", NIK, "--period", "2024-06", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "Skor 94/100" in out.stdout and "Siap graduasi" in out.stdout
    assert "Kecukupan pendapatan" in out.stdout and "26/30" in out.stdout
    assert "Model 2.0+" in out.stdout
    assert "Gerbang" in out.stdout and "terpenuhi" in out.stdout
    # without --period: the latest period that has data (June 2024), not an empty month today
    latest = run_cli("score", "--nik", NIK, cwd=tmp_path, env=env)
    assert latest.returncode == 0, latest.stderr
    assert "Skor 94/100" in latest.stdout and "2024-06" in latest.stdout
    first = run_cli("score", "--recompute", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "6 scores in 6 periods" in first.stdout
    assert "[6/6] " in first.stderr  # a running count while history is recomputed
    # worker processes started from `python -m bot` (spawn re-imports the main module)
    workers = run_cli(
        "score", "--recompute", "--period", "2024-06", "--workers", "2", cwd=tmp_path, env=env
    )
    assert workers.returncode == 0, workers.stderr
    assert "2024-06: 1 scores" in workers.stdout
    config = tmp_path / "p.toml"
    config.write_text('[scoring]\nversion = "2.1"\nintensive_below = 40\n', encoding="utf-8")
    second = run_cli("--config", str(config), "score", "--recompute", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "model version 2.1+" in second.stdout
    versions = run_cli("migrate", "--status", cwd=tmp_path, env=env)
    assert versions.returncode == 0

    async def count_versions() -> int:
        db = await open_migrated(str(dbfile))
        try:
            return await db.fetchval("SELECT count(DISTINCT model_version) FROM scores")
        finally:
            await db.close()

    assert asyncio.run(count_versions()) == 2


def test_score_cli_bad_input(tmp_path: Path) -> None:
    env = {"PENDAMPING_DB": str(tmp_path / "p.db")}
    assert run_cli("score", cwd=tmp_path, env=env).returncode == 2
    bad = run_cli("score", "--nik", "123", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "16" in bad.stderr
    assert (
        run_cli("score", "--nik", NIK, "--period", "2024-13", cwd=tmp_path, env=env).returncode == 2
    )
    unknown = run_cli("score", "--nik", NIK, cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no recipient" in unknown.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[scoring]\nweight_income = 50\n", encoding="utf-8")
    err = run_cli("--config", str(config), "score", "--recompute", cwd=tmp_path, env=env)
    assert err.returncode == 2
    assert err.stderr.strip().count("\n") == 0 and "sum to 100" in err.stderr
    assert run_cli("score", "--help", cwd=tmp_path, env=env).returncode == 0


async def _seed_graduate(path: Path) -> None:
    from bot.services import graduation, scoring
    from bot.services.accounts import get_account
    from tests.scoring_db import add_account, add_facilitator, at

    db = await open_migrated(str(path))
    try:
        fac = await add_facilitator(db)
        rid = await add_recipient(db, NIK, facilitator_id=fac)
        for o in B_OBS:
            await add_report(db, rid, o)
        await add_visit(db, rid, "2024-06-15", (4, 4, 5, 5), fac)
        await add_checklist(db, rid, B_CHECKLIST)
        await add_account(db, 200, "facilitator", facilitator_id=fac)
        await add_account(db, 300, "staff", kec="33.28.06")
        from bot.config import Settings

        now = at("2024-07-03T02:00:00+00:00")
        await scoring.recompute_all(db, Settings(), "2024-06", now)
        case = await graduation.confirm(
            db, Settings(), await get_account(db, 200), NIK, "Usaha stabil dan menabung.", now
        )
        await graduation.decide(db, Settings(), await get_account(db, 300), case, True,
                                "Keluarga setuju saat kunjungan", now)  # fmt: skip
    finally:
        await db.close()


def test_graduates_export_csv_and_xlsx(tmp_path: Path) -> None:
    import csv

    from openpyxl import load_workbook

    dbfile = tmp_path / "p.db"
    asyncio.run(_seed_graduate(dbfile))
    env = {"PENDAMPING_DB": str(dbfile)}
    out = run_cli("graduates", "--out", str(tmp_path / "g.csv"), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "1 approved graduates" in out.stdout
    rows = list(csv.reader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert rows[0][:3] == ["Nama", "NIK", "Desa"]
    assert rows[1][1] == NIK and rows[1][2] == "Lebaksiu Kidul" and rows[1][6] == "94"
    assert (tmp_path / "g.csv").stat().st_mode & 0o077 == 0
    out = run_cli("graduates", "--out", str(tmp_path / "g.xlsx"), cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    ws = load_workbook(tmp_path / "g.xlsx").active
    assert ws["B2"].value == NIK and ws["H2"].value.startswith("2.0+")
    bad = run_cli("graduates", "--out", str(tmp_path / "g.txt"), cwd=tmp_path, env=env)
    assert bad.returncode == 2
