"""`pendamping tick` and `pendamping broadcast` in a subprocess (the tree under test)."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from bot.db import open_migrated
from tests import cycle_seed as seed
from tests.cli_helpers import REPO, run_cli
from tests.loopback_botapi import TOKEN, LoopbackBotAPI, start

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


async def _seed(path: str) -> None:
    db = await open_migrated(path)
    try:
        budi = await seed.facilitator(db, "Budi", chat_id=2001)
        await seed.recipient(db, "Siti", facilitator_id=budi, chat_id=1001)
        await seed.recipient(db, "Rina", facilitator_id=budi)
    finally:
        await db.close()


async def test_tick_dry_run_shows_a_readable_plan(tmp_path):
    path = str(tmp_path / "p.db")
    await _seed(path)
    env = {"PENDAMPING_DB": path}
    r = run_cli("tick", "--now", "2024-02-01T08:00", "--dry-run", cwd=tmp_path, env=env)
    print(r.stdout)
    assert r.returncode == 0, r.stderr
    assert "tick at 2024-02-01 08:00 WIB (dry run: nothing written)" in r.stdout
    assert (
        "period 2024-01 step open (due 2024-02-01 08:00 WIB): would run, 1 message(s)" in r.stdout
    )
    assert "planned cycle 2024-01 open -> recipient Siti (acc" in r.stdout
    assert "1 planned (dry run: nothing written, nothing sent)" in r.stdout
    # nothing was written: the real run plans the same message
    r = run_cli("tick", "--now", "2024-02-01T08:00", cwd=tmp_path, env=env)
    assert r.returncode == 0 and "1 planned, not sent (no token)" in r.stdout
    r = run_cli("tick", "--now", "2024-02-01T08:05", cwd=tmp_path, env=env)
    assert r.returncode == 0 and "0 planned, not sent (no token)" in r.stdout
    assert "no cycle step is due" in r.stdout


async def test_tick_with_nobody_linked_still_shows_the_period_steps(tmp_path):
    env = {"PENDAMPING_DB": str(tmp_path / "empty.db")}
    r = run_cli("tick", "--now", "2024-02-12T09:00+07:00", "--dry-run", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "step reminder2 (due 2024-02-10 08:00 WIB): would run, 0 message(s)" in r.stdout
    assert "step escalate_facilitator (due 2024-02-12 08:00 WIB): would run" in r.stdout
    assert "step open (due 2024-02-01 08:00 WIB): skipped" in r.stdout


async def test_tick_bad_time_is_a_usage_error(tmp_path):
    r = run_cli(
        "tick", "--now", "yesterday", cwd=tmp_path, env={"PENDAMPING_DB": str(tmp_path / "x.db")}
    )
    assert r.returncode == 2 and "not an ISO time" in r.stderr


async def test_broadcast_cli_queues_and_checks_input(tmp_path):
    path = str(tmp_path / "p.db")
    await _seed(path)
    env = {"PENDAMPING_DB": path}
    text = tmp_path / "msg.txt"
    text.write_text("Pelatihan menjahit hari Senin.", encoding="utf-8")
    r = run_cli("broadcast", "--audience", "kecamatan:33.28.10", "--text-file", str(text),
                "--dry-run", cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 0 and "Kec. Slawi: 1 people" in r.stdout and "nothing queued" in r.stdout
    r = run_cli("broadcast", "--audience", "recipients", "--text-file", str(text),
                cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "queued for 1 people" in r.stdout and "not sent (no token)" in r.stdout
    r = run_cli("broadcast", "--audience", "everyone", "--text-file", str(text), cwd=tmp_path,
                env=env)  # fmt: skip
    assert r.returncode == 2 and "--audience" in r.stderr
    r = run_cli("broadcast", "--audience", "recipients", "--text-file", str(tmp_path / "no.txt"),
                cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 2 and "cannot read" in r.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    r = run_cli("broadcast", "--audience", "recipients", "--text-file", str(empty), cwd=tmp_path,
                env=env)  # fmt: skip
    assert r.returncode == 2 and "empty_text" in r.stderr
    # --region narrows the audience through the service (the count is the region's)
    for region, people in (("33.28.10", 1), ("33.28.06", 0)):
        r = run_cli("broadcast", "--audience", "recipients", "--region", region, "--text-file",
                    str(text), "--dry-run", cwd=tmp_path, env=env)  # fmt: skip
        assert r.returncode == 0 and f": {people} people" in r.stdout, r.stdout + r.stderr
    r = run_cli("broadcast", "--audience", "recipients", "--region", "99.99.99", "--text-file",
                str(text), "--dry-run", cwd=tmp_path, env=env)  # fmt: skip
    assert r.returncode == 2 and "bad_kecamatan" in r.stderr


async def test_tick_with_token_sends_and_prints_each_message(tmp_path):
    path = str(tmp_path / "p.db")
    await _seed(path)
    db = await open_migrated(path)
    await seed.recipient(db, "Ani", chat_id=1002)
    await db.close()
    api = LoopbackBotAPI(blocked={1002})
    runner, port = await start(api)
    try:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))
        }
        env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=path, TELEGRAM_BOT_TOKEN=TOKEN)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "tick", "--now", "2024-02-01T08:00", "--api-url",
            f"http://127.0.0.1:{port}/bot", "--linger", "0", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await runner.cleanup()
    text = out.decode()
    print(text)
    assert proc.returncode == 0, err.decode()
    assert "2 planned" in text
    assert "sent: cycle 2024-01 open -> chat 1001" in text
    assert "unreachable (memblokir bot): cycle 2024-01 open -> chat 1002" in text
    assert "sent 1, failed 0, unreachable 1" in text
    assert api.deliveries == {1001: 1}
