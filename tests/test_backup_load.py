"""Backup and restore with the real bot under load.

The bot runs as a child process (`python -m bot run --api-url ...`) against an in-process
sandbox; two people save a monthly report, then four more fill theirs through the chat at the
same time. While they answer, `python -m bot backup OUT.db` runs. The backup must pass
integrity_check and hold one moment of the database: every saved report's draft is closed,
the reports are a prefix of the final ones, every open draft's answers are a subset of what that
draft ended with. Then the bot stops, `python -m bot restore OUT.db --force` puts the backup
back, the bot starts again and answers, and the data is exactly the backup's.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from bot.db import open_migrated
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from tests.bot_process import (
    BotProcess,
    bot_message_after,
    draft_state,
    full_report,
    high_water,
    run_cli,
    step,
)
from tests.report_seed import add_account, add_recipient, seed_basic

TOKEN = "555666777:AAHbackupUnderLoadToken"
EXTRA = [(4, "Darsih", "tata boga"), (5, "Kustini", "menjahit"), (6, "Rasmi", "ternak kambing")]
PEOPLE = [1001, 1002, 1003, 1004, 1005, 1006]
TABLES = ("recipients", "accounts", "reports", "report_drafts", "report_flags")


def rows(db_path: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608
    finally:
        conn.close()


def snapshot(db_path: Path) -> dict[str, list[tuple]]:
    return {t: rows(db_path, t) for t in TABLES}


def progress(db_path: Path) -> tuple[int, int, int]:
    """(reports saved, answers given so far: the sum of every draft's step counter, reports
    in progress)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return (
            conn.execute("SELECT count(*) FROM reports").fetchone()[0],
            conn.execute("SELECT coalesce(sum(step), 0) FROM report_drafts").fetchone()[0],
            conn.execute("SELECT count(*) FROM report_drafts WHERE status = 'open'").fetchone()[0],
        )
    finally:
        conn.close()


async def until(condition, failure: str, within: float = 120.0) -> None:
    """Wait for a state another process writes (polled), failing with `failure` after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, failure
        await asyncio.sleep(0.05)


def check_consistent(out: Path) -> None:
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # every saved report has its draft closed as saved, none still open for it
        unsaved = conn.execute(
            "SELECT r.id FROM reports r WHERE NOT EXISTS (SELECT 1 FROM report_drafts d"
            " WHERE d.recipient_id = r.recipient_id AND d.period = r.period"
            " AND d.account_id = r.reporter_account_id AND d.status = 'saved')"
            " OR EXISTS (SELECT 1 FROM report_drafts d WHERE d.recipient_id = r.recipient_id"
            " AND d.period = r.period AND d.status = 'open')"
        ).fetchall()
        assert unsaved == [], f"reports whose draft is not closed: {unsaved}"
        # and every draft closed as saved has its report
        orphans = conn.execute(
            "SELECT d.id FROM report_drafts d WHERE d.status = 'saved' AND NOT EXISTS"
            " (SELECT 1 FROM reports r WHERE r.recipient_id = d.recipient_id"
            " AND r.period = d.period)"
        ).fetchall()
        assert orphans == [], f"drafts saved without a report: {orphans}"
    finally:
        conn.close()


async def seed(db_path: Path, clock) -> None:
    db = await open_migrated(str(db_path), clock())
    base = await seed_basic(db)
    for n, name, programme in EXTRA:
        rid = await add_recipient(db, n, name, programme, base["facilitator"], base["desa"][0])
        await add_account(db, 1000 + n, "recipient", recipient_id=rid, name=name)
    await db.close()


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_backup_and_restore_with_the_bot_under_load(tmp_path, clock):
    db_path, out = tmp_path / "bot.db", tmp_path / "OUT.db"
    await seed(db_path, clock)
    core = SandboxCore(TOKEN, bot_username="pendamping_bot")
    for uid in PEOPLE:
        core.add_user(uid, f"Orang {uid}", language_code="id")
    server = SandboxServer(core)
    await server.start()
    bot = BotProcess(db_path, server.bot_base_url, TOKEN, tmp_path / "bot.log")

    holder, writers = PEOPLE[-1], PEOPLE[2:-1]
    holder_waits, backup_done = asyncio.Event(), asyncio.Event()

    async def hold_mid_report() -> None:
        """Answer a few questions, then wait for the backup before finishing: whenever the
        backup's snapshot is taken, this report is in progress and not saved."""
        while len(draft_state(db_path, holder)[0]) < 3:
            await step(core, db_path, holder)
        holder_waits.set()
        await backup_done.wait()
        await full_report(core, db_path, holder)

    async def write_while_backing_up() -> None:
        """The other people start their reports once the holder waits, and answer through the
        backup (they may finish before or after it)."""
        await holder_waits.wait()
        await asyncio.gather(*(full_report(core, db_path, uid) for uid in writers))

    async def backup_mid_load() -> tuple[tuple[int, ...], tuple[int, ...]]:
        await holder_waits.wait()  # an observed state, not a delay: a report is in progress,
        # and a writer has answered since (observed in the file)
        answers_at_hold = progress(db_path)[1]
        await until(lambda: progress(db_path)[1] > answers_at_hold, "no writer answered")
        try:
            before = progress(db_path)
            done = await asyncio.to_thread(run_cli, db_path, "backup", str(out))
            assert done.returncode == 0, done.stderr
            return before, progress(db_path)
        finally:
            backup_done.set()

    try:
        bot.start()
        core.send(PEOPLE[0], text="/start")
        assert await bot_message_after(core, PEOPLE[0], 0, 60), "the bot never answered"
        # two reports saved first; then four people answer at once while the backup runs
        await asyncio.gather(*(full_report(core, db_path, uid) for uid in PEOPLE[:2]))
        _, _, (before, after) = await asyncio.gather(
            hold_mid_report(), write_while_backing_up(), backup_mid_load()
        )
        assert bot.stop() == 0, "the bot did not stop cleanly on SIGTERM"
        final = snapshot(db_path)
        backup = snapshot(out)
        check_consistent(out)
        saved = len(backup["reports"])
        print(f"backup under load: reports before={before[0]} in backup={saved}"
              f" after={after[0]} final={len(final['reports'])};"
              f" answers while the backup ran: {after[1] - before[1]}")  # fmt: skip
        assert len(final["reports"]) == len(PEOPLE)
        assert before[0] <= saved <= after[0] and saved < len(PEOPLE), "not mid-load"
        assert after[1] > before[1], "the bot wrote nothing while the backup ran"
        assert backup["reports"] == final["reports"][:saved]  # a prefix of the final reports
        final_drafts = {d[0]: d for d in final["report_drafts"]}
        open_in_backup = [d for d in backup["report_drafts"] if d[9] == "open"]
        assert open_in_backup, "no report was in progress at the backup"
        for d in open_in_backup:  # answers so far: a subset of what the draft ended with
            then, later = json.loads(d[6]), json.loads(final_drafts[d[0]][6])
            assert then.items() <= later.items(), (then, later)

        restored = run_cli(db_path, "restore", str(out), "--force")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert snapshot(db_path) == backup
        bot.start()
        # someone whose report was in progress at the backup comes back: the bot knows the
        # draft (the restored one) and asks the next question
        uid = next(
            r[1] for r in backup["accounts"] if r[0] in {d[1] for d in open_in_backup} and r[1]
        )
        high = high_water(core, uid)
        core.send(uid, text="/lanjut")
        assert await bot_message_after(core, uid, high, 60), "no answer after the restore"
        assert snapshot(db_path) == backup
    finally:
        bot.stop()
        await server.stop()
