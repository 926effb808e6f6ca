"""The control API under /_sandbox/: JSON over HTTP onto the same SandboxCore methods."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.sandbox.core import ControlError, SandboxCore

Handler = Callable[[SandboxCore, dict[str, Any]], Any]


def _json(body: dict[str, Any], key: str) -> Any:
    """The value as sent (None when absent): the core checks its type and answers with the key."""
    return body.get(key)


def _int(body: dict[str, Any], key: str) -> int:
    value = _opt_int(body, key)
    if value is None:
        raise ControlError(f"{key}: required")
    return value


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(f"{key}: a whole number is needed, got {value!r}")
    return value


def _users(core: SandboxCore, b: dict[str, Any]) -> Any:
    return core.add_user(
        _int(b, "id"),
        _json(b, "first_name"),
        username=b.get("username"),
        language_code=b.get("language_code"),
        last_name=b.get("last_name"),
    )


_SEND_KINDS = (
    "text",
    "photo",
    "document",
    "voice",
    "sticker",
    "location",
    "contact",
    "forward_text",
)


def _send(core: SandboxCore, b: dict[str, Any]) -> Any:
    kwargs = {k: b[k] for k in _SEND_KINDS if b.get(k) is not None}
    for key in ("caption", "file_name", "forward_from"):
        if b.get(key) is not None:
            kwargs[key] = b[key]
    if b.get("reply_to") is not None:
        kwargs["reply_to"] = _int(b, "reply_to")
    return core.send(_int(b, "user_id"), chat_id=_opt_int(b, "chat_id"), **kwargs)


def _edit(core: SandboxCore, b: dict[str, Any]) -> Any:
    return core.edit(
        _int(b, "user_id"), _int(b, "message_id"), _json(b, "text"), _opt_int(b, "chat_id")
    )


def _groups(core: SandboxCore, b: dict[str, Any]) -> Any:
    group_id = _int(b, "id")
    if b.get("bot_removed"):
        return core.remove_bot(group_id)
    members = b.get("members") or []
    if not isinstance(members, list):
        raise ControlError("members: a list of user ids")
    return core.add_group(group_id, _json(b, "title"), [_int({"m": m}, "m") for m in members])


def _channel_post(core: SandboxCore, b: dict[str, Any]) -> Any:
    return core.channel_post(_int(b, "chat_id"), _json(b, "text"), _json(b, "title"))


def _press(core: SandboxCore, b: dict[str, Any]) -> Any:
    data = b.get("data")
    if not isinstance(data, str):
        raise ControlError("data: the button's callback_data is required")
    return core.press(_int(b, "user_id"), _int(b, "message_id"), data, _opt_int(b, "chat_id"))


def _block(core: SandboxCore, b: dict[str, Any]) -> Any:
    return core.block(_int(b, "user_id"), bool(b.get("blocked", True)))


def _faults(core: SandboxCore, b: dict[str, Any]) -> Any:
    return core.add_fault(
        _json(b, "method"),
        _int(b, "status"),
        count=_opt_int(b, "count") or 1,
        retry_after=_opt_int(b, "retry_after"),
        description=b.get("description"),
    )


def _limits(core: SandboxCore, b: dict[str, Any]) -> Any:
    if not isinstance(b.get("enforce"), bool):
        raise ControlError("enforce: true or false")
    return core.set_limits(b["enforce"])


def _reset(core: SandboxCore, b: dict[str, Any]) -> Any:
    core.reset()
    return {"reset": True}


POST_ROUTES: dict[str, Handler] = {
    "users": _users,
    "send": _send,
    "edit": _edit,
    "groups": _groups,
    "channel_post": _channel_post,
    "press": _press,
    "block": _block,
    "faults": _faults,
    "limits": _limits,
    "reset": _reset,
}


def _error(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def _post_handler(core: SandboxCore, fn: Handler) -> Callable[[web.Request], Awaitable]:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _error(f"malformed JSON: {exc}")
        if not isinstance(body, dict):
            return _error("malformed JSON: expected an object")
        try:
            return web.json_response(fn(core, body))
        except ControlError as exc:
            return _error(str(exc))
        except TypeError as exc:
            return _error(f"bad request: {exc}")

    return handle


def add_control_routes(app: web.Application, core: SandboxCore) -> None:
    for name, fn in POST_ROUTES.items():
        app.router.add_post(f"/_sandbox/{name}", _post_handler(core, fn))

    async def messages(request: web.Request) -> web.StreamResponse:
        try:
            chat_id = int(request.match_info["chat_id"])
            since = int(request.query.get("since", "0"))
            wait = float(request.query.get("wait", "0"))
            version = int(request.query.get("version", "-1"))
        except ValueError:
            return _error("chat_id, since, wait and version must be numbers")
        try:
            core.chat_messages(chat_id, since)
            if wait > 0 and version == core.version:
                # a long poll (terminal chat): answer at the first change after `version`
                await core.wait_changed(min(wait, 30.0))
            headers = {"X-Sandbox-Version": str(core.version)}
            return web.json_response(core.chat_messages(chat_id, since), headers=headers)
        except ControlError as exc:
            return _error(str(exc))

    async def calls(request: web.Request) -> web.StreamResponse:
        return web.json_response(core.call_log(request.query.get("method")))

    async def callback(request: web.Request) -> web.StreamResponse:
        query = core.callback_queries.get(request.match_info["query_id"])
        if query is None:
            return _error("unknown callback query")
        return web.json_response(query)

    async def update(request: web.Request) -> web.StreamResponse:
        """Whether the bot has taken an update (confirmed by its next getUpdates offset or a
        2xx from its webhook): the terminal chat waits on it when input is piped."""
        try:
            update_id = int(request.match_info["update_id"])
        except ValueError:
            return _error("update_id must be a number")
        return web.json_response({"update_id": update_id, "delivered": core.delivered(update_id)})

    async def chat_commands(request: web.Request) -> web.StreamResponse:
        """The "/" menu a chat sees (its own scope, else the broader ones), as Telegram does."""
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            return _error("chat_id must be a number")
        return web.json_response(
            core.chat_commands(chat_id, request.query.get("language_code", ""))
        )

    app.router.add_get("/_sandbox/chats/{chat_id}/messages", messages)
    app.router.add_get("/_sandbox/chats/{chat_id}/commands", chat_commands)
    app.router.add_get("/_sandbox/updates/{update_id}", update)
    app.router.add_get("/_sandbox/calls", calls)
    app.router.add_get("/_sandbox/callbacks/{query_id}", callback)
