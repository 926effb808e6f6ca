"""For e2e tests: wait until the outbox sender (running in the sandboxed app) has delivered
every row due at the fake clock's time, then until the bot is idle."""

from __future__ import annotations

import asyncio

from bot.services.cycle import iso


async def delivered(sb, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        n = await sb.db.fetchval(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
            " AND not_before <= ?",
            (iso(sb.clock()),),
        )
        if n == 0:
            break
        if loop.time() > deadline:
            raise AssertionError(f"{n} outbox rows still due after {within} s")
        await asyncio.sleep(0.02)
    await sb.idle()
