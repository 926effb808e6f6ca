"""Crash suite, report: SIGKILL the bot process (`python -m bot run --api-url ...` against an
in-process loopback sandbox) at random moments of a monthly report, restart it, and check that
every answer the bot acknowledged (by asking the next question) is still in the draft, and that
the saved report exists exactly once if the bot said it was saved.

Prints one line per scenario: acknowledged / lost / duplicated counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3

import pytest

from bot.db import open_migrated
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.server import SandboxServer
from tests.bot_process import NO_DRAFT, BotProcess, act, bot_message_after, draft_state, high_water
from tests.report_seed import seed_basic
from tests.suite_counts import SCENARIOS

SITI = 1001
KILLS = int(os.environ.get("CRASH_REPORT_KILLS", "4"))


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_sigkill_during_a_report_loses_no_acknowledged_answer(tmp_path, clock):
    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path), clock())
    await seed_basic(db)
    await db.close()
    core = SandboxCore(DEFAULT_TOKEN, bot_username="pendamping_bot")
    core.add_user(SITI, "Siti", language_code="id")
    server = SandboxServer(core)
    await server.start()
    bot = BotProcess(db_path, server.bot_base_url, DEFAULT_TOKEN, tmp_path / "bot.log")
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "9")))
    acknowledged: dict[str, object] = {}
    lost = duplicated = kills = 0
    said_saved = False
    try:
        bot.start()
        core.send(SITI, text="/lapor")
        assert await bot_message_after(core, SITI, 0, 60), "the bot never answered /lapor"
        for _ in range(200):
            answers, key, saved = draft_state(db_path, SITI)
            if saved:
                break
            high = high_water(core, SITI)
            act(core, SITI, key)
            if kills < KILLS and rnd.random() < 0.35:
                # kill while the bot may be in the middle of handling this answer
                await asyncio.sleep(rnd.uniform(0, 0.25))
                bot.stop(signal.SIGKILL)
                kills += 1
                answers, key, _ = draft_state(db_path, SITI)
                lost += sum(1 for k, v in acknowledged.items() if answers.get(k, object()) != v)
                bot.start()
                core.send(SITI, text="/lanjut")
                restarted = await bot_message_after(core, SITI, high_water(core, SITI), 60)
                assert restarted, "no reply after restart"
                continue
            assert await bot_message_after(core, SITI, high), f"no acknowledgement for {key}"
            answers, _, saved = draft_state(db_path, SITI)
            if key == NO_DRAFT:
                continue
            if key is None:
                said_saved = any("sudah disimpan" in (m.get("text") or "")
                                 for m in core.chat_messages(SITI, high))  # fmt: skip
            else:
                acknowledged = {k: answers[k] for k in answers}  # the bot asked the next question
        _, _, saved = draft_state(db_path, SITI)
    finally:
        bot.stop(signal.SIGKILL)
        await server.stop()
    transcript = [(m.get("text") or "")[:60] for m in core.chat_messages(SITI)][-6:]
    conn = sqlite3.connect(db_path)
    reports = conn.execute("SELECT answers FROM reports").fetchall()
    conn.close()
    duplicated = max(0, len(reports) - 1)
    if reports:
        final = json.loads(reports[0][0])
        lost += sum(1 for k, v in acknowledged.items() if final.get(k, "(missing)") != v)
    line = (f"crash: report  kills={kills} acknowledged={len(acknowledged)} lost={lost}"
            f" duplicated={duplicated} saved={len(reports)}")  # fmt: skip
    SCENARIOS.append(line)
    print(line)
    assert kills >= 1 and lost == 0 and duplicated == 0
    assert len(reports) == 1, transcript
    assert said_saved or kills, transcript
