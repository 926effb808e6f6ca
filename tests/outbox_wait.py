"""For e2e tests: wait until the outbox sender (running in the sandboxed app) has delivered
every row due at the fake clock's time, then until the bot is idle."""

from __future__ import annotations

import asyncio

from bot.services.cycle import iso


async def delivered(sb, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        n = await _due(sb)
        if n == 0:
            await sb.idle()
            # A pass can plan new rows as it settles others (a broadcast's report to its
            # sender is queued when its last message is settled): done only when still none.
            n = await _due(sb)
            if n == 0:
                return
        if loop.time() > deadline:
            raise AssertionError(f"{n} outbox rows still due after {within} s")
        await asyncio.sleep(0.02)


async def _due(sb) -> int:
    return await sb.db.fetchval(
        "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending') AND not_before <= ?",
        (iso(sb.clock()),),
    )
