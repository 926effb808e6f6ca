"""Data-subject requests and retention (UU 27/2022): show and erase one person's data.

Tables are discovered, not listed: every row that points at the person's recipients row or
account (directly, or through a row that does, found with PRAGMA foreign_key_list) belongs to
the person, so tables added by later migrations are covered without touching this file.

Erasing keeps anonymous aggregates (kecamatan, desa, programme, numbers of reports, scores)
for programme statistics and removes the rest:
- the recipients row keeps its region, programme, package and numbers; name, NIK (replaced by
  'X' + the row id, which satisfies CHECK(length(nik)=16) and cannot be turned back into the
  NIK), phone, address, birth date and P3KE id go;
- chat links go: the account, drafts, invites, consents, queued messages;
- every other row of the person keeps its numbers and codes; columns whose name says they hold
  personal text (name, phone, address, notes, photo file ids, chat ids, ...) are cleared, JSON
  keeps numbers and short codes only, and any text still quoting the person's identifiers has
  them cut out.
Messages about the person in other people's chats (a help request or an "unreachable"
notice to the facilitator, a digest listing the family) are found by the person's full name,
NIK, phone, P3KE id or address in the outbox text: a pending notice about them is deleted, any
other pending message has those identifiers cut out, and a settled one (sent, failed) loses its
whole text. Files the program wrote that name the person (the digest exports under
`digests/`) are deleted, and pending messages that would have carried them are marked failed.

Afterwards the WAL is checkpointed (TRUNCATE) and the file vacuumed, with secure_delete on
(bot/db.py), so the erased text is gone from the database file and its -wal.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.db import Database, DatabaseError
from bot.domain.nik import clean_nik, mask_nik

log = logging.getLogger("pendamping.persons")

# Rows of these tables that belong to the person are deleted outright (chat links and
# unfinished input), when the table exists.
DELETE_TABLES = (
    "report_drafts",
    "invites",
    "consents",
    "outbox",
    "invite_failures",
    "graduation_waits",
)
# Tables never touched by the generic pass (the recipients row has its own rules).
_SKIP_TABLES = {"recipients", "schema_migrations", "audit_log"}
# Column names that hold personal data, whatever the table.
PERSONAL_COLUMN = re.compile(
    r"(^|_)(name|nik|phone|address|birth|photo|file_id|unique_id|notes?|statement|text|caption|"
    r"comment|message|username|display_name|chat_id|telegram_user_id|user_id|reason|"
    r"free_text|last_error|p3ke|email|location|latitude|longitude)(_|$)"
)
# A JSON string value kept after erasure: a short lowercase code ('berjalan', '2024-03').
_CODE_VALUE = re.compile(r"^[a-z0-9_.:/+-]{1,32}$")
ERASED = "[dihapus]"


class PersonNotFound(DatabaseError):
    """No recipient with this NIK (or the NIK is not 16 digits)."""


@dataclass
class Column:
    name: str
    type: str
    notnull: bool
    pk: bool


@dataclass
class Table:
    name: str
    columns: list[Column]
    # (column, parent table, parent column)
    fks: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def fk_columns(self) -> set[str]:
        """The names of the table's columns that are foreign keys."""
        return {c for c, _, _ in self.fks}

    @property
    def key(self) -> str:
        """The column that names one row: the integer primary key (SQLite's rowid alias, an
        identity on PostgreSQL), else SQLite's hidden rowid (PostgreSQL has none: every table
        that can hold a person's rows has an integer `id`)."""
        pks = [c for c in self.columns if c.pk]
        if len(pks) == 1 and "INT" in pks[0].type.upper():
            return pks[0].name
        return "rowid"


# Each table's row key (Table.key) by name, as load_schema last saw it: the schema is the
# migrations' on both engines, so the functions below that get a table's name can use it.
_KEYS: dict[str, str] = {}


def _k(table: str) -> str:
    return _q(_KEYS.get(table, "rowid"))


