"""The control API over HTTP (every call of SANDBOX.md), the Bot API's HTTP edges, rate limits."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from bot.sandbox.core import ControlError, SandboxCore
from bot.sandbox.limits import RateLimits
from bot.sandbox.server import SandboxServer
from tests.sandbox_scenario import tiny_png

TOKEN = "123456:sandbox"


@pytest.fixture
async def http():
    core = SandboxCore()
    server = SandboxServer(core)
    await server.start()
    async with aiohttp.ClientSession(base_url=server.url) as session:
        yield core, session
    await server.stop()


async def post(session, path, body, status=200):
    async with session.post(path, json=body) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data


async def bot(session, method, status=200, **kwargs):
    async with session.post(f"/bot{TOKEN}/{method}", **kwargs) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data


async def test_every_control_call(http, tmp_path):
    core, s = http
    assert (await post(s, "/_sandbox/users", {"id": 1001, "first_name": "Siti", "username": "siti", "language_code": "id"}))["id"] == 1001  # fmt: skip
    await post(s, "/_sandbox/users", {"id": 1002, "first_name": "Budi"})
    photo = tmp_path / "usaha.png"
    photo.write_bytes(tiny_png())
    sends = [
        {"text": "/start kode123"},
        {"photo": str(photo)},
        {"photo": base64.b64encode(tiny_png()).decode()},
        {"document": base64.b64encode(b"a;b").decode(), "file_name": "x.csv"},
        {"voice": base64.b64encode(b"OggS").decode()},
        {"sticker": base64.b64encode(b"RIFF").decode()},
        {"location": {"lat": -6.9, "lon": 109.1}},
        {"contact": {"phone_number": "0812", "first_name": "Siti"}},
        {"forward_text": "dari grup lain"},
    ]
    for body in sends:
        result = await post(s, "/_sandbox/send", {"user_id": 1001, **body})
        assert set(result) == {"update_id", "message_id"}
    kinds = [next(k for k in u["message"] if k in ("text", "photo", "document", "voice", "sticker", "location", "contact")) for u in core.updates]  # fmt: skip
    assert kinds == ["text", "photo", "photo", "document", "voice", "sticker", "location", "contact", "text"]  # fmt: skip
    assert core.updates[0]["message"]["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 6}
    ]
    assert "forward_origin" in core.updates[-1]["message"]
    await post(s, "/_sandbox/edit", {"user_id": 1001, "message_id": 1, "text": "/start lain"})
    assert "edited_message" in core.updates[-1]
    await post(s, "/_sandbox/groups", {"id": -4001, "title": "Kelompok", "members": [1001, 1002]})
    await post(s, "/_sandbox/send", {"user_id": 1002, "chat_id": -4001, "text": "halo grup"})
    await post(s, "/_sandbox/channel_post", {"chat_id": -1007, "text": "info"})
    assert "channel_post" in core.updates[-1]

    # the bot answers with a button; the user presses it
    markup = {"inline_keyboard": [[{"text": "Berjalan", "callback_data": "rep:ok"}]]}
    sent = await bot(
        s, "sendMessage", json={"chat_id": 1001, "text": "Usaha?", "reply_markup": markup}
    )
    mid = sent["result"]["message_id"]
    pressed = await post(
        s, "/_sandbox/press", {"user_id": 1001, "message_id": mid, "data": "rep:ok"}
    )
    assert core.updates[-1]["callback_query"]["data"] == "rep:ok"
    async with s.get(f"/_sandbox/callbacks/{pressed['callback_query_id']}") as resp:
        assert (await resp.json())["answered"] is False
    async with s.get("/_sandbox/chats/1001/messages", params={"since": 0}) as resp:
        msgs = await resp.json()
    assert msgs == [
        {"message_id": mid, "text": "Usaha?", "parse_mode": None, "edited": False,
         "buttons": [[{"text": "Berjalan", "callback_data": "rep:ok"}]]}
    ]  # fmt: skip
    async with s.get("/_sandbox/chats/1001/messages", params={"since": mid}) as resp:
        assert await resp.json() == []

    await post(s, "/_sandbox/block", {"user_id": 1001, "blocked": True})
    blocked = await bot(s, "sendMessage", status=403, data={"chat_id": "1001", "text": "hai"})
    assert blocked["description"] == "Forbidden: bot was blocked by the user"
    await post(s, "/_sandbox/block", {"user_id": 1001, "blocked": False})

    await post(s, "/_sandbox/faults", {"method": "sendMessage", "status": 429, "retry_after": 3, "count": 1})  # fmt: skip
    flood = await bot(s, "sendMessage", status=429, data={"chat_id": "1001", "text": "hai"})
    assert flood["parameters"] == {"retry_after": 3}

    await post(s, "/_sandbox/groups", {"id": -4001, "bot_removed": True})
    kicked = await bot(s, "sendMessage", status=403, data={"chat_id": "-4001", "text": "hai"})
    assert kicked["description"] == "Forbidden: bot was kicked from the group chat"

    await post(s, "/_sandbox/limits", {"enforce": True})
    codes = []
    for _ in range(5):
        async with s.post(
            f"/bot{TOKEN}/sendMessage", data={"chat_id": "1001", "text": "x"}
        ) as resp:
            codes.append(resp.status)
            body = await resp.json()
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    assert body["parameters"]["retry_after"] >= 1
    await post(s, "/_sandbox/limits", {"enforce": False})

    async with s.get("/_sandbox/calls", params={"method": "sendMessage"}) as resp:
        calls = await resp.json()
    assert calls and all(c["method"] == "sendMessage" for c in calls)
    assert {"params", "started_at", "duration_ms", "status"} <= set(calls[0])
    assert calls[0]["params"]["chat_id"] == 1001

    await post(s, "/_sandbox/reset", {})
    assert core.users == {} and core.updates == [] and core.call_log() == []


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/_sandbox/send", {"user_id": 42, "text": "hai"}, "unknown user 42"),
        ("/_sandbox/press", {"user_id": 1001, "message_id": 99, "data": "x"}, "no bot message 99"),
        ("/_sandbox/users", {"id": -5, "first_name": "X"}, "positive"),
        ("/_sandbox/send", {"user_id": 1001}, "exactly one of"),
        ("/_sandbox/send", {"user_id": 1001, "photo": "/no/such/file.png"}, "photo"),
        ("/_sandbox/groups", {"id": -1, "title": "G", "members": [77]}, "unknown user 77"),
        ("/_sandbox/faults", {"method": "sendMessage", "status": 200}, "status"),
        ("/_sandbox/limits", {"enforce": "ya"}, "enforce"),
        ("/_sandbox/edit", {"user_id": 1001, "message_id": 5, "text": "x"}, "no message 5"),
    ],
)
async def test_control_refuses_with_a_reason(http, path, body, reason):
    core, s = http
    core.add_user(1001, "Siti")
    data = await post(s, path, body, status=400)
    assert reason in data["error"]


async def test_press_refuses_a_button_not_on_that_message(http):
    core, s = http
    core.add_user(1001, "Siti")
    markup = {"inline_keyboard": [[{"text": "Ya", "callback_data": "y"}]]}
    sent = await bot(s, "sendMessage", json={"chat_id": 1001, "text": "?", "reply_markup": markup})
    mid = sent["result"]["message_id"]
    data = await post(s, "/_sandbox/press", {"user_id": 1001, "message_id": mid, "data": "n"}, 400)
    assert "no button with callback_data 'n'" in data["error"]


async def test_malformed_json_is_refused(http):
    _, s = http
    async with s.post("/_sandbox/users", data=b"{not json", headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
        assert resp.status == 400
        assert "malformed JSON" in (await resp.json())["error"]
    async with s.get("/_sandbox/chats/12345/messages") as resp:
        assert resp.status == 400


async def test_bot_api_http_edges(http):
    core, s = http
    core.add_user(1001, "Siti")
    async with s.post("/bot1:wrong/getMe") as resp:
        assert resp.status == 401
        assert (await resp.json())["description"] == "Unauthorized"
    async with s.post(f"/bot{TOKEN}/noSuchMethod") as resp:
        assert resp.status == 404
        assert (await resp.json()) == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert (await bot(s, "getme"))["result"]["is_bot"] is True  # names are case-insensitive
    missing_chat = await bot(s, "sendMessage", status=400, data={"text": "x"})
    assert missing_chat["description"] == "Bad Request: chat_id is empty"
    missing_text = await bot(s, "sendMessage", status=400, data={"chat_id": "1001"})
    assert missing_text["description"] == "Bad Request: message text is empty"
    unknown = await bot(s, "sendMessage", status=400, json={"chat_id": 5, "text": "x"})
    assert unknown["description"] == "Bad Request: chat not found"
    # PTB's form encoding: JSON-encoded values in form fields; a numeric text stays text
    markup = json.dumps({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    sent = await bot(
        s, "sendMessage", data={"chat_id": "1001", "text": "123", "reply_markup": markup}
    )
    assert sent["result"]["text"] == "123"
    assert sent["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    # multipart upload, then getFile and the download URL
    form = aiohttp.FormData()
    form.add_field("chat_id", "1001")
    form.add_field("photo", tiny_png(), filename="grafik.png", content_type="image/png")
    photo = await bot(s, "sendPhoto", data=form)
    file_id = photo["result"]["photo"][-1]["file_id"]
    info = await bot(s, "getFile", json={"file_id": file_id})
    async with s.get(f"/file/bot{TOKEN}/{info['result']['file_path']}") as resp:
        assert resp.status == 200
        assert await resp.read() == tiny_png()
    async with s.get(f"/file/bot1:wrong/{info['result']['file_path']}") as resp:
        assert resp.status == 401
    bad_id = await bot(s, "getFile", status=400, json={"file_id": "nope"})
    assert bad_id["description"] == "Bad Request: invalid file_id"
    async with s.post(f"/bot{TOKEN}/sendMessage", data=b"{", headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
        assert resp.status == 400


def test_rate_limits_with_a_fake_clock():
    now = [100.0]
    limits = RateLimits(clock=lambda: now[0])
    # private chat: a burst of 3 is tolerated, then about 1 per second
    assert [limits.check(1, True) for _ in range(4)] == [0, 0, 0, 1]
    now[0] += 1.0
    assert limits.check(1, True) == 0
    # group: 20 per minute
    results = [limits.check(-5, False) for _ in range(21)]
    assert results[:20] == [0] * 20 and results[20] > 1
    now[0] += 61
    assert limits.check(-5, False) == 0
    # overall: 30 per second across chats
    now[0] += 10
    overall = [limits.check(1000 + i, True) for i in range(31)]
    assert overall[:30] == [0] * 30 and overall[30] == 1


def test_core_methods_refuse_unknown_users_and_buttons():
    core = SandboxCore()
    with pytest.raises(ControlError, match="unknown user"):
        core.send(7, "hai")
    core.add_user(7, "Tuti")
    with pytest.raises(ControlError, match="not a member"):
        core.add_group(-9, "G", [])
        core.send(7, "hai", chat_id=-9)
    with pytest.raises(ControlError, match="unknown chat"):
        core.chat_messages(12345)


async def test_chat_commands_resolve_scopes_as_telegram_does(http):
    core, s = http
    await post(s, "/_sandbox/users", {"id": 501, "first_name": "Staf"})
    await post(s, "/_sandbox/users", {"id": 502, "first_name": "Siti"})
    await post(s, "/_sandbox/groups", {"id": -900, "title": "Staf", "members": [501]})

    def cmds(*names):
        return [{"command": n, "description": f"{n} text"} for n in names]

    await bot(s, "setMyCommands", json={"commands": cmds("lapor")})
    await bot(s, "setMyCommands", json={"commands": cmds("ekspor", "siaran"),
                                        "scope": {"type": "chat", "chat_id": 501}})  # fmt: skip
    await bot(s, "setMyCommands", json={"commands": cmds("ringkasan"),
                                        "scope": {"type": "all_group_chats"}})  # fmt: skip

    async def menu(chat_id):
        async with s.get(f"/_sandbox/chats/{chat_id}/commands") as resp:
            assert resp.status == 200
            return [c["command"] for c in await resp.json()]

    assert await menu(501) == ["ekspor", "siaran"]  # the chat's own scope wins
    assert await menu(502) == ["lapor"]  # default
    assert await menu(-900) == ["ringkasan"]  # groups: all_group_chats before default
    # a form-encoded scope (PTB's way) with the chat id as text lands in the same scope
    await bot(s, "setMyCommands", data={"commands": json.dumps(cmds("daftar")),
                                        "scope": json.dumps({"type": "chat", "chat_id": "502"})})  # fmt: skip
    assert await menu(502) == ["daftar"]
    await bot(s, "deleteMyCommands", json={"scope": {"type": "chat", "chat_id": 502}})
    assert await menu(502) == ["lapor"]
    assert core.chat_commands(501) == cmds("ekspor", "siaran")
