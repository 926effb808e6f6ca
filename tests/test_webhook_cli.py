"""`pendamping run --webhook-url`: the secret comes from PENDAMPING_WEBHOOK_SECRET (a flag would
show in `ps`), the sandbox pushes updates to the bot's webhook with it, and without any secret
the command refuses to start."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.db import open_migrated
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.runner import free_port
from bot.sandbox.server import SandboxServer
from tests.bot_process import BotProcess, bot_message_after, run_cli

SECRET = "rahasia-webhook-uji-0123456789"
SITI = 1001


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_webhook_secret_from_the_environment(tmp_path, clock):
    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path), clock())
    await db.close()
    core = SandboxCore(DEFAULT_TOKEN, bot_username="pendamping_bot")
    core.add_user(SITI, "Siti", language_code="id")
    server = SandboxServer(core)
    await server.start()
    port = free_port()
    hook = f"http://127.0.0.1:{port}/telegram"
    bot = BotProcess(
        db_path, server.bot_base_url, DEFAULT_TOKEN, tmp_path / "bot.log",
        args=("--webhook-url", hook, "--listen", "127.0.0.1", "--port", str(port)),
        env={"PENDAMPING_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    try:
        bot.start()
        assert SECRET not in " ".join(bot.proc.args)  # not on the command line
        deadline = time.monotonic() + 60
        while core.webhook is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert core.webhook is not None, (tmp_path / "bot.log").read_text()[-2000:]
        assert core.webhook["url"] == hook and core.webhook["secret_token"] == SECRET
        core.send(SITI, text="/start")
        assert await bot_message_after(core, SITI, 0, 60), "no answer through the webhook"
        assert "Selamat datang" in core.chat_messages(SITI)[-1]["text"]
    finally:
        bot.stop()
        await server.stop()


def test_webhook_without_a_secret_refuses_to_start(tmp_path):
    done = run_cli(
        tmp_path / "bot.db", "run", "--api-url", "http://127.0.0.1:9/bot",
        "--webhook-url", "https://bot.example.go.id/telegram",
    )  # fmt: skip
    assert done.returncode == 2
    assert "PENDAMPING_WEBHOOK_SECRET" in done.stderr and "Traceback" not in done.stderr
