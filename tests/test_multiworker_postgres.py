"""Several webhook workers on one PostgreSQL database (bot/workers.py, docs/scaling.md).

Real `python -m bot run --webhook-url ... --port N` processes against one PostgreSQL database
and the sandbox's Bot API (bot/sandbox, in this test's event loop), behind a real nginx (the
Debian package, `apt-get install -y nginx`) started by the test with a config made from
deploy/nginx-pendamping.conf: its `upstream` block with the workers' ports and its
`location = /telegram` block as they are, in a plain-HTTP server on a free port with its pid,
logs and temporary files in tmp_path (the example's TLS and /var/log are the host's business).
The test takes each update the sandbox makes and posts it to nginx, which spreads the updates
over the workers (round-robin, the next worker when one is down); one chat's updates one after
the other (the next once the previous was answered, as Telegram does), the chats all at once.
Which worker answered comes from nginx itself ($upstream_addr, in a response header and the
access log), never from the test.

Where no `nginx` binary is on PATH the test plays the load balancer itself: the same
round-robin, posted straight to the workers (the next worker when one fails), so the workers'
behaviour is still tested on a machine without the package; the scenario line says which ran.

- 300 families in CI (CI=true), 60 otherwise (PENDAMPING_TEST_FAMILIES sets it; 300 took about
  1 minute on a quiet 2-core machine, 3 on a shared one) complete a monthly report at once
  over 3 workers: every step answered, every report saved once with the answers given, every
  family shown the same texts in the same order, and every worker given a share. Then each
  family sends three messages back to back, spread over the workers: they are stored in the
  order sent, and each is forwarded to the facilitator once through the outbox (one sender
  among the workers); one of them delivered twice is handled once.
- Takeover: a broadcast is under way from the worker holding the sender lock; it is killed
  (SIGKILL); another worker takes the lock over within seconds and finishes: nobody is left
  out, duplicates within the in-flight window. Updates posted after the kill are all answered:
  nginx goes on to the next worker when it finds the killed one down.
- The per-chat lock itself: a second worker waits for the chat another one holds, not for
  other chats.

No PostgreSQL server: skipped with the reason (a failure with CI=true; tests/pg_databases.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.db import open_migrated
from bot.domain.consent import NOTICE_VERSION
from bot.domain.forms import next_question
from bot.runlock import sender_holder
from bot.sandbox.core import DEFAULT_TOKEN as TOKEN
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from bot.services import broadcasts
from bot.services.accounts import get_account
from bot.services.report_drafts import open_draft
from bot.workers import ChatLocks
from tests.nginx_proxy import NGINX, WORKER_HEADER, Nginx, nginx_version
from tests.pg_databases import in_ci
from tests.suite_counts import SCENARIOS
from tests.test_report_length_e2e import TYPICAL

REPO = Path(__file__).resolve().parents[1]
SECRET = "uji-banyak-pekerja-0123456789"
FAMILIES = int(os.environ.get("PENDAMPING_TEST_FAMILIES", "300" if in_ci() else "60"))
FIRST_FAMILY = 700_000
FACILITATOR = 690_000
IN_FLIGHT = 8
# The scenario's moment (a Monday morning, outside quiet hours): the same run on any date.
NOW = dt.datetime(2024, 2, 5, 3, tzinfo=dt.UTC)  # 10:00 WIB
# `python -m bot run ...` with the scenario's moment as the bot's clock (build_application's
# default clock), so the run never depends on today's date or hour; the rest is the CLI's own.
LAUNCH = (
    "import sys, datetime as dt; import bot.app; from bot.clock import ManualClock;"
    " bot.app.system_clock = ManualClock(dt.datetime.fromisoformat(sys.argv.pop(1)));"
    " from bot.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Workers:
    """N `python -m bot run --webhook-url` processes on one database, and in front of them
    nginx (the test's own, tests/nginx_proxy.py) or, without an nginx binary, the test's
    round-robin. proxy=False: the test's round-robin even where nginx is installed."""

    def __init__(
        self, tmp: Path, pg_url: str, api_url: str, n: int, config: Path, proxy: bool = True
    ) -> None:
        self.ports = [_free_port() for _ in range(n)]
        self.procs: list[subprocess.Popen | None] = []
        self.logs = [tmp / f"worker{i}.log" for i in range(n)]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}  # fmt: skip
        env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=pg_url, TELEGRAM_BOT_TOKEN=TOKEN,
                   PENDAMPING_WEBHOOK_SECRET=SECRET, PENDAMPING_CONFIG=str(config))  # fmt: skip
        for port, log in zip(self.ports, self.logs, strict=True):
            url = f"http://127.0.0.1:{port}/telegram"
            self.procs.append(subprocess.Popen(
                [sys.executable, "-c", LAUNCH, NOW.isoformat(), "run", "--api-url", api_url,
                 "--webhook-url", url,
                 "--listen", "127.0.0.1", "--port", str(port)],
                env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(log, "ab"),  # noqa: SIM115
            ))  # fmt: skip
        self.nginx = Nginx(tmp, _free_port(), self.ports) if proxy and NGINX else None
        self.turn = 0
        self.posted: dict[int, int] = {}  # worker index -> updates it answered
        self.retries: list[str] = []  # posts that failed (then went to the next worker)
        self.session: aiohttp.ClientSession | None = None

    def log_tail(self) -> str:
        tails = [f"--- worker {i}\n" + log.read_text(errors="replace")[-1500:]
                 for i, log in enumerate(self.logs)]  # fmt: skip
        if self.nginx is not None:
            tails.append("--- nginx\n" + self.nginx.errors()[-1500:])
        return "\n".join(tails)

    async def ready(self, within: float = 60) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        deadline = time.monotonic() + within
        listeners = [(self.procs[i], port) for i, port in enumerate(self.ports)]
        if self.nginx is not None:
            listeners.append((self.nginx.proc, self.nginx.port))
        for proc, port in listeners:
            while True:
                assert proc is not None and proc.poll() is None, self.log_tail()
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    assert time.monotonic() < deadline, (
                        f"nothing listens on {port}\n" + self.log_tail()
                    )
                    await asyncio.sleep(0.1)

    async def post(self, update: dict[str, Any]) -> None:
        """Deliver one update: to nginx, which picks the worker (and goes on to the next one
        when a worker is down); without nginx the next worker in turn, on a failure the one
        after it."""
        assert self.session is not None
        for _ in range(3 * len(self.ports)):
            if self.nginx is not None:
                i, url = -1, self.nginx.url
            else:
                i = self.turn % len(self.ports)
                self.turn += 1
                if self.procs[i] is None:
                    continue
                url = f"http://127.0.0.1:{self.ports[i]}/telegram"
            try:
                async with self.session.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                ) as resp:
                    await resp.read()
                    tried = [a.strip() for a in resp.headers.get(WORKER_HEADER, "").split(",")]
                    if self.nginx is not None and len(tried) > 1:  # nginx went on to the next
                        self.retries.append(f"update {update['update_id']}: nginx tried {tried}")
                    if resp.status == 200:
                        if self.nginx is not None:
                            i = self.nginx.worker(tried[-1])
                        self.posted[i] = self.posted.get(i, 0) + 1
                        return
                    self.retries.append(f"update {update['update_id']}: {resp.status}")
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                self.retries.append(f"update {update['update_id']}: {type(exc).__name__}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"no worker took update {update['update_id']}\n" + self.log_tail())

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self.procs[i] = None

    async def stop(self) -> list[int | None]:
        """Stop the workers (SIGTERM; their exit codes, None for a killed one), then nginx."""
        if self.session is not None:
            await self.session.close()
        codes = []
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            if proc is None:
                codes.append(None)
                continue
            try:
                codes.append(proc.wait(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait(10))
        if self.nginx is not None:
            self.nginx.stop()
        return codes

    def balancer(self) -> str:
        """Who spread the updates, for the scenario line."""
        return (
            f"behind {nginx_version()}"
            if self.nginx is not None
            else "round-robin by the test (no nginx)"
        )


def _take(core: SandboxCore, update_id: int) -> dict[str, Any]:
    """The update out of the sandbox's queue: this test delivers it, not the sandbox."""
    for i, u in enumerate(core.updates):
        if u["update_id"] == update_id:
            return core.updates.pop(i)
    raise AssertionError(f"update {update_id} not queued")


async def _seed(
    url: str, n: int, now: dt.datetime, *, first_family: int = FIRST_FAMILY,
    facilitator: int = FACILITATOR, kecamatan: str = "33.28.06",
) -> None:  # fmt: skip
    """n recipients linked (privacy notice accepted), one facilitator with an account."""
    stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
    db = await open_migrated(url, now)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO facilitators (id, code, name, created_at, updated_at)"
                " VALUES (1, 'PD-1', 'Pendamping', ?, ?)",
                (stamp, stamp),
            )
            await conn.execute(
                "INSERT INTO accounts (telegram_user_id, chat_id, role, facilitator_id, linked_at)"
                " VALUES (?, ?, 'facilitator', 1, ?)",
                (facilitator, facilitator, stamp),
            )
            prefix = kecamatan.replace(".", "")
            await conn.executemany(
                "INSERT INTO recipients (id, nik, name, kecamatan_code, programme,"
                " facilitator_id, created_at, updated_at)"
                " VALUES (?, ?, 'Siti', ?, 'tata boga', 1, ?, ?)",
                [(i + 1, f"{prefix}4{i:09d}", kecamatan, stamp, stamp) for i in range(n)],
            )
            await conn.executemany(
                "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id,"
                " linked_at, consent_version, consent_at) VALUES (?, ?, 'recipient', ?, ?, ?, ?)",
                [(first_family + i, first_family + i, i + 1, stamp, NOTICE_VERSION, stamp)
                 for i in range(n)],
            )  # fmt: skip
    finally:
        await db.close()


def _button(core: SandboxCore, uid: int, label: str | None = None, prefix: str = "") -> tuple:
    """(message id, callback data) of the newest bot message offering this button."""
    for m in reversed(core.chat_messages(uid)):
        for row in m.get("buttons") or []:
            for b in row:
                if (label is None or b["text"] == label) and b["callback_data"].startswith(prefix):
                    return m["message_id"], b["callback_data"]
    raise AssertionError(f"{uid}: no button {label or prefix!r}")


def _bot_texts(core: SandboxCore, uid: int) -> list[str]:
    return [m.data.get("text") or m.data.get("caption") or "" for m in core.bot_messages(uid)]


async def _report(core: SandboxCore, workers: Workers, db: Any, uid: int) -> int:
    """One family's monthly report, from /lapor to Simpan; the number of steps."""
    account = await get_account(db, uid)
    steps = 0

    async def act(update_id: int) -> None:
        nonlocal steps
        before = len(core.bot_messages(uid))
        await workers.post(_take(core, update_id))
        steps += 1
        # handled before the worker answered: the bot's answer is there already
        assert len(core.bot_messages(uid)) > before, f"{uid}: no answer at step {steps}"

    await act(core.send(uid, text="/lapor")["update_id"])
    for _ in range(40):
        draft = await open_draft(db, account)
        if draft is None:
            if await db.fetchval(
                "SELECT count(*) FROM reports WHERE recipient_id = ?", (account.recipient_id,)
            ):
                return steps
            message_id, data = _button(core, uid, prefix="per:")  # which month: the newest
            await act(core.press(uid, message_id, data)["update_id"])
            continue
        q = next_question(draft.form, draft.answers)
        how, what = ("press", "Simpan") if q is None else TYPICAL[q.key]
        if how == "press":
            message_id, data = _button(core, uid, what)
            await act(core.press(uid, message_id, data)["update_id"])
        else:
            await act(core.send(uid, text=what)["update_id"])
    raise AssertionError(f"{uid}: the report was not saved")


async def test_families_report_at_once_over_three_workers(tmp_path, pg_url):
    config = tmp_path / "pendamping.toml"
    config.write_text(
        f"[outbox]\nper_second = 400.0\nprivate_interval_seconds = 0.0\nin_flight = {IN_FLIGHT}\n",
        encoding="utf-8",
    )
    families = [FIRST_FAMILY + i for i in range(FAMILIES)]
    await _seed(pg_url, FAMILIES, NOW)
    core = SandboxCore(TOKEN, call_log_size=100)
    core.add_user(FACILITATOR, "Pendamping")
    for uid in families:
        core.add_user(uid, "Siti")
    server = SandboxServer(core, control=False)
    await server.start()
    await server._pusher.stop()  # the test delivers the updates itself (to nginx)
    workers = Workers(tmp_path, pg_url, server.bot_base_url, 3, config)
    db = await open_migrated(pg_url)
    try:
        await workers.ready()
        started = time.monotonic()
        steps = await asyncio.gather(*(_report(core, workers, db, uid) for uid in families))
        report_seconds = time.monotonic() - started

        async def burst(uid: int) -> None:
            ids = [core.send(uid, text=f"pesan {uid} ke-{k}")["update_id"] for k in (1, 2, 3)]
            for update_id in ids:  # spread over the workers (each to the next in turn)
                update = _take(core, update_id)
                await workers.post(update)
                if uid == families[0] and update_id == ids[1]:
                    await workers.post(update)  # delivered again (any worker): skipped

        await asyncio.gather(*(burst(uid) for uid in families))
        # the forwarded messages go out through the outbox: one sender among the workers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not await db.fetchval("SELECT count(*) FROM outbox WHERE status != 'sent'"):
                break
            await asyncio.sleep(0.2)
        holder = sender_holder(pg_url)
    finally:
        await db.close()
        codes = await workers.stop()
        await server.stop()
    assert codes == [0, 0, 0], workers.log_tail()
    assert holder is not None and "pendamping run" in holder
    # every report saved once, with the answers given, and every family shown the same texts
    db = await open_migrated(pg_url)
    try:
        saved = await db.fetchall("SELECT recipient_id, count(*) AS n FROM reports GROUP BY 1")
        assert len(saved) == FAMILIES and all(r["n"] == 1 for r in saved)
        answers = await db.fetchall("SELECT DISTINCT answers FROM reports")
        parsed = [json.loads(r["answers"]) for r in answers]
        assert all(a == parsed[0] for a in parsed), (parsed, workers.retries[:20])
        stored = await db.fetchall(
            "SELECT a.telegram_user_id AS uid, m.body FROM family_messages m"
            " JOIN accounts a ON a.id = m.recipient_account_id WHERE m.direction = 'in'"
            " ORDER BY m.id"
        )
        outbox = await db.fetchall("SELECT status, attempts FROM outbox")
    finally:
        await db.close()
    reference = [re.sub(r"\d+", "#", t) for t in _bot_texts(core, families[-1])]
    for uid in families:
        assert [re.sub(r"\d+", "#", t) for t in _bot_texts(core, uid)] == reference, uid
    # the three messages of each family stored in the order sent, each once
    order: dict[int, list[str]] = {}
    for row in stored:
        order.setdefault(row["uid"], []).append(row["body"])
    assert order == {uid: [f"pesan {uid} ke-{k}" for k in (1, 2, 3)] for uid in families}
    # ... and forwarded once each: every outbox row sent on its first attempt
    assert len(outbox) == 3 * FAMILIES
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in outbox)
    forwarded = [t for t in _bot_texts(core, FACILITATOR) if "pesan " in t]
    assert len(forwarded) == len(set(forwarded)) == 3 * FAMILIES
    # every worker had its share: said by nginx (which worker answered each post, in its
    # access log and in the answer's header) or, without nginx, by the test's round-robin
    total = sum(steps)
    posts = total + 3 * FAMILIES + 1
    assert sum(workers.posted.values()) == posts, workers.retries[:20]
    if workers.nginx is not None:
        assert workers.nginx.spread() == workers.posted
    assert len(workers.posted) == 3 and min(workers.posted.values()) > posts // 6, workers.posted
    spread = "/".join(str(workers.posted[i]) for i in range(3))
    SCENARIOS.append(
        f"workers: 3 on PostgreSQL {workers.balancer()}, {FAMILIES} reports at once ({total} "
        f"steps, {total / report_seconds:.0f} steps/s, posts per worker {spread}), "
        f"{3 * FAMILIES} messages in order, 0 duplicates"
    )


