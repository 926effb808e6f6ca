"""The Bot API methods on a SandboxCore, answering exactly as Telegram does.

Both doors call `call_method(core, token, method, params, files)`; params come either typed
(JSON bodies) or as form strings (PTB sends JSON-encoded values in form fields), so
`coerce_form` turns known parameters back into their types first.
"""

from __future__ import annotations

import json
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.core import (
    ApiError,
    CallRecord,
    SandboxChat,
    SandboxCore,
    StoredMessage,
    chat_not_found,
    clone,
    too_many_requests,
)
from bot.sandbox.markup import MarkupError, check_text, parse_reply_markup

MAX_POLL_SECONDS = 50.0

JSON_PARAMS = {
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates",
    "link_preview_options", "reply_parameters", "media",
}  # fmt: skip
INT_PARAMS = {
    "chat_id", "message_id", "offset", "limit", "timeout", "cache_time", "max_connections",
    "reply_to_message_id", "message_thread_id", "from_chat_id", "duration", "width", "height",
}  # fmt: skip
FLOAT_PARAMS = {"latitude", "longitude"}
BOOL_PARAMS = {
    "drop_pending_updates", "show_alert", "disable_notification", "protect_content",
    "allow_sending_without_reply", "disable_web_page_preview", "has_spoiler",
    "disable_content_type_detection", "allow_paid_broadcast", "show_caption_above_media",
}  # fmt: skip
SEND_METHODS = {"sendmessage", "sendphoto", "senddocument", "sendlocation", "sendvoice"}


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    mime_type: str | None = None


def coerce_form(params: dict[str, Any]) -> dict[str, Any]:
    """Form fields are strings; give known parameters back their JSON types."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not isinstance(value, str):
            out[key] = value
        elif key in JSON_PARAMS:
            try:
                out[key] = json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        elif key in INT_PARAMS:
            try:
                out[key] = int(value)
            except ValueError:
                out[key] = value  # e.g. chat_id "@channelusername"
        elif key in FLOAT_PARAMS:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
        elif key in BOOL_PARAMS:
            out[key] = value.lower() in ("true", "1")
        else:
            out[key] = value
    return out


Handler = Callable[[SandboxCore, dict[str, Any], dict[str, Upload]], Any]
METHODS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn

    return wrap


METHOD_INDEX: dict[str, str] = {}


async def call_method(
    core: SandboxCore,
    token: str,
    method_name: str,
    params: dict[str, Any],
    files: dict[str, Upload] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer one Bot API call: (HTTP status, JSON payload)."""
    if token != core.token:
        return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
    if not METHOD_INDEX:
        METHOD_INDEX.update({n.lower(): n for n in METHODS})
    name = METHOD_INDEX.get(method_name.lower())
    if name is None:
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
    files = files or {}
    try:
        typed = coerce_form(params)
        bad_params = None
    except ApiError as exc:
        typed, bad_params = params, exc
    record = CallRecord(name, _loggable(typed, files), core.now())
    core.calls.append(record)
    polling = name == "getUpdates"
    if not polling:
        core.inflight += 1
        core.call_count += 1
        core.notify()
    started = time.perf_counter()
    try:
        fault = core.take_fault(name)
        if fault is not None:
            raise fault
        if bad_params is not None:
            raise bad_params
        result = METHODS[name](core, typed, files)
        if isinstance(result, Awaitable):
            result = await result
        status, payload = 200, {"ok": True, "result": result}
    except ApiError as exc:
        status, payload = exc.status, exc.payload()
    except MarkupError as exc:
        status, payload = 400, ApiError(400, str(exc)).payload()
    finally:
        record.duration_ms = (time.perf_counter() - started) * 1000
        if not polling:
            core.inflight -= 1
            core.notify()
    record.status = status
    if status != 200:
        record.error = payload["description"]
    return status, payload


