"""The kabupaten a database serves and its kecamatan: its name for texts, and replacing both
with another kabupaten's (`pendamping regions --load`), e.g. for a kabupaten that shares a
PostgreSQL database in a schema of its own (docs/operations.md, several kabupaten)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from bot.db import Database, IntegrityError

# The tables whose rows name a kecamatan: a kecamatan still named there cannot be removed.
_USERS_OF_KECAMATAN = ("recipients", "facilitators", "desa", "accounts", "invites")


class RegionsRefused(Exception):
    """The list cannot replace the current one; the message says why and what to do."""


@dataclass(frozen=True)
class Regions:
    code: str
    name: str  # 'Kabupaten Tegal'
    kecamatan: dict[str, str]  # code -> name, by code


@dataclass(frozen=True)
class RegionsChange:
    regions: Regions
    added: int
    renamed: int
    removed: int


async def kabupaten_name(db: Database) -> str:
    """'Kabupaten Tegal': the name texts use for the whole region."""
    return str(await db.fetchval("SELECT name FROM kabupaten WHERE id = 1"))


async def current(db: Database) -> Regions:
    row = await db.fetchone("SELECT code, name FROM kabupaten WHERE id = 1")
    assert row is not None  # the migration's row; replace_regions only updates it
    rows = await db.fetchall("SELECT code, name FROM kecamatan ORDER BY code")
    return Regions(row["code"], row["name"], {r["code"]: r["name"] for r in rows})


async def replace_regions(
    db: Database,
    code: str,
    name: str,
    kecamatan: dict[str, str],
    now: dt.datetime,
    actor: str = "cli",
) -> RegionsChange:
    """Make (code, name, kecamatan) the database's kabupaten, in one transaction. Kecamatan
    not in the list are removed; RegionsRefused when one of them is still in use."""
    before = await current(db)
    gone = sorted(set(before.kecamatan) - set(kecamatan))
    async with db.transaction() as conn:
        in_use: list[str] = []
        for old in gone:
            for table in _USERS_OF_KECAMATAN:
                async with conn.execute(
                    f"SELECT 1 FROM {table} WHERE kecamatan_code = ? LIMIT 1", (old,)
                ) as cur:
                    if await cur.fetchone() is not None:
                        in_use.append(f"{before.kecamatan[old]} ({old}, dipakai di {table})")
                        break
        if in_use:
            raise RegionsRefused(
                "kecamatan ini masih dipakai dan tidak ada di daftar baru: "
                + "; ".join(in_use)
                + ". Masukkan ke daftar, atau pindahkan datanya dulu."
            )
        for old in gone:
            await conn.execute("DELETE FROM kecamatan WHERE code = ?", (old,))
        added = renamed = 0
        for k_code, k_name in kecamatan.items():
            if k_code not in before.kecamatan:
                added += 1
            elif before.kecamatan[k_code] != k_name:
                renamed += 1
            else:
                continue
            try:
                await conn.execute(
                    "INSERT INTO kecamatan (code, name) VALUES (?, ?)"
                    " ON CONFLICT (code) DO UPDATE SET name = excluded.name",
                    (k_code, k_name),
                )
            except IntegrityError:  # the name belongs to another code that stays
                raise RegionsRefused(
                    f"nama {k_name} sudah dipakai kecamatan lain yang tetap ada; periksa kodenya"
                ) from None
        await conn.execute("UPDATE kabupaten SET code = ?, name = ? WHERE id = 1", (code, name))
        details = {"from": [before.code, before.name], "to": [code, name], "kecamatan": len(kecamatan),
                   "added": added, "renamed": renamed, "removed": len(gone)}  # fmt: skip
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'regions.replace', 'kabupaten', ?, ?)",
            (now.astimezone(dt.UTC).isoformat(timespec="seconds"), actor, code,
             json.dumps(details)),
        )  # fmt: skip
    return RegionsChange(await current(db), added, renamed, len(gone))
