"""Database: pragmas, file mode, transactions, and the migration runner's guarantees."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.db import (
    Database,
    DatabaseError,
    MigrationError,
    discover_migrations,
    migrate,
    migration_status,
    open_migrated,
)

NOW = dt.datetime(2024, 2, 1, 1, 0, tzinfo=dt.UTC)


def table_columns(path: str) -> dict[str, set[str]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}


async def test_fresh_database_has_core_tables_and_columns(tmp_path: Path) -> None:
    path = str(tmp_path / "p.db")
    db = await open_migrated(path, NOW)
    await db.close()
    columns = table_columns(path)
    expected = {
        "kecamatan": {"code", "name"},
        "desa": {"id", "kecamatan_code", "name", "code"},
        "facilitators": {"id", "code", "name", "phone", "kecamatan_code", "status"},
        "recipients": {
            "nik", "name", "gender", "birth_date", "kecamatan_code", "desa_id", "phone",
            "household_size", "programme", "training_class", "package", "assistance_value",
            "handover_date", "facilitator_id", "status", "p3ke_family_id", "welfare_decile",
        },
        "accounts": {
            "telegram_user_id", "chat_id", "role", "recipient_id", "facilitator_id",
            "kecamatan_code", "consent_version", "consent_at", "muted", "reachable",
        },
        "audit_log": {"at", "actor", "action", "entity", "entity_id", "details"},
        "schema_migrations": {"name", "checksum", "applied_at"},
        "reports": {"recipient_id", "period", "reporter_role", "revision", "profit", "answers"},
        "report_drafts": {"account_id", "recipient_id", "answers", "step", "status"},
        "visits": {"recipient_id", "visit_date", "score_bookkeeping"},
        "report_flags": {"recipient_id", "kind", "status", "resolved_value"},
    }  # fmt: skip
    for table, cols in expected.items():
        assert table in columns, table
        assert cols <= columns[table], (table, cols - columns[table])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM kecamatan").fetchone()[0] == 18
        assert conn.execute("SELECT name FROM kecamatan WHERE code = '33.28.06'").fetchone() == (
            "Lebaksiu",
        )
        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert applied == [m.name for m in discover_migrations()]


async def test_file_mode_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    db = await open_migrated(str(path), NOW)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert (await db.fetchval("PRAGMA journal_mode")) == "wal"
        assert (await db.fetchval("PRAGMA foreign_keys")) == 1
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute(
                "INSERT INTO desa (kecamatan_code, name) VALUES ('99.99.99', 'Nowhere')"
            )
    finally:
        await db.close()


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO desa (kecamatan_code, name) VALUES ('33.28.06', 'A')")
            raise RuntimeError("boom")
    assert await db.fetchval("SELECT count(*) FROM desa") == 0
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO desa (kecamatan_code, name) VALUES ('33.28.06', 'A')")
    assert await db.fetchval("SELECT count(*) FROM desa") == 1


def _write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    return folder


async def test_failing_migration_leaves_previous_version(tmp_path: Path) -> None:
    folder = _write_migrations(
        tmp_path / "m",
        {
            "0001_a.sql": "CREATE TABLE a (x INTEGER);",
            "0002_b.sql": "CREATE TABLE b (y INTEGER);\nINSERT INTO a VALUES (1);\n"
            "INSERT INTO nowhere VALUES (2);\n",
        },
    )
    db = await Database.open(str(tmp_path / "p.db"))
    try:
        with pytest.raises(MigrationError, match="0002_b failed and was rolled back"):
            await migrate(db, NOW, discover_migrations(folder))
        tables = {r[0] for r in await db.fetchall("SELECT name FROM sqlite_master")}
        assert "a" in tables and "b" not in tables
        assert await db.fetchval("SELECT count(*) FROM a") == 0
        states = await migration_status(db, discover_migrations(folder))
        assert [(s.name, s.applied_at is not None) for s in states] == [
            ("0001_a", True),
            ("0002_b", False),
        ]
        # The connection is usable afterwards and a fixed file applies.
        (folder / "0002_b.sql").write_text("CREATE TABLE b (y INTEGER);", encoding="utf-8")
        assert await migrate(db, NOW, discover_migrations(folder)) == ["0002_b"]
    finally:
        await db.close()


async def test_changed_applied_migration_is_refused(tmp_path: Path) -> None:
    folder = _write_migrations(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (x INTEGER);"})
    db = await Database.open(str(tmp_path / "p.db"))
    try:
        await migrate(db, NOW, discover_migrations(folder))
        (folder / "0001_a.sql").write_text("CREATE TABLE a (x TEXT);", encoding="utf-8")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(db, NOW, discover_migrations(folder))
        with pytest.raises(MigrationError, match="checksum"):
            await migration_status(db, discover_migrations(folder))
    finally:
        await db.close()


async def test_a_migration_with_reworded_comments_accepts_its_earlier_checksum(
    tmp_path: Path,
) -> None:
    """Databases migrated before a comment was reworded recorded the earlier text's checksum:
    still consistent; any other checksum is still refused."""
    from bot.db import EARLIER_CHECKSUMS

    db = await open_migrated(str(tmp_path / "p.db"), NOW)
    try:
        for name, earlier in EARLIER_CHECKSUMS.items():
            for checksum in earlier:
                await db.execute(
                    "UPDATE schema_migrations SET checksum = ? WHERE name = ?", (checksum, name)
                )
        states = await migration_status(db)
        assert all(s.applied_at is not None for s in states)
        await db.execute(
            "UPDATE schema_migrations SET checksum = 'f00' WHERE name = '0002_registry'"
        )
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migration_status(db)
    finally:
        await db.close()


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    folder = _write_migrations(
        tmp_path / "m", {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"}
    )
    db = await Database.open(str(tmp_path / "p.db"))
    try:
        await migrate(db, NOW, discover_migrations(folder))
        (folder / "0002_b.sql").unlink()
        with pytest.raises(MigrationError, match="newer than the code"):
            await migrate(db, NOW, discover_migrations(folder))
    finally:
        await db.close()


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    folder = _write_migrations(tmp_path / "m", {"1_a.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="NNNN_name"):
        discover_migrations(folder)


async def test_corrupt_file_gives_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="damaged or not a Pendamping database"):
        await Database.open(str(path))


async def test_missing_folder_gives_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        await Database.open(str(tmp_path / "no" / "such" / "p.db"))


async def test_locked_database_gives_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    path = str(tmp_path / "p.db")
    db = await open_migrated(path, NOW)
    await db.close()
    monkeypatch.setattr("bot.db.BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        other = await Database.open(path)
        try:
            with pytest.raises(DatabaseError, match="locked"):
                async with other.transaction():
                    pass
        finally:
            await other.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_readonly_open_never_creates(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(DatabaseError, match="does not exist"):
        await Database.open(str(path), readonly=True)
    assert not path.exists()


async def test_maintenance_and_schema_api(db, tmp_path: Path) -> None:
    """The engine-specific part of the Database API that services use instead of pragmas."""
    from bot.db import backup_to, file_integrity_problems

    assert await db.integrity_check() == []
    assert "recipients" in await db.tables()
    columns = {c.name: c for c in await db.columns("recipients")}
    assert columns["id"].pk and columns["nik"].notnull
    assert await db.columns("no_such_table") == []
    fks = {(fk.column, fk.parent) for fk in await db.foreign_keys("accounts")}
    assert ("recipient_id", "recipients") in fks
    await db.execute(
        "INSERT INTO facilitators (code, name, created_at, updated_at) VALUES ('PD-1', 'A', 'x', 'x')"
    )
    assert await db.checkpoint()
    await db.vacuum()
    out = tmp_path / "copy.db"
    backup_to(db.path, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert file_integrity_problems(out) == []
    with sqlite3.connect(out) as conn:
        assert conn.execute("SELECT name FROM facilitators").fetchall() == [("A",)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with pytest.raises(DatabaseError):
        backup_to(tmp_path / "missing.db", tmp_path / "x.db")