async def test_sender_taken_over_when_its_worker_is_killed(tmp_path, pg_url):
    n = 1500
    config = tmp_path / "pendamping.toml"
    config.write_text(
        f"[outbox]\nper_second = 300.0\nprivate_interval_seconds = 0.0\nin_flight = {IN_FLIGHT}\n",
        encoding="utf-8",
    )
    now = NOW
    await _seed(pg_url, n, now)
    core = SandboxCore(TOKEN, call_log_size=100)
    for i in range(n):
        core.add_user(FIRST_FAMILY + i, "Siti")
    strangers = [FIRST_FAMILY + n + k for k in range(6)]  # write to the bot after the kill
    for uid in strangers:
        core.add_user(uid, "Budi")
    server = SandboxServer(core, control=False)
    await server.start()
    await server._pusher.stop()
    workers = Workers(tmp_path, pg_url, server.bot_base_url, 3, config)

    def delivered() -> dict[int, int]:  # the broadcast's messages to the families
        counts: dict[int, int] = {}
        for (chat_id, _), m in list(core.messages.items()):
            if m.from_bot and FIRST_FAMILY <= chat_id < FIRST_FAMILY + n:
                counts[chat_id] = counts.get(chat_id, 0) + 1
        return counts

    try:
        await workers.ready()
        holder = None
        deadline = time.monotonic() + 30
        while holder is None and time.monotonic() < deadline:
            holder = await asyncio.to_thread(sender_holder, pg_url)
            await asyncio.sleep(0.1)
        assert holder is not None, workers.log_tail()
        pid = int(re.search(r"pid (\d+)", holder).group(1))  # type: ignore[union-attr]
        first = next(i for i, p in enumerate(workers.procs) if p is not None and p.pid == pid)
        settings_db = await open_migrated(pg_url)
        try:
            from bot.config import load_settings

            settings = load_settings(str(config), env={})
            p = await broadcasts.start_draft(settings_db, settings, None, "recipients", None,
                                             now, "Pasar murah Sabtu ini.")  # fmt: skip
            assert await broadcasts.queue(settings_db, settings, None, p.broadcast_id, now) == n
        finally:
            await settings_db.close()
        # the holder polls every second: it starts, and is killed a third of the way in
        deadline = time.monotonic() + 30
        while sum(delivered().values()) < n // 3:
            assert time.monotonic() < deadline, "the broadcast did not start\n" + workers.log_tail()
            await asyncio.sleep(0.005)
        workers.kill(first)
        killed_at = sum(delivered().values())
        killed = time.monotonic()
        assert killed_at < n, "the broadcast finished before the kill"
        took_over = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if took_over is None and sum(delivered().values()) > killed_at + IN_FLIGHT:
                took_over = time.monotonic() - killed
            if len(delivered()) == n:
                break
            await asyncio.sleep(0.05)
        # updates after the kill are answered: nginx finds the killed worker down (connection
        # refused) and posts the update to the next one, then leaves it out for a while
        for uid in strangers:
            before = len(core.bot_messages(uid))
            await workers.post(_take(core, core.send(uid, text="/start")["update_id"]))
            assert len(core.bot_messages(uid)) > before, f"{uid}: no answer"
        new_holder = await asyncio.to_thread(sender_holder, pg_url)
    finally:
        codes = await workers.stop()
        await server.stop()
    assert codes[first] is None and all(c == 0 for i, c in enumerate(codes) if i != first), (
        workers.log_tail()
    )
    counts = [delivered().get(FIRST_FAMILY + i, 0) for i in range(n)]
    lost = sum(1 for c in counts if c == 0)
    duplicates = sum(c - 1 for c in counts if c > 1)
    assert new_holder is not None and f"pid {pid})" not in new_holder
    assert took_over is not None and took_over < 10, took_over
    assert lost == 0
    assert duplicates <= IN_FLIGHT
    assert first not in workers.posted and sum(workers.posted.values()) == len(strangers)
    if workers.nginx is not None:  # nginx tried the killed worker and went on to the next
        dead = f"127.0.0.1:{workers.ports[first]}"
        assert any(dead in r for r in workers.retries), workers.retries
        assert workers.nginx.spread() == workers.posted
    SCENARIOS.append(
        f"workers: sender killed after {killed_at} of {n} broadcast messages; taken over in "
        f"{took_over:.1f} s, lost {lost}, duplicated {duplicates} (bound {IN_FLIGHT}); "
        f"{len(strangers)} updates after the kill answered ({workers.balancer()})"
    )


