"""The sandbox's state: Telegram as seen by one bot. Pure state and rules, no HTTP.

Both doors (the aiohttp server and the in-process BaseRequest) and the control API work on
one SandboxCore. Bot-side operations raise ApiError exactly as Telegram answers; control-side
operations (what a person or a test does) raise ControlError with a reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import mimetypes
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.sandbox.limits import RateLimits
from bot.sandbox.markup import command_entities, inline_buttons
from bot.sandbox.records import (
    DEFAULT_FAULT_TEXT,
    ApiError,
    CallRecord,
    ControlError,
    Fault,
    SandboxChat,
    SandboxUser,
    StoredFile,
    StoredMessage,
    chat_not_found,
    clone,
    image_size,
    load_bytes,
    too_many_requests,
)

DEFAULT_TOKEN = "123456:sandbox"
UPDATE_KINDS = ("message", "edited_message", "channel_post", "callback_query", "my_chat_member")

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "CallRecord",
    "ControlError",
    "SandboxChat",
    "SandboxCore",
    "StoredMessage",
    "chat_not_found",
    "clone",
    "too_many_requests",
]


class SandboxCore:
    """Users, chats, messages, updates, files, buttons, faults, limits and the call log."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "PendampingSandboxBot",
        bot_name: str = "Pendamping (sandbox)",
        now: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        call_log_size: int = 10_000,
    ) -> None:
        self.token = token
        try:
            self.bot_id = int(token.split(":", 1)[0])
        except ValueError:
            self.bot_id = 123456
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.now = now
        self.monotonic = monotonic
        self.calls: deque[CallRecord] = deque(maxlen=call_log_size)
        self.inflight = 0  # Bot API calls being answered (getUpdates excluded)
        self.call_count = 0  # Bot API calls started (getUpdates excluded)
        self.last_activity = monotonic()
        self._changed = asyncio.Event()
        self.closed = False
        self.version = 0  # bumped by every notify()
        self._reset_state()

    # -- state ------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self.users: dict[int, SandboxUser] = {}
        self.chats: dict[int, SandboxChat] = {}
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        # Per chat, in message-id order: reading one chat must not scan every chat's messages.
        self._chat_index: dict[int, list[StoredMessage]] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.updates: list[dict[str, Any]] = []  # not yet confirmed
        self.next_update_id = 1
        self.confirmed_below = 1  # every update_id below this was delivered and confirmed
        self.allowed_updates: list[str] | None = None
        self.skipped: set[int] = set()
        self.webhook: dict[str, Any] | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callback_queries: dict[str, dict[str, Any]] = {}  # id -> {user_id, answer}
        self.faults: dict[str, deque[Fault]] = {}
        self.enforce_limits = False
        self.limits = RateLimits(clock=self.monotonic)
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)
        self._poll_generation = 0
        self.calls.clear()

    def reset(self) -> None:
        """Forget everything (users, chats, messages, updates, files, faults, calls)."""
        self._reset_state()
        self.notify()

    def notify(self) -> None:
        """Wake whoever waits for a change (long polls, the webhook pusher, drivers)."""
        self.last_activity = self.monotonic()
        self.version += 1
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    async def wait_changed(self, seconds: float | None) -> bool:
        """Wait for the next change (or `seconds`); True if something changed."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.closed = True
        self.notify()

    # -- control side: people and chats ------------------------------------------------------

    def add_user(
        self,
        id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """Create (or update) a user and their private chat with the bot."""
        if isinstance(id, bool) or not isinstance(id, int) or id <= 0:
            raise ControlError("id: a user id is a positive whole number")
        if not isinstance(first_name, str) or not first_name.strip():
            raise ControlError("first_name: required")
        user = self.users.get(id)
        if user is None:
            user = self.users[id] = SandboxUser(id, first_name, username, last_name, language_code)
        else:
            user.first_name, user.username = first_name, username
            user.language_code, user.last_name = language_code, last_name
        if id not in self.chats:
            self.chats[id] = SandboxChat(id, "private", user=user)
        return user.to_api()

    def user(self, user_id: Any) -> SandboxUser:
        user = self.users.get(user_id) if isinstance(user_id, int) else None
        if user is None:
            raise ControlError(f"unknown user {user_id!r}: create it with POST /_sandbox/users")
        return user

    def add_group(self, id: int, title: str, members: list[int] | None = None) -> dict[str, Any]:
        """Create a group (negative id; -100... is a supergroup) with these members."""
        if isinstance(id, bool) or not isinstance(id, int) or id >= 0:
            raise ControlError("id: a group id is a negative whole number")
        if not isinstance(title, str) or not title.strip():
            raise ControlError("title: required")
        member_ids = list(members or [])
        for uid in member_ids:
            self.user(uid)
        kind = "supergroup" if id <= -1_000_000_000_000 else "group"
        chat = self.chats.get(id)
        joined = chat is None or chat.type == "channel" or chat.bot_removed
        if chat is None or chat.type == "channel":
            chat = self.chats[id] = SandboxChat(id, kind, title=title)
        chat.title = title
        chat.members.update(member_ids)
        chat.bot_removed = False
        if joined and member_ids:
            # Telegram tells the bot it was added (by the first member here).
            self._bot_membership(chat, member_ids[0], "left", "member")
        return chat.to_api()

    def remove_bot(self, group_id: int, by_user: int | None = None) -> dict[str, Any]:
        """Someone removes the bot: a my_chat_member update; sends there answer 403 from now."""
        chat = self.chats.get(group_id)
        if chat is None or chat.type not in ("group", "supergroup"):
            raise ControlError(f"unknown group {group_id!r}")
        if not chat.bot_removed:
            chat.bot_removed = True
            by = by_user if by_user is not None else min(chat.members, default=None)
            if by is not None:
                self._bot_membership(chat, by, "member", "kicked")
        return chat.to_api()

    def bot_leaves(self, chat_id: int) -> None:
        """The bot left the group itself (leaveChat): a my_chat_member 'left' update."""
        chat = self.chats[chat_id]
        chat.bot_removed = True
        by = min(chat.members, default=None)
        if by is not None and chat.type != "channel":
            self._bot_membership(chat, by, "member", "left")

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def _bot_membership(self, chat: SandboxChat, by: int, old: str, new: str) -> int:
        def member(status: str) -> dict[str, Any]:
            out: dict[str, Any] = {"status": status, "user": self.bot_user()}
            if status == "kicked":
                out["until_date"] = 0
            return out

        payload = {
            "chat": chat.to_api(),
            "from": self.user(by).to_api(),
            "date": int(self.now()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.push_update("my_chat_member", payload)

    def add_channel(self, id: int, title: str) -> dict[str, Any]:
        if isinstance(id, bool) or not isinstance(id, int) or id >= 0:
            raise ControlError("chat_id: a channel id is a negative whole number")
        chat = self.chats.get(id)
        if chat is None:
            chat = self.chats[id] = SandboxChat(id, "channel", title=title)
        return chat.to_api()

    def block(self, user_id: int, blocked: bool = True) -> dict[str, Any]:
        self.user(user_id).blocked = bool(blocked)
        return {"user_id": user_id, "blocked": bool(blocked)}

    # -- control side: what people do --------------------------------------------------------

    def _chat_for(self, user: SandboxUser, chat_id: int | None) -> SandboxChat:
        if chat_id is None or chat_id == user.id:
            return self.chats[user.id]
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None or chat.type == "channel":
            raise ControlError(f"unknown group {chat_id!r}")
        if user.id not in chat.members:
            raise ControlError(f"user {user.id} is not a member of group {chat_id}")
        return chat

    def _new_message(
        self, chat: SandboxChat, from_bot: bool, body: dict[str, Any]
    ) -> StoredMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data = {"message_id": message_id, **body}
        data.setdefault("date", int(self.now()))
        data["chat"] = chat.to_api()
        stored = StoredMessage(chat.id, message_id, from_bot, data)
        self.messages[(chat.id, message_id)] = stored
        self._chat_index.setdefault(chat.id, []).append(stored)
        return stored

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        if self.allowed_updates and kind not in self.allowed_updates:
            # Telegram never creates updates of kinds the bot did not ask for.
            self.skipped.add(update_id)
        else:
            self.updates.append({"update_id": update_id, kind: payload})
        self.notify()
        return update_id

    def store_file(
        self, data: bytes, kind: str, *, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        n = next(self._file_seq)
        ext = (
            Path(file_name).suffix
            if file_name
            else mimetypes.guess_extension(mime_type or "") or ""
        )
        folder = {"photo": "photos", "document": "documents", "voice": "voice"}.get(
            kind, kind + "s"
        )
        stored = StoredFile(
            file_id=f"SBX{kind[:2].upper()}{n:06d}{self.bot_id % 1000:03d}AgADsandbox",
            # Like Telegram: the same file keeps its file_unique_id on every upload or
            # forward (a reused photo is recognisable); file_id stays new per upload.
            file_unique_id="SBXU" + hashlib.sha256(data).hexdigest()[:12],
            data=data,
            file_path=f"{folder}/file_{n}{ext}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        """Telegram's ladder of sizes (thumbnail, medium, full); all share the stored bytes."""
        width, height = image_size(stored.data)
        sizes: list[dict[str, Any]] = []
        for i, side in enumerate((90, 320, 800)):
            scale = min(1.0, side / max(width, height, 1))
            sizes.append(
                {
                    "file_id": stored.file_id if side == 800 else f"{stored.file_id}_{i}",
                    "file_unique_id": f"{stored.file_unique_id}{i}",
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": len(stored.data),
                }
            )
        for size in sizes[:-1]:
            self.files.setdefault(size["file_id"], stored)
        return sizes

    def send(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        photo: Any = None,
        document: Any = None,
        voice: Any = None,
        sticker: Any = None,
        location: dict[str, float] | None = None,
        contact: dict[str, Any] | None = None,
        forward_text: str | None = None,
        forward_from: int | str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        reply_to: int | None = None,
    ) -> dict[str, int]:
        """The user sends a message (one kind); returns its update_id and message_id.

        reply_to: the id of a message in that chat this one answers (Telegram's "Reply")."""
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        given = {
            k: v
            for k, v in {
                "text": text, "photo": photo, "document": document, "voice": voice,
                "sticker": sticker, "location": location, "contact": contact,
                "forward_text": forward_text,
            }.items()
            if v is not None
        }  # fmt: skip
        if len(given) != 1:
            raise ControlError(
                "give exactly one of text, photo, document, voice, sticker, location, "
                "contact, forward_text"
            )
        ((kind, value),) = given.items()
        body: dict[str, Any] = {"from": user.to_api()}
        if kind in ("text", "forward_text"):
            if not isinstance(value, str) or not value:
                raise ControlError(f"{kind}: non-empty text required")
            body["text"] = value
            entities = command_entities(value) if kind == "text" else []
            if entities:
                body["entities"] = entities
            if kind == "forward_text":
                body["forward_origin"] = self._forward_origin(forward_from)
        elif kind == "photo":
            data, name = load_bytes(value, "photo")
            stored = self.store_file(
                data, "photo", file_name=name or "photo.jpg", mime_type="image/jpeg"
            )
            body["photo"] = self.photo_sizes(stored)
        elif kind == "document":
            data, name = load_bytes(value, "document")
            name = file_name or name or "document.bin"
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            stored = self.store_file(data, "document", file_name=name, mime_type=mime)
            body["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": name,
                "mime_type": mime,
                "file_size": len(data),
            }
        elif kind == "voice":
            data, _ = load_bytes(value, "voice")
            stored = self.store_file(data, "voice", file_name="voice.oga", mime_type="audio/ogg")
            body["voice"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": max(1, len(data) // 2000),
                "mime_type": "audio/ogg",
                "file_size": len(data),
            }
        elif kind == "sticker":
            data, _ = load_bytes(value, "sticker") if value not in (True, "") else (b"RIFF", None)
            stored = self.store_file(
                data, "sticker", file_name="sticker.webp", mime_type="image/webp"
            )
            body["sticker"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "\U0001f44d",
                "file_size": len(data),
            }
        elif kind == "location":
            try:
                lat = float(value.get("lat", value.get("latitude")))
                lon = float(value.get("lon", value.get("longitude")))
            except (AttributeError, TypeError, ValueError):
                raise ControlError('location: give {"lat": number, "lon": number}') from None
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ControlError("location: latitude/longitude out of range")
            body["location"] = {"latitude": lat, "longitude": lon}
        elif kind == "contact":
            if not isinstance(value, dict) or not value.get("phone_number"):
                raise ControlError('contact: give {"phone_number", "first_name"?, "user_id"?}')
            contact_out = {
                "phone_number": str(value["phone_number"]),
                "first_name": str(value.get("first_name") or user.first_name),
            }
            for key in ("last_name", "user_id"):
                if value.get(key) is not None:
                    contact_out[key] = value[key]
            body["contact"] = contact_out
        if caption is not None and kind in ("photo", "document", "voice"):
            body["caption"] = caption
        if reply_to is not None:
            target = self.messages.get((chat.id, reply_to))
            if target is None or target.deleted:
                raise ControlError(f"reply_to: no message {reply_to} in chat {chat.id}")
            body["reply_to_message"] = clone(target.data)
            body["reply_to_message"].pop("reply_to_message", None)
        message = self._new_message(chat, False, body)
        update_id = self.push_update("message", clone(message.data))
        return {"update_id": update_id, "message_id": message.message_id}

    def _forward_origin(self, forward_from: int | str | None) -> dict[str, Any]:
        date = int(self.now()) - 60
        if isinstance(forward_from, int) and forward_from in self.users:
            return {"type": "user", "date": date, "sender_user": self.users[forward_from].to_api()}
        name = forward_from if isinstance(forward_from, str) and forward_from else "Seseorang"
        return {"type": "hidden_user", "date": date, "sender_user_name": name}

    def edit(
        self, user_id: int, message_id: int, text: str, chat_id: int | None = None
    ) -> dict[str, int]:
        """The user edits an earlier text message: an edited_message update."""
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        stored = self.messages.get((chat.id, message_id)) if isinstance(message_id, int) else None
        if stored is None or stored.from_bot or stored.data.get("from", {}).get("id") != user.id:
            raise ControlError(f"user {user_id} has no message {message_id!r} in chat {chat.id}")
        if "text" not in stored.data:
            raise ControlError(f"message {message_id} has no text to edit")
        if not isinstance(text, str) or not text:
            raise ControlError("text: non-empty text required")
        stored.data["text"] = text
        stored.data.pop("entities", None)
        entities = command_entities(text)
        if entities:
            stored.data["entities"] = entities
        stored.data["edit_date"] = int(self.now())
        stored.edited = True
        update_id = self.push_update("edited_message", clone(stored.data))
        return {"update_id": update_id, "message_id": message_id}

    def channel_post(self, chat_id: int, text: str, title: str | None = None) -> dict[str, int]:
        """A post in a channel the bot is in (the channel is created if new)."""
        if not isinstance(text, str) or not text:
            raise ControlError("text: non-empty text required")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            self.add_channel(chat_id, title or f"Channel {chat_id}")
            chat = self.chats[chat_id]
        elif chat.type != "channel":
            raise ControlError(f"chat {chat_id} is not a channel")
        body: dict[str, Any] = {"sender_chat": chat.to_api(), "text": text}
        entities = command_entities(text)
        if entities:
            body["entities"] = entities
        message = self._new_message(chat, False, body)
        update_id = self.push_update("channel_post", clone(message.data))
        return {"update_id": update_id, "message_id": message.message_id}

    def press(
        self, user_id: int, message_id: int, data: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user presses an inline button; refused unless that message has it."""
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        stored = self.messages.get((chat.id, message_id)) if isinstance(message_id, int) else None
        if stored is None or not stored.from_bot or stored.deleted:
            raise ControlError(f"no bot message {message_id!r} in chat {chat.id}")
        datas = [b["callback_data"] for row in inline_buttons(stored.markup) for b in row]
        if data not in datas:
            raise ControlError(
                f"message {message_id} has no button with callback_data {data!r} "
                f"(it has {[d for d in datas if d]})"
            )
        query_id = f"{self.bot_id}{next(self._callback_seq):08d}"
        self.callback_queries[query_id] = {"user_id": user.id, "answer": None, "answered": False}
        payload = {
            "id": query_id,
            "from": user.to_api(),
            "message": clone(stored.data),
            "chat_instance": str(abs(chat.id) * 7 + self.bot_id),
            "data": data,
        }
        update_id = self.push_update("callback_query", payload)
        return {"update_id": update_id, "callback_query_id": query_id}

    def inject_callback(
        self, user_id: int, message_id: int | None, data: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A callback_query whatever the message's buttons: what a modified client can send.

        `press` refuses buttons that are not on the message (a normal client cannot press
        them); the hostile and access suites forge data through here. The message is the
        bot's message `message_id` if it exists (any buttons), else a bare stand-in.
        """
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        stored = self.messages.get((chat.id, message_id)) if isinstance(message_id, int) else None
        message = (
            clone(stored.data)
            if stored is not None
            else {"message_id": message_id or 1, "date": int(self.now()), "chat": chat.to_api(),
                  "text": "?"}
        )  # fmt: skip
        query_id = f"{self.bot_id}{next(self._callback_seq):08d}"
        self.callback_queries[query_id] = {"user_id": user.id, "answer": None, "answered": False}
        payload = {
            "id": query_id,
            "from": user.to_api(),
            "message": message,
            "chat_instance": str(abs(chat.id) * 7 + self.bot_id),
            "data": data,
        }
        update_id = self.push_update("callback_query", payload)
        return {"update_id": update_id, "callback_query_id": query_id}

    def chat_messages(self, chat_id: int, since: int = 0) -> list[dict[str, Any]]:
        """What the bot sent to that chat after message id `since`, in order, edits applied."""
        if chat_id not in self.chats:
            raise ControlError(f"unknown chat {chat_id!r}")
        return [
            m.view()
            for m in self._chat_index.get(chat_id, ())
            if m.message_id > since and m.from_bot and not m.deleted
        ]

    def add_fault(
        self,
        method: str,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """The next `count` calls of `method` fail with this status."""
        if not isinstance(method, str) or not method:
            raise ControlError("method: required")
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ControlError("status: an HTTP error status 400-599")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ControlError("count: a whole number >= 1")
        if status == 429:
            retry_after = int(retry_after or 1)
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or DEFAULT_FAULT_TEXT.get(status, "Internal Server Error")
        fault = Fault(status, description, retry_after, count)
        self.faults.setdefault(method.lower(), deque()).append(fault)
        return {"method": method, "status": status, "count": count, "retry_after": retry_after}

    def take_fault(self, method: str) -> ApiError | None:
        queue = self.faults.get(method.lower())
        if not queue:
            return None
        fault = queue[0]
        fault.count -= 1
        if fault.count <= 0:
            queue.popleft()
        params = {"retry_after": fault.retry_after} if fault.retry_after else None
        return ApiError(fault.status, fault.description, params)

    def set_limits(self, enforce: bool) -> dict[str, bool]:
        self.enforce_limits = bool(enforce)
        self.limits.reset()
        return {"enforce": self.enforce_limits}

    def chat_commands(self, chat_id: int, language_code: str = "") -> list[dict[str, str]]:
        """The "/" menu chat CHAT_ID sees, resolved as Telegram does: the chat's own scope, then
        all private (or all group) chats, then the default; each with the language, then
        without. (Administrator and chat_member scopes are not modelled.)"""
        chat = self.chats.get(chat_id)
        private = chat.type == "private" if chat is not None else chat_id > 0
        scopes = [
            {"type": "chat", "chat_id": chat_id},
            {"type": "all_private_chats" if private else "all_group_chats"},
            {"type": "default"},
        ]
        for scope in scopes:
            key = json.dumps(scope, sort_keys=True)
            for lang in dict.fromkeys((language_code or "", "")):
                if (key, lang) in self.commands:
                    return [dict(c) for c in self.commands[(key, lang)]]
        return []

    def call_log(self, method: str | None = None) -> list[dict[str, Any]]:
        wanted = method.lower() if method else None
        return [c.to_json() for c in self.calls if wanted is None or c.method.lower() == wanted]

    # -- helpers used by the Bot API side and the drivers -----------------------------------

    def delivered(self, update_id: int) -> bool:
        """True once the bot confirmed this update (next getUpdates offset, or webhook 2xx)."""
        return update_id < self.confirmed_below or update_id in self.skipped

    def confirm(self, offset: int) -> None:
        if offset > self.confirmed_below:
            self.confirmed_below = offset
        self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def pending(self) -> list[dict[str, Any]]:
        return self.updates

    def bot_messages(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self._chat_index.get(chat_id, ()) if m.from_bot and not m.deleted]


def _kind(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")