def _loggable(params: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    out = dict(params)
    for name, upload in files.items():
        out[name] = {"file": upload.filename, "size": len(upload.data)}
    return out


# -- helpers ------------------------------------------------------------------------------


def _require(p: dict[str, Any], key: str, description: str) -> Any:
    value = p.get(key)
    if value is None or value == "":
        raise ApiError(400, description)
    return value


def _chat(core: SandboxCore, p: dict[str, Any]) -> SandboxChat:
    chat_id = _require(p, "chat_id", "Bad Request: chat_id is empty")
    chat = None
    if isinstance(chat_id, int):
        chat = core.chats.get(chat_id)
    elif isinstance(chat_id, str) and chat_id.startswith("@"):
        wanted = chat_id[1:].lower()
        chat = next(
            (
                c
                for c in core.chats.values()
                if c.user is not None and (c.user.username or "").lower() == wanted
            ),
            None,
        )
    if chat is None:
        raise chat_not_found()
    return chat


def _writable_chat(core: SandboxCore, p: dict[str, Any], method_name: str) -> SandboxChat:
    chat = _chat(core, p)
    if chat.type == "private" and chat.user is not None and chat.user.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    if chat.bot_removed:
        raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
    if core.enforce_limits and method_name in SEND_METHODS:
        wait = core.limits.check(chat.id, chat.type == "private")
        if wait:
            raise too_many_requests(wait)
    return chat


def _bot_user(core: SandboxCore) -> dict[str, Any]:
    return core.bot_user()


def _bot_message(
    core: SandboxCore,
    chat: SandboxChat,
    p: dict[str, Any],
    body: dict[str, Any],
    *,
    raw_text: str | None,
) -> dict[str, Any]:
    markup = parse_reply_markup(p.get("reply_markup"))
    if chat.type == "channel":
        body = {"sender_chat": chat.to_api(), **body}
    else:
        body = {"from": _bot_user(core), **body}
    reply_to = p.get("reply_parameters", {}) or {}
    reply_id = reply_to.get("message_id") if isinstance(reply_to, dict) else None
    reply_id = reply_id or p.get("reply_to_message_id")
    if reply_id is not None:
        target = core.messages.get((chat.id, reply_id))
        if target is None or target.deleted:
            allow = p.get("allow_sending_without_reply") or (
                isinstance(reply_to, dict) and reply_to.get("allow_sending_without_reply")
            )
            if not allow:
                raise ApiError(400, "Bad Request: message to be replied not found")
        else:
            body["reply_to_message"] = clone(target.data)
            body["reply_to_message"].pop("reply_to_message", None)
    if markup and "inline_keyboard" in markup:
        body["reply_markup"] = markup
    stored = core._new_message(chat, True, body)
    stored.markup = markup
    stored.parse_mode = p.get("parse_mode")
    stored.raw_text = raw_text
    # Not copied: both doors serialise the result before anything else can change it.
    return stored.data


def _upload(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload], key: str, kind: str):
    """The file of a send: uploaded now, attach://, or an existing file_id."""
    value = p.get(key)
    upload = files.get(key)
    if isinstance(value, str) and value.startswith("attach://"):
        upload = files.get(value[len("attach://") :])
    if upload is not None:
        mime = upload.mime_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename or "")[0] or mime
        return core.store_file(upload.data, kind, file_name=upload.filename, mime_type=mime)
    if isinstance(value, str) and value in core.files:
        return core.files[value]
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: there is no {key} in the request")
    raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")


def _own_message(core: SandboxCore, p: dict[str, Any], action: str) -> StoredMessage:
    if p.get("inline_message_id"):
        raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
    chat = _chat(core, p)
    message_id = _require(p, "message_id", "Bad Request: message identifier is not specified")
    stored = core.messages.get((chat.id, message_id))
    if stored is None or stored.deleted:
        raise ApiError(400, f"Bad Request: message to {action} not found")
    if not stored.from_bot and action == "edit":
        raise ApiError(400, "Bad Request: message can't be edited")
    return stored


NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


# -- methods --------------------------------------------------------------------------------


