"""`pendamping db copy`: SQLite -> PostgreSQL -> SQLite with equal row counts and checksums,
refusals, and the one-line errors of a PostgreSQL URL that cannot be opened."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.db import Database, open_migrated, without_password
from bot.db.postgres import describe, explain_connect_error
from bot.services.dbcopy import copy_database, table_checksum
from tests import digest_db
from tests.pg_databases import PgTestServer, pg_server_or_skip


@pytest.fixture
def server(pg_test_server: PgTestServer) -> PgTestServer:
    return pg_server_or_skip(pg_test_server)


@pytest.fixture
def empty_pg(server: PgTestServer):
    url = server.create_empty_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def seeded_file(tmp_path: Path, clock) -> Path:
    path = tmp_path / "source.db"

    async def build() -> None:
        db = await open_migrated(str(path), clock())
        try:
            await digest_db.seed(db)
        finally:
            await db.close()

    asyncio.run(build())
    return path


async def _sums(target: str) -> dict[str, tuple[int, str]]:
    db = await Database.open(target, readonly=True)
    try:
        out = {}
        for table in await db.tables():
            if table == "schema_migrations":
                continue
            cols = [c.name for c in await db.columns(table)]
            out[table] = await table_checksum(db, table, cols)
        return out
    finally:
        await db.close()


def test_round_trip_sqlite_postgres_sqlite(
    seeded_file: Path, empty_pg: str, tmp_path: Path, capsys
) -> None:
    assert main(["db", "copy", "--from", str(seeded_file), "--to", empty_pg]) == 0
    out = capsys.readouterr().out
    assert "checked: row count and checksum equal in every table" in out
    back = tmp_path / "back.db"
    assert main(["db", "copy", "--from", empty_pg, "--to", str(back)]) == 0
    original, there, again = (
        asyncio.run(_sums(t)) for t in (str(seeded_file), empty_pg, str(back))
    )
    assert original == there == again
    assert original["recipients"][0] == 6 and original["reports"][0] > 0
    # new rows continue after the copied ids, as they would in the source
    top = sqlite3.connect(back).execute("SELECT max(id) FROM desa").fetchone()[0]

    async def insert_next() -> int:
        db = await Database.open(empty_pg)
        try:
            return await db.execute(
                "INSERT INTO desa (kecamatan_code, name) VALUES ('33.28.06', 'Baru')"
            )
        finally:
            await db.close()

    assert asyncio.run(insert_next()) == top + 1


def test_non_empty_target_is_refused_unless_forced(
    seeded_file: Path, empty_pg: str, capsys
) -> None:
    assert main(["db", "copy", "--from", str(seeded_file), "--to", empty_pg]) == 0
    capsys.readouterr()
    assert main(["db", "copy", "--from", str(seeded_file), "--to", empty_pg]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refused: the target already holds data") and "--force" in err
    assert main(["db", "copy", "--from", str(seeded_file), "--to", empty_pg, "--force"]) == 0
    assert asyncio.run(_sums(str(seeded_file))) == asyncio.run(_sums(empty_pg))


def test_a_value_the_target_changes_fails_and_leaves_the_target_empty(
    seeded_file: Path, empty_pg: str, capsys
) -> None:
    conn = sqlite3.connect(seeded_file)
    conn.execute("UPDATE recipients SET household_size = 2.5 WHERE id = 1")  # SQLite keeps it
    conn.commit()
    conn.close()
    assert main(["db", "copy", "--from", str(seeded_file), "--to", empty_pg]) == 1
    err = capsys.readouterr().err
    # PostgreSQL rounds 2.5 into the BIGINT column: the checksum sees it, the copy is undone
    assert "DIFFERENT recipients: 6 rows -> 6 rows, checksum " in err
    assert "rolled back" in err and err.count("DIFFERENT") == 1

    async def count() -> int:
        db = await Database.open(empty_pg)
        try:
            return int(await db.fetchval("SELECT count(*) FROM recipients"))
        finally:
            await db.close()

    assert asyncio.run(count()) == 0


async def test_checksums_see_a_changed_value(seeded_file: Path, empty_pg: str) -> None:
    src = await Database.open(str(seeded_file), readonly=True)
    dst = await Database.open(empty_pg)
    try:
        result = await copy_database(src, dst)
        assert not result.differences and result.rows > 20
        await dst.execute("UPDATE recipients SET name = 'Siti A' WHERE id = 1")
        cols = [c.name for c in await src.columns("recipients")]
        assert await table_checksum(src, "recipients", cols) != await table_checksum(
            dst, "recipients", cols
        )
    finally:
        await src.close()
        await dst.close()


def test_same_database_and_missing_source_are_usage_errors(tmp_path: Path, capsys) -> None:
    f = str(tmp_path / "a.db")
    assert main(["db", "copy", "--from", f, "--to", f]) == 2
    assert main(["db", "copy", "--from", f, "--to", str(tmp_path / "b.db")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://postgres@127.0.0.1:1/pendamping", "pendamping on 127.0.0.1:1"),
        ("postgresql://postgres:geheim@127.0.0.1:1/pendamping", "pendamping on 127.0.0.1:1"),
        ("postgresql://postgres@127.0.0.1:x/pendamping", "pendamping on 127.0.0.1:x"),
    ],
)
def test_unreachable_or_malformed_url_is_one_line_exit_1(
    url: str, words: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PENDAMPING_DB", url)
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "geheim" not in err


def test_missing_database_and_wrong_password_name_host_and_database(server) -> None:
    # The test server trusts local users, so the wrong password is the server's own message.
    url = "postgresql://pendamping:geheim@db.example:6543/pendamping"
    exc = Exception(
        'connection failed: connection to server at "10.0.0.5", port 6543 failed: FATAL:  '
        'password authentication failed for user "pendamping" (password geheim)'
    )
    line = explain_connect_error(exc, url)
    assert line == (
        "cannot open PostgreSQL database pendamping on db.example:6543:"
        " authentication failed (wrong user or password)"
    )
    assert "geheim" not in describe(url) and without_password(url) == (
        "postgresql://pendamping@db.example:6543/pendamping"
    )
    missing = server.admin_url.rsplit("/", 1)[0] + "/pendamping_no_such_database"
    with pytest.raises(Exception) as info:
        asyncio.run(Database.open(missing))
    assert str(info.value).startswith(
        "cannot open PostgreSQL database pendamping_no_such_database on "
    ) and "does not exist" in str(info.value)
