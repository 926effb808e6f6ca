"""The kabupaten a database serves: checking a kecamatan list, replacing Tegal's with another
kabupaten's (service and `pendamping regions`), and its name where people read it."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.domain.cells import CellError
from bot.domain.regions import check_region_list, match_kecamatan
from bot.render import render
from bot.services.digests import region_label
from bot.services.invites import resolve_kecamatan
from bot.services.regions import RegionsRefused, current, kabupaten_name, replace_regions
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.both_engines

NOW = dt.datetime(2024, 3, 1, 2, tzinfo=dt.UTC)
BREBES = {"33.29.01": "Salem", "33.29.02": "Bantarkawung", "33.29.03": "Bumiayu"}


def test_a_good_list_is_read_and_a_bad_one_named_row_by_row():
    code, name, kec, problems = check_region_list(
        " 33.29 ", "Kabupaten  Brebes", [("33.29.01", " Salem "), ("33.29.02", "Bantarkawung")]
    )
    assert (code, name, kec, problems) == (
        "33.29", "Kabupaten Brebes", {"33.29.01": "Salem", "33.29.02": "Bantarkawung"}, []
    )  # fmt: skip
    assert check_region_list("3329", "Brebes", [("3329.01", "Salem")])[3] == [
        "kode kabupaten '3329': tulis seperti 33.29 (kode Kepmendagri)",
        "nama 'Brebes': tulis 'Kabupaten <nama>' atau 'Kota <nama>'",
        "baris 2: kode '3329.01' bukan kode kecamatan 3329.xx",
    ]
    *_, problems = check_region_list(
        "33.29",
        "Kabupaten Brebes",
        [("33.28.01", "Margasari"), ("33.29.01", ""), ("33.29.02", "Salem"),
         ("33.29.02", "Salem Lagi"), ("33.29.03", "SALEM")],
    )  # fmt: skip
    assert problems == [
        "baris 2: kode '33.28.01' bukan kode kecamatan 33.29.xx",
        "baris 3: nama kecamatan kosong",
        "baris 5: kode 33.29.02 sudah ada di baris sebelumnya",
        "baris 6: SALEM sudah ada di baris 4",
    ]
    assert check_region_list("33.29", "Kota Tegal", [])[3] == ["daftar kecamatan kosong"]


def test_an_unknown_kecamatan_names_the_kabupaten():
    with pytest.raises(CellError, match="'Slawi' tidak ada di Kabupaten Brebes"):
        match_kecamatan("Slawi", BREBES, "Kabupaten Brebes")


async def test_tegal_is_the_default_and_another_kabupaten_replaces_it(db):
    assert await kabupaten_name(db) == "Kabupaten Tegal"
    assert len((await current(db)).kecamatan) == 18
    change = await replace_regions(db, "33.29", "Kabupaten Brebes", BREBES, NOW)
    assert (change.added, change.renamed, change.removed) == (3, 0, 18)
    assert change.regions.kecamatan == BREBES and await kabupaten_name(db) == "Kabupaten Brebes"
    # where people read it: the whole region's label, and a kecamatan number in a command
    assert await region_label(db, None) == "Kabupaten Brebes"
    assert await region_label(db, "33.29.03") == "Kec. Bumiayu"
    assert await resolve_kecamatan(db, "2") == "33.29.02"
    audit = await db.fetchone(
        "SELECT actor, details FROM audit_log WHERE action = 'regions.replace'"
    )
    assert audit["actor"] == "cli" and json.loads(audit["details"])["removed"] == 18
    # the same list again changes nothing; a renamed one is counted as such
    again = await replace_regions(db, "33.29", "Kabupaten Brebes", {**BREBES, "33.29.01": "Salem Baru"}, NOW)  # fmt: skip
    assert (again.added, again.renamed, again.removed) == (0, 1, 0)


async def test_a_kecamatan_in_use_is_never_removed(db):
    stamp = NOW.isoformat()
    await db.execute(
        "INSERT INTO facilitators (code, name, kecamatan_code, created_at, updated_at)"
        " VALUES ('PD-1', 'Bu Rina', '33.28.06', ?, ?)",
        (stamp, stamp),
    )
    with pytest.raises(RegionsRefused, match=r"Lebaksiu \(33.28.06, dipakai di facilitators\)"):
        await replace_regions(db, "33.29", "Kabupaten Brebes", BREBES, NOW)
    assert await kabupaten_name(db) == "Kabupaten Tegal"  # nothing changed
    assert len((await current(db)).kecamatan) == 18


def test_texts_name_the_kabupaten():
    for name in ("stranger", "start_unlinked"):
        assert "Dinas Sosial Kabupaten Brebes" in render(name, "id", first_name="", kabupaten="Kabupaten Brebes")  # fmt: skip
    notice = render("consent_notice", "id", name="Siti", role="recipient", kabupaten="Kota Tegal")
    assert notice.count("Dinas Sosial Kota Tegal") == 2 and "Kabupaten" not in notice


def test_the_regions_command_shows_and_loads_a_list(tmp_path, settings):
    missing = run_cli("regions", cwd=tmp_path, env={"PENDAMPING_DB": str(tmp_path / "none.db")})
    assert missing.returncode == 2 and "does not exist yet" in missing.stderr
    assert not (tmp_path / "none.db").exists()  # showing never creates a database
    env = {"PENDAMPING_DB": settings.database}
    if settings.database.endswith(".db"):
        run_cli("migrate", cwd=tmp_path, env=env)
    shown = run_cli("regions", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Kabupaten Tegal (33.28): 18 kecamatan")
    csv_file = tmp_path / "brebes.csv"
    csv_file.write_text("Kode;Nama\n33.29.01;Salem\n33.29.02;Bantarkawung\n\n", encoding="utf-8")
    loaded = run_cli("regions", "--load", str(csv_file), "--kabupaten-code", "33.29",
                     "--kabupaten-name", "Kabupaten Brebes", cwd=tmp_path, env=env)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[:2] == [
        "loaded: 2 added, 0 renamed, 18 removed",
        "Kabupaten Brebes (33.29): 2 kecamatan",
    ]
    # a wrong file: each problem with its row, nothing changed, exit 2
    csv_file.write_text("kode,nama\n33.28.01,Margasari\n", encoding="utf-8")
    bad = run_cli("regions", "--load", str(csv_file), "--kabupaten-code", "33.30",
                  "--kabupaten-name", "Kabupaten Pemalang", cwd=tmp_path, env=env)  # fmt: skip
    assert bad.returncode == 2
    assert "baris 2: kode '33.28.01' bukan kode kecamatan 33.30.xx" in bad.stderr
    assert "nothing changed" in bad.stderr
    csv_file.write_text("no,kecamatan_id\n1,2\n", encoding="utf-8")
    headers = run_cli("regions", "--load", str(csv_file), "--kabupaten-code", "33.30",
                      "--kabupaten-name", "Kabupaten Pemalang", cwd=tmp_path, env=env)  # fmt: skip
    assert headers.returncode == 2 and "must name the columns kode and nama" in headers.stderr
    missing = run_cli("regions", "--load", str(csv_file), cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "--load needs --kabupaten-code" in missing.stderr
    assert run_cli("regions", cwd=tmp_path, env=env).stdout.startswith("Kabupaten Brebes (33.29)")
