"""The outbox store: the SQL of claiming, settling and re-queueing outbox rows, and the
pass that clears what settled messages said.

A row is marked 'sending' (attempts + 1) before its send and settled right after, each in
its own commit; after a crash `recover()` puts the 'sending' rows back to 'pending', so a
message is delivered at least once. The sender (bot.services.outbox) decides; this module
only reads and writes rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.services.cycle import iso

log = logging.getLogger("pendamping.outbox")

Clock = Callable[[], dt.datetime]

SETTLED = ("sent", "failed", "unreachable")

# One pending row to 'sending', in one statement. On PostgreSQL the subquery locks the row
# (FOR UPDATE) or, when another session holds it, finds nothing (SKIP LOCKED) instead of
# waiting; the SQLite backend drops the clause (one writer, nothing to skip). The status is
# tested in both places, so even without the lock a row is never claimed twice.
CLAIM = (
    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_at = ?"
    " WHERE id = (SELECT id FROM outbox WHERE id = ? AND status = 'pending'"
    " FOR UPDATE SKIP LOCKED) AND status = 'pending'"
)


@dataclass(frozen=True)
class DueRow:
    """One pending row that is due: what the sender needs to send it."""

    id: int
    chat_id: int
    text: str
    label: str  # readable for the CLI: "<kind> <period> <step> -> chat <id>"
    attachment: str | None  # JSON: photo|document|voice with path or file_id


async def finish_broadcast_if_done(
    conn: Any, row_id: int, now: dt.datetime, settings: Settings
) -> None:
    """When a broadcast's last row is settled, plan its delivery report to the sender."""
    from bot.services.broadcasts import finish_if_done

    await finish_if_done(conn, row_id, now, settings)


class OutboxStore:
    """Reads and writes outbox rows for the sender; time comes from `clock()`."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    async def recover(self) -> int:
        """Rows left 'sending' by a crash go back to 'pending' (they may have been delivered)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET status = 'pending', last_error = 'interrupted while sending'"
                " WHERE status = 'sending'"
            )
            n = cur.rowcount
            await cur.close()
        return n

    async def due_rows(self, limit: int = 500) -> list[DueRow]:
        """Pending rows due now, by priority then age."""
        rows = await self.db.fetchall(
            "SELECT id, chat_id, text, kind, period, step, attachment FROM outbox"
            " WHERE status = 'pending' AND not_before <= ? ORDER BY priority, id LIMIT ?",
            (iso(self.clock()), limit),
        )
        out = []
        for r in rows:
            period = "" if r["period"] == "-" else f" {r['period']}"
            label = f"{r['kind']}{period} {r['step']} -> chat {r['chat_id']}"
            out.append(DueRow(r["id"], r["chat_id"], r["text"], label, r["attachment"] or None))
        return out

    async def pending_soon(self, seconds: float) -> bool:
        """True when some pending row falls due within `seconds`."""
        horizon = iso(self.clock() + dt.timedelta(seconds=seconds))
        n = await self.db.fetchval(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= ?", (horizon,)
        )
        return bool(n)

    async def claim(self, row_id: int) -> bool:
        """Mark a pending row 'sending' (attempts + 1); False when it is no longer pending, or
        (PostgreSQL) when another session holds its row lock: the claim skips it at once
        rather than wait, and the sender meets the row again at its next read if it is still
        pending (docs/decisions.md, "Outbox claim: FOR UPDATE SKIP LOCKED")."""
        n = await self.db.update(CLAIM, (iso(self.clock()), row_id))
        return n == 1

    async def finish(
        self, row_id: int, status: str, *, error: str | None = None, message_id: int | None = None
    ) -> None:
        """Settle a row ('sent' with its Telegram message id, or 'failed' with the error)."""
        now = iso(self.clock())
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = ?, last_error = COALESCE(?, last_error),"
                " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
                " telegram_message_id = COALESCE(?, telegram_message_id) WHERE id = ?",
                (status, error, status, now, message_id, row_id),
            )
            if status == "sent":  # `doctor`'s "last digest" reads digest_runs.sent_at
                await conn.execute(
                    "UPDATE digest_runs SET sent_at = ? WHERE outbox_id = ? AND sent_at IS NULL",
                    (now, row_id),
                )
            if status != "pending":
                await finish_broadcast_if_done(conn, row_id, self.clock(), self.settings)

    async def give_back(self, row_id: int, error: str) -> None:
        """Back to 'pending' without counting the attempt (a 429, a wrong token)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts - 1, last_error = ?"
                " WHERE id = ?",
                (error, row_id),
            )

    async def attempts(self, row_id: int) -> int:
        """How many times the row was claimed."""
        return int(await self.db.fetchval("SELECT attempts FROM outbox WHERE id = ?", (row_id,)))

    async def retry_later(self, row_id: int, error: str, delay_seconds: float) -> None:
        """Back to 'pending', due again `delay_seconds` from now (backoff)."""
        await self.db.execute(
            "UPDATE outbox SET status = 'pending', last_error = ?, not_before = ? WHERE id = ?",
            (error, iso(self.clock() + dt.timedelta(seconds=delay_seconds)), row_id),
        )


# --- what a delivered message keeps --------------------------------------------------------


def _attachment_path(raw: str | None) -> Path | None:
    if not raw:
        return None
    try:
        path = json.loads(raw).get("path")
    except (ValueError, AttributeError):
        return None
    return Path(path) if path else None


async def clear_settled_texts(db: Database, now: dt.datetime, keep_hours: float) -> int:
    """Clear the text of every message settled (sent, failed, unreachable) more than
    `keep_hours` ago and delete the files it carried (digest charts and exports) once no
    unsettled message needs them; return how many rows were cleared. Idempotent.

    The row itself stays (kind, chat, status, times, attempts): enough to answer "was it
    sent, when, to whom", nothing of what it said."""
    cutoff = iso(now - dt.timedelta(hours=keep_hours))
    when = "COALESCE(sent_at, claimed_at, created_at)"
    rows = await db.fetchall(
        f"SELECT id, attachment FROM outbox WHERE status IN ('sent', 'failed', 'unreachable')"
        f" AND (text <> '' OR attachment IS NOT NULL) AND {when} <= ?",
        (cutoff,),
    )
    if not rows:
        return 0
    files = {p for r in rows if (p := _attachment_path(r["attachment"])) is not None}
    async with db.transaction() as conn:
        await conn.execute(
            f"UPDATE outbox SET text = '', attachment = NULL"
            f" WHERE status IN ('sent', 'failed', 'unreachable')"
            f" AND (text <> '' OR attachment IS NOT NULL) AND {when} <= ?",
            (cutoff,),
        )
        async with conn.execute(
            "SELECT attachment FROM outbox WHERE attachment IS NOT NULL"
        ) as cur:
            still = {_attachment_path(r[0]) for r in await cur.fetchall()}
    removed = remove_files(files - still)
    log.info("event=outbox_texts_cleared rows=%d files=%d", len(rows), len(removed))
    return len(rows)


def remove_files(paths: set[Path] | list[Path]) -> list[Path]:
    """Delete the files (those already gone are skipped) and then their folders that became
    empty (digests/<period>/<region>/, digests/<period>/); return the files deleted."""
    removed = []
    for path in sorted(paths):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("event=file_not_removed error=%s", type(exc).__name__)
            continue
        removed.append(path)
        for folder in (path.parent, path.parent.parent):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
    return removed
