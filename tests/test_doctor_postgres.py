"""`pendamping doctor` on PostgreSQL names the outbox sender: the holder of the sender lock
(a session advisory lock), where its connection comes from, and a WARN when the bot runs
with no sender."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.runlock import acquire_run_lock, acquire_sender_lock
from bot.services import doctor
from bot.services.doctor import OK, WARN, check_sender, run_checks
from tests.pg_databases import PgTestServer, pg_server_or_skip

NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)
# the holder's pid, then where its connection came from (TCP address or the server's socket)
HOLDER = (
    rf"`pendamping (?P<purpose>\w+)` \(pid {os.getpid()}\)"
    r"(, connected from \S+|, on the database server's host \(local socket\))"
)


@pytest.fixture
def url(pg_test_server: PgTestServer):  # noqa: ANN201
    server = pg_server_or_skip(pg_test_server)
    database = server.create_database()
    yield database
    server.drop_database(database)


@pytest.fixture
def settings(url: str, tmp_path: Path) -> Settings:
    return replace(Settings(), database=url, files_dir=str(tmp_path), token="123:abc")


async def sender_line(settings: Settings) -> doctor.Check:
    return {c.name: c for c in await run_checks(settings, NOW)}["outbox sender"]


async def test_doctor_names_the_sender_or_says_none(settings: Settings) -> None:
    stopped = await sender_line(settings)
    assert stopped.line() == "OK   outbox sender: none (the bot is not running)"
    # the workers' shape: the run lock shared, one of them elected sender
    run = acquire_run_lock(settings.database, "run", shared=True)
    sender = acquire_sender_lock(settings.database, "run")
    try:
        running = await sender_line(settings)
    finally:
        assert sender is not None and run is not None
        sender.release()
        run.release()
    assert running.status == OK
    m = re.fullmatch(HOLDER, running.message)
    assert m is not None and m.group("purpose") == "run", running.message
    # `pendamping send` beside a stopped bot holds it too, while it sends
    sending = acquire_sender_lock(settings.database, "send")
    try:
        line = await sender_line(settings)
    finally:
        assert sending is not None
        sending.release()
    m = re.fullmatch(HOLDER, line.message)
    assert line.status == OK and m is not None and m.group("purpose") == "send"


async def test_a_running_bot_without_a_sender_is_a_warning(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "SENDER_TAKEOVER_SECONDS", 0.0)
    run = acquire_run_lock(settings.database, "run", shared=True)
    try:
        line = await sender_line(settings)
    finally:
        assert run is not None
        run.release()
    assert line.status == WARN
    assert line.message == "none while the bot runs: queued messages wait"
    assert "sender_lock_lost" in line.action


async def test_a_takeover_under_way_is_waited_for(url: str) -> None:
    """No sender at the first look while the bot runs: doctor looks again after the time a
    worker takes to take the lock over, and names the new sender instead of warning."""
    run = acquire_run_lock(url, "run", shared=True)
    took: list[object] = []
    try:
        check = asyncio.create_task(check_sender(url, running=True, takeover_seconds=1.0))
        await asyncio.sleep(0.3)  # doctor has looked once and is waiting
        assert not check.done()
        took.append(await asyncio.to_thread(acquire_sender_lock, url, "run"))
        line = await check
    finally:
        for lock in [*took, run]:
            if lock is not None:
                lock.release()  # type: ignore[attr-defined]
    assert line.status == OK and re.fullmatch(HOLDER, line.message), line.line()