async def load_schema(db: Database) -> dict[str, Table]:
    """Every table of the database with its columns and foreign keys."""
    names = await db.tables()
    schema: dict[str, Table] = {}
    for name in names:
        cols = [Column(c.name, c.type, c.notnull, c.pk) for c in await db.columns(name)]
        schema[name] = Table(name, cols)
        _KEYS[name] = schema[name].key
    for table in schema.values():
        for fk in await db.foreign_keys(table.name):
            parent = fk.parent
            parent_col = fk.parent_column
            if parent_col is None:  # REFERENCES t without a column: t's primary key
                pks = [c.name for c in schema.get(parent, Table(parent, [])).columns if c.pk]
                parent_col = pks[0] if pks else "rowid"
            table.fks.append((fk.column, parent, parent_col))
    return schema


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in(values: Iterable[Any]) -> tuple[str, list[Any]]:
    values = list(values)
    return ",".join("?" * len(values)), values


async def find_recipient_id(db: Database, nik: str) -> int:
    """The recipient with this NIK; PersonNotFound for a malformed or unknown NIK."""
    cleaned = clean_nik(nik)
    if len(cleaned) != 16 or not cleaned.isdigit():
        raise PersonNotFound("a NIK has 16 digits")
    rid = await db.fetchval("SELECT id FROM recipients WHERE nik = ?", (cleaned,))
    if rid is None:
        raise PersonNotFound(f"no person with NIK {mask_nik(cleaned)} is registered")
    return int(rid)


async def _rows_by_rowid(db: Database, table: str, rowids: set[int]) -> list[dict[str, Any]]:
    if not rowids:
        return []
    marks, values = _in(sorted(rowids))
    rows = await db.fetchall(
        f"SELECT {_k(table)} AS _rowid_, * FROM {_q(table)} WHERE {_k(table)} IN ({marks})"
        f" ORDER BY {_k(table)}",
        values,
    )
    return [dict(r) for r in rows]


async def person_rows(
    db: Database, schema: dict[str, Table], recipient_id: int
) -> dict[str, set[int]]:
    """rowids of every row that belongs to the person, by table (recipients included)."""
    tied: dict[str, set[int]] = {"recipients": {recipient_id}}
    accounts: list[dict[str, Any]] = []
    if "accounts" in schema:
        accounts = [
            dict(r)
            for r in await db.fetchall(
                f"SELECT {_k('accounts')} AS _rowid_, id, telegram_user_id, chat_id FROM accounts"
                " WHERE recipient_id = ?",
                (recipient_id,),
            )
        ]
        if accounts:
            tied["accounts"] = {a["_rowid_"] for a in accounts}
    # Rows keyed by the person's Telegram ids without a foreign key (e.g. failed invite tries).
    tg_ids = {a["telegram_user_id"] for a in accounts} | {a["chat_id"] for a in accounts}
    if tg_ids:
        for table in schema.values():
            if table.name in ("accounts", *_SKIP_TABLES):
                continue
            for col in table.columns:
                if col.name in ("telegram_user_id", "chat_id", "user_id"):
                    marks, values = _in(tg_ids)
                    rows = await db.fetchall(
                        f"SELECT {_k(table.name)} FROM {_q(table.name)}"
                        f" WHERE {_q(col.name)} IN ({marks})",
                        values,
                    )
                    tied.setdefault(table.name, set()).update(r[0] for r in rows)
    # Follow foreign keys from rows newly tied to the rows pointing at them, until nothing new.
    frontier = {t: set(ids) for t, ids in tied.items()}
    while frontier:
        found: dict[str, set[int]] = {}
        for table in schema.values():
            if table.name in _SKIP_TABLES:
                continue
            for child_col, parent, parent_col in table.fks:
                if not frontier.get(parent):
                    continue
                marks, values = _in(sorted(frontier[parent]))
                rows = await db.fetchall(
                    f"SELECT {_k(table.name)} FROM {_q(table.name)} WHERE {_q(child_col)} IN "
                    f"(SELECT {_q(parent_col)} FROM {_q(parent)} WHERE {_k(parent)} IN ({marks}))",
                    values,
                )
                new = {r[0] for r in rows} - tied.get(table.name, set())
                if new:
                    tied.setdefault(table.name, set()).update(new)
                    found.setdefault(table.name, set()).update(new)
        frontier = found
    return {t: ids for t, ids in tied.items() if ids}


