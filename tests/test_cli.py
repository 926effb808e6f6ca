"""The `pendamping` command line: migrate, --status, --help everywhere, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.db import discover_migrations
from tests.cli_helpers import run_cli


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_status_on_a_new_database_changes_nothing(tmp_path: Path) -> None:
    result = run_cli("migrate", "--status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for m in discover_migrations():
        assert f"{m.name} pending" in result.stdout
    assert not (tmp_path / "pendamping.db").exists()


def test_migrate_then_status_lists_applied(tmp_path: Path) -> None:
    result = run_cli("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 0001_initial" in result.stdout
    assert (tmp_path / "pendamping.db").exists()
    status = run_cli("migrate", "--status", cwd=tmp_path)
    assert status.returncode == 0
    assert re.search(r"^0001_initial applied \d{4}-\d\d-\d\dT", status.stdout, re.M)
    again = run_cli("migrate", cwd=tmp_path)
    assert again.stdout.strip() == "database is up to date"


def test_database_path_from_environment(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.db"
    result = run_cli("migrate", cwd=tmp_path, env={"PENDAMPING_DB": str(target)})
    assert result.returncode == 0, result.stderr
    assert target.exists() and not (tmp_path / "pendamping.db").exists()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("colour = 'red'\n", "config error: colour: unknown key"),
        ("[cycle\n", "not valid TOML"),
        ("[cycle]\nclose_day = 40\n", "config error: cycle.close_day"),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, config: str, expected: str) -> None:
    (tmp_path / "pendamping.toml").write_text(config, encoding="utf-8")
    result = run_cli("migrate", cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "pendamping.db").exists()


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        ("corrupt", "damaged or not a Pendamping database"),
        ("missing-folder", "does not exist"),
    ],
)
def test_bad_database_is_one_line_nonzero(tmp_path: Path, prepare: str, expected: str) -> None:
    if prepare == "corrupt":
        path = tmp_path / "p.db"
        path.write_bytes(b"garbage" * 1000)
    else:
        path = tmp_path / "nope" / "p.db"
    result = run_cli("migrate", cwd=tmp_path, env={"PENDAMPING_DB": str(path)})
    assert result.returncode == 1
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_every_subcommand_has_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In process (argparse prints the help and exits 0); one real process below for the
    console entry, so twenty interpreter start-ups are not paid for the same parser."""
    from bot.cli import main

    names = subcommands()
    assert {"run", "migrate", "version"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0, name
        assert f"usage: pendamping {name}" in capsys.readouterr().out, name
    result = run_cli("demo", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "usage: pendamping demo" in result.stdout


def test_version_and_usage_errors(tmp_path: Path) -> None:
    assert run_cli("version", cwd=tmp_path).stdout.startswith("pendamping ")
    assert run_cli(cwd=tmp_path).returncode == 2
    assert run_cli("no-such-command", cwd=tmp_path).returncode == 2


def test_now_without_offset_is_wib_for_every_command() -> None:
    """tick, doctor and retention read --now the same way: no offset means Asia/Jakarta."""
    import datetime as dt

    from bot.cli import UsageError, parse_now
    from bot.config import Settings

    assert parse_now("2024-02-05T08:00", Settings()) == dt.datetime(2024, 2, 5, 1, 0, tzinfo=dt.UTC)
    assert parse_now("2024-02-05T08:00+00:00", Settings()).hour == 8
    with pytest.raises(UsageError, match="not an ISO time"):
        parse_now("kemarin", Settings())
