"""Every object the sandbox returns, and every parameter PTB sends, against the pinned spec.

tests/data/telegram-bot-api-spec/ is Bot API 10.1 from the MIT-licensed telegram-bot-api-spec
project (LICENSE beside it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.bot_api import METHODS
from bot.sandbox.core import SandboxCore
from tests.sandbox_scenario import run_everything, sandbox_bot, tiny_png

SPEC = json.loads(
    (Path(__file__).parent / "data" / "telegram-bot-api-spec" / "api.min.json").read_text()
)
TYPES = SPEC["types"]
SPEC_METHODS = SPEC["methods"]


def problems(value: Any, type_names: list[str], path: str) -> list[str]:
    """Empty if value matches one of the spec type expressions."""
    best: list[str] | None = None
    for name in type_names:
        found = _check(value, name, path)
        if not found:
            return []
        if best is None or len(found) < len(best):
            best = found
    return best or [f"{path}: no type given"]


def _check(value: Any, name: str, path: str) -> list[str]:
    if name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected {name}, got {type(value).__name__}"]
        out: list[str] = []
        for i, item in enumerate(value):
            out += _check(item, name[len("Array of ") :], f"{path}[{i}]")
        return out
    if name == "Integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif name == "Float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif name == "String":
        ok = isinstance(value, str)
    elif name == "Boolean":
        ok = isinstance(value, bool)
    elif name == "True":
        ok = value is True
    elif name in TYPES:
        return _check_object(value, TYPES[name], path)
    else:
        return [f"{path}: unknown spec type {name}"]
    return [] if ok else [f"{path}: expected {name}, got {value!r}"]


def _check_object(value: Any, spec: dict[str, Any], path: str) -> list[str]:
    if spec.get("subtypes"):
        return problems(value, spec["subtypes"], path)
    if not isinstance(value, dict):
        return [f"{path}: expected {spec['name']} object, got {type(value).__name__}"]
    fields = {f["name"]: f for f in spec.get("fields", [])}
    out = []
    for name, field in fields.items():
        if field["required"] and name not in value:
            out.append(f"{path}: {spec['name']} lacks required field {name}")
    for key, item in value.items():
        if key not in fields:
            out.append(f"{path}: {spec['name']} has no field {key}")
            continue
        out += problems(item, fields[key]["types"], f"{path}.{key}")
    if spec["name"].startswith("MessageOrigin") and "type" in value:
        expected = spec["name"][len("MessageOrigin") :].lower()
        expected = {"hiddenuser": "hidden_user"}.get(expected, expected)
        if value["type"] != expected:
            out.append(f"{path}: {spec['name']} with type {value['type']}")
    return out


def test_checker_catches_bad_shapes():
    assert problems({"id": 1, "is_bot": False}, ["User"], "u") == [
        "u: User lacks required field first_name"
    ]
    assert problems({"id": "1", "is_bot": False, "first_name": "A"}, ["User"], "u")
    assert problems({"id": 1, "is_bot": False, "first_name": "A", "nick": "x"}, ["User"], "u")
    assert not problems([{"command": "a", "description": "b"}], ["Array of BotCommand"], "c")


@pytest.mark.parametrize("door", ["in_process", "http"])
async def test_every_result_and_update_matches_the_spec(door):
    async with sandbox_bot(door) as (core, bot, captured):
        seen = await run_everything(core, bot)
        calls = core.call_log()
    assert seen["kinds"] >= {
        "message",
        "edited_message",
        "channel_post",
        "callback_query",
        "my_chat_member",
    }
    assert seen["downloaded"] == tiny_png(40, 30)
    methods_answered = set()
    for method, status, payload in captured.answers:
        assert status == 200, (method, payload)
        spec = SPEC_METHODS[method]
        found = problems(payload["result"], spec["returns"], method)
        assert not found, found
        methods_answered.add(method)
    # every method the sandbox implements was exercised and checked
    assert set(METHODS) - {"logOut", "close"} <= methods_answered
    # every parameter PTB sent is a parameter of that method in the spec
    for call in calls:
        known = {f["name"] for f in SPEC_METHODS[call["method"]].get("fields", [])}
        unknown = set(call["params"]) - known
        assert not unknown, (call["method"], unknown)
        required = {
            f["name"] for f in SPEC_METHODS[call["method"]].get("fields", []) if f["required"]
        }
        assert required <= set(call["params"]), (call["method"], required - set(call["params"]))


def test_every_update_kind_matches_the_spec_directly():
    """The raw updates (before PTB parses them) of every kind the control side creates."""
    core = SandboxCore()
    core.add_user(1001, "Siti")
    core.add_group(-1001234567890, "Supergrup", [1001])
    core.send(1001, "/lapor")
    core.send(1001, photo=tiny_png())
    core.send(1001, document=b"x", file_name="a.pdf")
    core.send(1001, voice=b"OggS")
    core.send(1001, sticker=b"RIFF")
    core.send(1001, location={"lat": 1, "lon": 2})
    core.send(1001, contact={"phone_number": "0812"})
    core.send(1001, forward_text="diteruskan")
    core.edit(1001, 1, "/lapor lagi")
    core.send(1001, "di grup", chat_id=-1001234567890)
    core.channel_post(-100777, "kanal")
    core.remove_bot(-1001234567890)
    kinds = [next(k for k in u if k != "update_id") for u in core.updates]
    assert kinds.count("my_chat_member") == 2  # added to the supergroup, then removed
    assert len(core.updates) == 13
    for update in core.updates:
        assert not problems(update, ["Update"], "update"), problems(update, ["Update"], "update")


async def test_the_real_bot_sends_only_spec_parameters(sandbox):
    siti = await sandbox.user(1001, "Siti")
    await siti.send("/start")
    await siti.send("/bantuan")
    await siti.send("teks biasa")
    calls = sandbox.calls()
    assert {c["method"] for c in calls} >= {"getMe", "setMyCommands", "getUpdates", "sendMessage"}
    for call in calls:
        fields = SPEC_METHODS[call["method"]].get("fields", [])
        assert set(call["params"]) <= {f["name"] for f in fields}, call
        for f in fields:
            if f["name"] in call["params"]:
                assert not problems(call["params"][f["name"]], f["types"], f["name"]), call


async def test_error_answers_are_shaped_like_telegrams():
    from bot.sandbox.bot_api import call_method

    core = SandboxCore()
    core.add_user(1001, "Siti")
    core.add_fault("sendMessage", 429, retry_after=3)
    status, payload = await call_method(
        core, core.token, "sendMessage", {"chat_id": 1001, "text": "x"}
    )
    assert status == 429 and payload["ok"] is False and payload["error_code"] == 429
    assert isinstance(payload["description"], str)
    assert not problems(payload["parameters"], ["ResponseParameters"], "parameters")
    core.block(1001)
    status, payload = await call_method(
        core, core.token, "sendMessage", {"chat_id": 1001, "text": "x"}
    )
    assert (status, set(payload)) == (403, {"ok", "error_code", "description"})
