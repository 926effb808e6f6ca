"""A conversational driver over the sandbox: the real bot against it, people who chat.

Used by the pytest fixtures (bot/sandbox/testing.py) and by `pendamping demo`, so it does not
import pytest. `send`/`press` return once the bot has finished handling that update
(see runner.settle).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.db import Database, open_migrated
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.request import SandboxRequest
from bot.sandbox.runner import settle, start_bot, stop_bot
from bot.sandbox.server import SandboxServer

Seed = Callable[[Database], Awaitable[Any]]


@dataclass
class Reply:
    """One message the bot sent, as a person sees it (edits applied)."""

    message_id: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    buttons: list[list[dict[str, Any]]] = field(default_factory=list)
    keyboard: list[list[str]] | None = None
    photo: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    voice: dict[str, Any] | None = None
    edited: bool = False

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> Reply:
        return cls(**{k: view[k] for k in cls.__dataclass_fields__ if k in view})

    @property
    def body(self) -> str:
        """The text or the caption, whichever the message has."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons or [] for b in row]

    def __contains__(self, needle: str) -> bool:
        return needle in self.body


class Conversation:
    """What is shared by a private chat and a group: reading what the bot sent there."""

    def __init__(self, sandbox: Sandbox, chat_id: int) -> None:
        self.sandbox = sandbox
        self.chat_id = chat_id

    @property
    def core(self) -> SandboxCore:
        return self.sandbox.core

    def replies(self, since: int = 0) -> list[Reply]:
        return [Reply.from_view(v) for v in self.core.chat_messages(self.chat_id, since)]

    async def messages(self, since: int = 0) -> list[Reply]:
        await self.sandbox.idle(outbox=True)
        return self.replies(since)

    async def last(self) -> Reply:
        """The newest message the bot sent in this chat (waits for the bot to be idle and
        for the outbox loop to have sent what was queued)."""
        await self.sandbox.idle(outbox=True)
        found = self.replies()
        if not found:
            raise AssertionError(f"the bot has sent nothing in chat {self.chat_id}")
        return found[-1]

    def _high_water(self) -> int:
        chat = self.core.chats[self.chat_id]
        return chat.next_message_id - 1

    def buttons(self) -> list[str]:
        """Labels of the inline buttons on the bot's last message (else the reply keyboard)."""
        found = self.replies()
        if not found:
            return []
        if found[-1].buttons:
            return found[-1].labels
        keyboard = self.keyboard()
        return [label for row in keyboard for label in row] if keyboard else []

    def keyboard(self) -> list[list[str]] | None:
        """The reply keyboard currently shown (None if none)."""
        for reply in reversed(self.replies()):
            if reply.keyboard is not None:
                return reply.keyboard or None
        return None


