"""Crash suite, report: SIGKILL the bot process (`python -m bot run --api-url ...` against an
in-process loopback sandbox) at fixed points of a monthly report, restart it, and check that
every answer the person saw acknowledged is in the saved report, and that the report the bot
said was saved exists exactly once.

"Acknowledged" is read from the chat, as the person sees it: after the answer to question K
the bot showed another question (or the summary with its Simpan button), not K again or an
error. The kills are aimed, not timed: at fixed answers, alternately (a) right after the
acknowledgement appeared in the chat and (b) right after the answer was sent, before any
reply (whether the bot got to it or not, nothing acknowledged may be lost). No kill at the
final Simpan, so the person must see "sudah disimpan" and the report must exist once.

Prints one line per scenario: acknowledged / lost / duplicated counts.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3

import pytest

from bot.db import open_migrated
from bot.paths import templates_dir
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.server import SandboxServer
from tests.bot_process import NO_DRAFT, BotProcess, act, bot_message_after, draft_state, high_water
from tests.report_seed import seed_basic
from tests.suite_counts import SCENARIOS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

SITI = 1001
# (answer number, mode): 'acked' = kill once the next question is in the chat,
# 'sent' = kill right after the answer went out, before the bot's reply
KILL_PLAN = {2: "acked", 4: "sent", 7: "acked", 9: "sent"}
MISSING = "(missing)"


def question_prompts() -> dict[str, str]:
    """Question key -> the fixed start of its text (templates/id/q_<key>.j2 up to the first
    variable), to recognise which question a chat message asks."""
    prompts = {}
    for path in sorted((templates_dir() / "id").glob("q_*.j2")):
        text = path.read_text(encoding="utf-8")
        fixed = re.split(r"\{[{%]", text, maxsplit=1)[0].strip().splitlines()
        if fixed and len(fixed[0].strip()) >= 8:
            prompts[path.stem[2:]] = fixed[0].strip()
    return prompts


def acknowledged_after(core: SandboxCore, high: int, key: str, prompts: dict[str, str]) -> bool:
    """Whether the bot's messages after `high` move on from question `key`."""
    for m in core.chat_messages(SITI, high):
        text = m.get("text") or m.get("caption") or ""
        labels = [b["text"] for row in m.get("buttons") or [] for b in row]
        if "Simpan" in labels:
            return True
        if any(p in text for k, p in prompts.items() if k != key):
            return True
    return False


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_sigkill_during_a_report_loses_no_acknowledged_answer(tmp_path, clock):
    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path), clock())
    await seed_basic(db)
    await db.close()
    prompts = question_prompts()
    assert len(prompts) >= 20, "question texts not recognised"
    core = SandboxCore(DEFAULT_TOKEN, bot_username="pendamping_bot")
    core.add_user(SITI, "Siti", language_code="id")
    server = SandboxServer(core)
    await server.start()
    bot = BotProcess(db_path, server.bot_base_url, DEFAULT_TOKEN, tmp_path / "bot.log")
    acknowledged: dict[str, object] = {}  # key -> value the draft held when the chat moved on
    kills: list[str] = []
    answered = 0
    said_saved = False

    async def restart() -> None:
        bot.stop(signal.SIGKILL)
        bot.start()
        high = high_water(core, SITI)
        core.send(SITI, text="/lanjut")
        assert await bot_message_after(core, SITI, high, 60), "no reply after restart"

    try:
        bot.start()
        core.send(SITI, text="/lapor")
        assert await bot_message_after(core, SITI, 0, 60), "the bot never answered /lapor"
        for _ in range(200):
            _, key, saved = draft_state(db_path, SITI)
            if saved:
                break
            high = high_water(core, SITI)
            act(core, SITI, key)
            mode = KILL_PLAN.get(answered) if key not in (None, NO_DRAFT) else None
            if mode == "sent":
                kills.append(f"{key}:sent")
                await restart()
                answered += 1
                continue
            assert await bot_message_after(core, SITI, high, 60), f"no reply at {key}"
            if key == NO_DRAFT:
                continue
            if key is None:
                said_saved = any("sudah disimpan" in (m.get("text") or "")
                                 for m in core.chat_messages(SITI, high))  # fmt: skip
                continue
            answered += 1
            if acknowledged_after(core, high, key, prompts):
                answers, _, _ = draft_state(db_path, SITI)
                acknowledged[key] = answers.get(key, MISSING)
            if mode == "acked":
                kills.append(f"{key}:acked")
                await restart()
        _, _, saved = draft_state(db_path, SITI)
    finally:
        bot.stop(signal.SIGKILL)
        await server.stop()
    transcript = [(m.get("text") or "")[:60] for m in core.chat_messages(SITI)][-6:]
    conn = sqlite3.connect(db_path)
    reports = conn.execute("SELECT answers FROM reports").fetchall()
    conn.close()
    final = json.loads(reports[0][0]) if reports else {}
    lost = sorted(k for k, v in acknowledged.items() if v == MISSING or final.get(k, MISSING) != v)
    duplicated = max(0, len(reports) - 1)
    line = (f"crash: report  kills={len(kills)} ({', '.join(kills)}) acknowledged="
            f"{len(acknowledged)} lost={len(lost)} duplicated={duplicated} saved={len(reports)}")  # fmt: skip
    SCENARIOS.append(line)
    print(line)
    assert len(kills) == len(KILL_PLAN), kills  # every planned kill landed mid-report
    assert len(acknowledged) >= 8, acknowledged  # the person really got through the form
    assert not lost, lost
    assert said_saved, transcript  # the person saw the confirmation ...
    assert len(reports) == 1, transcript  # ... and the report exists exactly once
