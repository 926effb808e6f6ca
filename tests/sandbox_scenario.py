"""A scenario touching every Bot API method and update kind of the sandbox, through PTB's Bot.

Used by the shape test (every result checked against the pinned spec) and the door tests.
"""

from __future__ import annotations

import json
import struct
import zlib
from contextlib import asynccontextmanager
from typing import Any

from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.request import HTTPXRequest

from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.request import SandboxRequest
from bot.sandbox.server import SandboxServer


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid PNG (grey pixels) of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Captured:
    """(method, status, payload) of every answer the bot got."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, int, dict[str, Any]]] = []

    def add(self, url: str, status: int, body: bytes) -> None:
        if "/file/bot" in url:
            return
        self.answers.append((url.rsplit("/", 1)[-1], status, json.loads(body)))


class CapturingSandboxRequest(SandboxRequest):
    def __init__(self, core: SandboxCore, captured: Captured) -> None:
        super().__init__(core)
        self.captured = captured

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        self.captured.add(url, status, body)
        return status, body


class CapturingHTTPXRequest(HTTPXRequest):
    def __init__(self, captured: Captured) -> None:
        super().__init__()
        self.captured = captured

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        self.captured.add(url, status, body)
        return status, body


@asynccontextmanager
async def sandbox_bot(door: str, core: SandboxCore | None = None):
    """(core, bot, captured) with the bot talking to the core through `door`."""
    core = core or SandboxCore()
    captured = Captured()
    server = None
    if door == "http":
        server = SandboxServer(core)
        await server.start()
        bot = Bot(
            DEFAULT_TOKEN,
            base_url=server.bot_base_url,
            base_file_url=server.url + "/file/bot",
            request=CapturingHTTPXRequest(captured),
            get_updates_request=CapturingHTTPXRequest(captured),
        )
    else:
        request = CapturingSandboxRequest(core, captured)
        bot = Bot(DEFAULT_TOKEN, request=request, get_updates_request=request)
    await bot.initialize()
    try:
        yield core, bot, captured
    finally:
        await bot.shutdown()
        if server is not None:
            await server.stop()


async def run_everything(core: SandboxCore, bot: Bot) -> dict[str, Any]:
    """Call every method and create every update kind; return what was seen."""
    core.add_user(1001, "Siti", username="siti_t", language_code="id")
    core.add_user(1002, "Budi")
    core.add_group(-4001, "Kelompok Tata Boga", [1001, 1002])
    core.add_channel(-1009001, "Info Dinsos")
    seen: dict[str, Any] = {}

    await bot.get_me()
    await bot.set_my_commands([BotCommand("start", "Mulai"), BotCommand("bantuan", "Bantuan")])
    seen["commands"] = await bot.get_my_commands()
    await bot.delete_my_commands()
    await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
    seen["webhook"] = await bot.get_webhook_info()
    await bot.delete_webhook()
    await bot.get_webhook_info()

    core.send(1001, "/start abc")
    core.send(1001, photo=tiny_png(40, 30), caption="foto usaha")
    core.send(1001, document=b"a,b\n1,2\n", file_name="data.csv")
    core.send(1001, voice=b"OggS" + b"\0" * 3000)
    core.send(1001, sticker=b"RIFF\0\0\0\0WEBP")
    core.send(1001, location={"lat": -6.98, "lon": 109.14})
    core.send(
        1001, contact={"phone_number": "+6281234567890", "first_name": "Siti", "user_id": 1001}
    )
    core.send(1001, forward_text="Info dari kantor", forward_from=1002)
    core.send(1001, forward_text="Info lain", forward_from="Petugas")
    first = core.send(1001, "halo")
    core.edit(1001, first["message_id"], "halo lagi")
    core.send(1002, "/bantuan@PendampingSandboxBot", chat_id=-4001)
    core.channel_post(-1009001, "Pengumuman")

    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Berjalan", callback_data="rep:ok")],
         [InlineKeyboardButton("Situs", url="https://example.org")]]
    )  # fmt: skip
    sent = await bot.send_message(1001, "Bagaimana usaha Anda?", reply_markup=keyboard)
    core.press(1001, sent.message_id, "rep:ok")
    updates = await bot.get_updates(timeout=0)
    seen["updates"] = updates
    kinds = {_kind(u) for u in updates}
    seen["kinds"] = kinds
    query = next(u.callback_query for u in updates if u.callback_query)
    await bot.answer_callback_query(query.id, text="Tercatat")
    photo_update = next(u for u in updates if u.message and u.message.photo)
    tg_file = await bot.get_file(photo_update.message.photo[-1].file_id)
    seen["downloaded"] = bytes(await tg_file.download_as_bytearray())
    await bot.edit_message_text("Terima kasih", 1001, sent.message_id, reply_markup=keyboard)
    await bot.edit_message_reply_markup(1001, sent.message_id, reply_markup=None)
    await bot.send_message(1001, "<b>Tebal</b> &amp; biasa", parse_mode="HTML")
    seen["photo_msg"] = await bot.send_photo(1001, tiny_png(), caption="grafik")
    await bot.edit_message_caption(1001, seen["photo_msg"].message_id, caption="grafik baru")
    seen["doc_msg"] = await bot.send_document(1001, b"isi laporan", filename="laporan.txt")
    await bot.send_photo(1001, seen["photo_msg"].photo[-1].file_id)
    voice_update = next(u for u in updates if u.message and u.message.voice)
    await bot.send_voice(1001, voice_update.message.voice.file_id, caption="pesan suara")
    await bot.send_location(1001, -6.9, 109.1)
    await bot.send_chat_action(1001, "typing")
    await bot.send_message(-4001, "Halo grup")
    await bot.leave_chat(-4001)
    gone = await bot.send_message(1001, "sementara")
    await bot.delete_message(1001, gone.message_id)
    await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    return seen


def _kind(update: Update) -> str:
    return next(k for k in update.to_dict() if k != "update_id")
