"""Structured logs: one line per event (key=value or JSON); secrets redacted on the way out."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TextIO

# A Bot API token anywhere in a log line (httpx logs request URLs that contain it).
_TOKEN_RE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{3,}")
_NIK_RE = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")
# Indonesian mobile numbers: 08..., 628..., +62 8..., with optional spaces or dashes.
_PHONE_RE = re.compile(r"(?<![\d+])(?:\+62|62|0)[ -]?8(?:[ -]?\d){7,11}(?!\d)")


# The password of a database URL (postgresql://user:PASSWORD@host/db).
_URL_PASSWORD_RE = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]+@")


def redact(text: str) -> str:
    """Tokens and database passwords out, NIKs masked (3328********0001), phone numbers out."""
    text = _URL_PASSWORD_RE.sub(r"\1***@", text)
    text = _TOKEN_RE.sub("<token>", text)
    text = _NIK_RE.sub(r"\1********\2", text)
    return _PHONE_RE.sub("<phone>", text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, json_lines: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        if record.exc_info:
            message += " " + redact(self.formatException(record.exc_info)).replace("\n", " | ")
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        if self.json_lines:
            return json.dumps(
                {"ts": ts, "level": record.levelname, "logger": record.name, "msg": message},
                ensure_ascii=False,
            )
        return f"ts={ts} level={record.levelname} logger={record.name} {message}"


def setup_logging(
    fmt: str = "keyvalue", level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """One redacting handler on the root logger. At DEBUG the chatty libraries stay capped:
    their debug lines carry what the redaction cannot recognise (message texts, amounts)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(json_lines=fmt == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL (which carries the token) at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # python-telegram-bot logs every update and every API call's parameters and result (the
    # texts people typed, amounts, names) at DEBUG: INFO at most, whatever the root level.
    logging.getLogger("telegram").setLevel(max(logging.INFO, root.level))
    # aiosqlite logs every statement with its parameters (names, NIKs) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