class ChatUser(Conversation):
    """A person in the sandbox: their private chat with the bot, and what they do."""

    def __init__(
        self, sandbox: Sandbox, user_id: int, first_name: str, phone: str | None = None
    ) -> None:
        super().__init__(sandbox, user_id)
        self.id = user_id
        self.first_name = first_name
        self.phone = phone  # what Telegram shares for a request_contact button

    def __repr__(self) -> str:
        return f"<ChatUser {self.id} {self.first_name}>"

    async def _do(self, result: dict[str, Any], chat_id: int, since: int) -> list[Reply]:
        await self.sandbox.idle(result["update_id"])
        return [Reply.from_view(v) for v in self.core.chat_messages(chat_id, since)]

    def _where(self, chat: Conversation | int | None) -> int | None:
        if chat is None:
            return None
        return chat.chat_id if isinstance(chat, Conversation) else chat

    async def send(
        self, text: str, *, chat: Conversation | int | None = None, reply_to: int | None = None
    ) -> list[Reply]:
        """Send a text (commands get bot_command entities); returns the bot's replies.
        reply_to: answer that message of the chat (Telegram's "Reply")."""
        if reply_to is not None:
            return await self._send(chat, text=text, reply_to=reply_to)
        return await self._send(chat, text=text)

    async def _send(self, chat: Conversation | int | None, **kind: Any) -> list[Reply]:
        chat_id = self._where(chat)
        result = self.core.send(self.id, chat_id=chat_id, **kind)
        return await self._do(result, chat_id or self.id, result["message_id"])

    async def send_photo(self, photo: Any, *, caption: str | None = None, chat: Any = None):
        return await self._send(chat, photo=_bytes_or_path(photo), caption=caption)

    async def send_document(
        self, document: Any, *, file_name: str | None = None, caption: str | None = None
    ) -> list[Reply]:
        return await self._send(
            None, document=_bytes_or_path(document), file_name=file_name, caption=caption
        )

    async def send_voice(self, voice: bytes = b"OggS" + b"\0" * 4000) -> list[Reply]:
        return await self._send(None, voice=voice)

    async def send_sticker(self, sticker: bytes = b"RIFF\0\0\0\0WEBP") -> list[Reply]:
        return await self._send(None, sticker=sticker)

    async def send_location(self, lat: float, lon: float) -> list[Reply]:
        return await self._send(None, location={"lat": lat, "lon": lon})

    async def send_contact(
        self, phone_number: str, first_name: str | None = None, *, own: bool = True
    ) -> list[Reply]:
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if own:
            contact["user_id"] = self.id
        return await self._send(None, contact=contact)

    async def forward(self, text: str, *, from_user: int | str | None = None) -> list[Reply]:
        return await self._send(None, forward_text=text, forward_from=from_user)

    async def edit(self, message_id: int, text: str) -> list[Reply]:
        since = self._high_water()
        result = self.core.edit(self.id, message_id, text)
        return await self._do(result, self.id, since)

    async def press(
        self,
        label: str,
        *,
        message_id: int | None = None,
        chat: Conversation | int | None = None,
    ) -> list[Reply]:
        """Press the button with this label (newest message having it, or message_id).

        An inline button sends a callback query; a reply-keyboard button sends its text.
        Returns the messages the bot sent or edited in reaction.
        """
        chat_id = self._where(chat) or self.id
        conv = self if chat_id == self.id else Conversation(self.sandbox, chat_id)
        await self.sandbox.idle()
        candidates = conv.replies()
        if message_id is not None:
            candidates = [r for r in candidates if r.message_id == message_id]
        for reply in reversed(candidates):
            for row in reply.buttons or []:
                for button in row:
                    if button["text"] == label and button.get("callback_data") is not None:
                        since = conv._high_water()
                        result = self.core.press(
                            self.id, reply.message_id, button["callback_data"],
                            None if chat_id == self.id else chat_id,
                        )  # fmt: skip
                        await self.sandbox.idle(result["update_id"])
                        self.last_callback_query_id = result["callback_query_id"]
                        changed = [
                            Reply.from_view(v)
                            for v in self.core.chat_messages(chat_id, 0)
                            if v["message_id"] > since or v["message_id"] == reply.message_id
                        ]
                        return changed
        keyboard = conv.keyboard() or []
        if any(label == key for row in keyboard for key in row):
            if chat_id == self.id and self._requests_contact(label):
                if self.phone is None:
                    raise AssertionError(f"{self!r} has no phone to share (sandbox.user(phone=))")
                return await self.send_contact(self.phone, self.first_name)
            return await self.send(label, chat=None if chat_id == self.id else chat_id)
        labels = [b for r in reversed(candidates) for b in r.labels] + [
            k for row in keyboard for k in row
        ]
        raise AssertionError(f"no button {label!r} in chat {chat_id}; buttons seen: {labels}")

    def _requests_contact(self, label: str) -> bool:
        """Whether the reply-keyboard button with this label is a request_contact button."""
        for stored in reversed(self.core.bot_messages(self.id)):
            rows = (stored.markup or {}).get("keyboard")
            if rows is None:
                if (stored.markup or {}).get("remove_keyboard"):
                    return False
                continue
            return any(
                isinstance(b, dict) and b.get("text") == label and b.get("request_contact")
                for row in rows
                for b in row
            )
        return False

    async def share_contact(self) -> list[Reply]:
        """Press the bot's 'share my phone number' button (request_contact): Telegram sends
        the person's own contact (their phone, their user_id)."""
        for row in self.keyboard() or []:
            for label in row:
                if self._requests_contact(label):
                    return await self.press(label)
        raise AssertionError(f"no request_contact button in {self!r}'s chat")

    def last_answer(self) -> str | None:
        """The text the bot answered the last pressed button with (a toast), if any."""
        query_id = getattr(self, "last_callback_query_id", None)
        if query_id is None:
            return None
        return self.core.callback_queries[query_id]["answer"]

    def block(self, blocked: bool = True) -> None:
        self.core.block(self.id, blocked)


class ChatGroup(Conversation):
    """A group chat with the bot in it."""

    def __init__(self, sandbox: Sandbox, chat_id: int, title: str) -> None:
        super().__init__(sandbox, chat_id)
        self.title = title

    async def send(self, user: ChatUser, text: str) -> list[Reply]:
        return await user.send(text, chat=self)

    def remove_bot(self) -> None:
        self.core.remove_bot(self.chat_id)


