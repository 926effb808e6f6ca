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


BROADCAST = "Pasar murah Sabtu ini di balai desa."
PEOPLE = 120


async def test_cli_send_beside_the_real_bot_mid_broadcast_duplicates_nothing(tmp_path):
    """The reported case, with the real bot: `pendamping run` is delivering a broadcast (its
    sends in flight, rows 'sending'); the bot is frozen (SIGSTOP) at that moment, so the rows
    stay in flight however fast the machine, and `pendamping send` is started beside it. It
    must refuse; after the bot goes on, everyone has the broadcast exactly once."""
    import asyncio
    import signal as sig

    from bot.config import load_settings
    from bot.services import broadcasts
    from tests import cycle_seed as seed

    config = tmp_path / "pendamping.toml"
    config.write_text(
        "[outbox]\nper_second = 40.0\nprivate_interval_seconds = 0.0\nin_flight = 8\n",
        encoding="utf-8",
    )
    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path))
    try:
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO recipients (id, nik, name, kecamatan_code, programme, status,"
                " created_at, updated_at) VALUES (?, ?, ?, '33.28.10', 'tata boga', 'active',"
                " ?, ?)",
                [(i + 1, f"3328{i:012d}", f"R{i}", seed.NOW, seed.NOW) for i in range(PEOPLE)],
            )
            await conn.executemany(
                "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id, linked_at)"
                " VALUES (?, ?, 'recipient', ?, ?)",
                [(FIRST_CHAT + i, FIRST_CHAT + i, i + 1, seed.NOW) for i in range(PEOPLE)],
            )
        import datetime as dt

        settings = load_settings(str(config), env={})
        now = dt.datetime(2024, 2, 1, 3, tzinfo=dt.UTC)
        draft = await broadcasts.start_draft(db, settings, None, "recipients", None, now,
                                             BROADCAST)  # fmt: skip
        assert await broadcasts.queue(db, settings, None, draft.broadcast_id, now) == PEOPLE
    finally:
        await db.close()
    core = SandboxCore(DEFAULT_TOKEN, bot_username="pendamping_bot")
    for i in range(PEOPLE):
        core.add_user(FIRST_CHAT + i, f"R{i}")
    server = SandboxServer(core)
    await server.start()

    def received() -> dict[int, int]:
        counts: dict[int, int] = {}
        for (chat_id, _), m in list(core.messages.items()):
            if m.from_bot and BROADCAST in (m.data.get("text") or ""):
                counts[chat_id] = counts.get(chat_id, 0) + 1
        return counts

    bot = BotProcess(db_path, server.bot_base_url, DEFAULT_TOKEN, tmp_path / "bot.log",
                     config=config)  # fmt: skip
    try:
        bot.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while sum(received().values()) < 20:
            assert bot.proc.poll() is None, (tmp_path / "bot.log").read_text()[-2000:]
            assert loop.time() < deadline, "the bot never started the broadcast"
            await asyncio.sleep(0.01)
        # freeze the bot at a moment when it has sends in flight (rows 'sending')
        in_flight = 0
        for _ in range(500):
            bot.proc.send_signal(sig.SIGSTOP)
            in_flight = _statuses(db_path).get("sending", 0)
            if in_flight:
                break
            bot.proc.send_signal(sig.SIGCONT)
            await asyncio.sleep(0.003)
        assert in_flight, "never caught the bot with a send in flight"
        try:
            done = await _cli("--config", str(config), "send", "--api-url",
                              server.bot_base_url, "--linger", "0", cwd=tmp_path,
                              env=_env(db_path))  # fmt: skip
        finally:
            bot.proc.send_signal(sig.SIGCONT)
        deadline = loop.time() + 60
        while len(received()) < PEOPLE and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        bot.stop()
        await server.stop()
    assert done.returncode == 1 and "not sending" in done.stderr, done.stdout + done.stderr
    counts = received()
    assert len(counts) == PEOPLE, f"{PEOPLE - len(counts)} people never got it"
    assert max(counts.values()) == 1, sorted(c for c in counts.values() if c > 1)
    print(f"\nbeside the bot: {in_flight} rows in flight when `send` was refused; 0 duplicates")
