"""The real bot as a child process (`python -m bot run --api-url ...`) against an in-process
SandboxServer, and a person who fills a monthly report through the sandbox chat.

The pieces of tests/test_crash_report.py, generalised: any token, any person, a log file,
a clean stop (SIGTERM) as well as SIGKILL. The state of a person's draft is read straight from
the database file (read-only), the way the crash suite does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bot.domain.forms import form_for, next_question
from bot.sandbox.core import SandboxCore
from tests.test_reports_e2e import ANSWERS

REPO = Path(__file__).resolve().parents[1]
NO_DRAFT = "(no draft)"


def cli_env(db_path: Path, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=str(db_path))
    if token:
        env["TELEGRAM_BOT_TOKEN"] = token
    return env


def run_cli(db_path: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess:
    pre = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "bot", *pre, *args],
        env=cli_env(db_path), cwd=db_path.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


class BotProcess:
    """`python -m bot run --api-url URL`; its stderr (the log) appended to log_path."""

    def __init__(
        self,
        db_path: Path,
        url: str,
        token: str,
        log_path: Path,
        config: Path | None = None,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.db_path, self.url, self.token = db_path, url, token
        self.log_path, self.config, self.proc = log_path, config, None
        self.args, self.env = args, env or {}

    def start(self) -> None:
        pre = ["--config", str(self.config)] if self.config else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *pre, "run", "--api-url", self.url, *self.args],
            env={**cli_env(self.db_path, self.token), **self.env}, cwd=self.db_path.parent,
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"),  # noqa: SIM115
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Signal the bot and wait for it; SIGKILL if it does not end in time."""
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        elif self.proc is not None:
            code = self.proc.returncode
        self.proc = None
        return code


def draft_state(db_path: Path, user_id: int) -> tuple[dict, str | None, int]:
    """(answers, next question key or NO_DRAFT, reports saved for this person's recipient).

    With no open draft the answers are those of the person's latest saved report ({} if none)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute(
            "SELECT d.form, d.answers, r.programme, d.period FROM report_drafts d JOIN recipients r"
            " ON r.id = d.recipient_id JOIN accounts a ON a.id = d.account_id"
            " WHERE a.telegram_user_id = ? AND d.status = 'open'",
            (user_id,),
        ).fetchone()
        saved = conn.execute(
            "SELECT count(*) FROM reports p JOIN accounts a ON a.recipient_id = p.recipient_id"
            " WHERE a.telegram_user_id = ?",
            (user_id,),
        ).fetchone()[0]
        # no open draft: the answers live on in the person's saved report, if any
        report = conn.execute(
            "SELECT p.answers FROM reports p JOIN accounts a ON a.recipient_id = p.recipient_id"
            " WHERE a.telegram_user_id = ? ORDER BY p.id DESC",
            (user_id,),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        return (json.loads(report[0]) if report else {}), NO_DRAFT, saved
    answers = json.loads(row[1])
    q = next_question(form_for(row[0], row[2], row[3]), answers)
    return answers, (q.key if q else None), saved


def high_water(core: SandboxCore, user_id: int) -> int:
    return core.chats[user_id].next_message_id - 1 if user_id in core.chats else 0


async def bot_message_after(
    core: SandboxCore, user_id: int, high: int, within: float = 20.0
) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if user_id in core.chats and any(
            m["message_id"] > high for m in core.chat_messages(user_id)
        ):
            return True
        await asyncio.sleep(0.02)
    return False


def act(core: SandboxCore, user_id: int, key: str | None, answers: dict | None = None) -> None:
    """Answer the current question (or save at the summary) the way a person would."""
    answers = {**ANSWERS, **(answers or {})}
    if key == NO_DRAFT:  # /lapor may first ask which month: take the newest offered
        for m in reversed(core.chat_messages(user_id) if user_id in core.chats else []):
            periods = [b for row in m.get("buttons") or [] for b in row
                       if b["callback_data"].startswith("per:")]  # fmt: skip
            if periods:
                core.press(user_id, m["message_id"], periods[-1]["callback_data"])
                return
        core.send(user_id, text="/lapor")
        return
    how, what = ("press", "Simpan") if key is None else answers[key]
    if how == "press":
        for m in reversed(core.chat_messages(user_id)):
            for row in m.get("buttons") or []:
                for b in row:
                    if b["text"] == what:
                        core.press(user_id, m["message_id"], b["callback_data"])
                        return
        core.send(user_id, text="/lanjut")  # the buttons are not there: ask again
    elif how == "photo":  # a photo of its own for each person (same bytes = same picture)
        core.send(user_id, photo=what + user_id.to_bytes(4, "big"))
    else:
        core.send(user_id, text=what)


async def step(core: SandboxCore, db_path: Path, user_id: int, answers: dict | None = None):
    """One action of the person, waited for the bot's answer. Returns the key acted on."""
    _, key, _ = draft_state(db_path, user_id)
    high = high_water(core, user_id)
    act(core, user_id, key, answers)
    assert await bot_message_after(core, user_id, high), f"{user_id}: no answer at {key}"
    return key


async def full_report(
    core: SandboxCore, db_path: Path, user_id: int, answers: dict | None = None
) -> None:
    """From /lapor to 'sudah disimpan': one monthly report, every answer typed or pressed."""
    for _ in range(80):
        if draft_state(db_path, user_id)[2]:
            return
        await step(core, db_path, user_id, answers)
    raise AssertionError(f"{user_id}: the report was not saved")
