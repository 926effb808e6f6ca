"""The outbox sender: delivers outbox rows by priority and age within Telegram's limits.

- limits (bot.config.OutboxSettings): all chats together `per_second`; one private chat every
  `private_interval_seconds`; one group chat `group_per_minute` per minute (as spacing);
- at most `in_flight` sends under way; a row is marked 'sending' (attempts + 1) before its send
  and 'sent' right after, each in its own commit: after a crash the 'sending' rows go back to
  'pending' (recover()), so a message is delivered at least once and duplicates are bounded
  by `in_flight`;
- 429 RetryAfter delays that chat only (in memory, Telegram's retry_after); when 429s hit
  `global_429_chats` different chats within 1 s the bot as a whole is limited: everything waits;
- NetworkError/TimedOut/5xx: retried with exponential backoff (row.not_before) up to
  `max_attempts`, then 'failed' with the error;
- 403 Forbidden or 400 chat not found: the account is unreachable (accounts.reachable = 0),
  its pending rows are closed and the facilitator of a recipient gets a notice; a group chat
  with no account (a staff group the bot was removed from) goes into unreachable_chats, its
  pending rows are closed, admins get one notice, and digests skip it from then on;
- a row with an `attachment` (migration 0006: JSON type photo|document, path, filename) is
  sent as that photo or document with the row's text as caption; it counts against the same
  limits as a text message. A missing file fails the row.

The bot is any PTB Bot; errors are PTB's (RetryAfter, Forbidden, BadRequest, NetworkError).
Time: `clock()` (aware UTC) decides which rows are due; rate spacing uses the monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.config import OutboxSettings, Settings
from bot.db import Database
from bot.render import render
from bot.services.cycle import PRIORITY_NOTICE, PlannedMessage, enqueue, iso

log = logging.getLogger("pendamping.outbox")

Clock = Callable[[], dt.datetime]


@dataclass
class SendStats:
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    retried: int = 0
    rate_limited: int = 0  # 429 answers
    waited_429_seconds: float = 0.0
    recovered: int = 0  # 'sending' rows put back after a crash (possible duplicates)
    notices: int = 0
    lines: list[str] = field(default_factory=list)  # readable per-row outcomes (CLI)


def _retry_seconds(exc: RetryAfter) -> float:
    # PTB 22 keeps a timedelta inside; the public attribute warns while it moves int -> timedelta
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return float(value.total_seconds() if isinstance(value, dt.timedelta) else value)


def _unreachable_reason(exc: TelegramError) -> str | None:
    text = str(exc).lower()
    if isinstance(exc, Forbidden):
        if "blocked" in text:
            return "memblokir bot"
        if "deactivated" in text:
            return "akun Telegram dihapus"
        if "kicked" in text:
            return "bot dikeluarkan dari grup"
        return "bot tidak diizinkan mengirim pesan"
    if isinstance(exc, BadRequest) and "chat not found" in text:
        return "chat tidak ditemukan"
    return None


class OutboxSender:
    """Drains the outbox; one instance per process (it holds the in-memory rate state)."""

    def __init__(
        self,
        db: Database,
        bot: Bot,
        settings: Settings,
        clock: Clock,
        *,
        limits: OutboxSettings | None = None,
    ) -> None:
        self.db = db
        self.bot = bot
        self.settings = settings
        self.clock = clock
        self.limits = limits or settings.outbox
        self._chat_ready: dict[int, float] = {}
        self._global_ready = 0.0
        self._recent_429: deque[tuple[float, int]] = deque()
        self._in_flight: set[int] = set()
        self._labels: dict[int, str] = {}
        self._attachments: dict[int, str] = {}  # row id -> attachment JSON (photos, documents)
        self._busy_chats: set[int] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._recovered = False
        self.stats = SendStats()

    # --- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Tell a running loop that new rows may be due."""
        self._wake.set()

    async def recover(self) -> int:
        """Rows left 'sending' by a crash go back to 'pending' (they may have been delivered)."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET status = 'pending', last_error = 'interrupted while sending'"
                " WHERE status = 'sending'"
            )
            n = cur.rowcount
            await cur.close()
        self._recovered = True
        self.stats.recovered += n
        if n:
            log.warning("event=outbox_recovered rows=%d", n)
        return n

    async def run_forever(self, idle_seconds: float = 5.0) -> None:
        """Background loop (started by the app): drain, then sleep until woken or idle_seconds."""
        if not self._recovered:
            await self.recover()
        while not self._stopping:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the loop alive; the error is logged, rows stay pending
                log.exception("event=outbox_loop_error")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_seconds)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # --- the drain loop --------------------------------------------------------------------

    async def _due_rows(self, limit: int = 500) -> list[tuple[int, int, str]]:
        rows = await self.db.fetchall(
            "SELECT id, chat_id, text, kind, period, step, attachment FROM outbox"
            " WHERE status = 'pending' AND not_before <= ? ORDER BY priority, id LIMIT ?",
            (iso(self.clock()), limit),
        )
        for r in rows:
            period = "" if r["period"] == "-" else f" {r['period']}"
            self._labels[r["id"]] = f"{r['kind']}{period} {r['step']} -> chat {r['chat_id']}"
            if r["attachment"]:
                self._attachments[r["id"]] = r["attachment"]
        return [(r["id"], r["chat_id"], r["text"]) for r in rows if r["id"] not in self._in_flight]

    def _note(self, row_id: int, outcome: str) -> None:
        """One readable line per settled row for the CLI (kept to the first 200)."""
        label = self._labels.pop(row_id, f"row {row_id}")
        if len(self.stats.lines) < 200:
            self.stats.lines.append(f"{outcome}: {label}")

    def _chat_interval(self, chat_id: int) -> float:
        if chat_id < 0:
            return 60.0 / self.limits.group_per_minute
        return self.limits.private_interval_seconds

    async def drain(
        self, *, linger_seconds: float = 0.0, max_seconds: float | None = None
    ) -> SendStats:
        """Send every row due now; return when none is left (or max_seconds passed).

        linger_seconds: keep waiting this long for rows that are not yet due (retry backoff)
        when the clock is a real one; tests with a fake clock pass 0.
        """
        if not self._recovered:
            await self.recover()
        started = time.monotonic()
        semaphore = asyncio.Semaphore(self.limits.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        buffer: list[tuple[int, int, str]] = []
        refreshed = 0.0
        idle_since: float | None = None
        while not self._stopping:
            mono = time.monotonic()
            if max_seconds is not None and mono - started > max_seconds:
                break
            if not buffer or mono - refreshed > 1.0:
                buffer = await self._due_rows()
                refreshed = time.monotonic()
            pick = None
            wait_until = None
            for i, (row_id, chat_id, _text) in enumerate(buffer):
                if row_id in self._in_flight:
                    continue
                if chat_id in self._busy_chats:
                    continue
                ready = self._chat_ready.get(chat_id, 0.0)
                if ready > mono:
                    wait_until = ready if wait_until is None else min(wait_until, ready)
                    continue
                pick = i
                idle_since = None
                break
            if pick is None:
                if not buffer and not tasks:
                    idle_since = idle_since or time.monotonic()
                    if (
                        linger_seconds
                        and time.monotonic() - idle_since < linger_seconds
                        and await self._pending_soon(linger_seconds)
                    ):
                        await asyncio.sleep(0.2)
                        buffer = []
                        continue
                    break
                # wait for a chat to become ready, a send to finish, or a refresh
                delay = 0.05 if wait_until is None else max(0.0, min(wait_until - mono, 0.5))
                if tasks:
                    await asyncio.wait(tasks, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(delay)
                    if wait_until is None:
                        buffer = []
                continue
            row_id, chat_id, text = buffer.pop(pick)
            await semaphore.acquire()
            if self._stopping:
                semaphore.release()
                break
            # a 429 may have arrived while waiting for a free slot: look again
            if self._chat_ready.get(chat_id, 0.0) > time.monotonic():
                semaphore.release()
                continue
            # global spacing (and a bot-wide 429 hold)
            now_mono = time.monotonic()
            if self._global_ready > now_mono:
                await asyncio.sleep(self._global_ready - now_mono)
            start = time.monotonic()
            interval = 1.0 / self.limits.per_second
            # sleep() overshoots by a millisecond or two: do not let that drift accumulate
            # (a slot missed by less than a quarter interval is still used), yet never burst
            self._global_ready = max(self._global_ready, start - interval / 4) + interval
            self._chat_ready[chat_id] = start + self._chat_interval(chat_id)
            if not await self._claim(row_id):
                semaphore.release()
                continue
            self._in_flight.add(row_id)
            self._busy_chats.add(chat_id)
            task = asyncio.create_task(self._send(row_id, chat_id, text, semaphore))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.stats

    async def _pending_soon(self, seconds: float) -> bool:
        horizon = iso(self.clock() + dt.timedelta(seconds=seconds))
        n = await self.db.fetchval(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= ?", (horizon,)
        )
        return bool(n)

    async def _claim(self, row_id: int) -> bool:
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_at = ?"
                " WHERE id = ? AND status = 'pending'",
                (iso(self.clock()), row_id),
            )
            ok = cur.rowcount == 1
            await cur.close()
        return ok

    async def _send(
        self, row_id: int, chat_id: int, text: str, semaphore: asyncio.Semaphore
    ) -> None:
        try:
            try:
                message = await self._deliver(row_id, chat_id, text)
            except OSError as exc:  # the attachment's file is gone: no retry can help
                await self._finish(row_id, "failed", error=f"attachment: {_error_text(exc)}")
                self.stats.failed += 1
                self._note(row_id, "failed (attachment file missing)")
            except RetryAfter as exc:
                await self._on_retry_after(row_id, chat_id, _retry_seconds(exc))
            except InvalidToken as exc:
                # the bot's token is wrong (or revoked): no row is at fault; stop sending
                await self.db.execute(
                    "UPDATE outbox SET status = 'pending', attempts = attempts - 1,"
                    " last_error = ? WHERE id = ?",
                    (_error_text(exc), row_id),
                )
                log.error("event=outbox_invalid_token: sending stopped")
                self._stopping = True
            except (Forbidden, BadRequest) as exc:
                reason = _unreachable_reason(exc)
                if reason:
                    await self._on_unreachable(row_id, chat_id, reason, exc)
                else:
                    await self._finish(row_id, "failed", error=_error_text(exc))
                    self.stats.failed += 1
                    self._note(row_id, f"failed ({_error_text(exc)})")
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                await self._on_network_error(row_id, exc)
            except TelegramError as exc:
                await self._finish(row_id, "failed", error=_error_text(exc))
                self.stats.failed += 1
                self._note(row_id, f"failed ({_error_text(exc)})")
            else:
                await self._finish(row_id, "sent", message_id=message.message_id)
                self.stats.sent += 1
                self._note(row_id, "sent")
        except Exception:
            log.exception("event=outbox_send_crashed row=%d", row_id)
        finally:
            self._in_flight.discard(row_id)
            self._busy_chats.discard(chat_id)
            semaphore.release()

    async def _deliver(self, row_id: int, chat_id: int, text: str) -> Any:
        raw = self._attachments.pop(row_id, None)
        if raw is None:
            return await self.bot.send_message(chat_id, text)
        attachment = json.loads(raw)
        markup = attachment.get("reply_markup")
        extra = {"reply_markup": InlineKeyboardMarkup.de_json(markup, None)} if markup else {}
        kind = attachment.get("type", "text")
        caption = text or None
        if "file_id" in attachment:  # a file already on Telegram (a forwarded photo or voice)
            if kind == "photo":
                return await self.bot.send_photo(chat_id, attachment["file_id"], caption=caption,
                                                 **extra)  # fmt: skip
            if kind == "voice":
                return await self.bot.send_voice(chat_id, attachment["file_id"], caption=caption,
                                                 **extra)  # fmt: skip
        if "path" not in attachment:
            return await self.bot.send_message(chat_id, text, **extra)
        path = Path(attachment["path"])
        data = path.read_bytes()
        if kind == "photo":
            return await self.bot.send_photo(chat_id, data, caption=caption, **extra)
        return await self.bot.send_document(
            chat_id, data, filename=attachment.get("filename") or path.name, caption=caption,
            **extra,
        )  # fmt: skip

    async def _finish(
        self, row_id: int, status: str, *, error: str | None = None, message_id: int | None = None
    ) -> None:
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
                await self._maybe_finish_broadcast(conn, row_id)

    async def _on_retry_after(self, row_id: int, chat_id: int, seconds: float) -> None:
        mono = time.monotonic()
        self.stats.rate_limited += 1
        self.stats.waited_429_seconds += seconds
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), mono + seconds)
        self._recent_429.append((mono, chat_id))
        while self._recent_429 and self._recent_429[0][0] < mono - 1.0:
            self._recent_429.popleft()
        if len({c for _, c in self._recent_429}) >= self.limits.global_429_chats:
            self._global_ready = max(self._global_ready, mono + seconds)
            log.warning("event=outbox_bot_limited retry_after=%.0f", seconds)
        async with self.db.transaction() as conn:
            # a 429 is not a failed attempt: give the attempt back
            await conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = attempts - 1, last_error = ?"
                " WHERE id = ?",
                (f"429 retry_after {seconds:g}", row_id),
            )

    async def _on_network_error(self, row_id: int, exc: NetworkError) -> None:
        attempts = await self.db.fetchval("SELECT attempts FROM outbox WHERE id = ?", (row_id,))
        error = _error_text(exc)
        if attempts >= self.limits.max_attempts:
            await self._finish(row_id, "failed", error=error)
            self.stats.failed += 1
            self._note(row_id, f"failed after {attempts} attempts ({error})")
            return
        delay = min(
            self.limits.backoff_seconds * 2 ** (attempts - 1), self.limits.backoff_max_seconds
        )
        await self.db.execute(
            "UPDATE outbox SET status = 'pending', last_error = ?, not_before = ? WHERE id = ?",
            (error, iso(self.clock() + dt.timedelta(seconds=delay)), row_id),
        )
        self.stats.retried += 1

    async def _on_unreachable(self, row_id: int, chat_id: int, reason: str, exc: Exception) -> None:
        now = self.clock()
        error = _error_text(exc)
        notice: PlannedMessage | None = None
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT account_id FROM outbox WHERE id = ?", (row_id,)) as cur:
                row = await cur.fetchone()
            account_id = row["account_id"] if row else None
            await conn.execute(
                "UPDATE outbox SET status = 'unreachable', last_error = ? WHERE id = ?",
                (error, row_id),
            )
            if account_id is not None:
                await conn.execute(
                    "UPDATE accounts SET reachable = 0, unreachable_reason = ? WHERE id = ?",
                    (reason, account_id),
                )
                # nothing more goes to this account until it comes back
                await conn.execute(
                    "UPDATE outbox SET status = 'unreachable', last_error = 'account unreachable'"
                    " WHERE account_id = ? AND status = 'pending'",
                    (account_id,),
                )
                notice = await _facilitator_notice(conn, account_id, reason, now)
                if notice is not None and await enqueue(conn, notice, now):
                    self.stats.notices += 1
            else:
                await conn.execute(
                    "UPDATE outbox SET status = 'unreachable', last_error = 'chat unreachable'"
                    " WHERE chat_id = ? AND account_id IS NULL AND status = 'pending'",
                    (chat_id,),
                )
                # a group chat (a staff group): remembered so digests skip it; admins told once
                cur = await conn.execute(
                    "INSERT INTO unreachable_chats (chat_id, reason, since) VALUES (?, ?, ?)"
                    " ON CONFLICT (chat_id) DO NOTHING",
                    (chat_id, reason, iso(now)),
                )
                first = cur.rowcount == 1
                await cur.close()
                if first:
                    log.warning("event=chat_unreachable chat=%s reason=%s", chat_id, reason)
                    for notice in await _admin_notices(conn, chat_id, reason, now):
                        if await enqueue(conn, notice, now):
                            self.stats.notices += 1
            await self._maybe_finish_broadcast(conn, row_id)
        self.stats.unreachable += 1
        self._note(row_id, f"unreachable ({reason})")
        log.info("event=outbox_unreachable account=%s", account_id)

    async def _maybe_finish_broadcast(self, conn, row_id: int) -> None:  # noqa: ANN001
        """When a broadcast's last row is settled, plan its delivery report to the sender."""
        from bot.services.broadcasts import finish_if_done

        await finish_if_done(conn, row_id, self.clock(), self.settings)


