"""Staff broadcasts: choose an audience within the sender's region, preview, queue via the
outbox, and a delivery report to the sender when the last message is settled.

Also the recipients' mute switch (/berhenti, /mulai): muted accounts get no reminders and no
broadcasts but can still report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import aiosqlite

from bot.config import Settings
from bot.db import Database
from bot.domain.cycle import out_of_quiet_hours
from bot.render import render
from bot.services.accounts import Account
from bot.services.cycle import PRIORITY_BROADCAST, PRIORITY_NOTICE, PlannedMessage, enqueue, iso

AUDIENCES = ("recipients", "programme", "kecamatan", "desa", "facilitators")
MAX_TEXT = 4096


class BroadcastError(Exception):
    """A refusal with a reason key (templates/*/siaran_error.j2 renders it)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Preview:
    broadcast_id: int
    audience: str
    audience_value: str | None
    label: str  # readable audience, e.g. 'program tata boga'
    count: int
    text: str


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: str
    total: int
    sent: int
    failed: int
    unreachable: int
    pending: int


def scope_of(actor: Account | None) -> str | None:
    """The kecamatan a sender is limited to; None = whole kabupaten (admin, CLI)."""
    if actor is None:
        return None
    if actor.role == "admin":
        return None
    if actor.role == "staff":
        return actor.kecamatan_code
    raise BroadcastError("not_staff")


async def _rows(conn: aiosqlite.Connection, sql: str, params=()) -> list[aiosqlite.Row]:  # noqa: ANN001
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


async def _check_target(
    conn: aiosqlite.Connection, audience: str, value: str | None, scope: str | None,
    programmes: list[str],
) -> str:  # fmt: skip
    """Validate the audience against the sender's region; return a readable label."""
    if audience not in AUDIENCES:
        raise BroadcastError("bad_audience", audience)
    if audience == "programme":
        if value not in programmes:
            raise BroadcastError("bad_programme", value or "")
        return f"program {value}"
    if audience == "kecamatan":
        rows = await _rows(conn, "SELECT name FROM kecamatan WHERE code = ?", (value,))
        if not rows:
            raise BroadcastError("bad_kecamatan", value or "")
        if scope is not None and value != scope:
            raise BroadcastError("outside_region", rows[0]["name"])
        return f"Kec. {rows[0]['name']}"
    if audience == "desa":
        try:
            desa_id = int(value or "")
        except ValueError:
            raise BroadcastError("bad_desa", value or "") from None
        rows = await _rows(conn, "SELECT name, kecamatan_code FROM desa WHERE id = ?", (desa_id,))
        if not rows:
            raise BroadcastError("bad_desa", value or "")
        if scope is not None and rows[0]["kecamatan_code"] != scope:
            raise BroadcastError("outside_region", rows[0]["name"])
        return f"Desa {rows[0]['name']}"
    return "semua pendamping" if audience == "facilitators" else "semua penerima"


async def audience_accounts(
    conn: aiosqlite.Connection, audience: str, value: str | None, scope: str | None
) -> list[aiosqlite.Row]:
    """Reachable, unmuted linked accounts of the audience inside `scope` (id, chat_id, ...)."""
    region = "" if scope is None else " AND {col} = ?"
    params: list = []
    if audience == "facilitators":
        sql = (
            "SELECT a.id, a.chat_id, a.language, f.name FROM accounts a"
            " JOIN facilitators f ON f.id = a.facilitator_id"
            " WHERE a.role = 'facilitator' AND a.reachable = 1 AND f.status = 'active'"
            + region.format(col="f.kecamatan_code")
        )
    else:
        sql = (
            "SELECT a.id, a.chat_id, a.language, r.name FROM accounts a"
            " JOIN recipients r ON r.id = a.recipient_id"
            " WHERE a.role = 'recipient' AND a.reachable = 1 AND a.muted = 0"
            " AND r.status IN ('active', 'paused')" + region.format(col="r.kecamatan_code")
        )
        if audience == "programme":
            sql += " AND r.programme = ?"
        elif audience == "kecamatan":
            sql += " AND r.kecamatan_code = ?"
        elif audience == "desa":
            sql += " AND r.desa_id = ?"
    if scope is not None:
        params.append(scope)
    if audience in ("programme", "kecamatan"):
        params.append(value)
    elif audience == "desa":
        params.append(int(value or 0))
    return await _rows(conn, sql + " ORDER BY a.id", params)


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise BroadcastError("empty_text")
    if len(text) > MAX_TEXT:
        raise BroadcastError("text_too_long", str(len(text)))
    return text


async def start_draft(
    db: Database, settings: Settings, actor: Account | None, audience: str, value: str | None,
    now: dt.datetime, text: str = "", region: str | None = None,
) -> Preview:  # fmt: skip
    """A draft broadcast (text may follow later); the count is who it would reach now.

    `region` (a kecamatan code) narrows the sender's scope; it may not widen it."""
    scope = scope_of(actor)
    if text:
        text = _clean_text(text)
    async with db.transaction() as conn:
        if region is not None:
            rows = await _rows(conn, "SELECT name FROM kecamatan WHERE code = ?", (region,))
            if not rows:
                raise BroadcastError("bad_kecamatan", region)
            if scope is not None and region != scope:
                raise BroadcastError("outside_region", rows[0]["name"])
            scope = region
        label = await _check_target(conn, audience, value, scope, settings.programmes)
        count = len(await audience_accounts(conn, audience, value, scope))
        # one open draft per sender: an older unfinished one is dropped
        if actor is not None:
            await conn.execute(
                "UPDATE broadcasts SET status = 'cancelled' WHERE created_by = ? AND status = 'draft'",
                (actor.id,),
            )
        cur = await conn.execute(
            "INSERT INTO broadcasts (created_by, audience, audience_value, scope_kecamatan, text,"
            " status, total, created_at) VALUES (?, ?, ?, ?, ?, 'draft', ?, ?)",
            (actor.id if actor else None, audience, value, scope, text, count, iso(now)),
        )
        bid = cur.lastrowid
        assert bid is not None  # an INSERT always sets lastrowid
        await cur.close()
    return Preview(bid, audience, value, label, count, text)


async def value_choices(
    db: Database, settings: Settings, actor: Account | None, audience: str
) -> list[tuple[str, str]] | None:
    """(value, label) for an audience's second choice, within the sender's region; None: the
    audience has no second choice."""
    scope = scope_of(actor)
    if audience == "programme":
        return [(str(i), p) for i, p in enumerate(settings.programmes)]
    if audience == "kecamatan":
        rows = await db.fetchall(
            "SELECT code, name FROM kecamatan WHERE ? IS NULL OR code = ? ORDER BY name",
            (scope, scope),
        )
        return [(r["code"], r["name"]) for r in rows]
    if audience == "desa":
        rows = await db.fetchall(
            "SELECT d.id, d.name, k.name AS kec FROM desa d JOIN kecamatan k"
            " ON k.code = d.kecamatan_code WHERE ? IS NULL OR d.kecamatan_code = ?"
            " ORDER BY k.name, d.name",
            (scope, scope),
        )
        return [(str(r["id"]), f"{r['name']} ({r['kec']})") for r in rows]
    if audience not in AUDIENCES:
        raise BroadcastError("bad_audience", audience)
    return None


async def open_draft(db: Database, actor: Account) -> int | None:
    """The sender's draft that still waits for its text, if any."""
    return await db.fetchval(
        "SELECT id FROM broadcasts WHERE created_by = ? AND status = 'draft' AND text = ''"
        " ORDER BY id DESC LIMIT 1",
        (actor.id,),
    )


async def set_text(
    db: Database, settings: Settings, actor: Account | None, broadcast_id: int, text: str
) -> Preview:
    """Set the text of the sender's draft broadcast and preview it again."""
    text = _clean_text(text)
    async with db.transaction() as conn:
        b = await _draft(conn, actor, broadcast_id)
        scope = b["scope_kecamatan"]
        label = await _check_target(conn, b["audience"], b["audience_value"], scope,
                                    settings.programmes)  # fmt: skip
        count = len(await audience_accounts(conn, b["audience"], b["audience_value"], scope))
        await conn.execute(
            "UPDATE broadcasts SET text = ?, total = ? WHERE id = ?", (text, count, broadcast_id)
        )
    return Preview(broadcast_id, b["audience"], b["audience_value"], label, count, text)


async def _draft(conn: aiosqlite.Connection, actor: Account | None, broadcast_id: int):  # noqa: ANN202
    rows = await _rows(conn, "SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
    if not rows:
        raise BroadcastError("not_found")
    b = rows[0]
    if actor is not None and b["created_by"] != actor.id:
        raise BroadcastError("not_found")
    if b["status"] != "draft":
        raise BroadcastError("already_" + b["status"])
    return b


async def cancel(db: Database, actor: Account | None, broadcast_id: int) -> None:
    """Cancel the sender's draft broadcast."""
    async with db.transaction() as conn:
        await _draft(conn, actor, broadcast_id)
        await conn.execute(
            "UPDATE broadcasts SET status = 'cancelled' WHERE id = ?", (broadcast_id,)
        )


async def queue(
    db: Database, settings: Settings, actor: Account | None, broadcast_id: int, now: dt.datetime
) -> int:
    """Put one outbox row per person of the audience (as it is now); return how many."""
    send_at = out_of_quiet_hours(now, settings.cycle, settings.tz)
    async with db.transaction() as conn:
        b = await _draft(conn, actor, broadcast_id)
        text = _clean_text(b["text"])
        people = await audience_accounts(conn, b["audience"], b["audience_value"],
                                         b["scope_kecamatan"])  # fmt: skip
        n = 0
        for p in people:
            m = PlannedMessage("broadcast", f"acc:{p['id']}", "-", f"b{broadcast_id}",
                               p["chat_id"], p["id"], text, PRIORITY_BROADCAST, send_at,
                               p["name"], broadcast_id)  # fmt: skip
            n += await enqueue(conn, m, now)
        await conn.execute(
            "UPDATE broadcasts SET status = 'queued', total = ?, queued_at = ? WHERE id = ?",
            (n, iso(now), broadcast_id),
        )
        if n == 0:
            await _finish(conn, broadcast_id, now, settings)
    return n


async def progress(db: Database, broadcast_id: int) -> Progress:
    """How far the broadcast's delivery has got, by message status."""
    b = await db.fetchone("SELECT status, total FROM broadcasts WHERE id = ?", (broadcast_id,))
    if b is None:
        raise BroadcastError("not_found")
    counts = dict(
        (r["status"], r["n"])
        for r in await db.fetchall(
            "SELECT status, count(*) AS n FROM outbox WHERE broadcast_id = ? GROUP BY status",
            (broadcast_id,),
        )
    )
    return Progress(
        broadcast_id, b["status"], b["total"], counts.get("sent", 0), counts.get("failed", 0),
        counts.get("unreachable", 0), counts.get("pending", 0) + counts.get("sending", 0),
    )  # fmt: skip


async def finish_if_done(
    conn: aiosqlite.Connection, row_id: int, now: dt.datetime, settings: Settings
) -> None:
    """Called by the sender after a row is settled (inside its transaction)."""
    rows = await _rows(conn, "SELECT broadcast_id FROM outbox WHERE id = ?", (row_id,))
    if not rows or rows[0]["broadcast_id"] is None:
        return
    bid = rows[0]["broadcast_id"]
    left = await _rows(
        conn,
        "SELECT count(*) AS n FROM outbox WHERE broadcast_id = ? AND status IN ('pending', 'sending')",
        (bid,),
    )
    if left[0]["n"] == 0:
        await _finish(conn, bid, now, settings)


async def _finish(
    conn: aiosqlite.Connection, broadcast_id: int, now: dt.datetime, settings: Settings
) -> None:
    cur = await conn.execute(
        "UPDATE broadcasts SET status = 'done', finished_at = ? WHERE id = ? AND status = 'queued'",
        (iso(now), broadcast_id),
    )
    changed = cur.rowcount == 1
    await cur.close()
    if not changed:
        return
    counts = {
        r["status"]: r["n"]
        for r in await _rows(
            conn,
            "SELECT status, count(*) AS n FROM outbox WHERE broadcast_id = ? GROUP BY status",
            (broadcast_id,),
        )
    }
    rows = await _rows(
        conn,
        "SELECT a.id, a.chat_id, a.language FROM broadcasts b JOIN accounts a"
        " ON a.id = b.created_by WHERE b.id = ? AND a.reachable = 1",
        (broadcast_id,),
    )
    if not rows:
        return
    a = rows[0]
    text = render("broadcast_report", a["language"], id=broadcast_id, sent=counts.get("sent", 0),
                  failed=counts.get("failed", 0), unreachable=counts.get("unreachable", 0),
                  total=sum(counts.values()))  # fmt: skip
    await enqueue(
        conn,
        PlannedMessage("broadcast_report", f"acc:{a['id']}", "-", f"b{broadcast_id}",
                       a["chat_id"], a["id"], text, PRIORITY_NOTICE, now,
                       f"sender (acc {a['id']})"),
        now,
    )  # fmt: skip


async def set_muted(db: Database, account: Account, muted: bool) -> None:
    """/berhenti and /mulai: only for recipients (facilitators and staff need their messages)."""
    if account.role != "recipient":
        raise BroadcastError("not_recipient")
    await db.execute("UPDATE accounts SET muted = ? WHERE id = ?", (int(muted), account.id))


async def running(db: Database, actor: Account) -> list[Progress]:
    """The sender's broadcasts still being delivered, with their progress."""
    ids = [
        r["id"]
        for r in await db.fetchall(
            "SELECT id FROM broadcasts WHERE created_by = ? AND status = 'queued' ORDER BY id",
            (actor.id,),
        )
    ]
    return [await progress(db, bid) for bid in ids]
