"""Import of the registry: facilitators then recipients, upsert, one transaction.

Rows are parsed with bot.domain parsers; a bad row is rejected with an Indonesian reason and
the import goes on. Work is done in batches: existing rows are prefetched by NIK per batch and
written with executemany, so 100,000 rows fit in memory and time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.db import Database
from bot.domain.cells import (
    CellError,
    clean_text,
    normalise_programme,
    parse_birth_date,
    parse_date_cell,
    parse_gender,
    parse_household_size,
    parse_money_cell,
    parse_name,
    parse_phone,
    parse_small_int,
    parse_yes_no,
)
from bot.domain.nik import NikError, parse_nik_cell
from bot.domain.regions import desa_code, desa_name, match_kecamatan
from bot.services.registry_source import SheetSource, Source

BATCH = 500
PROGRESS_EVERY = 2000  # rows between two progress lines (inside the transaction)

# Recipient columns written from the file (besides nik); only those present are compared.
RECIPIENT_FIELDS = (
    "p3ke_family_id", "name", "gender", "birth_date", "address", "kecamatan_code", "desa_id",
    "phone", "welfare_decile", "household_size", "receives_pkh", "receives_sembako",
    "programme", "training_class", "package", "assistance_value", "handover_date",
    "facilitator_id", "livestock_received",
)  # fmt: skip
FACILITATOR_FIELDS = ("name", "phone", "kecamatan_code")


class RowError(ValueError):
    """A row cannot be imported; the message is the clerk's reason."""


@dataclass
class Reject:
    row: int
    reason: str
    values: list[Any]


@dataclass
class SheetResult:
    sheet: str
    kind: str
    header: list[str]
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def summary(self) -> str:
        return (
            f"{self.sheet}: {self.added} ditambah, {self.updated} diperbarui, "
            f"{self.unchanged} tidak berubah, {self.rejected} ditolak"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "kind": self.kind,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejects": [{"row": r.row, "reason": r.reason} for r in self.rejects],
        }


@dataclass
class ImportResult:
    sheets: list[SheetResult]
    dry_run: bool

    @property
    def rejected(self) -> int:
        return sum(s.rejected for s in self.sheets)


@dataclass
class _Context:
    conn: Any
    now: str
    today: dt.date
    programmes: list[str]
    kecamatan: dict[str, str]
    dry_run: bool
    kecamatan_key: Any = None
    kabupaten: str = "Kabupaten Tegal"  # its name, in the reason for an unknown kecamatan
    programmes_key: Any = None
    facilitators: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    desa: dict[tuple[str, str], tuple[int, str | None]] = field(default_factory=dict)
    next_fake_id: int = -1
    progress: Callable[[int], None] | None = None
    done: int = 0

    caches: dict[str, dict[Any, tuple[bool, Any]]] = field(default_factory=dict)

    def memo(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), remembered for repeating values (kecamatan, programme, desa, dates...)."""
        cache = self.caches.setdefault(name, {})
        try:
            ok, value = cache[args]
        except KeyError:
            try:
                value, ok = fn(*args), True
            except (CellError, RowError) as exc:
                value, ok = exc, False
            if len(cache) < 10_000:
                cache[args] = (ok, value)
        except TypeError:  # unhashable cell value: no caching
            return fn(*args)
        if not ok:
            raise value
        return value

    def fake_id(self) -> int:
        self.next_fake_id -= 1
        return self.next_fake_id


class _Frozen:
    """A hashable stand-in for a mapping/list that does not change during one import."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Frozen) and other.value is self.value

    def __iter__(self):
        return iter(self.value)

    def items(self):
        return self.value.items()