async def _facilitator_notice(conn, account_id: int, reason: str, now: dt.datetime):  # noqa: ANN001, ANN201
    """A notice to the facilitator of the recipient behind `account_id` (if linked)."""
    async with conn.execute(
        "SELECT r.name, d.name AS desa, fa.id AS fac_account, fa.chat_id, fa.language"
        " FROM accounts a JOIN recipients r ON r.id = a.recipient_id"
        " LEFT JOIN desa d ON d.id = r.desa_id"
        " JOIN accounts fa ON fa.facilitator_id = r.facilitator_id AND fa.role = 'facilitator'"
        " WHERE a.id = ? AND a.role = 'recipient' AND fa.reachable = 1",
        (account_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    text = render("notice_unreachable", row["language"], person=row["name"], desa=row["desa"],
                  reason=reason)  # fmt: skip
    return PlannedMessage(
        "notice", f"acc:{row['fac_account']}", "-", f"unreachable:acc:{account_id}:{iso(now)}",
        row["chat_id"], row["fac_account"], text, PRIORITY_NOTICE, now,
        f"facilitator (acc {row['fac_account']})",
    )  # fmt: skip


async def _admin_notices(conn, chat_id: int, reason: str, now: dt.datetime):  # noqa: ANN001, ANN201
    """One notice per reachable admin account: the bot can no longer write to a group."""
    async with conn.execute(
        "SELECT id, chat_id, language FROM accounts WHERE role = 'admin' AND reachable = 1"
        " ORDER BY id"
    ) as cur:
        rows = await cur.fetchall()
    return [
        PlannedMessage(
            "notice",
            f"acc:{r['id']}",
            "-",
            f"chat_unreachable:{chat_id}:{iso(now)}",
            r["chat_id"],
            r["id"],
            render("notice_chat_unreachable", r["language"], chat_id=chat_id, reason=reason),
            PRIORITY_NOTICE,
            now,
            f"admin (acc {r['id']})",
        )  # fmt: skip
        for r in rows
    ]


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def make_sender_bot(settings: Settings, base_url: str | None = None) -> Bot:
    """A PTB Bot for the sender: no AIORateLimiter (see docs/decisions.md), a connection pool
    large enough for `in_flight` concurrent sends."""
    from telegram.request import HTTPXRequest

    if not settings.token:
        raise ValueError("the sender needs a bot token")
    base = base_url or "https://api.telegram.org/bot"
    file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"
    return Bot(
        settings.token,
        base_url=base,
        base_file_url=file_base,
        request=HTTPXRequest(connection_pool_size=settings.outbox.in_flight + 2),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
    )


async def mark_reachable(db: Database, telegram_user_id: int) -> bool:
    """A person who writes to the bot can be reached again; True when that changed."""
    row = await db.fetchone(
        "SELECT id FROM accounts WHERE telegram_user_id = ? AND reachable = 0", (telegram_user_id,)
    )
    if row is None:
        return False
    await db.execute(
        "UPDATE accounts SET reachable = 1, unreachable_reason = NULL WHERE id = ?", (row["id"],)
    )
    return True


# --- what a delivered message keeps --------------------------------------------------------

SETTLED = ("sent", "failed", "unreachable")


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
