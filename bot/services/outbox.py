"""The outbox sender: delivers outbox rows by priority and age within Telegram's limits.

The work is split by job:
- bot.domain.pacer.Pacer: spacing per chat and for all chats, 429 holds (pure, on an
  injected monotonic clock);
- bot.services.outbox_store: the claim / settle / re-queue SQL and the text-clearing pass;
- bot.services.reachability: unreachable accounts and group chats, and their notices;
- this module: the loop that claims due rows, delivers them through the bot and maps
  Telegram's errors to what happens next.

Limits (bot.config.OutboxSettings): at most `in_flight` sends under way; a row is marked
'sending' (attempts + 1) before its send and settled right after, each in its own commit:
after a crash the 'sending' rows go back to 'pending' (recover()), so a message is delivered
at least once and duplicates are bounded by `in_flight`. Errors:
- 429 RetryAfter delays that chat only (or the whole bot, see the pacer), the attempt is
  given back;
- NetworkError/TimedOut/5xx: retried with exponential backoff (row.not_before) up to
  `max_attempts`, then 'failed' with the error;
- 403 Forbidden or 400 chat not found: unreachable (bot.services.reachability);
- a row with an `attachment` (JSON type photo|document|voice, path or file_id, filename) is
  sent as that file with the row's text as caption; it counts against the same limits as a
  text message. A missing file fails the row.

The bot is any PTB Bot; errors are PTB's (RetryAfter, Forbidden, BadRequest, NetworkError).
Time: `clock()` (aware UTC) decides which rows are due; spacing uses `monotonic()` and waits
with `sleep()` (time.monotonic and asyncio.sleep unless a test injects manual ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
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
from bot.db import Database, DatabaseError, OperationalError
from bot.domain.pacer import Pacer
from bot.services.outbox_store import (
    SETTLED,
    DueRow,
    OutboxStore,
    clear_settled_texts,
    remove_files,
)
from bot.services.reachability import mark_reachable, mark_unreachable, unreachable_reason

__all__ = [
    "SETTLED",
    "OutboxSender",
    "SendStats",
    "clear_settled_texts",
    "make_sender_bot",
    "mark_reachable",
    "remove_files",
]

log = logging.getLogger("pendamping.outbox")

Clock = Callable[[], dt.datetime]
Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class SendStats:
    """What one sender has done so far (the CLI prints it)."""

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


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


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
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.db = db
        self.bot = bot
        self.settings = settings
        self.clock = clock
        self.store = OutboxStore(db, settings, clock)
        self.pacer = Pacer(limits or settings.outbox, monotonic)
        self._limits = limits or settings.outbox
        self._monotonic = monotonic
        self._sleep = sleep
        self._in_flight: set[int] = set()
        self._labels: dict[int, str] = {}
        self._attachments: dict[int, str] = {}  # row id -> attachment JSON (photos, documents)
        self._busy_chats: set[int] = set()
        self._wake = asyncio.Event()
        self._draining = False
        self._looping = False  # run_forever is running
        self._stopping = False
        self._recovered = False
        self._db_away = False  # the loop's last drain failed for want of the database
        self.stats = SendStats()

    @property
    def limits(self) -> OutboxSettings:
        """The delivery limits in force (the pacer reads the same ones)."""
        return self._limits

    @limits.setter
    def limits(self, value: OutboxSettings) -> None:
        self._limits = value
        self.pacer.limits = value

    # --- lifecycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Tell a running loop that new rows may be due."""
        self._wake.set()

    @property
    def busy(self) -> bool:
        """A drain is under way, or the loop was woken for one (the sandbox's idle waits)."""
        return self._draining or (self._looping and self._wake.is_set())

    async def recover(self) -> int:
        """Rows left 'sending' by a crash go back to 'pending' (they may have been delivered)."""
        n = await self.store.recover()
        self._recovered = True
        self.stats.recovered += n
        if n:
            log.warning("event=outbox_recovered rows=%d", n)
        return n

    async def run_forever(self, idle_seconds: float = 5.0) -> None:
        """Background loop (started by the app): drain, then sleep until woken or idle_seconds.
        The first drain puts back the rows left 'sending' (recover), inside the loop's guard:
        a database away at that moment does not end the loop."""
        self._looping = True
        try:
            await self._loop(idle_seconds)
        finally:
            self._looping = False

    async def _loop(self, idle_seconds: float) -> None:
        while not self._stopping:
            self._draining = True
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except DatabaseError as exc:
                # The database is away (each call waited its bound; bot/db/postgres.py logs
                # the outage once a minute): said once here, and the loop tries again.
                if not self._db_away:
                    log.warning("event=outbox_waiting_for_database error=%s", exc)
                self._db_away = True
            except Exception:  # keep the loop alive; the error is logged, rows stay pending
                log.exception("event=outbox_loop_error")
            else:
                if self._db_away:
                    log.info("event=outbox_resumed")
                self._db_away = False
            finally:
                self._draining = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_seconds)

    def stop(self) -> None:
        """Stop the loop after the sends under way."""
        self._stopping = True
        self._wake.set()

    # --- the drain loop --------------------------------------------------------------------

    async def _due_rows(self) -> list[DueRow]:
        rows = await self.store.due_rows()
        for r in rows:
            self._labels[r.id] = r.label
            if r.attachment:
                self._attachments[r.id] = r.attachment
        return [r for r in rows if r.id not in self._in_flight]

    def _note(self, row_id: int, outcome: str) -> None:
        """One readable line per settled row for the CLI (kept to the first 200)."""
        label = self._labels.pop(row_id, f"row {row_id}")
        if len(self.stats.lines) < 200:
            self.stats.lines.append(f"{outcome}: {label}")

    def _pick(self, buffer: list[DueRow], now: float) -> tuple[int | None, float | None]:
        """The index of the first row whose chat may get a send now, else when one may."""
        wait_until = None
        for i, row in enumerate(buffer):
            if row.id in self._in_flight or row.chat_id in self._busy_chats:
                continue
            ready = self.pacer.chat_ready_at(row.chat_id)
            if ready > now:
                wait_until = ready if wait_until is None else min(wait_until, ready)
                continue
            return i, None
        return None, wait_until

    async def _wait(self, tasks: set[asyncio.Task[None]], delay: float) -> None:
        """Wait `delay` seconds or until a send under way finishes, whichever comes first."""
        if not tasks:
            await self._sleep(delay)
            return
        timer = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({*tasks, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()

    async def drain(
        self, *, linger_seconds: float = 0.0, max_seconds: float | None = None
    ) -> SendStats:
        """Send every row due now; return when none is left (or max_seconds passed).

        linger_seconds: keep waiting this long for rows that are not yet due (retry backoff)
        when the clock is a real one; tests with a fake clock pass 0.
        """
        if not self._recovered:
            await self.recover()
        mono = self._monotonic
        started = mono()
        semaphore = asyncio.Semaphore(self.limits.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        buffer: list[DueRow] = []
        refreshed = 0.0
        idle_since: float | None = None
        while not self._stopping:
            now = mono()
            if max_seconds is not None and now - started > max_seconds:
                break
            if not buffer or now - refreshed > 1.0:
                buffer = await self._due_rows()
                refreshed = mono()
            pick, wait_until = self._pick(buffer, now)
            if pick is None:
                if not buffer and not tasks:
                    idle_since = idle_since or mono()
                    if (
                        linger_seconds
                        and mono() - idle_since < linger_seconds
                        and await self.store.pending_soon(linger_seconds)
                    ):
                        await self._sleep(0.2)
                        buffer = []
                        continue
                    break
                # wait for a chat to become ready, a send to finish, or a refresh
                delay = 0.05 if wait_until is None else max(0.0, min(wait_until - now, 0.5))
                sending = bool(tasks)
                await self._wait(tasks, delay)
                if not sending and wait_until is None:
                    buffer = []
                continue
            idle_since = None
            row = buffer.pop(pick)
            await semaphore.acquire()
            if self._stopping:
                semaphore.release()
                break
            # a 429 may have arrived while waiting for a free slot: look again
            if self.pacer.chat_waiting(row.chat_id):
                semaphore.release()
                continue
            # global spacing (and a bot-wide 429 hold)
            delay = self.pacer.global_delay()
            if delay > 0:
                await self._sleep(delay)
            self.pacer.reserve(row.chat_id)
            if not await self.store.claim(row.id):
                semaphore.release()
                continue
            self._in_flight.add(row.id)
            self._busy_chats.add(row.chat_id)
            task = asyncio.create_task(self._send(row.id, row.chat_id, row.text, semaphore))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.stats

    # --- one send and what its answer means ------------------------------------------------

    async def _send(
        self, row_id: int, chat_id: int, text: str, semaphore: asyncio.Semaphore
    ) -> None:
        try:
            try:
                message = await self._deliver(row_id, chat_id, text)
            except OSError as exc:  # the attachment's file is gone: no retry can help
                await self._failed(row_id, f"attachment: {_error_text(exc)}",
                                   "failed (attachment file missing)")  # fmt: skip
            except RetryAfter as exc:
                await self._on_retry_after(row_id, chat_id, _retry_seconds(exc))
            except InvalidToken as exc:
                # the bot's token is wrong (or revoked): no row is at fault; stop sending
                await self.store.give_back(row_id, _error_text(exc))
                log.error("event=outbox_invalid_token: sending stopped")
                self._stopping = True
            except (Forbidden, BadRequest) as exc:
                reason = unreachable_reason(exc)
                if reason:
                    await self._on_unreachable(row_id, chat_id, reason, exc)
                else:
                    await self._failed(row_id, _error_text(exc))
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                await self._on_network_error(row_id, exc)
            except TelegramError as exc:
                await self._failed(row_id, _error_text(exc))
            else:
                await self._settle_sent(row_id, message.message_id)
                self.stats.sent += 1
                self._note(row_id, "sent")
        except Exception:
            log.exception("event=outbox_send_crashed row=%d", row_id)
        finally:
            self._in_flight.discard(row_id)
            self._busy_chats.discard(chat_id)
            semaphore.release()

    async def _settle_sent(self, row_id: int, message_id: int) -> None:
        """Mark a delivered row 'sent'; once more when the first try failed in the database
        (a PostgreSQL session lost under its transaction, which the server rolled back; the
        next try gets a new session). Left 'sending', the row would be sent again after the
        next start. Settling twice changes nothing."""
        try:
            await self.store.finish(row_id, "sent", message_id=message_id)
        except OperationalError as exc:
            log.warning("event=outbox_settle_retried row=%d error=%s", row_id, exc)
            await self.store.finish(row_id, "sent", message_id=message_id)

    async def _failed(self, row_id: int, error: str, outcome: str | None = None) -> None:
        await self.store.finish(row_id, "failed", error=error)
        self.stats.failed += 1
        self._note(row_id, outcome or f"failed ({error})")

    async def _deliver(self, row_id: int, chat_id: int, text: str) -> Any:
        raw = self._attachments.pop(row_id, None)
        if raw is None:
            return await self.bot.send_message(chat_id, text)
        attachment = json.loads(raw)
        markup = attachment.get("reply_markup")
        buttons = InlineKeyboardMarkup.de_json(markup, None) if markup else None
        kind = attachment.get("type", "text")
        caption = text or None
        if "file_id" in attachment:  # a file already on Telegram (a forwarded photo or voice)
            if kind == "photo":
                return await self.bot.send_photo(chat_id, attachment["file_id"], caption=caption,
                                                 reply_markup=buttons)  # fmt: skip
            if kind == "voice":
                return await self.bot.send_voice(chat_id, attachment["file_id"], caption=caption,
                                                 reply_markup=buttons)  # fmt: skip
        if "path" not in attachment:
            return await self.bot.send_message(chat_id, text, reply_markup=buttons)
        path = Path(attachment["path"])
        data = path.read_bytes()
        if kind == "photo":
            return await self.bot.send_photo(chat_id, data, caption=caption, reply_markup=buttons)
        return await self.bot.send_document(
            chat_id, data, filename=attachment.get("filename") or path.name, caption=caption,
            reply_markup=buttons,
        )  # fmt: skip

    async def _on_retry_after(self, row_id: int, chat_id: int, seconds: float) -> None:
        self.stats.rate_limited += 1
        self.stats.waited_429_seconds += seconds
        if self.pacer.hold(chat_id, seconds):
            log.warning("event=outbox_bot_limited retry_after=%.0f", seconds)
        # a 429 is not a failed attempt: give the attempt back
        await self.store.give_back(row_id, f"429 retry_after {seconds:g}")

    async def _on_network_error(self, row_id: int, exc: NetworkError) -> None:
        attempts = await self.store.attempts(row_id)
        error = _error_text(exc)
        if attempts >= self.limits.max_attempts:
            await self._failed(row_id, error, f"failed after {attempts} attempts ({error})")
            return
        delay = min(
            self.limits.backoff_seconds * 2 ** (attempts - 1), self.limits.backoff_max_seconds
        )
        await self.store.retry_later(row_id, error, delay)
        self.stats.retried += 1

    async def _on_unreachable(self, row_id: int, chat_id: int, reason: str, exc: Exception) -> None:
        self.stats.notices += await mark_unreachable(
            self.db, self.settings, row_id, chat_id, reason, _error_text(exc), self.clock()
        )
        self.stats.unreachable += 1
        self._note(row_id, f"unreachable ({reason})")


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