async def _fetchall(conn: Any, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


def _cell(cells: Sequence[object], mapping: dict[str, int], name: str) -> object:
    index = mapping.get(name)
    if index is None or index >= len(cells):
        return None
    value = cells[index]
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _blank(cells: Sequence[object]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


async def import_registry(
    db: Database,
    source: Source,
    now: dt.datetime,
    programmes: list[str],
    *,
    dry_run: bool = False,
    actor: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import every sheet of source in ONE transaction (none at all with dry_run)."""
    if dry_run:
        return await _run(db.conn, db, source, now, programmes, True, actor, progress)
    async with db.transaction() as conn:
        return await _run(conn, db, source, now, programmes, False, actor, progress)


async def _run(conn, db, source, now, programmes, dry_run, actor, progress) -> ImportResult:
    rows = await _fetchall(conn, "SELECT code, name FROM kecamatan")
    ctx = _Context(
        conn=conn,
        now=now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        today=now.date(),
        programmes=programmes,
        kecamatan={r[0]: r[1] for r in rows},
        dry_run=dry_run,
        progress=progress,
    )
    ctx.kecamatan_key = _Frozen(ctx.kecamatan)
    ctx.kabupaten = str((await _fetchall(conn, "SELECT name FROM kabupaten WHERE id = 1"))[0][0])
    ctx.programmes_key = _Frozen(programmes)
    for r in await _fetchall(
        conn, "SELECT id, code, name, phone, kecamatan_code FROM facilitators"
    ):
        ctx.facilitators[r[1]] = (r[0], {"name": r[2], "phone": r[3], "kecamatan_code": r[4]})
    for r in await _fetchall(conn, "SELECT id, kecamatan_code, name, code FROM desa"):
        ctx.desa[(r[1], r[2].casefold())] = (r[0], r[3])
    results = []
    for sheet in source.sheets:
        if sheet.kind == "facilitators":
            results.append(await _import_facilitators(ctx, sheet))
        else:
            results.append(await _import_recipients(ctx, sheet))
    if not dry_run:
        details = {r.sheet: r.as_dict() | {"rejects": r.rejected} for r in results}
        await conn.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, ?, 'registry.import', 'file', ?, ?)",
            (ctx.now, actor, source.path.name, json.dumps(details, sort_keys=True)),
        )
    return ImportResult(results, dry_run)


# ---- facilitators -----------------------------------------------------------------------


def _parse_facilitator(ctx: _Context, cells, mapping) -> dict[str, Any]:
    code = clean_text(_cell(cells, mapping, "code")).upper().replace(" ", "")
    if not code:
        raise RowError("id pendamping kosong")
    out: dict[str, Any] = {
        "code": code,
        "name": parse_name(_cell(cells, mapping, "name"), "nama"),
    }
    if "phone" in mapping:
        out["phone"] = parse_phone(_cell(cells, mapping, "phone"))
    if "kecamatan" in mapping:
        raw = _cell(cells, mapping, "kecamatan")
        out["kecamatan_code"] = (
            match_kecamatan(raw, ctx.kecamatan, ctx.kabupaten) if raw is not None else None
        )
    return out


async def _import_facilitators(ctx: _Context, sheet: SheetSource) -> SheetResult:
    result = SheetResult(sheet.name, sheet.kind, sheet.header)
    seen: set[str] = set()
    for number, cells in sheet.rows():
        if _blank(cells):
            continue
        try:
            data = _parse_facilitator(ctx, cells, sheet.mapping)
            if data["code"] in seen:
                raise RowError(f"id pendamping {data['code']} sudah ada di baris sebelumnya")
        except (RowError, CellError) as exc:
            result.rejects.append(Reject(number, str(exc), list(cells)))
            continue
        seen.add(data["code"])
        existing = ctx.facilitators.get(data["code"])
        if existing is None:
            new_id = ctx.fake_id()
            if not ctx.dry_run:
                cur = await ctx.conn.execute(
                    "INSERT INTO facilitators (code, name, phone, kecamatan_code, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (data["code"], data["name"], data.get("phone"), data.get("kecamatan_code"),
                     ctx.now, ctx.now),
                )  # fmt: skip
                new_id = cur.lastrowid
                await cur.close()
            ctx.facilitators[data["code"]] = (new_id, {k: data.get(k) for k in FACILITATOR_FIELDS})
            result.added += 1
            continue
        fid, old = existing
        changes = {
            k: (old[k], data[k]) for k in FACILITATOR_FIELDS if k in data and old[k] != data[k]
        }
        if not changes:
            result.unchanged += 1
            continue
        result.updated += 1
        old.update({k: v[1] for k, v in changes.items()})
        if not ctx.dry_run:
            sets = ", ".join(f"{k} = ?" for k in changes)
            await ctx.conn.execute(
                f"UPDATE facilitators SET {sets}, updated_at = ? WHERE id = ?",
                (*[v[1] for v in changes.values()], ctx.now, fid),
            )
            await _audit(ctx, "facilitator.update", "facilitator", fid, changes)
    return result


async def _audit(ctx: _Context, action: str, entity: str, entity_id: int, changes: dict) -> None:
    details = {
        "fields": {k: {"old": o, "new": n} for k, (o, n) in changes.items()},
        "via": "import",
    }
    await ctx.conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, 'cli', ?, ?, ?, ?)",
        (ctx.now, action, entity, str(entity_id), json.dumps(details, sort_keys=True, default=str)),
    )


# ---- recipients -------------------------------------------------------------------------


def _parse_recipient(ctx: _Context, cells, mapping) -> tuple[dict[str, Any], tuple | None]:
    """Parsed values keyed by column; plus the (kecamatan, desa name, desa code) to resolve."""
    m = mapping
    try:
        nik = parse_nik_cell(_cell(cells, m, "nik"))
    except NikError as exc:
        raise RowError(str(exc)) from None
    out: dict[str, Any] = {"nik": nik}
    out["name"] = parse_name(_cell(cells, m, "name"), "nama penerima")
    kec = ctx.memo(
        "kec", match_kecamatan, _cell(cells, m, "kecamatan"), ctx.kecamatan_key, ctx.kabupaten
    )
    out["kecamatan_code"] = kec
    out["programme"] = ctx.memo(
        "programme", normalise_programme, _cell(cells, m, "programme"), ctx.programmes_key
    )
    desa = None
    if "desa" in m:
        raw = _cell(cells, m, "desa")
        if raw is None:
            out["desa_id"] = None
        else:
            code = (
                ctx.memo("desa_code", desa_code, _cell(cells, m, "desa_code"), kec)
                if "desa_code" in m
                else None
            )
            desa = (kec, ctx.memo("desa", desa_name, raw), code)
    if "p3ke_family_id" in m:
        out["p3ke_family_id"] = clean_text(_cell(cells, m, "p3ke_family_id")) or None
    if "gender" in m:
        out["gender"] = ctx.memo("gender", parse_gender, _cell(cells, m, "gender"))
    if "birth_date" in m:
        d = parse_birth_date(_cell(cells, m, "birth_date"), ctx.today)
        out["birth_date"] = d.isoformat() if d else None
    if "address" in m:
        out["address"] = clean_text(_cell(cells, m, "address")) or None
    if "phone" in m:
        out["phone"] = parse_phone(_cell(cells, m, "phone"))
    if "welfare_decile" in m:
        out["welfare_decile"] = parse_small_int(_cell(cells, m, "welfare_decile"), "desil", 1, 10)
    if "household_size" in m:
        out["household_size"] = parse_household_size(_cell(cells, m, "household_size"))
    for key, label in (("receives_pkh", "penerima PKH"), ("receives_sembako", "penerima sembako")):
        if key in m:
            flag = ctx.memo(key, parse_yes_no, _cell(cells, m, key), label)
            out[key] = None if flag is None else int(flag)
    for key in ("training_class", "package"):
        if key in m:
            out[key] = clean_text(_cell(cells, m, key)) or None
    if "assistance_value" in m:
        out["assistance_value"] = parse_money_cell(_cell(cells, m, "assistance_value"))
    if "livestock_received" in m:
        out["livestock_received"] = parse_small_int(
            _cell(cells, m, "livestock_received"), "jumlah ternak diterima", 0, 500
        )
    if "handover_date" in m:
        d = ctx.memo(
            "handover", parse_date_cell, _cell(cells, m, "handover_date"), "tanggal penyerahan"
        )
        out["handover_date"] = d.isoformat() if d else None
    if "facilitator_code" in m:
        code = clean_text(_cell(cells, m, "facilitator_code")).upper().replace(" ", "")
        if not code:
            out["facilitator_id"] = None
        elif code not in ctx.facilitators:
            raise RowError(
                f"id pendamping {code} tidak ada di sheet pendamping maupun di data; "
                "periksa kodenya atau tambahkan pendampingnya dulu"
            )
        else:
            out["facilitator_id"] = ctx.facilitators[code][0]
    return out, desa


async def _resolve_desa(ctx: _Context, kec: str, name: str, code: str | None) -> int:
    key = (kec, name.casefold())
    found = ctx.desa.get(key)
    if found is not None:
        desa_id, old_code = found
        if code and not old_code:
            ctx.desa[key] = (desa_id, code)
            if not ctx.dry_run:
                await ctx.conn.execute("UPDATE desa SET code = ? WHERE id = ?", (code, desa_id))
        return desa_id
    desa_id = ctx.fake_id()
    if not ctx.dry_run:
        cur = await ctx.conn.execute(
            "INSERT INTO desa (kecamatan_code, name, code) VALUES (?, ?, ?)", (kec, name, code)
        )
        desa_id = cur.lastrowid
        await cur.close()
    ctx.desa[key] = (desa_id, code)
    return desa_id


async def _import_recipients(ctx: _Context, sheet: SheetSource) -> SheetResult:
    result = SheetResult(sheet.name, sheet.kind, sheet.header)
    seen: dict[str, int] = {}
    batch: list[tuple[int, dict[str, Any]]] = []
    for number, cells in sheet.rows():
        if _blank(cells):
            continue
        ctx.done += 1
        if ctx.progress and ctx.done % PROGRESS_EVERY == 0:
            ctx.progress(ctx.done)
        try:
            data, desa = _parse_recipient(ctx, cells, sheet.mapping)
            first = seen.get(data["nik"])
            if first is not None:
                raise RowError(f"NIK sama dengan baris {first}; baris ini tidak diimpor")
        except (RowError, CellError) as exc:
            result.rejects.append(Reject(number, str(exc), list(cells)))
            continue
        if desa is not None:
            data["desa_id"] = await _resolve_desa(ctx, *desa)
        seen[data["nik"]] = number
        batch.append((number, data))
        if len(batch) >= BATCH:
            await _flush_recipients(ctx, batch, result)
            batch = []
    if batch:
        await _flush_recipients(ctx, batch, result)
    return result


async def _flush_recipients(ctx: _Context, batch, result: SheetResult) -> None:
    niks = [d["nik"] for _, d in batch]
    marks = ",".join("?" * len(niks))
    cols = ", ".join(RECIPIENT_FIELDS)
    existing = {
        r[1]: (r[0], dict(zip(RECIPIENT_FIELDS, r[2:], strict=True)))
        for r in await _fetchall(
            ctx.conn, f"SELECT id, nik, {cols} FROM recipients WHERE nik IN ({marks})", niks
        )
    }
    inserts = []
    updates: list[tuple[int, dict[str, tuple[Any, Any]]]] = []
    for _number, data in batch:
        found = existing.get(data["nik"])
        if found is None:
            inserts.append(
                (data["nik"], *[data.get(f) for f in RECIPIENT_FIELDS], ctx.now, ctx.now)
            )
            continue
        rid, old = found
        changes = {
            f: (old[f], data[f]) for f in RECIPIENT_FIELDS if f in data and old[f] != data[f]
        }
        if changes:
            updates.append((rid, changes))
        else:
            result.unchanged += 1
    result.added += len(inserts)
    result.updated += len(updates)
    if ctx.dry_run:
        return
    if inserts:
        await ctx.conn.executemany(
            f"INSERT INTO recipients (nik, {cols}, created_at, updated_at)"
            f" VALUES (?, {', '.join('?' * len(RECIPIENT_FIELDS))}, ?, ?)",
            inserts,
        )
    for rid, changes in updates:
        sets = ", ".join(f"{k} = ?" for k in changes)
        await ctx.conn.execute(
            f"UPDATE recipients SET {sets}, updated_at = ? WHERE id = ?",
            (*[v[1] for v in changes.values()], ctx.now, rid),
        )
    if updates:
        await ctx.conn.executemany(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, 'cli', 'recipient.update', 'recipient', ?, ?)",
            [
                (
                    ctx.now,
                    str(rid),
                    json.dumps(
                        {
                            "fields": {k: {"old": o, "new": n} for k, (o, n) in ch.items()},
                            "via": "import",
                        },
                        sort_keys=True,
                    ),
                )  # fmt: skip
                for rid, ch in updates
            ],
        )