async def test_chat_lock_waits_only_for_the_same_chat(pg_url):
    a, b = ChatLocks(pg_url), ChatLocks(pg_url)  # two workers
    await a.open()
    await b.open()
    try:
        order: list[str] = []
        async with a.hold(42):

            async def second() -> None:
                async with b.hold(42):
                    order.append("b42")

            waiting = asyncio.create_task(second())
            async with b.hold(43):  # another chat: not held up
                order.append("b43")
            await asyncio.sleep(0.2)
            assert not waiting.done()
            order.append("a42 done")
        await asyncio.wait_for(waiting, 5)
        assert order == ["b43", "a42 done", "b42"]
        # chat ids beyond 32 bits fold into the key; a lost session's locks are gone with it
        async with a.hold(-1001234567890):
            await a.close()
        async with b.hold(-1001234567890):
            pass
    finally:
        await a.close()
        await b.close()


def test_workers_share_the_run_lock_a_polling_bot_does_not(pg_url):
    from bot.runlock import RunLockHeld, acquire_run_lock, is_locked

    first = acquire_run_lock(pg_url, shared=True)
    second = acquire_run_lock(pg_url, shared=True)  # a second webhook worker
    assert first is not None and second is not None
    try:
        with pytest.raises(RunLockHeld, match="is in use by `pendamping run`"):
            acquire_run_lock(pg_url)  # polling (or anything needing the database alone)
    finally:
        first.release()
        second.release()
    assert is_locked(pg_url) is None
    alone = acquire_run_lock(pg_url)
    assert alone is not None
    alone.release()
