"""Log hygiene: tokens, NIKs and phone numbers never reach a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.db import open_migrated
from bot.logs import RedactingFormatter, redact, setup_logging

TOKEN = "7123456789:AAHk3Jx_9fQ-secretPart0123456789abcd"
NIK = "3328064507850003"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"POST https://api.telegram.org/bot{TOKEN}/sendMessage", "/bot<token>/sendMessage"),
        (f"nik={NIK} ok", "nik=3328********0003 ok"),
        ("hp 6281234567890 ya", "hp <phone> ya"),
        ("hp +6281234567890.", "hp <phone>."),
        ("hp 081234567890", "hp <phone>"),
        ("hp 0812-3456-7890", "hp <phone>"),
        ("hp +62 812 3456 7890", "hp <phone>"),
        ("hp 0857 1234 567", "hp <phone>"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert expected in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "event=report_saved recipient_id=12 period=2024-03",
        "ts=2024-02-01T08:00:00 level=INFO took_ms=81234",
        "kecamatan=33.28.06 rows=1500000",
        "desa=3328062001",
    ],
)
def test_redact_leaves_ordinary_lines_alone(text: str) -> None:
    assert redact(text) == text


@given(
    prefix=st.text(alphabet="abc =:/", max_size=5),
    nik=st.from_regex(r"\A[1-9][0-9]{15}\Z"),
    suffix=st.text(alphabet="abc =:/", max_size=5),
)
def test_no_full_nik_survives(prefix: str, nik: str, suffix: str) -> None:
    assert nik not in redact(prefix + nik + suffix)


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("pendamping.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_formatter_one_line_keyvalue_and_json() -> None:
    try:
        raise ValueError(f"bad NIK {NIK} from 081234567890 with {TOKEN}")
    except ValueError as exc:
        error = exc
    kv = RedactingFormatter().format(_record("event=x nik=%s", NIK, exc=error))
    assert "\n" not in kv and kv.startswith("ts=") and "level=ERROR logger=pendamping.test" in kv
    line = RedactingFormatter(json_lines=True).format(_record("event=x nik=%s", NIK, exc=error))
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["msg"].startswith("event=x nik=3328********0003")
    for out in (kv, line):
        assert NIK not in out and "081234567890" not in out and "secretPart" not in out


async def test_debug_logging_never_shows_sql_parameters(tmp_path, clock) -> None:
    """aiosqlite logs statements with their parameters at DEBUG: setup_logging mutes it."""
    stream = io.StringIO()
    setup_logging(level=logging.DEBUG, stream=stream)
    try:
        db = await open_migrated(str(tmp_path / "p.db"), clock())
        await db.fetchall("SELECT ? AS secret_name", ("Warsini Kartikasari",))
        await db.close()
        logging.getLogger("pendamping.test").debug("event=done")
    finally:
        setup_logging()
    text = stream.getvalue()
    assert "event=done" in text
    assert "Warsini" not in text


def test_debug_level_keeps_the_bot_api_client_at_info() -> None:
    """PTB logs updates and API call parameters (texts, amounts) at DEBUG: capped at INFO."""
    setup_logging("keyvalue", "DEBUG", stream=io.StringIO())
    try:
        assert logging.getLogger("pendamping.reports").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("telegram.ext.ExtBot").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("httpcore.http11").isEnabledFor(logging.DEBUG)
    finally:
        setup_logging(stream=io.StringIO())
