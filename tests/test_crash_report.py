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
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.db import open_migrated
from bot.domain.forms import form_for, next_question
from bot.sandbox.core import DEFAULT_TOKEN, SandboxCore
from bot.sandbox.server import SandboxServer
from tests.report_seed import seed_basic
from tests.suite_counts import SCENARIOS
from tests.test_reports_e2e import ANSWERS

REPO = Path(__file__).resolve().parents[1]
SITI = 1001
KILLS = int(os.environ.get("CRASH_REPORT_KILLS", "4"))


class Bot:
    """The bot as a child process against the sandbox; killed with SIGKILL, restarted."""

    def __init__(self, db_path: Path, url: str) -> None:
        self.db_path, self.url, self.proc = db_path, url, None

    def start(self) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))
        }
        env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=str(self.db_path),
                   TELEGRAM_BOT_TOKEN=DEFAULT_TOKEN)  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--api-url", self.url],
            env=env, cwd=self.db_path.parent, stdout=subprocess.DEVNULL,
            stderr=open(self.db_path.parent / "bot.log", "ab"),  # noqa: SIM115
        )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


def draft_state(db_path: Path) -> tuple[dict, str | None, int]:
    """(answers, next question key, saved reports) read straight from the file."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT d.form, d.answers, r.programme FROM report_drafts d JOIN recipients r"
            " ON r.id = d.recipient_id JOIN accounts a ON a.id = d.account_id"
            " WHERE a.telegram_user_id = ? AND d.status = 'open'",
            (SITI,),
        ).fetchone()
        saved = conn.execute("SELECT count(*) FROM reports").fetchone()[0]
    finally:
        conn.close()
    if row is None:  # no open draft: the answers live on in the saved report, if any
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        try:
            report = conn.execute("SELECT answers FROM reports ORDER BY id DESC").fetchone()
        finally:
            conn.close()
        return (json.loads(report[0]) if report else {}), "(no draft)", saved
    answers = json.loads(row[1])
    q = next_question(form_for(row[0], row[2]), answers)
    return answers, (q.key if q else None), saved


async def bot_message_after(core: SandboxCore, high: int, within: float = 20.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(m["message_id"] > high for m in core.chat_messages(SITI)):
            return True
        await asyncio.sleep(0.02)
    return False


def high_water(core: SandboxCore) -> int:
    return core.chats[SITI].next_message_id - 1 if SITI in core.chats else 0


async def act(core: SandboxCore, key: str | None) -> None:
    """Answer the current question (or save at the summary) the way a person would."""
    if key == "(no draft)":  # /lapor may first ask which month: take the newest offered
        for m in reversed(core.chat_messages(SITI)):
            periods = [b for row in m.get("buttons") or [] for b in row
                       if b["callback_data"].startswith("per:")]  # fmt: skip
            if periods:
                core.press(SITI, m["message_id"], periods[-1]["callback_data"])
                return
        core.send(SITI, text="/lapor")
        return
    if key is None:
        how, what = "press", "Simpan"
    else:
        how, what = ANSWERS[key]
    if how == "press":
        for m in reversed(core.chat_messages(SITI)):
            for row in m.get("buttons") or []:
                for b in row:
                    if b["text"] == what:
                        core.press(SITI, m["message_id"], b["callback_data"])
                        return
        core.send(SITI, text="/lanjut")  # the buttons are not there: ask again
    elif how == "photo":
        core.send(SITI, photo=ANSWERS["photo"][1])
    else:
        core.send(SITI, text=what)


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
    bot = Bot(db_path, server.bot_base_url)
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "9")))
    acknowledged: dict[str, object] = {}
    lost = duplicated = kills = 0
    said_saved = False
    try:
        bot.start()
        core.send(SITI, text="/lapor")
        assert await bot_message_after(core, 0, 60), "the bot never answered /lapor"
        for _ in range(200):
            answers, key, saved = draft_state(db_path)
            if saved:
                break
            high = high_water(core)
            await act(core, key)
            if kills < KILLS and rnd.random() < 0.35:
                # kill while the bot may be in the middle of handling this answer
                await asyncio.sleep(rnd.uniform(0, 0.25))
                bot.kill()
                kills += 1
                answers, key, _ = draft_state(db_path)
                lost += sum(1 for k, v in acknowledged.items() if answers.get(k, object()) != v)
                bot.start()
                core.send(SITI, text="/lanjut")
                assert await bot_message_after(core, high_water(core), 60), "no reply after restart"
                continue
            assert await bot_message_after(core, high), f"no acknowledgement for {key}"
            answers, _, saved = draft_state(db_path)
            if key == "(no draft)":
                continue
            if key is None:
                said_saved = any("sudah disimpan" in (m.get("text") or "")
                                 for m in core.chat_messages(SITI, high))  # fmt: skip
            else:
                acknowledged = {k: answers[k] for k in answers}  # the bot asked the next question
        _, _, saved = draft_state(db_path)
    finally:
        bot.kill()
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
