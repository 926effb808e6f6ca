"""Text rules of the Bot API: UTF-16 lengths, command entities, HTML checking, keyboards."""

from __future__ import annotations

import html
import re
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip


class MarkupError(ValueError):
    """Text or keyboard Telegram would refuse; the message is Telegram's description."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities for every /command in the text (offsets in UTF-16 units)."""
    entities = []
    for m in _COMMAND_RE.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return entities


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text a person sees after Telegram parsed the markup; raises MarkupError if invalid."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        _check_markdown_v2(text)
        return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)[*_~`|]", "", text))
    if mode == "markdown":
        return re.sub(r"(?<!\\)[*_`]", "", text)
    return text


_MDV2_ALWAYS_RESERVED = set(".!#+-={}")


def _check_markdown_v2(text: str) -> None:
    """Telegram refuses MarkdownV2 with an unescaped reserved character outside code."""
    in_code = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        elif not in_code and ch == "]" and text[i + 1 : i + 2] == "(":
            end = text.find(")", i + 2)  # a link's URL: only ')' and '\\' are special there
            i = end + 1 if end != -1 else len(text)
            continue
        elif not in_code and (
            ch in _MDV2_ALWAYS_RESERVED or (ch == ">" and i > 0 and text[i - 1] != "\n")
        ):
            raise MarkupError(
                f"Bad Request: can't parse entities: Character '{ch}' is reserved and must be "
                "escaped with the preceding '\\'"
            )
        i += 1


def _parse_html(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch == "<":
            m = _TAG_RE.match(text, pos)
            if not m:
                raise MarkupError(
                    f"Bad Request: can't parse entities: Unsupported start tag at byte offset {pos}"
                )
            closing, name = m.group(1), m.group(2).lower()
            if name not in _HTML_TAGS:
                raise MarkupError(
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                    f"at byte offset {pos}"
                )
            if closing:
                if not stack or stack[-1] != name:
                    raise MarkupError(
                        f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                        f'{pos}, expected "</{stack[-1] if stack else ""}>", found "</{name}>"'
                    )
                stack.pop()
            else:
                stack.append(name)
            pos = m.end()
        elif ch == "&":
            m = _ENTITY_RE.match(text, pos)
            if m:
                out.append(html.unescape(m.group(0)))
                pos = m.end()
            else:
                # Telegram keeps a bare '&' that does not start a known entity.
                out.append("&")
                pos += 1
        elif ch == ">":
            out.append(">")
            pos += 1
        else:
            out.append(ch)
            pos += 1
    if stack:
        raise MarkupError(
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return "".join(out)


def check_text(text: Any, parse_mode: str | None, *, caption: bool = False) -> str:
    """Validate a message text or caption as Telegram does; return the visible text."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    visible = visible_text(text, parse_mode)
    limit = MAX_CAPTION if caption else MAX_TEXT
    if not caption and not visible.strip():
        raise MarkupError("Bad Request: message text is empty")
    if utf16_len(visible) > limit:
        raise MarkupError(
            "Bad Request: message caption is too long"
            if caption
            else "Bad Request: message is too long"
        )
    return visible


def parse_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Check a reply_markup object; return it normalised (or None)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise MarkupError("Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise MarkupError(
                'Bad Request: can\'t parse inline keyboard button: Field "inline_keyboard" must be an Array of Array'
            )
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return {"inline_keyboard": [[dict(b) for b in row] for row in rows]}
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list):
            raise MarkupError("Bad Request: can't parse reply keyboard markup JSON object")
        norm = [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]
        return {**markup, "keyboard": norm}
    if markup.get("remove_keyboard") or "force_reply" in markup:
        return dict(markup)
    raise MarkupError("Bad Request: can't parse reply keyboard markup JSON object")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise MarkupError("Bad Request: can't parse inline keyboard button: Text must be a String")
    actions = {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }  # fmt: skip
    if not actions & button.keys():
        raise MarkupError(
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA
    ):
        raise MarkupError("Bad Request: BUTTON_DATA_INVALID")
    if not button["text"].strip():
        raise MarkupError("Bad Request: text buttons are unallowed in the inline keyboard")


def inline_buttons(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    """The inline keyboard as rows of {text, callback_data, url?}."""
    if not markup or "inline_keyboard" not in markup:
        return []
    rows = []
    for row in markup["inline_keyboard"]:
        out = []
        for b in row:
            item = {"text": b["text"], "callback_data": b.get("callback_data")}
            if b.get("url"):
                item["url"] = b["url"]
            out.append(item)
        rows.append(out)
    return rows


def reply_keyboard(markup: dict[str, Any] | None) -> list[list[str]] | None:
    """Labels of a reply keyboard, [] when the bot removes it, None when untouched."""
    if not markup:
        return None
    if "keyboard" in markup:
        return [[b.get("text", "") for b in row] for row in markup["keyboard"]]
    if markup.get("remove_keyboard"):
        return []
    return None
