"""`pendamping doctor`: a FAIL line for each seeded fault, read-only."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections import namedtuple
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import BackupSettings, Settings
from bot.db import Database, discover_migrations, migrate, open_migrated
from bot.runlock import acquire_run_lock
from bot.services import doctor
from bot.services.backup import backup_database
from bot.services.doctor import FAIL, OK, WARN, run_checks
from tests.cli_helpers import run_cli

NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)


def iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


@pytest.fixture
def healthy(tmp_path: Path) -> Settings:
    """A migrated database, a token, a fresh automatic backup."""
    settings = replace(
        Settings(),
        database=str(tmp_path / "p.db"),
        token="123:abc",
        backup=BackupSettings(dir=str(tmp_path / "bk"), keep=3, hour=2),
    )

    async def go() -> None:
        db = await open_migrated(settings.database, NOW)
        await db.close()

    asyncio.run(go())
    (tmp_path / "bk").mkdir()
    backup_database(
        settings.database,
        tmp_path / "bk" / f"pendamping-{NOW:%Y%m%d}-{NOW - dt.timedelta(hours=1):%H%M%S}.db",
    )
    return settings


def sql(settings: Settings, *statements: tuple) -> None:
    conn = sqlite3.connect(settings.database)
    for statement in statements:
        conn.execute(*statement)
    conn.commit()
    conn.close()


def by_name(checks: list) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


async def test_healthy_database_has_no_fail(healthy: Settings) -> None:
    checks = by_name(await run_checks(healthy, NOW))
    assert checks["token"].status == OK
    assert checks["database"].status == OK
    assert checks["integrity"].status == OK
    assert checks["migrations"].status == OK
    assert checks["backup"].status == OK
    assert checks["bot"].line() == "WARN bot: not running -> start it: `systemctl start pendamping`"
    lock = acquire_run_lock(healthy.database)
    try:
        running = by_name(await run_checks(healthy, NOW))["bot"]
    finally:
        lock.release()
    assert running.status == OK and "pendamping run" in running.message
    # The cycle's tables (migration 0004) exist but are empty: no crash, no FAIL.
    assert checks["outbox failed"].line() == "OK   outbox failed: no failed messages"
    assert checks["outbox backlog"].status == OK
    assert checks["tick"].status == WARN and checks["tick"].message == "never ticked successfully"
    assert checks["digest"].status == WARN
    assert not [c for c in checks.values() if c.status == FAIL]


async def test_no_token_is_a_warning_about_sandbox_mode(healthy: Settings) -> None:
    checks = by_name(await run_checks(replace(healthy, token=None), NOW))
    assert checks["token"].status == WARN and "sandbox mode" in checks["token"].message


async def test_missing_migration_fails_and_is_not_applied(
    tmp_path: Path, healthy: Settings
) -> None:
    old = str(tmp_path / "old.db")

    async def go() -> None:
        db = await Database.open(old)
        await migrate(db, NOW, discover_migrations()[:1])
        await db.close()

    await go()
    before = Path(old).read_bytes()
    checks = by_name(await run_checks(replace(healthy, database=old), NOW))
    assert checks["migrations"].status == FAIL
    assert "run `pendamping migrate`" in checks["migrations"].line()
    assert Path(old).read_bytes() == before


async def test_changed_migration_fails(healthy: Settings) -> None:
    sql(healthy, ("UPDATE schema_migrations SET checksum = 'x' WHERE name = '0001_initial'",))
    checks = by_name(await run_checks(healthy, NOW))
    assert checks["migrations"].status == FAIL and "checksum" in checks["migrations"].message


async def test_tick_never_then_fresh_then_stale(healthy: Settings) -> None:
    # tick_runs comes with migration 0004 (the cycle)
    assert by_name(await run_checks(healthy, NOW))["tick"].message == "never ticked successfully"
    ok_at = NOW - dt.timedelta(minutes=2)
    sql(
        healthy,
        ("INSERT INTO tick_runs (started_at, now) VALUES (?, ?)", (iso(ok_at), iso(ok_at))),
        # A later failed run and a dry run do not count as successful ticks.
        (
            "INSERT INTO tick_runs (started_at, now, error) VALUES (?, ?, 'boom')",
            (iso(NOW), iso(NOW)),
        ),
        (
            "INSERT INTO tick_runs (started_at, now, dry_run) VALUES (?, ?, 1)",
            (iso(NOW), iso(NOW)),
        ),
    )
    fresh = by_name(await run_checks(healthy, NOW))["tick"]
    assert fresh.line() == "OK   tick: last successful tick 2 min ago"
    stale = by_name(await run_checks(healthy, NOW + dt.timedelta(hours=3)))["tick"]
    assert stale.status == FAIL
    assert stale.line().startswith("FAIL tick: last successful tick 3 h ago -> ticks stopped")


# outbox comes with migration 0004 (the cycle); rows need its required columns
OUTBOX_ROW = (
    "INSERT INTO outbox (kind, person, step, chat_id, text, status, not_before, created_at)"
    " VALUES ('test', ?, 'x', 1, 't', ?, ?, ?)"
)


async def test_failed_outbox_rows_fail(healthy: Settings) -> None:
    sql(
        healthy,
        *[
            (OUTBOX_ROW, (f"chat:{i}", status, iso(NOW), iso(NOW - dt.timedelta(hours=1))))
            for i, status in enumerate(("sent", "failed", "failed", "pending"))
        ],
    )
    checks = by_name(await run_checks(healthy, NOW))
    assert (
        checks["outbox failed"]
        .line()
        .startswith(
            "FAIL outbox failed: 2 messages failed in the last 24 hours -> look at outbox.last_error"
        )
    )
    assert checks["outbox backlog"].status == OK  # the pending one is not late yet
    # A day later the failures are old news (WARN); the pending message is now a backlog.
    later = by_name(await run_checks(healthy, NOW + dt.timedelta(days=2)))
    assert later["outbox failed"].status == WARN
    assert later["outbox backlog"].status == WARN
    db = await Database.open(healthy.database, readonly=True)
    try:
        alerts = await doctor.alert_checks(db, healthy, NOW)
    finally:
        await db.close()
    assert [c.name for c in alerts] == ["outbox failed"]
    tight = replace(healthy, health=replace(healthy.health, outbox_backlog_max=0))
    assert (
        by_name(await run_checks(tight, NOW + dt.timedelta(days=2)))["outbox backlog"].status
        == FAIL
    )


async def test_backup_age_and_missing_database(healthy: Settings, tmp_path: Path) -> None:
    assert by_name(await run_checks(healthy, NOW + dt.timedelta(hours=30)))["backup"].status == WARN
    assert by_name(await run_checks(healthy, NOW + dt.timedelta(days=5)))["backup"].status == FAIL
    gone = replace(healthy, database=str(tmp_path / "nope.db"))
    checks = by_name(await run_checks(gone, NOW))
    assert checks["database"].status == FAIL and "pendamping migrate" in checks["database"].action
    assert not (tmp_path / "nope.db").exists()


def test_disk_thresholds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    usage = namedtuple("usage", "total used free")
    for free, status in ((5 * doctor.GB, OK), (500 * doctor.MB, WARN), (50 * doctor.MB, FAIL)):
        monkeypatch.setattr(doctor.shutil, "disk_usage", lambda _p, f=free: usage(0, 0, f))
        assert doctor.check_disk(tmp_path).status == status


def test_cli_exit_codes(tmp_path: Path, healthy: Settings) -> None:
    env = {"PENDAMPING_DB": healthy.database, "TELEGRAM_BOT_TOKEN": "123:secretvalue"}
    (tmp_path / "pendamping.toml").write_text(f'[backup]\ndir = "{tmp_path / "bk"}"\n')
    ok = run_cli("doctor", "--now", iso(NOW), cwd=tmp_path, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK   token: TELEGRAM_BOT_TOKEN is set" in ok.stdout
    assert "secretvalue" not in ok.stdout + ok.stderr
    sql(healthy, (OUTBOX_ROW, ("chat:1", "failed", iso(NOW), iso(NOW))))
    bad = run_cli("doctor", "--now", iso(NOW), cwd=tmp_path, env=env)
    assert bad.returncode == 1 and "FAIL outbox failed" in bad.stdout
    (tmp_path / "pendamping.toml").write_text("[backup]\nkeep = -1\n")
    conf = run_cli("doctor", cwd=tmp_path, env=env)
    assert conf.returncode == 1
    assert conf.stdout.startswith("FAIL config: config error: backup.keep")


def test_thresholds_warn_when_the_year_has_no_figure() -> None:
    """The score judges a month by its own year's lines; a missing year is a WARN with the
    year used instead."""
    known = doctor.check_thresholds(Settings(), dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    assert known.status == WARN  # no poverty line for 2025 (the 2024 value is used)
    assert "poverty_line 2025 (uses 2024)" in known.message
    assert "umk" not in known.message
    later = doctor.check_thresholds(Settings(), dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
    assert "umk 2027 (uses 2026)" in later.line() and "pendamping.toml" in later.line()
    full = replace(
        Settings().thresholds,
        poverty_line={"2024": 497_315, "2025": 520_000},
        extreme_poverty_line={"2024": 351_957, "2025": 391_000},
    )
    ok = doctor.check_thresholds(
        replace(Settings(), thresholds=full), dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    )
    assert ok.status == OK