async def _audit_rowids(
    db: Database, schema: dict[str, Table], tied: dict[str, set[int]]
) -> set[int]:
    """audit_log rows about the person's recipients row or account."""
    if "audit_log" not in schema:
        return set()
    ids: set[int] = set()
    for table, entities in (
        ("recipients", ("recipient", "recipients")),
        ("accounts", ("account", "accounts")),
    ):
        for row in await _rows_by_rowid(db, table, tied.get(table, set())):
            rows = await db.fetchall(
                f"SELECT {_k('audit_log')} FROM audit_log WHERE entity IN (?, ?) AND entity_id = ?",
                (*entities, str(row["id"])),
            )
            ids.update(r[0] for r in rows)
    return ids


# --- show ----------------------------------------------------------------------------------


@dataclass
class PersonRecord:
    recipient: dict[str, Any]
    region: dict[str, Any]
    facilitator: dict[str, Any] | None
    related: dict[str, list[dict[str, Any]]]
    audit: list[dict[str, Any]]


async def show_person(db: Database, nik: str, now: dt.datetime, actor: str = "cli") -> PersonRecord:
    """Everything held about a person; records the request in audit_log (masked NIK)."""
    rid = await find_recipient_id(db, nik)
    schema = await load_schema(db)
    tied = await person_rows(db, schema, rid)
    recipient = (await _rows_by_rowid(db, "recipients", {rid}))[0]
    recipient.pop("_rowid_", None)
    region = dict(
        await db.fetchone(
            "SELECT k.code AS kecamatan_code, k.name AS kecamatan, d.name AS desa, d.code AS desa_code"
            " FROM recipients r JOIN kecamatan k ON k.code = r.kecamatan_code"
            " LEFT JOIN desa d ON d.id = r.desa_id WHERE r.id = ?",
            (rid,),
        )
        or {}
    )
    facilitator = None
    if recipient.get("facilitator_id") is not None:
        row = await db.fetchone(
            "SELECT id, code, name, phone FROM facilitators WHERE id = ?",
            (recipient["facilitator_id"],),
        )
        facilitator = dict(row) if row else None
    related = {}
    for table in sorted(tied):
        if table == "recipients":
            continue
        rows = await _rows_by_rowid(db, table, tied[table])
        for r in rows:
            r.pop("_rowid_", None)
        related[table] = rows
    audit = await _rows_by_rowid(db, "audit_log", await _audit_rowids(db, schema, tied))
    for r in audit:
        r.pop("_rowid_", None)
    await _audit(db, now, actor, "person.show", rid, {"nik": mask_nik(recipient["nik"])})
    log.info("event=person_shown recipient_id=%d", rid)
    return PersonRecord(recipient, region, facilitator, related, audit)


async def _audit(
    db: Database, now: dt.datetime, actor: str, action: str, rid: int, details: dict[str, Any]
) -> None:
    await db.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, ?, 'recipient', ?, ?)",
        (
            _iso(now),
            actor,
            action,
            str(rid),
            json.dumps(details, ensure_ascii=False, sort_keys=True),
        ),
    )


def _iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


# --- erase ---------------------------------------------------------------------------------


def placeholder_nik(recipient_id: int) -> str:
    """'X' + 15 characters from the row id: unique, 16 long, says nothing about the NIK."""
    return "X" + f"{recipient_id:015d}"[-15:]


def _phone_variants(phone: str | None) -> list[str]:
    if not phone:
        return []
    digits = re.sub(r"\D", "", phone)
    out = {phone, digits}
    if digits.startswith("62"):
        out |= {"0" + digits[2:], "+" + digits}
    elif digits.startswith("0"):
        out |= {"62" + digits[1:], "+62" + digits[1:]}
    return [v for v in out if len(v) >= 6]


