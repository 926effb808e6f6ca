"""Telegram's flood limits for sends: 30/s overall, ~1/s per private chat, 20/min per group."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
PRIVATE_PER_SECOND = 1.0
PRIVATE_BURST = 3  # Telegram tolerates short bursts to one chat


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimits:
    """Counts accepted sends; check() answers the seconds to wait (0: allowed, and counted)."""

    clock: Callable[[], float] = time.monotonic
    overall: deque[float] = field(default_factory=deque)
    groups: dict[int, deque[float]] = field(default_factory=dict)
    private: dict[int, _Bucket] = field(default_factory=dict)

    def reset(self) -> None:
        self.overall.clear()
        self.groups.clear()
        self.private.clear()

    def check(self, chat_id: int, is_private: bool) -> int:
        now = self.clock()
        while self.overall and self.overall[0] <= now - 1.0:
            self.overall.popleft()
        if len(self.overall) >= OVERALL_PER_SECOND:
            return max(1, math.ceil(self.overall[0] + 1.0 - now))
        if is_private:
            bucket = self.private.get(chat_id)
            if bucket is None:
                bucket = self.private[chat_id] = _Bucket(PRIVATE_BURST, now)
            bucket.tokens = min(
                PRIVATE_BURST, bucket.tokens + (now - bucket.updated) * PRIVATE_PER_SECOND
            )
            bucket.updated = now
            if bucket.tokens < 1:
                return max(1, math.ceil((1 - bucket.tokens) / PRIVATE_PER_SECOND))
            bucket.tokens -= 1
        else:
            window = self.groups.setdefault(chat_id, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= GROUP_PER_MINUTE:
                return max(1, math.ceil(window[0] + 60.0 - now))
            window.append(now)
        self.overall.append(now)
        return 0
