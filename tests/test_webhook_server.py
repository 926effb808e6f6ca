"""The webhook endpoint, with real HTTP requests against the running bot (the same server
`pendamping run --webhook-url` uses): the secret is checked before the body is read, the body
is capped at 1 MB, bad input gets 400 with one log line and no content, a good update is
handled."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HUGE = 90 * 1024 * 1024  # the size of the attacker's body (declared, never sent in full)
MARKER = "RAHASIA-ISI-BADAN-3328064507850003"


def _update(update_id: int, text: str = "/start") -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 50 + update_id, "date": 0,
            "chat": {"id": 1001, "type": "private", "first_name": "S"},
            "from": {"id": 1001, "is_bot": False, "first_name": "S"}, "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }  # fmt: skip


async def _raw_post(port: int, headers: dict[str, str], first_chunk: bytes) -> tuple[int, int]:
    """POST declaring a 90 MB body but sending only its first chunk; return (status, bytes
    sent). The server must answer without waiting for the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        (
            f"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {HUGE}\r\n{head}\r\n"
        ).encode()
        + first_chunk
    )
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    assert status_line, "the server closed without an answer"
    return int(status_line.split()[1]), len(first_chunk)


@pytest.fixture
async def hook(sandbox_factory):
    sandbox = await sandbox_factory(webhook=True)
    info = sandbox.app.bot_data["sandbox_webhook"]
    siti = await sandbox.user(1001, "Siti")
    return sandbox, siti, info["port"], info["secret"]


async def test_no_secret_is_refused_before_the_body_is_read(hook):
    _sandbox, _siti, port, _secret = hook
    status, sent = await _raw_post(port, {}, b"{" + b" " * 65536)
    assert status == 403 and sent < HUGE
    status, _ = await _raw_post(port, {SECRET_HEADER: "salah"}, b"{" + b" " * 65536)
    assert status == 403


async def test_a_huge_body_with_the_secret_is_refused_unread(hook):
    _sandbox, _siti, port, secret = hook
    status, sent = await _raw_post(port, {SECRET_HEADER: secret}, b"[" * 65536)
    assert status == 413 and sent < HUGE


async def test_a_body_over_1_mb_without_a_declared_length_is_cut_off(hook):
    _sandbox, _siti, port, secret = hook

    async def chunks():
        for _ in range(40):  # 2.5 MB, chunked: no Content-Length to refuse up front
            yield b" " * 65536

    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"http://127.0.0.1:{port}/telegram", content=chunks(),
            headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
        )  # fmt: skip
    assert answer.status_code == 413


async def test_malformed_input_gets_400_and_one_line_without_content(hook, caplog):
    sandbox, siti, port, secret = hook
    url = f"http://127.0.0.1:{port}/telegram"
    headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
    bad = [
        ('{"update_id": 1, "message": "' + MARKER, "bad_json"),  # cut-off JSON
        (json.dumps([MARKER]), "bad_json"),  # JSON, but not an object
        (json.dumps({"update_id": 2, "message": {"text": MARKER}}), "bad_update"),
    ]
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient() as client:
        for body, reason in bad:
            caplog.clear()
            answer = await client.post(url, content=body.encode(), headers=headers)
            assert answer.status_code == 400, (reason, answer.status_code)
            assert MARKER not in answer.text
            mine = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(mine) == 1, [r.getMessage() for r in mine]
            assert f"reason={reason}" in mine[0].getMessage()
            assert mine[0].levelno < logging.ERROR and mine[0].exc_info is None
            logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
            assert MARKER not in logged
        # and a good update still works: handled, the person gets the answer
        answer = await client.post(url, json=_update(1), headers=headers)
    assert answer.status_code == 200
    await sandbox.idle()
    assert "Selamat datang" in (await siti.messages())[-1].text