def identifiers(recipient: dict[str, Any], accounts: list[dict[str, Any]]) -> list[str]:
    """The person's identifying strings, longest first (to cut out of remaining text)."""
    found: set[str] = set()
    for key in ("nik", "name", "address", "p3ke_family_id", "birth_date"):
        value = recipient.get(key)
        if value and len(str(value)) >= 4:
            found.add(str(value))
    name = recipient.get("name") or ""
    found |= {w for w in re.split(r"\W+", name) if len(w) >= 4}
    found |= set(_phone_variants(recipient.get("phone")))
    for acc in accounts:
        if acc.get("display_name") and len(acc["display_name"]) >= 4:
            found.add(acc["display_name"])
    return sorted(found, key=lambda s: (-len(s), s))


def cut_identifiers(text: str, idents: list[str]) -> str:
    """The text with every identifier (any case) replaced by the erased marker."""
    for ident in idents:
        if ident.lower() in text.lower():
            text = re.sub(re.escape(ident), ERASED, text, flags=re.IGNORECASE)
    return text


def _scrub_json(value: Any, idents: list[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _scrub_json(v, idents, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v, idents, key) for v in value]
    if isinstance(value, str):
        if PERSONAL_COLUMN.search(key.lower()):
            return None
        if _CODE_VALUE.match(value) and cut_identifiers(value, idents) == value:
            return value
        return None
    if PERSONAL_COLUMN.search(key.lower()):
        return None
    return value


def scrub_value(column: Column, value: Any, idents: list[str]) -> Any:
    """The erased form of one value of a row that belongs to the person."""
    if value is None:
        return None
    if PERSONAL_COLUMN.search(column.name.lower()):
        if not column.notnull:
            return None
        return 0 if "INT" in column.type else ""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict | list):
                return json.dumps(_scrub_json(parsed, idents), ensure_ascii=False)
        return cut_identifiers(value, idents)
    if isinstance(value, bytes):
        return None if not column.notnull else b""
    return value


async def _delete_rows(
    conn: Any,
    schema: dict[str, Table],
    table: str,
    rowids: set[int],
    counts: dict[str, int],
    tied: dict[str, set[int]],
) -> None:
    """Delete rows; children pointing at them are detached (nullable) or deleted (NOT NULL).

    Every child row of a tied row is itself tied (person_rows follows all foreign keys), so
    children are looked for among the tied rows only: no scan of unindexed columns.
    """
    if not rowids:
        return
    marks, values = _in(sorted(rowids))
    for child in schema.values():
        for col, parent, parent_col in child.fks:
            if parent != table:
                continue
            sub = f"SELECT {_q(parent_col)} FROM {_q(table)} WHERE {_k(table)} IN ({marks})"
            where, params = f"{_q(col)} IN ({sub})", list(values)
            if child.name not in _SKIP_TABLES:
                candidates = tied.get(child.name, set())
                if not candidates:
                    continue
                cmarks, cvalues = _in(sorted(candidates))
                where += f" AND {_k(child.name)} IN ({cmarks})"
                params += cvalues
            notnull = next(c.notnull for c in child.columns if c.name == col)
            if notnull:
                async with conn.execute(
                    f"SELECT {_k(child.name)} FROM {_q(child.name)} WHERE {where}", params
                ) as cur:
                    kids = {r[0] for r in await cur.fetchall()}
                if child.name == table:
                    kids -= rowids
                await _delete_rows(conn, schema, child.name, kids, counts, tied)
            else:
                await conn.execute(
                    f"UPDATE {_q(child.name)} SET {_q(col)} = NULL WHERE {where}", params
                )
    cur = await conn.execute(f"DELETE FROM {_q(table)} WHERE {_k(table)} IN ({marks})", values)
    counts[table] = counts.get(table, 0) + cur.rowcount
    await cur.close()


