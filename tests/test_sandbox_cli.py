"""`pendamping sandbox serve`, `pendamping sandbox chat` and `pendamping run` with no token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.sandbox.runner import free_port
from tests.sandbox_scenario import tiny_png

ROOT = Path(__file__).resolve().parent.parent


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    env["PENDAMPING_DB"] = str(tmp_path / "cli.db")
    env.pop("PENDAMPING_CONFIG", None)
    return env


async def spawn(tmp_path: Path, *args: str, stdin: bool = False) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=tmp_path, env=cli_env(tmp_path),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def read_until(proc: asyncio.subprocess.Process, needle: str, seen: list[str]) -> str:
    """Read output lines until one contains needle (10 s at most); return that line."""
    async with asyncio.timeout(10):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                raise AssertionError(f"process ended before {needle!r}; output: {seen}")
            line = raw.decode().rstrip("\n")
            seen.append(line)
            if needle in line:
                return line


async def wait_for_polling(client: httpx.AsyncClient) -> None:
    """Until the bot (a separate process, possibly still starting) calls getUpdates."""
    for _ in range(200):
        if (await client.get("/_sandbox/calls", params={"method": "getUpdates"})).json():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot never polled the sandbox")


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        await proc.communicate()
    return proc.returncode


async def test_serve_listens_answers_and_stops_on_sigterm(tmp_path):
    port = free_port()
    proc = await spawn(tmp_path, "sandbox", "serve", "--port", str(port), "--token", "42:abc")
    seen: list[str] = []
    try:
        first = await read_until(proc, "listening", seen)
        assert first == f"listening on http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            me = await client.post(f"http://127.0.0.1:{port}/bot42:abc/getMe")
            wrong = await client.post(f"http://127.0.0.1:{port}/bot123456:sandbox/getMe")
        assert me.json()["result"]["id"] == 42
        assert wrong.status_code == 401
    finally:
        code = await stop(proc)
    assert code == 0


async def test_terminal_chat_driven_through_its_input_stream(sandbox, tmp_path):
    async def menu(update, context):
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Berjalan", callback_data="t:ok")]])
        await update.effective_chat.send_message("Bagaimana usaha Anda?", reply_markup=keyboard)

    async def pressed(update, context):
        await update.callback_query.answer("Oke, tercatat")
        await update.callback_query.edit_message_text("Tercatat: berjalan")

    async def photo(update, context):
        await update.message.reply_text("Foto diterima")

    # test-only handlers, ahead of the bot's chat gate (group -90), which refuses "t:" buttons
    sandbox.app.add_handler(MessageHandler(filters.Regex("^menu$"), menu), group=-95)
    sandbox.app.add_handler(CallbackQueryHandler(pressed, pattern="^t:"), group=-95)
    sandbox.app.add_handler(MessageHandler(filters.PHOTO, photo), group=-95)
    picture = tmp_path / "usaha.png"
    picture.write_bytes(tiny_png())
    proc = await spawn(
        tmp_path, "sandbox", "chat", "--as", "1001", "--name", "Siti", "--url", sandbox.url,
        stdin=True,
    )  # fmt: skip
    seen: list[str] = []

    async def type_line(text: str) -> None:
        proc.stdin.write(text.encode() + b"\n")
        await proc.stdin.drain()

    try:
        await read_until(proc, "Chatting as Siti (1001)", seen)
        await type_line("/start")
        await read_until(proc, "bot: Selamat datang di Pendamping, Siti.", seen)
        await type_line("menu")
        await read_until(proc, "bot: Bagaimana usaha Anda?", seen)
        assert await read_until(proc, "1.", seen) == "  1. Berjalan"
        await type_line("7")
        await read_until(proc, "! no button 7 (1-1)", seen)
        await type_line("1")
        await read_until(proc, "> [Berjalan]", seen)
        await read_until(proc, "bot (diedit): Tercatat: berjalan", seen)
        if "  (Oke, tercatat)" not in seen:  # the answer (a toast) may come before the edit
            await read_until(proc, "  (Oke, tercatat)", seen)
        await type_line(f"/photo {picture}")
        await read_until(proc, "bot: Foto diterima", seen)
        await type_line("/quit")
        async with asyncio.timeout(10):
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert sandbox.core.users[1001].first_name == "Siti"


async def test_terminal_chat_with_all_input_piped_at_once(sandbox, tmp_path):
    """`printf '/start\\nmenu\\n1\\n/quit\\n' | pendamping sandbox chat ...`: each line waits
    for the bot's answer (the button number needs its buttons), /quit only after the last."""

    async def menu(update, context):
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Berjalan", callback_data="t:ok")]])
        await update.effective_chat.send_message("Bagaimana usaha Anda?", reply_markup=keyboard)

    async def pressed(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Tercatat: berjalan")

    # test-only handlers, ahead of the bot's chat gate (group -90), which refuses "t:" buttons
    sandbox.app.add_handler(MessageHandler(filters.Regex("^menu$"), menu), group=-95)
    sandbox.app.add_handler(CallbackQueryHandler(pressed, pattern="^t:"), group=-95)
    proc = await spawn(
        tmp_path, "sandbox", "chat", "--as", "1001", "--name", "Siti", "--url", sandbox.url,
        stdin=True,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            out, _ = await proc.communicate(b"/start\nmenu\n1\n/quit\n")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    assert proc.returncode == 0, text
    for line in ("bot: Selamat datang di Pendamping, Siti.", "bot: Bagaimana usaha Anda?",
                 "> [Berjalan]", "bot (diedit): Tercatat: berjalan"):  # fmt: skip
        assert line in text, text
    assert "! no button" not in text, text


async def test_run_without_token_uses_an_embedded_sandbox(tmp_path):
    port = free_port()
    proc = await spawn(tmp_path, "run", "--sandbox-port", str(port))
    seen: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        first = await read_until(proc, "sandbox", seen)
        assert seen[0] == first and base in first
        async with httpx.AsyncClient(base_url=base) as client:
            await client.post("/_sandbox/users", json={"id": 1001, "first_name": "Siti"})
            # the bot may still be starting: wait until it polls
            await wait_for_polling(client)
            await client.post("/_sandbox/send", json={"user_id": 1001, "text": "/start"})
            async with asyncio.timeout(10):
                while not (messages := (await client.get("/_sandbox/chats/1001/messages", params={"wait": "1"})).json()):  # fmt: skip
                    pass
        assert "Selamat datang" in messages[0]["text"]
    finally:
        code = await stop(proc)
    assert code == 0, seen


async def test_run_with_api_url_uses_that_server(tmp_path):
    port = free_port()
    server = await spawn(tmp_path, "sandbox", "serve", "--port", str(port))
    seen: list[str] = []
    try:
        await read_until(server, "listening", seen)
        bot = await spawn(tmp_path, "run", "--api-url", f"http://127.0.0.1:{port}/bot")
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_for_polling(client)
        finally:
            assert await stop(bot) == 0
    finally:
        assert await stop(server) == 0


def test_sandbox_help_and_usage_errors(capsys):
    import pytest

    from bot.cli import main

    for args in (
        ["sandbox", "--help"],
        ["sandbox", "serve", "--help"],
        ["sandbox", "chat", "--help"],
    ):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0 and "usage" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main(["sandbox", "chat"])
    assert bad.value.code == 2 and "--as" in capsys.readouterr().err
    assert main(["sandbox"]) == 2
    assert main(["sandbox", "chat", "--as", "0"]) == 2
