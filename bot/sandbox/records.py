"""The sandbox's records: errors, users, chats, messages, files, faults, calls; media helpers."""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox.markup import inline_buttons, reply_keyboard


class ApiError(Exception):
    """A Bot API error answer: {"ok": false, "error_code", "description", "parameters"}."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            out["parameters"] = self.parameters
        return out


class ControlError(ValueError):
    """A control request that cannot be done (unknown user, no such button, bad input)."""


def clone(value: Any) -> Any:
    """A deep copy of JSON data (much faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


def chat_not_found() -> ApiError:
    return ApiError(400, "Bad Request: chat not found")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


DEFAULT_FAULT_TEXT = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class SandboxUser:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    blocked: bool = False

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class SandboxChat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    user: SandboxUser | None = None
    members: set[int] = field(default_factory=set)
    bot_removed: bool = False
    next_message_id: int = 1

    def to_api(self) -> dict[str, Any]:
        if self.type == "private" and self.user is not None:
            out: dict[str, Any] = {"id": self.id, "type": "private"}
            out["first_name"] = self.user.first_name
            if self.user.last_name:
                out["last_name"] = self.user.last_name
            if self.user.username:
                out["username"] = self.user.username
            return out
        return {"id": self.id, "type": self.type, "title": self.title or str(self.id)}


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    from_bot: bool
    data: dict[str, Any]  # the Message object as the API shows it
    markup: dict[str, Any] | None = None
    edited: bool = False
    deleted: bool = False
    parse_mode: str | None = None
    raw_text: str | None = None  # the text or caption as the bot sent it, markup included
    # editMessageText in order: {"before", "after", "date", "after_message_id"} (the chat's
    # newest message id when the edit came), so a transcript can show what people saw when
    edits: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        """The control API's summary of a message the bot sent."""
        d = self.data
        out: dict[str, Any] = {"message_id": self.message_id}
        if "text" in d:
            out["text"] = d["text"]
        if "caption" in d:
            out["caption"] = d["caption"]
        out["parse_mode"] = self.parse_mode
        out["buttons"] = inline_buttons(self.markup)
        keyboard = reply_keyboard(self.markup)
        if keyboard is not None:
            out["keyboard"] = keyboard
        if "photo" in d:
            out["photo"] = d["photo"][-1]
        if "document" in d:
            out["document"] = d["document"]
        if "voice" in d:
            out["voice"] = d["voice"]
        out["edited"] = self.edited
        return out


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class Fault:
    status: int
    description: str
    retry_after: int | None
    count: int


@dataclass
class CallRecord:
    method: str
    params: dict[str, Any]
    started_at: float  # epoch seconds
    duration_ms: float = 0.0
    status: int = 200
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
            "error": self.error,
        }


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (a default for anything else)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
    return 1280, 960


def load_bytes(value: Any, what: str) -> tuple[bytes, str | None]:
    """Bytes from bytes, a Path/file path, or base64 text; also the file name if known."""
    if isinstance(value, bytes | bytearray):
        return bytes(value), None
    if isinstance(value, Path) or (isinstance(value, str) and os.path.isfile(value)):
        path = Path(value)
        try:
            return path.read_bytes(), path.name
        except OSError as exc:
            raise ControlError(f"{what}: cannot read {path} ({exc.strerror})") from None
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True), None
        except (binascii.Error, ValueError):
            pass
        raise ControlError(f"{what}: not a readable file path nor base64 bytes")
    raise ControlError(f"{what}: give a file path or base64 bytes")