def _bytes_or_path(value: Any) -> Any:
    if isinstance(value, str | os.PathLike) and not isinstance(value, str):
        return Path(value)
    return value


class Sandbox:
    """The sandbox server, the real bot against it, and the driver."""

    def __init__(
        self,
        settings: Settings,
        clock: Any,
        *,
        token: str = DEFAULT_TOKEN,
        webhook: bool = False,
        rate_limiter: bool = True,
        door: str = "http",
        call_log_size: int = 10_000,
    ) -> None:
        if door not in ("http", "in_process"):
            raise ValueError("door is 'http' (loopback server) or 'in_process' (BaseRequest)")
        if webhook and door != "http":
            raise ValueError("webhook mode needs the http door")
        self.door = door
        self.settings = settings
        self.clock = clock
        self.token = token
        self.webhook = webhook
        self.rate_limiter = rate_limiter
        self.core = SandboxCore(
            token,
            bot_username=settings.bot_username,
            now=lambda: clock().timestamp(),
            call_log_size=call_log_size,
        )
        self.server = SandboxServer(self.core)
        self.app: Any = None
        self._users: dict[int, ChatUser] = {}

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def db(self) -> Database:
        """The bot's own Database (after start)."""
        if self.app is None:
            raise RuntimeError("the bot is not running")
        return self.app.bot_data["db"]

    async def seed(self, seed: Seed) -> None:
        """Run seed(db) on the bot's database before the bot starts."""
        db = await open_migrated(self.settings.database, self.clock())
        try:
            await seed(db)
        finally:
            await db.close()

    async def start(self) -> Sandbox:
        await self.server.start()
        self.core.closed = False
        await self.start_bot()
        return self

    async def start_bot(self) -> None:
        in_process = self.door == "in_process"
        self.app = await start_bot(
            self.settings,
            token=self.token,
            base_url=None if in_process else self.server.bot_base_url,
            request=(lambda: SandboxRequest(self.core)) if in_process else None,
            clock=self.clock,
            rate_limiter=self.rate_limiter,
            webhook=self.webhook,
        )

    async def stop_bot(self) -> None:
        if self.app is not None:
            await stop_bot(self.app)
            self.app = None

    async def restart_bot(self) -> None:
        """Stop the Application and start a new one against the same database."""
        await self.idle()
        await self.stop_bot()
        await self.start_bot()

    async def stop(self) -> None:
        await self.stop_bot()
        await self.server.stop()

    async def idle(
        self, update_id: int | None = None, within: float = 10.0, *, outbox: bool = False
    ) -> None:
        """Wait until the bot has handled update_id (if given) and is quiet; with outbox, also
        until the outbox loop's pass is over (what the handlers queued has been sent)."""
        if self.app is None:
            return
        await settle(self.core, self.app, update_id, within=within)
        if not outbox:
            return
        # A pass that only talks to the database makes no Bot API call for settle() to see.
        sender = self.app.bot_data.get("sender")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while sender is not None and getattr(sender, "busy", False) and loop.time() < deadline:
            await asyncio.sleep(0.005)
            if not sender.busy:
                await settle(self.core, self.app, None, within=max(0.1, deadline - loop.time()))

    async def user(
        self,
        user_id: int,
        first_name: str = "Pengguna",
        *,
        username: str | None = None,
        language_code: str | None = "id",
        phone: str | None = None,
    ) -> ChatUser:
        self.core.add_user(user_id, first_name, username=username, language_code=language_code)
        chat_user = self._users[user_id] = ChatUser(self, user_id, first_name, phone)
        return chat_user

    async def group(
        self, chat_id: int, title: str = "Grup", members: list[ChatUser] | None = None
    ) -> ChatGroup:
        self.core.add_group(chat_id, title, [m.id for m in members or []])
        return ChatGroup(self, chat_id, title)

    async def channel_post(self, chat_id: int, text: str) -> list[Reply]:
        result = self.core.channel_post(chat_id, text)
        await self.idle(result["update_id"])
        return [Reply.from_view(v) for v in self.core.chat_messages(chat_id, result["message_id"])]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return self.core.call_log(method)

    def menu(self, chat_id: int) -> list[str]:
        """The command names of the "/" menu that chat CHAT_ID sees, in order."""
        return [c["command"] for c in self.core.chat_commands(chat_id)]
