"""A kabupaten's schema in the PostgreSQL URL, its lock keys and its settings (no server)."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings
from bot.db import pg_dump_command
from bot.db.pgschema import lock_key, schema_of, schema_problem, with_schema
from bot.db.postgres import describe
from bot.paths import files_folder
from bot.webhook import bot_id_of

URL = "postgresql://pendamping:rahasia@db.example:5433/jateng"


def test_schema_travels_in_the_url_and_replaces_an_earlier_one():
    assert schema_of(URL) == "public"
    tegal = with_schema(URL, "kab_tegal")
    assert schema_of(tegal) == "kab_tegal"
    assert schema_of(with_schema(tegal, "kab_brebes")) == "kab_brebes"
    assert tegal.count("search_path") == 1
    # other libpq options and query keys are kept
    other = with_schema(URL + "?sslmode=require&options=-c%20statement_timeout%3D5000", "kab_x")
    assert "sslmode=require" in other and "statement_timeout" in other
    assert schema_of(other) == "kab_x"
    # written by hand, libpq's own forms
    assert schema_of(URL + "?options=-c%20search_path%3Dkab_pemalang,public") == "kab_pemalang"


def test_lock_keys_are_per_schema_and_public_keeps_the_old_ones():
    assert lock_key(URL, 1) == 1 and lock_key(URL, 2) == 2
    schemas = [f"kab_{i}" for i in range(200)]
    keys = {lock_key(with_schema(URL, s), kind) for s in schemas for kind in (1, 2, 3)}
    assert len(keys) == 600  # no two schemas or kinds share a lock here
    assert all(-(2**31) <= k < 2**31 and k not in (1, 2, 3) for k in keys)


def test_schema_names_refused_with_a_reason():
    assert schema_problem("kab_tegal") is None
    for bad in ("Kab Tegal", "kab-tegal", "1kab", "", "x" * 64):
        assert "not a schema name" in (schema_problem(bad) or "")
    assert "reserved" in (schema_problem("pg_catalog") or "")
    assert "reserved" in (schema_problem("pendamping_workers") or "")


def test_messages_commands_and_files_name_the_schema():
    tegal = with_schema(URL, "kab_tegal")
    assert describe(tegal) == "PostgreSQL database jateng on db.example:5433 (schema kab_tegal)"
    assert describe(URL) == "PostgreSQL database jateng on db.example:5433"
    command = pg_dump_command(tegal, "tegal.dump")
    assert command.startswith("pg_dump -Fc -n kab_tegal -f tegal.dump ")
    assert "rahasia" not in command
    assert " -n " not in pg_dump_command(URL, "all.dump")
    assert files_folder(tegal).parts[-2:] == ("pendamping-files", "kab_tegal")
    assert files_folder(URL).name == "pendamping-files"


def test_settings_fold_the_schema_into_the_database(tmp_path):
    config = tmp_path / "tegal.toml"
    config.write_text(f'database = "{URL}"\ndatabase_schema = "kab_tegal"\n', encoding="utf-8")
    settings = load_settings(config, env={})
    assert schema_of(settings.database) == "kab_tegal"
    # the environment names another kabupaten's schema (one file, several services)
    other = load_settings(config, env={"PENDAMPING_DB_SCHEMA": "kab_brebes"})
    assert schema_of(other.database) == "kab_brebes"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('database_schema = "kab_tegal"\n', "only for a PostgreSQL database"),
        (f'database = "{URL}"\ndatabase_schema = "Kab Tegal"\n', "not a schema name"),
        (f'database = "{URL}"\ndatabase_schema = 5\n', "expected text"),
    ],
    ids=["with-a-sqlite-file", "bad-name", "not-text"],
)
def test_wrong_schema_settings_are_one_line_naming_the_key(tmp_path, text, problem):
    config = tmp_path / "p.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"database_schema: .*{problem}"):
        load_settings(config, env={})


def test_bot_id_is_the_public_part_of_the_token():
    assert bot_id_of("111222:AAbbCC") == 111222
    assert bot_id_of("not-a-token") == 0
