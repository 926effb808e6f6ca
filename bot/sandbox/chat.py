"""`pendamping sandbox chat`: a person's Telegram chat in the terminal, against a sandbox.

Messages from the bot are printed as they arrive (edits shown again, marked), inline buttons as
a numbered list: typing the number presses the button, unless the question asks for a number
(it offers number buttons, or only Kembali/Lewati/Lebih): then the number is sent as text.
`/tekan N` (or `/press N`) always presses button N. `/photo PATH` sends a picture,
`/contact PHONE` shares the person's own number (what the request_contact button sends),
`/quit` (or end of input) leaves. Everything goes through the control API over HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
from pathlib import Path
from typing import Any, TextIO

import aiohttp

QUIET = 0.5  # seconds without a change in the sandbox that count as "the bot has answered"
HELP = (
    "Type a message. A number presses a button (a number question gets it as text; "
    "/tekan N always presses button N), /photo PATH sends a picture, /contact PHONE shares "
    "your own number (the 'share my phone number' button), /quit leaves."
)
# Buttons that only move around a question (back, skip, "more than 10"): a question showing
# nothing else asks for something typed, such as a number.
NAVIGATION = (":!prev", ":_skip", ":_more")


class TerminalChat:
    def __init__(
        self,
        url: str,
        user_id: int,
        name: str,
        *,
        out: TextIO = sys.stdout,
        username: str | None = None,
        settle: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        if self.url.endswith("/bot"):
            self.url = self.url[: -len("/bot")]
        self.user_id = user_id
        self.name = name
        self.username = username
        self.out = out
        # Piped input arrives all at once: wait for the bot's answer to each line before the
        # next (a button number needs its buttons; /quit must not cut the last answers off).
        self.settle = settle
        self.seen: dict[int, tuple[Any, ...]] = {}
        self.buttons: list[tuple[int, dict[str, Any]]] = []  # (message_id, button)
        self.keyboard: list[str] = []
        self.version = -1  # the sandbox's change counter at our last look
        self._tasks: set[asyncio.Task] = set()  # waiting for pressed buttons' answers
        self._session: aiohttp.ClientSession | None = None

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        assert self._session is not None
        async with self._session.post(f"{self.url}/_sandbox/{path}", json=body) as resp:
            data = await resp.json()
            if resp.status != 200:
                self.say(f"! {data.get('error', resp.status)}")
                return None
            return data

    async def run(self, lines: Any) -> int:
        """Chat until /quit or the end of `lines` (an async iterator of input lines)."""
        async with aiohttp.ClientSession() as session:
            self._session = session
            try:
                user = {"id": self.user_id, "first_name": self.name, "language_code": "id"}
                if self.username:
                    user["username"] = self.username
                if await self._post("users", user) is None:
                    return 1
            except aiohttp.ClientError as exc:
                self.say(f"cannot reach the sandbox at {self.url}: {exc}")
                return 1
            self.say(f"Chatting as {self.name} ({self.user_id}) at {self.url}. {HELP}")
            await self._refresh()
            watcher = asyncio.create_task(self._watch())
            try:
                async for raw in lines:
                    line = raw.strip()
                    if not line:
                        continue
                    if line == "/quit":
                        break
                    await self._handle(line)
            finally:
                for task in self._tasks:
                    task.cancel()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                # show what arrived in answer to the last line before leaving
                await self._refresh()
        return 0

    def _asks_number(self) -> bool:
        """The shown question wants a number typed: it offers number buttons (pressing "5" and
        typing 5 mean the same), or only navigation buttons (an amount, a count)."""
        labels = [b["text"].strip() for _, b in self.buttons]
        if any(label.isdigit() for label in labels):
            return True
        data = [b.get("callback_data") or "" for _, b in self.buttons]
        return bool(data) and all(d.endswith(NAVIGATION) for d in data)

    async def _handle(self, line: str) -> None:
        command, _, arg = line.partition(" ")
        if command in ("/tekan", "/press"):
            if not arg.strip().isdigit():
                self.say(f"! {command} N presses button N, for example {command} 1")
                return
            await self._press(arg.strip())
        elif line.isdigit() and self.buttons and not self._asks_number():
            await self._press(line)
        elif line.startswith("/contact"):
            phone = line[len("/contact") :].strip()
            if not phone:
                self.say("! /contact PHONE, e.g. /contact 081234567890")
                return
            self.say(f"> (contact {phone})")
            contact = {"phone_number": phone, "user_id": self.user_id}
            await self._settle(
                await self._post("send", {"user_id": self.user_id, "contact": contact})
            )
        elif line.startswith("/photo"):
            await self._photo(line)
        else:
            await self._settle(await self._post("send", {"user_id": self.user_id, "text": line}))

    async def _press(self, number: str) -> None:
        if not self.buttons:
            self.say("! no buttons to press")
            return
        index = int(number) - 1
        if not 0 <= index < len(self.buttons):
            self.say(f"! no button {number} (1-{len(self.buttons)})")
            return
        message_id, button = self.buttons[index]
        if button.get("callback_data") is None:
            self.say(f"(link: {button.get('url', '-')})")
            return
        self.say(f"> [{button['text']}]")
        body = {"user_id": self.user_id, "message_id": message_id}
        pressed = await self._post("press", {**body, "data": button["callback_data"]})
        if pressed:
            query_id = pressed["callback_query_id"]
            self._tasks.add(asyncio.create_task(self._show_answer(query_id)))
            await self._settle(pressed)

    async def _photo(self, line: str) -> None:
        path = Path(line[len("/photo") :].strip()).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            self.say(f"! cannot read {path}: {exc.strerror}")
            return
        self.say(f"> (photo {path.name})")
        photo = base64.b64encode(data).decode()
        await self._settle(await self._post("send", {"user_id": self.user_id, "photo": photo}))

    async def _settle(self, sent: dict[str, Any] | None, within: float = 15.0) -> None:
        """With `settle`: wait until the bot took the update, then until the chat has been
        quiet for QUIET seconds (or `within` passed), showing what arrived."""
        if not self.settle or sent is None:
            return
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        url = f"{self.url}/_sandbox/updates/{sent['update_id']}"
        while loop.time() < deadline:
            async with self._session.get(url) as resp:
                if resp.status != 200 or (await resp.json()).get("delivered"):
                    break
            await asyncio.sleep(0.05)
        quiet_since = loop.time()
        while loop.time() < deadline and loop.time() - quiet_since < QUIET:
            version = self.version
            await self._refresh(wait=QUIET)
            if self.version != version:
                quiet_since = loop.time()

    async def _watch(self) -> None:
        while True:
            try:
                await self._refresh(wait=10)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(1)

    async def _refresh(self, wait: float = 0) -> None:
        assert self._session is not None
        url = f"{self.url}/_sandbox/chats/{self.user_id}/messages"
        params = {"since": "0", "wait": str(wait), "version": str(self.version)}
        async with self._session.get(url, params=params) as resp:
            if resp.status != 200:
                await asyncio.sleep(wait / 10)
                return
            self.version = int(resp.headers.get("X-Sandbox-Version", "-1"))
            messages = await resp.json()
        for message in messages:
            key = (
                message.get("text"),
                message.get("caption"),
                repr(message.get("buttons")),
                message.get("edited"),
            )
            if self.seen.get(message["message_id"]) == key:
                continue
            edited = message["message_id"] in self.seen
            self.seen[message["message_id"]] = key
            self._show(message, edited)

    async def _show_answer(self, query_id: str) -> None:
        """A pressed button's answer: Telegram shows it as a toast; here as '(text)'."""
        assert self._session is not None
        for _ in range(100):  # Telegram gives the bot about 15 s to answer
            async with self._session.get(f"{self.url}/_sandbox/callbacks/{query_id}") as resp:
                if resp.status != 200:
                    return
                query = await resp.json()
            if query.get("answered"):
                if query.get("answer"):
                    self.say(f"  ({query['answer']})")
                return
            await asyncio.sleep(0.15)

    def _show(self, message: dict[str, Any], edited: bool) -> None:
        mark = " (diedit)" if edited else ""
        body = message.get("text") or message.get("caption") or ""
        if message.get("photo"):
            body = f"[foto] {body}".rstrip()
        if message.get("document"):
            body = f"[dokumen {message['document'].get('file_name', '')}] {body}".rstrip()
        lines = body.splitlines() or [""]
        self.say(f"bot{mark}: {lines[0]}")
        for extra in lines[1:]:
            self.say(f"     {extra}")
        buttons = [b for row in message.get("buttons") or [] for b in row]
        if buttons:
            self.buttons = [(message["message_id"], b) for b in buttons]
            for i, button in enumerate(buttons, 1):
                self.say(f"  {i}. {button['text']}")
        elif self.buttons and self.buttons[0][0] == message["message_id"]:
            self.buttons = []
        keyboard = message.get("keyboard")
        if keyboard:
            self.say("  keyboard: " + " | ".join(k for row in keyboard for k in row))


async def stdin_lines(stream: TextIO = sys.stdin):
    """Lines from a blocking stream, read in a thread so the watcher keeps printing."""
    while True:
        line = await asyncio.to_thread(stream.readline)
        if not line:
            return
        yield line
