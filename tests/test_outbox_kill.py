"""Reliability: a broadcast of 2,000 messages survives SIGKILL of the sending process.

A separate process (`python -m bot send`) sends through the sandbox's loopback Bot API server
(bot/sandbox, run in this test's event loop); it is killed three times mid-broadcast (at fixed
numbers of answered Bot API calls) and started again, and once a second `send` is started
beside the running one. Every recipient must get the message; duplicates stay within the
in-flight bound per kill; the second sender is refused and sends nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.db import open_migrated
from bot.sandbox.core import DEFAULT_TOKEN as TOKEN
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from bot.services import broadcasts
from tests import cycle_seed as seed
from tests.suite_counts import SCENARIOS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

REPO = Path(__file__).resolve().parents[1]
N = 2000
IN_FLIGHT = 8
FIRST_CHAT = 500_000
KILL_AT = (0.15, 0.4, 0.65)  # fractions of N: where each SIGKILL lands
BESIDE_AT = 0.8  # where a second sender is started beside the running one


async def _seed(path: str, config: str) -> int:
    settings = load_settings(config, env={})
    db = await open_migrated(path)
    try:
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO recipients (id, nik, name, kecamatan_code, programme, status,"
                " created_at, updated_at) VALUES (?, ?, ?, '33.28.10', 'tata boga', 'active', ?, ?)",
                [(i + 1, f"3328{i:012d}", f"R{i}", seed.NOW, seed.NOW) for i in range(N)],
            )
            await conn.executemany(
                "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id, linked_at)"
                " VALUES (?, ?, 'recipient', ?, ?)",
                [(FIRST_CHAT + i, FIRST_CHAT + i, i + 1, seed.NOW) for i in range(N)],
            )
        import datetime as dt

        now = dt.datetime(2024, 2, 1, 3, tzinfo=dt.UTC)  # 10:00 WIB, outside quiet hours
        p = await broadcasts.start_draft(db, settings, None, "recipients", None, now,
                                         "Pasar murah Sabtu ini.")  # fmt: skip
        return await broadcasts.queue(db, settings, None, p.broadcast_id, now)
    finally:
        await db.close()


async def _sender(url: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "send", "--api-url", url, "--linger", "2",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_broadcast_of_2000_survives_sigkill(tmp_path):
    config = tmp_path / "pendamping.toml"
    config.write_text(
        f"[outbox]\nper_second = 400.0\nprivate_interval_seconds = 0.0\nin_flight = {IN_FLIGHT}\n",
        encoding="utf-8",
    )
    db_path = str(tmp_path / "kill.db")
    assert await _seed(db_path, str(config)) == N
    core = SandboxCore(TOKEN, call_log_size=100)
    for i in range(N):
        core.add_user(FIRST_CHAT + i, f"R{i}")
    server = SandboxServer(core)
    await server.start()

    def delivered() -> dict[int, int]:
        counts: dict[int, int] = {}
        for (chat_id, _), m in list(core.messages.items()):
            if m.from_bot:
                counts[chat_id] = counts.get(chat_id, 0) + 1
        return counts

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), TELEGRAM_BOT_TOKEN=TOKEN, PENDAMPING_DB=db_path,
               PENDAMPING_CONFIG=str(config))  # fmt: skip
    url = server.bot_base_url
    # Kills land at fixed numbers of Bot API calls the sandbox has answered (its own count,
    # not a timer): each while the sender is mid-broadcast (asserted).
    kill_points = [int(N * f) for f in KILL_AT]
    beside_at = int(N * BESIDE_AT)
    after_kill: list[int] = []
    try:
        for point in kill_points:
            proc = await _sender(url, env)
            while core.call_count < point and proc.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            assert proc.returncode is None, "the sender finished before it could be killed"
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            after_kill.append(sum(delivered().values()))
        proc = await _sender(url, env)
        # a second sender beside the running one: refused, sends nothing
        while core.call_count < beside_at and proc.returncode is None:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        assert proc.returncode is None, "the sender finished before the second one started"
        # hold the running sender still (it keeps its lock) while the second one starts up
        # and tries: the second sees a sender mid-broadcast however slow its start-up is
        proc.send_signal(signal.SIGSTOP)
        try:
            second = await _sender(url, env)
            _, second_err = await asyncio.wait_for(second.communicate(), 60)
        finally:
            proc.send_signal(signal.SIGCONT)
        calls_before = core.call_count
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        await server.stop()
    assert second.returncode == 1 and b"not sending" in second_err, second_err.decode()
    assert core.call_count > calls_before  # the first one went on sending afterwards
    deliveries = delivered()
    counts = [deliveries.get(FIRST_CHAT + i, 0) for i in range(N)]
    lost = sum(1 for c in counts if c == 0)
    duplicates = sum(c - 1 for c in counts if c > 1)
    kills = len(kill_points)
    print(
        f"\nkill test: {kills} kills after ~{after_kill} of {N} deliveries; lost {lost}, "
        f"duplicates {duplicates} (bound {IN_FLIGHT} per kill); second sender refused; "
        f"last run said: {out.decode().strip()}"
    )
    SCENARIOS.append(f"crash: broadcast  n={N} kills={kills} at~{after_kill} lost={lost}"
                     f" duplicated={duplicates} (bound {IN_FLIGHT}/kill), 2nd sender refused")  # fmt: skip
    assert lost == 0
    assert max(counts) <= 1 + kills
    assert duplicates <= kills * IN_FLIGHT
    db = await open_migrated(db_path)
    try:
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE status != 'sent'") == 0
        assert await db.fetchval("SELECT status FROM broadcasts") == "done"
    finally:
        await db.close()