@method("getMe")
def get_me(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict[str, Any]:
    return {
        **_bot_user(core),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


@method("logOut")
def log_out(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    return True


@method("close")
def close(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    return True


@method("getUpdates")
async def get_updates(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> list:
    if core.webhook:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = p.get("offset") or 0
    limit = p.get("limit") or 100
    timeout = float(p.get("timeout") or 0)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        limit = 100
    if "allowed_updates" in p and isinstance(p["allowed_updates"], list):
        core.allowed_updates = list(p["allowed_updates"]) or None
    core._poll_generation += 1
    generation = core._poll_generation
    core.notify()
    if offset < 0:
        keep = -offset
        older = core.updates[:-keep] if len(core.updates) > keep else []
        if older:
            core.confirm(older[-1]["update_id"] + 1)
    elif offset > 0:
        core.confirm(offset)
    deadline = time.monotonic() + min(max(timeout, 0.0), MAX_POLL_SECONDS)
    while not core.pending() and not core.closed:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        await core.wait_changed(remaining)
        if generation != core._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
    return core.pending()[:limit]  # stored updates are never changed after they are made


@method("setWebhook")
def set_webhook(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    url = p.get("url") or ""
    if not url:
        core.webhook = None
        core.notify()
        return True
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    if p.get("drop_pending_updates"):
        core.confirm(core.next_update_id)
    if isinstance(p.get("allowed_updates"), list):
        core.allowed_updates = list(p["allowed_updates"]) or None
    core.webhook = {
        "url": url,
        "secret_token": p.get("secret_token"),
        "max_connections": p.get("max_connections") or 40,
    }
    core.webhook_last_error = None
    core.notify()
    return True


@method("deleteWebhook")
def delete_webhook(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    core.webhook = None
    if p.get("drop_pending_updates"):
        core.confirm(core.next_update_id)
    core.notify()
    return True


@method("getWebhookInfo")
def get_webhook_info(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    info: dict[str, Any] = {
        "url": core.webhook["url"] if core.webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(core.pending()),
    }
    if core.webhook:
        info["max_connections"] = core.webhook["max_connections"]
        if core.allowed_updates:
            info["allowed_updates"] = list(core.allowed_updates)
        if core.webhook_last_error:
            info["last_error_date"], info["last_error_message"] = core.webhook_last_error
    return info


def _scope_key(p: dict[str, Any]) -> tuple[str, str]:
    scope = p.get("scope") or {"type": "default"}
    if isinstance(scope, str):  # a JSON-encoded form field
        try:
            scope = json.loads(scope)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object") from None
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
    scope = dict(scope)
    if isinstance(scope.get("chat_id"), str) and scope["chat_id"].lstrip("-").isdigit():
        scope["chat_id"] = int(scope["chat_id"])  # chat_id may arrive as text
    return json.dumps(scope, sort_keys=True), p.get("language_code") or ""


@method("setMyCommands")
def set_my_commands(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    commands = p.get("commands")
    if not isinstance(commands, list):
        raise ApiError(400, 'Bad Request: parameter "commands" is required')
    if len(commands) > 100:
        raise ApiError(400, "Bad Request: too many commands specified")
    clean = []
    for c in commands:
        name = c.get("command", "") if isinstance(c, dict) else ""
        desc = c.get("description", "") if isinstance(c, dict) else ""
        if (
            not (1 <= len(name) <= 32)
            or not name.replace("_", "").isalnum()
            or name != name.lower()
        ):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not (1 <= len(desc) <= 256):
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        clean.append({"command": name, "description": desc})
    core.commands[_scope_key(p)] = clean
    return True


@method("getMyCommands")
def get_my_commands(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> list:
    return clone(core.commands.get(_scope_key(p), []))


@method("deleteMyCommands")
def delete_my_commands(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    core.commands.pop(_scope_key(p), None)
    return True


@method("sendMessage")
def send_message(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    chat = _chat(core, p)
    text = p.get("text")
    if text is None or text == "":
        raise ApiError(400, "Bad Request: message text is empty")
    visible = check_text(text, p.get("parse_mode"))
    parse_reply_markup(p.get("reply_markup"))  # refuse bad keyboards before counting limits
    chat = _writable_chat(core, p, "sendmessage")
    return _bot_message(core, chat, p, {"text": visible}, raw_text=str(text))


def _caption(p: dict[str, Any]) -> dict[str, Any]:
    caption = p.get("caption")
    if not caption:
        return {}
    return {"caption": check_text(caption, p.get("parse_mode"), caption=True)}


@method("sendPhoto")
def send_photo(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    _chat(core, p)
    caption = _caption(p)
    parse_reply_markup(p.get("reply_markup"))
    stored = _upload(core, p, files, "photo", "photo")
    chat = _writable_chat(core, p, "sendphoto")
    body = {"photo": core.photo_sizes(stored), **caption}
    return _bot_message(core, chat, p, body, raw_text=p.get("caption"))


@method("sendDocument")
def send_document(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    _chat(core, p)
    caption = _caption(p)
    parse_reply_markup(p.get("reply_markup"))
    stored = _upload(core, p, files, "document", "document")
    chat = _writable_chat(core, p, "senddocument")
    document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    document["file_size"] = len(stored.data)
    return _bot_message(core, chat, p, {"document": document, **caption}, raw_text=p.get("caption"))


@method("sendVoice")
def send_voice(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    _chat(core, p)
    caption = _caption(p)
    parse_reply_markup(p.get("reply_markup"))
    stored = _upload(core, p, files, "voice", "voice")
    chat = _writable_chat(core, p, "sendvoice")
    voice = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
             "duration": max(1, len(stored.data) // 2000), "mime_type": "audio/ogg",
             "file_size": len(stored.data)}  # fmt: skip
    return _bot_message(core, chat, p, {"voice": voice, **caption}, raw_text=p.get("caption"))


@method("sendLocation")
def send_location(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    lat, lon = p.get("latitude"), p.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        raise ApiError(400, "Bad Request: wrong latitude/longitude specified")
    chat = _writable_chat(core, p, "sendlocation")
    return _bot_message(
        core,
        chat,
        p,
        {"location": {"latitude": float(lat), "longitude": float(lon)}},
        raw_text=None,
    )


@method("sendChatAction")
def send_chat_action(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    _require(p, "action", "Bad Request: action is empty")
    _writable_chat(core, p, "sendchataction")
    return True


@method("leaveChat")
def leave_chat(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    """The bot leaves a group: Telegram then tells it so (my_chat_member 'left')."""
    chat = _chat(core, p)
    if chat.type == "private":
        raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
    if chat.bot_removed:
        raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
    core.bot_leaves(chat.id)
    return True


def _edit_markup_of(p: dict[str, Any]) -> dict[str, Any] | None:
    markup = parse_reply_markup(p.get("reply_markup"))
    if markup is not None and "inline_keyboard" not in markup:
        raise ApiError(400, "Bad Request: inline keyboard expected")
    return markup


def _finish_edit(core: SandboxCore, stored: StoredMessage, markup: dict[str, Any] | None) -> dict:
    stored.markup = markup
    if markup and markup.get("inline_keyboard"):
        stored.data["reply_markup"] = markup
    else:
        stored.data.pop("reply_markup", None)
    stored.data["edit_date"] = int(core.now())
    stored.edited = True
    return stored.data


def _same_markup(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    def rows(m: dict[str, Any] | None) -> Any:
        return (m or {}).get("inline_keyboard") or []

    return rows(a) == rows(b)


@method("editMessageText")
def edit_message_text(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    text = p.get("text")
    if text is None or text == "":
        raise ApiError(400, "Bad Request: text must be non-empty")
    stored = _own_message(core, p, "edit")
    if "text" not in stored.data:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    visible = check_text(text, p.get("parse_mode"))
    markup = _edit_markup_of(p)
    if (
        stored.raw_text == text
        and stored.parse_mode == p.get("parse_mode")
        and _same_markup(stored.markup, markup)
    ):
        raise ApiError(400, NOT_MODIFIED)
    newest = core.chat_messages(stored.chat_id)
    stored.edits.append({"before": stored.data["text"], "after": visible, "date": int(core.now()),
                         "after_message_id": newest[-1]["message_id"] if newest else 0})  # fmt: skip
    stored.data["text"] = visible
    stored.raw_text = str(text)
    stored.parse_mode = p.get("parse_mode")
    return _finish_edit(core, stored, markup)


@method("editMessageCaption")
def edit_message_caption(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    stored = _own_message(core, p, "edit")
    if "text" in stored.data:
        raise ApiError(400, "Bad Request: there is no caption in the message to edit")
    caption = p.get("caption") or ""
    markup = _edit_markup_of(p)
    if (stored.raw_text or "") == caption and _same_markup(stored.markup, markup):
        raise ApiError(400, NOT_MODIFIED)
    if caption:
        stored.data["caption"] = check_text(caption, p.get("parse_mode"), caption=True)
    else:
        stored.data.pop("caption", None)
    stored.raw_text = caption
    stored.parse_mode = p.get("parse_mode")
    return _finish_edit(core, stored, markup)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(
    core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]
) -> dict:
    stored = _own_message(core, p, "edit")
    markup = _edit_markup_of(p)
    if _same_markup(stored.markup, markup):
        raise ApiError(400, NOT_MODIFIED)
    return _finish_edit(core, stored, markup)


@method("deleteMessage")
def delete_message(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    stored = _own_message(core, p, "delete")
    stored.deleted = True
    return True


@method("answerCallbackQuery")
def answer_callback_query(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> bool:
    query_id = str(_require(p, "callback_query_id", "Bad Request: query_id is empty"))
    query = core.callback_queries.get(query_id)
    if query is None or query["answered"]:
        raise ApiError(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
    text = p.get("text")
    if text is not None and len(str(text)) > 200:
        raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
    query["answered"] = True
    query["answer"] = text
    query["show_alert"] = bool(p.get("show_alert"))
    return True


@method("getFile")
def get_file(core: SandboxCore, p: dict[str, Any], files: dict[str, Upload]) -> dict:
    file_id = p.get("file_id")
    stored = core.files.get(file_id) if isinstance(file_id, str) else None
    if stored is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    out = stored.to_api()
    out["file_id"] = file_id
    return out


def download(core: SandboxCore, token: str, file_path: str) -> tuple[int, bytes, str | None]:
    """GET /file/bot<token>/<file_path>: (status, body, content type)."""
    if token != core.token:
        return (
            401,
            b'{"ok":false,"error_code":401,"description":"Unauthorized"}',
            "application/json",
        )
    stored = core.files_by_path.get(file_path)
    if stored is None:
        return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}', "application/json"
    return 200, stored.data, stored.mime_type or "application/octet-stream"


def all_method_names() -> list[str]:
    return sorted(METHODS)