@dataclass
class EraseResult:
    recipient_id: int
    masked_nik: str
    deleted: dict[str, int]
    scrubbed: dict[str, int]
    compacted: bool
    files: list[Path] = field(default_factory=list)  # files under digests/ deleted


def mention_patterns(recipient: dict[str, Any], accounts: list[dict[str, Any]]) -> list[str]:
    """What names the person in someone else's text: the full name, NIK, phone, P3KE id,
    address and Telegram display name (not single name words: those are other people's
    names too)."""
    found: set[str] = set()
    for key, least in (("name", 3), ("nik", 16), ("p3ke_family_id", 4), ("address", 8)):
        value = str(recipient.get(key) or "").strip()
        if len(value) >= least and value != ERASED:
            found.add(value)
    found |= set(_phone_variants(recipient.get("phone")))
    for acc in accounts:
        name = str(acc.get("display_name") or "").strip()
        if len(name) >= 4:
            found.add(name)
    return sorted(found, key=lambda s: (-len(s), s))


def _mention_regex(patterns: list[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    alternatives = "|".join(re.escape(p) for p in patterns)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


# Kinds of outbox messages about one person (a notice or alert): deleted while pending.
_ONE_PERSON_KINDS = ("notice", "alert")


async def _scrub_outbox_mentions(conn: Any, patterns: list[str]) -> dict[str, int]:
    """Other chats' outbox rows that name the person (see the module docstring)."""
    regex = _mention_regex(patterns)
    counts = {"outbox_deleted": 0, "outbox_cut": 0, "outbox_cleared": 0}
    if regex is None:
        return counts
    async with conn.execute("SELECT id, kind, status, text FROM outbox WHERE text <> ''") as cur:
        rows = [dict(r) for r in await cur.fetchall()]
    for r in rows:
        if not regex.search(r["text"]):
            continue
        if r["status"] in ("pending", "sending") and r["kind"] in _ONE_PERSON_KINDS:
            await conn.execute("UPDATE digest_runs SET outbox_id = NULL WHERE outbox_id = ?",
                               (r["id"],))  # fmt: skip
            await conn.execute("DELETE FROM outbox WHERE id = ?", (r["id"],))
            counts["outbox_deleted"] += 1
        elif r["status"] in ("pending", "sending"):
            await conn.execute(
                "UPDATE outbox SET text = ? WHERE id = ?", (regex.sub(ERASED, r["text"]), r["id"])
            )
            counts["outbox_cut"] += 1
        else:
            await conn.execute("UPDATE outbox SET text = '' WHERE id = ?", (r["id"],))
            counts["outbox_cleared"] += 1
    # a staff broadcast's own text (typed by staff) may name the person too
    async with conn.execute("SELECT id, text FROM broadcasts WHERE text <> ''") as cur:
        for r in await cur.fetchall():
            if regex.search(r["text"]):
                await conn.execute(
                    "UPDATE broadcasts SET text = ? WHERE id = ?",
                    (regex.sub(ERASED, r["text"]), r["id"]),
                )
                counts["broadcasts_cut"] = counts.get("broadcasts_cut", 0) + 1
    return {k: v for k, v in counts.items() if v}


def digest_folder(db: Database) -> Path | None:
    """`digests/` in the database's files folder (bot.services.digest_schedule.data_dir)."""
    return None if db.files_dir is None else db.files_dir / "digests"


def _file_names(path: Path, regex: re.Pattern[str]) -> bool:
    """Whether a file the program wrote names the person (an .xlsx is a zip of XML)."""
    import html
    import zipfile

    try:
        if path.suffix.lower() in (".xlsx", ".docx"):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.endswith(".xml"):
                        text = html.unescape(z.read(member).decode("utf-8", "replace"))
                        if regex.search(text):
                            return True
            return False
        if path.suffix.lower() in (".csv", ".txt", ".json"):
            return bool(regex.search(path.read_text(encoding="utf-8-sig", errors="replace")))
    except (OSError, zipfile.BadZipFile):
        return False
    return False  # charts (.png) hold aggregates only


async def remove_files_naming(db: Database, patterns_by_person: list[list[str]]) -> list[Path]:
    """Delete the files under `digests/` that name any of these people; pending messages that
    would carry them are marked failed. Returns the files deleted."""
    from bot.services.outbox import remove_files

    folder = digest_folder(db)
    regexes = [r for p in patterns_by_person if (r := _mention_regex(p)) is not None]
    if folder is None or not folder.is_dir() or not regexes:
        return []
    naming = [
        f for f in sorted(folder.rglob("*"))
        if f.is_file() and any(_file_names(f, r) for r in regexes)
    ]  # fmt: skip
    removed = remove_files(naming)
    if removed:
        gone = {str(p) for p in removed}
        rows = await db.fetchall(
            "SELECT id, attachment FROM outbox WHERE attachment IS NOT NULL"
            " AND status IN ('pending', 'sending')"
        )
        ids = [r["id"] for r in rows if json.loads(r["attachment"]).get("path") in gone]
        if ids:
            marks, values = _in(ids)
            await db.execute(
                "UPDATE outbox SET status = 'failed', attachment = NULL,"
                " last_error = 'file deleted: it named an erased person'"
                f" WHERE id IN ({marks})",
                values,
            )
        log.info("event=files_erased files=%d", len(removed))
    return removed


async def erase_recipient(
    db: Database,
    recipient_id: int,
    reason: str,
    now: dt.datetime,
    *,
    actor: str = "cli",
    action: str = "person.erase",
    compact: bool = True,
) -> EraseResult:
    """Erase one person's personal data in one transaction (see the module docstring)."""
    schema = await load_schema(db)
    async with db.transaction() as conn:
        result, nik, patterns = await _erase_in_tx(
            db, conn, schema, recipient_id, reason, now, actor, action
        )
        await _cut_niks_everywhere(conn, schema, [nik])
    result.files = await remove_files_naming(db, [patterns])
    log.info("event=person_erased recipient_id=%d action=%s", recipient_id, action)
    if compact:
        result.compacted = await compact_database(db)
    return result


async def _erase_in_tx(
    db: Database,
    conn: Any,
    schema: dict[str, Table],
    recipient_id: int,
    reason: str,
    now: dt.datetime,
    actor: str,
    action: str,
) -> tuple[EraseResult, str, list[str]]:
    """The erasure, inside the caller's transaction; returns the result, the old NIK and the
    patterns that name the person (for files outside the database).

    Reads run on the same connection inside the transaction, so a row the bot adds meanwhile
    either exists here (and is erased) or waits for the commit.
    """
    rows = await _rows_by_rowid(db, "recipients", {recipient_id})
    if not rows:
        raise PersonNotFound(f"there is no person {recipient_id}")
    recipient = rows[0]
    if str(recipient["nik"]).startswith("X"):
        raise PersonNotFound(f"person {recipient_id} was already erased")
    tied = await person_rows(db, schema, recipient_id)
    accounts = await _rows_by_rowid(db, "accounts", tied.get("accounts", set()))
    idents = identifiers(recipient, accounts)
    patterns = mention_patterns(recipient, accounts)
    masked = mask_nik(recipient["nik"])
    audit_ids = await _audit_rowids(db, schema, tied)
    deleted: dict[str, int] = {}
    scrubbed: dict[str, int] = {}
    # 1. Chat links and unfinished input: deleted.
    for name in ("accounts", *DELETE_TABLES):
        if name in schema and tied.get(name):
            # Rows an earlier delete already removed are simply not found.
            await _delete_rows(conn, schema, name, tied[name], deleted, tied)
    # 2. The recipients row: identity out, aggregates kept.
    explicit = {
        "nik": placeholder_nik(recipient_id),
        "name": ERASED,
        "status_reason": "data pribadi dihapus (UU 27/2022)",
        "updated_at": _iso(now),
    }
    if recipient["status"] in ("active", "paused"):
        explicit["status"] = "ended"
        explicit["status_changed_at"] = _iso(now)
    await _scrub_row(conn, schema["recipients"], recipient, idents, explicit)
    # 3. Every other row of the person: numbers and codes kept, personal text cleared.
    for table_name, rowids in sorted(tied.items()):
        if table_name in _SKIP_TABLES or table_name in ("accounts", *DELETE_TABLES):
            continue
        table = schema[table_name]
        for row in await _fetch_in_tx(conn, table_name, rowids):
            if await _scrub_row(conn, table, row, idents, {}):
                scrubbed[table_name] = scrubbed.get(table_name, 0) + 1
    # 4. Earlier audit entries about the person: identifiers cut out of their details.
    for row in await _fetch_in_tx(conn, "audit_log", audit_ids):
        details = row.get("details")
        if isinstance(details, str):
            new = scrub_value(Column("details", "TEXT", False, False), details, idents)
            if new != details:
                await conn.execute(
                    f"UPDATE audit_log SET details = ? WHERE {_k('audit_log')} = ?",
                    (new, row["_rowid_"]),
                )
                scrubbed["audit_log"] = scrubbed.get("audit_log", 0) + 1
    # 5. Messages about the person in other chats (facilitators, staff groups).
    if "outbox" in schema:
        scrubbed.update(await _scrub_outbox_mentions(conn, patterns))
    details = {
        "nik": masked,
        "reason": cut_identifiers(reason, idents),
        "deleted": deleted,
        "scrubbed": scrubbed,
    }
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
        " VALUES (?, ?, ?, 'recipient', ?, ?)",
        (
            _iso(now),
            actor,
            action,
            str(recipient_id),
            json.dumps(details, ensure_ascii=False, sort_keys=True),
        ),
    )
    result = EraseResult(recipient_id, masked, deleted, scrubbed, False)
    return result, str(recipient["nik"]), patterns


async def _cut_niks_everywhere(conn: Any, schema: dict[str, Table], niks: list[str]) -> None:
    """A NIK is unique to its person: cut it out of every text column of every table.

    One scan per column for a whole batch of NIKs (retention erases many at once).
    """
    niks = [n for n in niks if n]
    for start in range(0, len(niks), 25):
        chunk = niks[start : start + 25]
        for table in schema.values():
            if table.name == "schema_migrations":
                continue
            for col in table.columns:
                if col.pk or "INT" in col.type or "REAL" in col.type:
                    continue
                expr = _q(col.name)
                params: list[Any] = []
                for nik in chunk:
                    expr = f"replace({expr}, ?, ?)"
                    params += [nik, ERASED]
                # Most rows hold no NIK at all: test the few distinct 4-digit prefixes first
                # (nearly all '3328') so a row costs one test instead of one per NIK. LIKE
                # with digits only (no wildcard, no case) is the same test on both engines.
                prefixes = sorted({n[:4] for n in chunk})
                first = " OR ".join(f"{_q(col.name)} LIKE ?" for _ in prefixes)
                where = " OR ".join(f"{_q(col.name)} LIKE ?" for _ in chunk)
                cur = await conn.execute(
                    f"UPDATE {_q(table.name)} SET {_q(col.name)} = {expr}"
                    f" WHERE ({first}) AND ({where})",
                    (*params, *(f"%{p}%" for p in prefixes), *(f"%{n}%" for n in chunk)),
                )
                await cur.close()


async def _fetch_in_tx(conn: Any, table: str, rowids: set[int]) -> list[dict[str, Any]]:
    if not rowids:
        return []
    marks, values = _in(sorted(rowids))
    async with conn.execute(
        f"SELECT {_k(table)} AS _rowid_, * FROM {_q(table)} WHERE {_k(table)} IN ({marks})",
        values,
    ) as cur:
        return [dict(r) for r in await cur.fetchall()]


async def _scrub_row(
    conn: Any, table: Table, row: dict[str, Any], idents: list[str], explicit: dict[str, Any]
) -> bool:
    """Write the erased form of one row; True if anything changed."""
    changes: dict[str, Any] = {}
    keep = table.fk_columns
    for col in table.columns:
        if col.name in explicit:
            changes[col.name] = explicit[col.name]
            continue
        if col.pk or col.name in keep:
            continue
        value = row.get(col.name)
        new = scrub_value(col, value, idents)
        if new != value:
            changes[col.name] = new
    if not changes:
        return False
    sets = ", ".join(f"{_q(c)} = ?" for c in changes)
    try:
        await conn.execute(
            f"UPDATE {_q(table.name)} SET {sets} WHERE {_q(table.key)} = ?",
            (*changes.values(), row["_rowid_"]),
        )
    except Exception as exc:  # a constraint refuses the erased form: stop, roll back all
        raise DatabaseError(
            f"cannot erase columns {', '.join(changes)} of table {table.name}: {exc}; "
            "nothing was changed"
        ) from None
    return True


async def compact_database(db: Database, attempts: int = 20) -> bool:
    """Fold the WAL into the file and truncate it, so erased text leaves the disk.

    secure_delete (bot/db.py) has already zeroed the freed cells and pages, and the checkpoint
    overwrites the old page images in the file, so no VACUUM is needed for erasure (tested on
    the raw bytes). VACUUM runs only when the bot is not running: it holds the write lock for
    a rewrite of the whole file, which on a large database would outlast the bot's busy
    timeout. Returns False when another connection kept the WAL from being truncated (the
    bot reading at that instant): the data is erased anyway; the next checkpoint finishes it.
    """
    import asyncio

    from bot.runlock import is_locked

    async def checkpoint() -> bool:
        for _ in range(attempts):
            if await db.checkpoint():
                return True
            await asyncio.sleep(0.1)
        return False

    done = await checkpoint()
    if db.is_file and is_locked(db.path) is None:
        try:
            await db.vacuum()
        except Exception as exc:  # busy: nothing lost, secure_delete did the erasing
            log.warning("event=vacuum_skipped error=%s", type(exc).__name__)
        done = await checkpoint()
    return done


# --- retention -----------------------------------------------------------------------------


def years_before(now: dt.datetime, years: int) -> dt.datetime:
    """The same instant `years` years earlier (29 February becomes the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


async def due_for_retention(db: Database, years: int, now: dt.datetime) -> list[int]:
    """Recipients whose mentoring ended (graduated/ended) at least `years` ago, not yet erased."""
    if years <= 0:
        return []
    cutoff = _iso(years_before(now, years))
    rows = await db.fetchall(
        "SELECT id FROM recipients WHERE status IN ('graduated', 'ended')"
        " AND status_changed_at IS NOT NULL AND status_changed_at <= ?"
        " AND nik NOT LIKE 'X%' ORDER BY id",
        (cutoff,),
    )
    return [r[0] for r in rows]


async def run_retention(
    db: Database, years: int, now: dt.datetime, *, dry_run: bool = False, batch: int = 25
) -> list[int]:
    """Anonymise everyone due; return their recipient ids.

    A batch of people per transaction (their NIKs swept out of all text in one pass each),
    one compaction at the end. A crash between batches loses nothing: the next run finds the
    rest still due.
    """
    due = await due_for_retention(db, years, now)
    if dry_run or not due:
        return due
    schema = await load_schema(db)
    reason = f"retention: {years} years after mentoring ended"
    for start in range(0, len(due), batch):
        chunk = due[start : start + batch]
        patterns = []
        async with db.transaction() as conn:
            niks = []
            for rid in chunk:
                _, nik, named = await _erase_in_tx(
                    db, conn, schema, rid, reason, now, "system", "person.retention"
                )
                niks.append(nik)
                patterns.append(named)
            await _cut_niks_everywhere(conn, schema, niks)
        await remove_files_naming(db, patterns)
    await compact_database(db)
    log.info("event=retention_done anonymised=%d", len(due))
    return due
