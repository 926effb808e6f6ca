"""Copy a whole Pendamping database to another engine (SQLite <-> PostgreSQL) and prove it.

`pendamping db copy --from SRC --to DST`: the switch-over to PostgreSQL (and its way back).
DST is brought to the code's schema by the ordinary migrations, every application table is
copied in foreign-key order in one transaction of DST, then, still inside it, both sides are
read again: per table the row count and a checksum over the rows' values must agree, or the
transaction is rolled back and DST keeps what it had.

The checksum does not depend on the engine: each row becomes a canonical JSON text of its
values (integers, floats, text, bytes as hex, NULL), hashed with SHA-256, and the digests are
added up modulo 2^256, so the order rows come back in (collations differ) does not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.db import Database, DatabaseError, migrate, migration_status

BATCH = 1000
_MOD = 2**256


class CopyRefused(DatabaseError):
    """DST already holds data (exit 2 unless --force), or SRC is not ready to be copied."""


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sum: str
    target_sum: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum


@dataclass
class CopyResult:
    tables: list[TableCheck] = field(default_factory=list)
    rolled_back: bool = False  # a difference was found: the target was left as it was

    @property
    def differences(self) -> list[TableCheck]:
        return [t for t in self.tables if not t.ok]

    @property
    def rows(self) -> int:
        return sum(t.target_rows for t in self.tables)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"hex": bytes(value).hex()}
    if isinstance(value, float) and value.is_integer():
        return {"float": repr(value)}  # 2.0 is not the integer 2
    return value


def row_digest(values: tuple[Any, ...]) -> int:
    text = json.dumps([_canonical(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


async def table_checksum(db: Database, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, checksum) of a table over the given columns, in that order."""
    cols = ", ".join(f'"{c}"' for c in columns)
    total = 0
    count = 0
    async with db.conn.execute(f'SELECT {cols} FROM "{table}"') as cur:
        while True:
            rows = list(await cur.fetchmany(BATCH))
            if not rows:
                break
            for row in rows:
                total = (total + row_digest(tuple(row))) % _MOD
            count += len(rows)
    return count, f"{total:064x}"


async def _order(db: Database, tables: list[str]) -> list[str]:
    """Parents before children (foreign keys); a self-reference needs no order."""
    parents = {t: {fk.parent for fk in await db.foreign_keys(t)} - {t} for t in tables}
    done: list[str] = []
    pending = sorted(tables)
    while pending:
        ready = [t for t in pending if parents[t] <= set(done) | (parents[t] - set(tables))]
        if not ready:
            raise DatabaseError(f"foreign keys form a cycle among {', '.join(pending)}")
        done += ready
        pending = [t for t in pending if t not in ready]
    return done


async def _fresh_contents(tables: list[str]) -> dict[str, tuple[int, str]]:
    """What the migrations alone put into each table (the kecamatan list): a database that
    holds only that counts as empty."""
    fresh = await Database.open(":memory:")
    try:
        await migrate(fresh)
        out = {}
        for t in tables:
            if await fresh.has_table(t):
                out[t] = await table_checksum(fresh, t, [c.name for c in await fresh.columns(t)])
        return out
    finally:
        await fresh.close()


async def _holding_data(db: Database, tables: list[str]) -> tuple[list[str], list[str]]:
    """(tables with rows of their own, tables with rows at all)."""
    fresh = await _fresh_contents(tables)
    own, any_rows = [], []
    for t in tables:
        n = await db.fetchval(f'SELECT count(*) FROM "{t}"')
        if not n:
            continue
        any_rows.append(t)
        if fresh.get(t) != await table_checksum(db, t, [c.name for c in await db.columns(t)]):
            own.append(t)
    return own, any_rows


async def _key_columns(db: Database, table: str) -> list[str]:
    cols = await db.columns(table)
    return [c.name for c in cols if c.pk] or [c.name for c in cols]


async def copy_database(
    src: Database,
    dst: Database,
    *,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> CopyResult:
    """Copy every row of src into dst (migrated here first), then compare both sides.

    CopyRefused when src has migrations this code does not know or has not applied, or when
    dst holds rows beyond what the migrations put there and force is False; dst's rows are
    deleted first (in the same transaction as the copy)."""
    src_states = await migration_status(src)  # MigrationError when newer than the code
    pending = [s.name for s in src_states if s.applied_at is None]
    if pending:
        raise CopyRefused(
            f"the source lacks migrations {', '.join(pending)}: run `pendamping migrate` on it"
            " first (or copy with the Pendamping version that made it)"
        )
    await migrate(dst)
    tables = [t for t in await src.tables() if t != "schema_migrations"]
    missing = [t for t in tables if not await dst.has_table(t)]
    if missing:
        raise CopyRefused(f"the target has no table {', '.join(missing)}")
    ordered = await _order(dst, tables)
    own, filled = await _holding_data(dst, ordered)
    if own and not force:
        raise CopyRefused(
            f"the target already holds data (tables {', '.join(own[:5])}"
            f"{', ...' if len(own) > 5 else ''}); copy only into an empty database,"
            " or add --force to replace everything in it"
        )
    columns = {t: [c.name for c in await src.columns(t)] for t in ordered}
    result = CopyResult()
    try:
        async with dst.transaction() as conn:
            for table in reversed(filled):
                await conn.execute(f'DELETE FROM "{table}"')
            for table in ordered:
                await _copy_table(src, conn, table, columns[table], progress)
            # Checked before the commit (dst's reads see its own transaction): a copy that
            # differs is rolled back and dst keeps what it had.
            for table in ordered:
                n_src, sum_src = await table_checksum(src, table, columns[table])
                n_dst, sum_dst = await table_checksum(dst, table, columns[table])
                result.tables.append(TableCheck(table, n_src, n_dst, sum_src, sum_dst))
            if result.differences:
                raise _Differs
    except _Differs:
        result.rolled_back = True
    return result


class _Differs(Exception):
    """Internal: roll the copy back, the result says why."""


async def _copy_table(
    src: Database,
    conn: Any,
    table: str,
    cols: list[str],
    progress: Callable[[str, int], None] | None,
) -> None:
    names = ", ".join(f'"{c}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    order = ", ".join(f'"{c}"' for c in await _key_columns(src, table))
    copied = 0
    async with src.conn.execute(f'SELECT {names} FROM "{table}" ORDER BY {order}') as cur:
        while True:
            rows = [tuple(r) for r in await cur.fetchmany(BATCH)]
            if not rows:
                break
            await conn.executemany(insert, rows)
            copied += len(rows)
    if progress is not None:
        progress(table, copied)
