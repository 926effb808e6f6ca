"""One outbox sender per database: `pendamping send`, `tick` and `broadcast` beside a running
sender (the bot) send nothing and say so; the locks follow symlinks to the live database.

The "running bot" here is this test process holding the sender lock with the same call
`pendamping run` makes (acquire_sender_lock(database, "run")); that `run` really takes it is
checked on a real bot process at the end. Rows left 'sending' are the bot's sends in flight:
before the sender lock a second sender "recovered" them and sent them again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.db import open_migrated
from bot.runlock import (
    RunLock,
    RunLockHeld,
    SenderLock,
    SenderLockHeld,
    acquire_run_lock,
    acquire_sender_lock,
    sender_holder,
)
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.server import SandboxServer
from tests.bot_process import BotProcess
from tests.cli_helpers import run_cli

NOW = "2024-02-01T03:00:00+00:00"  # 10:00 WIB, outside the quiet hours
IN_FLIGHT = 8
FIRST_CHAT = 700_000


async def _seed(path: Path) -> None:
    db = await open_migrated(str(path))
    try:
        async with db.transaction() as conn:
            for i in range(IN_FLIGHT + 2):
                status = "sending" if i < IN_FLIGHT else "pending"
                await conn.execute(
                    "INSERT INTO outbox (kind, person, step, chat_id, text, status, not_before,"
                    " created_at, attempts) VALUES ('notice', ?, 'x', ?, ?, ?, ?, ?, ?)",
                    (f"chat:{FIRST_CHAT + i}", FIRST_CHAT + i, f"pesan {i}", status, NOW, NOW,
                     1 if status == "sending" else 0),
                )  # fmt: skip
    finally:
        await db.close()


def _statuses(path: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
    finally:
        conn.close()


@pytest.fixture
async def sandbox_url():
    core = SandboxCore(DEFAULT_TOKEN)
    for i in range(IN_FLIGHT + 2):
        core.add_user(FIRST_CHAT + i, f"P{i}")
    server = SandboxServer(core)
    await server.start()
    try:
        yield core, server.bot_base_url
    finally:
        await server.stop()


def _env(db: Path) -> dict[str, str]:
    return {"PENDAMPING_DB": str(db), "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN}


async def _cli(*args: str, cwd: Path, env: dict[str, str]):
    import asyncio

    # the sandbox serves in this event loop: run the child without blocking it
    return await asyncio.to_thread(run_cli, *args, cwd=cwd, env=env)


async def test_send_beside_the_running_sender_sends_nothing(tmp_path, sandbox_url):
    core, url = sandbox_url
    db = tmp_path / "live.db"
    await _seed(db)
    lock = acquire_sender_lock(str(db), "run")  # what `pendamping run` holds for its life
    try:
        done = await _cli("send", "--api-url", url, "--linger", "0", cwd=tmp_path, env=_env(db))
    finally:
        lock.release()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not sending" in done.stderr and "`pendamping run`" in done.stderr
    assert f"pid {os.getpid()}" in done.stderr and "Traceback" not in done.stderr
    # the bot's sends in flight were left to the bot: nobody got a message twice
    assert _statuses(db) == {"sending": IN_FLIGHT, "pending": 2}
    assert not [m for m in core.messages.values()], "the second sender sent"


async def test_tick_and_broadcast_beside_the_running_sender_queue_but_do_not_send(
    tmp_path, sandbox_url
):
    core, url = sandbox_url
    db = tmp_path / "live.db"
    await _seed(db)
    text = tmp_path / "pesan.txt"
    text.write_text("Pasar murah Sabtu ini.", encoding="utf-8")
    lock = acquire_sender_lock(str(db), "run")
    try:
        tick = await _cli("tick", "--api-url", url, "--now", "2024-02-01T10:00", "--linger", "0",
                          cwd=tmp_path, env=_env(db))  # fmt: skip
        cast = await _cli("broadcast", "--audience", "recipients", "--text-file", str(text),
                          "--api-url", url, cwd=tmp_path, env=_env(db))  # fmt: skip
    finally:
        lock.release()
    for done in (tick, cast):
        assert done.returncode == 0, done.stdout + done.stderr
        assert "not sending" in done.stdout, done.stdout
        assert "Traceback" not in done.stderr
    assert _statuses(db)["sending"] == IN_FLIGHT
    assert not list(core.messages.values())


async def test_send_alone_recovers_and_sends(tmp_path, sandbox_url):
    """The other side: with no other sender, `send` takes the lock, recovers a crash's rows
    and delivers everything (the lock does not stop the normal case)."""
    core, url = sandbox_url
    db = tmp_path / "live.db"
    await _seed(db)
    done = await _cli("send", "--api-url", url, "--linger", "0", cwd=tmp_path, env=_env(db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{IN_FLIGHT} resent after an interruption" in done.stdout
    assert _statuses(db) == {"sent": IN_FLIGHT + 2}
    assert sender_holder(str(db)) is None  # released on exit


def test_a_symlink_to_the_live_database_names_the_same_locks(tmp_path):
    live = tmp_path / "data" / "pendamping.db"
    live.parent.mkdir()
    live.write_bytes(b"")
    link = tmp_path / "alias.db"
    link.symlink_to(live)
    run = acquire_run_lock(str(live))
    send = acquire_sender_lock(str(live), "run")
    try:
        with pytest.raises(RunLockHeld, match="in use by `pendamping run`"):
            RunLock(str(link)).acquire("restore")
        with pytest.raises(SenderLockHeld, match="not sending"):
            SenderLock(str(link)).acquire("send")
        assert sender_holder(str(link)) is not None
    finally:
        run.release()
        send.release()


async def test_send_through_a_symlink_is_refused_too(tmp_path, sandbox_url):
    core, url = sandbox_url
    db = tmp_path / "live.db"
    await _seed(db)
    link = tmp_path / "link.db"
    link.symlink_to(db)
    lock = acquire_sender_lock(str(db), "run")
    try:
        done = await _cli("send", "--api-url", url, "--linger", "0", cwd=tmp_path, env=_env(link))
    finally:
        lock.release()
    assert done.returncode == 1 and "not sending" in done.stderr, done.stdout + done.stderr
    assert _statuses(db)["sending"] == IN_FLIGHT


async def test_pendamping_run_holds_the_sender_lock(tmp_path, sandbox_url):
    core, url = sandbox_url
    db = tmp_path / "bot.db"
    await _seed(db)
    log = tmp_path / "bot.log"
    bot = BotProcess(db, url, DEFAULT_TOKEN, log)
    try:
        bot.start()
        import asyncio

        deadline = asyncio.get_running_loop().time() + 60
        while sender_holder(str(db)) is None:
            assert bot.proc.poll() is None, log.read_text()[-2000:]
            assert asyncio.get_running_loop().time() < deadline, "the bot never took the lock"
            await asyncio.sleep(0.05)
        assert "`pendamping run`" in (sender_holder(str(db)) or "")
    finally:
        bot.stop()
    assert sender_holder(str(db)) is None
