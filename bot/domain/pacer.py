"""Pacing of outgoing messages within Telegram's limits: pure arithmetic on a monotonic clock.

- all chats together: one send every `1 / per_second` seconds (the global slot);
- one private chat: one send every `private_interval_seconds`; one group chat:
  `group_per_minute` per minute, as spacing;
- a 429 (retry_after) holds that chat only; when 429s hit `global_429_chats` different chats
  within one second, the bot as a whole is held (every chat waits).

The clock is injected (`time.monotonic` in production, a manual one in tests), so the
pacer never sleeps and never reads the wall clock: the sender asks it how long to wait.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol


class PacingLimits(Protocol):
    """The limits the pacer reads (bot.config.OutboxSettings has them)."""

    # read-only properties: a frozen dataclass (OutboxSettings) satisfies them
    @property
    def per_second(self) -> float: ...
    @property
    def private_interval_seconds(self) -> float: ...
    @property
    def group_per_minute(self) -> int: ...
    @property
    def global_429_chats(self) -> int: ...


class Pacer:
    """Per-chat and global spacing plus 429 holds, on an injected monotonic clock."""

    def __init__(self, limits: PacingLimits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self.monotonic = monotonic
        self._chat_ready: dict[int, float] = {}
        self._global_ready = 0.0
        self._recent_429: deque[tuple[float, int]] = deque()

    def chat_interval(self, chat_id: int) -> float:
        """Seconds between two sends to one chat (groups have negative ids)."""
        if chat_id < 0:
            return 60.0 / self.limits.group_per_minute
        return self.limits.private_interval_seconds

    def chat_ready_at(self, chat_id: int) -> float:
        """The monotonic time from which this chat may get its next send."""
        return self._chat_ready.get(chat_id, 0.0)

    def chat_waiting(self, chat_id: int) -> bool:
        """True while this chat must still wait (spacing or a 429 hold)."""
        return self.chat_ready_at(chat_id) > self.monotonic()

    def global_delay(self) -> float:
        """Seconds until the next global slot (0 when it is free now)."""
        return max(0.0, self._global_ready - self.monotonic())

    def reserve(self, chat_id: int) -> None:
        """A send to `chat_id` starts now: take the global slot and space that chat."""
        start = self.monotonic()
        interval = 1.0 / self.limits.per_second
        # sleep() overshoots by a millisecond or two: do not let that drift accumulate
        # (a slot missed by less than a quarter interval is still used), yet never burst
        self._global_ready = max(self._global_ready, start - interval / 4) + interval
        self._chat_ready[chat_id] = start + self.chat_interval(chat_id)

    def hold(self, chat_id: int, seconds: float) -> bool:
        """A 429 for `chat_id`: hold it `seconds`; True when the whole bot is held too."""
        mono = self.monotonic()
        self._chat_ready[chat_id] = max(self._chat_ready.get(chat_id, 0.0), mono + seconds)
        self._recent_429.append((mono, chat_id))
        while self._recent_429 and self._recent_429[0][0] < mono - 1.0:
            self._recent_429.popleft()
        if len({c for _, c in self._recent_429}) >= self.limits.global_429_chats:
            self._global_ready = max(self._global_ready, mono + seconds)
            return True
        return False
