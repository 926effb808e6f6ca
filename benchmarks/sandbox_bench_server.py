"""The project's sandbox (bot/sandbox) prepared for broadcast_bench.py, in its own process.

N private chats (users FIRST..FIRST+N-1), Telegram's limits enforced (sandbox's RateLimits:
30 sends in any second, ~1/s per private chat with a burst of 3), a share of users blocked
(403), and optionally one 429 (retry_after 1) injected after a share of sendMessage calls:
the sandbox's fault queue fails the next send, whichever chat it is for, so each injected
fault is a per-chat 429. On SIGTERM prints one JSON line with per-chat deliveries and counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore  # noqa: E402
from bot.sandbox.server import SandboxServer  # noqa: E402


def is_blocked(chat_id: int, ratio: float) -> bool:
    """The same stable choice as tests/loopback_botapi.py."""
    return ratio > 0 and (chat_id * 2654435761 % 10_000) < ratio * 10_000


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--first-chat", type=int, required=True)
    p.add_argument("--blocked-ratio", type=float, default=0.0)
    p.add_argument("--inject-429-ratio", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    core = SandboxCore(DEFAULT_TOKEN, call_log_size=100)
    for i in range(args.users):
        uid = args.first_chat + i
        core.add_user(uid, f"R{i}")
        if is_blocked(uid, args.blocked_ratio):
            core.block(uid)
    core.set_limits(True)
    limited = Counter()
    check = core.limits.check

    def counting_check(chat_id: int, is_private: bool) -> int:
        wait = check(chat_id, is_private)
        if wait:
            limited["429_limits"] += 1
        return wait

    core.limits.check = counting_check  # count the sandbox's own 429s
    server = SandboxServer(core, port=args.port)
    await server.start()
    print(f"listening on {server.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    rng = random.Random(args.seed)
    seen = 0
    first = last = None
    while not stop.is_set():
        await asyncio.sleep(0.005)
        count = core.call_count
        if count > seen:
            now = time.monotonic()
            first = first or now
            last = now
            for _ in range(count - seen):
                if args.inject_429_ratio and rng.random() < args.inject_429_ratio:
                    core.add_fault("sendMessage", 429, retry_after=1)
                    limited["429_injected"] += 1
            seen = count
    deliveries = Counter(cid for (cid, _), m in core.messages.items() if m.from_bot)
    print(json.dumps({
        "deliveries": {str(k): v for k, v in deliveries.items()},
        "counts": {"calls": core.call_count, **limited},
        "first_call": first, "last_call": last,
    }), flush=True)  # fmt: skip
    await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
