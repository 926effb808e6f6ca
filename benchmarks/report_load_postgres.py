"""The monthly report load on SQLite (one process) and on PostgreSQL with 1 and 2 workers.

The same load as benchmarks/report_load.py (its script, seed, people and phases), one run after
the other in this process, each bot behind its webhook endpoint (bot/webhook.py), the way
several workers are deployed (docs/scaling.md):

- sqlite: one process, the webhook queues each update for PTB's loop (the single-server setup);
- pg/1, pg/2: 1 and 2 worker processes on one PostgreSQL database (bot/workers.py): each update
  handled under its chat's advisory lock before the webhook answers, up to
  CONCURRENT_UPDATES (8) chats at once per worker (as `pendamping run` does); the sender lock
  elected.

This process plays Telegram and the load balancer: the sandbox's Bot API (loopback, limits
off) and the people, who post their updates to the workers in turn (round-robin).

Per run: saturation steps/s (n people at once, closed loop), p95 answer time at an offered
`--rate` updates/s, CPU milliseconds per step of each worker process (user + system, read from
/proc over the saturation phase) and of the PostgreSQL server processes serving the database
(its backends), and a check of the outcome: reports lost (not saved), duplicated (a person
answered more often than the script has steps) or out of order (saved answers that differ).

Goals: pg/1 >= 0.7x sqlite steps/s; CPU per step of pg/1's worker <= 1.5x sqlite's; with
2 workers 0 lost, duplicated or out of order.

    PYTHONPATH=. python benchmarks/report_load_postgres.py [--n 200] [--rate 50] [--seconds 10]
        [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from _result import result  # benchmarks/ is on sys.path when run as a script
from report_load import (
    SCENARIO_MOMENT,
    SCENARIO_NOW,
    SCRIPT,
    TOKEN,
    Watcher,
    _button_data,
    _first_offered,
    seed,
)

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import open_migrated
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from bot.webhook import run_webhook
from bot.workers import CONCURRENT_UPDATES

SECRET = "bench-" + "0" * 26
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """User + system CPU of a process so far, in milliseconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Balancer:
    """Posts each update to the workers in turn (the next one when a post fails)."""

    def __init__(self, core: SandboxCore, ports: list[int]) -> None:
        self.core, self.ports, self.turn = core, ports, 0
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def deliver(self, update_id: int) -> None:
        updates = self.core.updates
        update = next(u for u in updates if u["update_id"] == update_id)
        updates.remove(update)
        for _ in range(10):
            port = self.ports[self.turn % len(self.ports)]
            self.turn += 1
            try:
                async with self.session.post(
                    f"http://127.0.0.1:{port}/telegram", json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as resp:  # fmt: skip
                    await resp.read()
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"no worker took update {update_id}")


async def step(core: SandboxCore, watcher: Watcher, lb: Balancer, uid: int,
               action: tuple[str, str]) -> float:  # fmt: skip
    """One action through the balancer; seconds until the bot's answer arrived."""
    how, what = action
    fut = watcher.expect(uid)
    start = time.perf_counter()
    if how == "send":
        update_id = core.send(uid, text=what)["update_id"]
    else:
        stored = watcher.last[uid]
        label = _first_offered(stored, what.split("|"))
        update_id = core.press(uid, stored.message_id, _button_data(stored, label))["update_id"]
    await lb.deliver(update_id)
    await asyncio.wait_for(fut, 600)
    return time.perf_counter() - start


async def saturation(core: SandboxCore, watcher: Watcher, lb: Balancer, users: list[int]) -> float:
    async def person(uid: int) -> None:
        for action in SCRIPT:
            await step(core, watcher, lb, uid, action)

    start = time.perf_counter()
    await asyncio.gather(*(person(uid) for uid in users))
    return len(users) * len(SCRIPT) / (time.perf_counter() - start)


async def latency(core: SandboxCore, watcher: Watcher, lb: Balancer, users: list[int],
                  rate: float, seconds: float) -> list[float]:  # fmt: skip
    """Open loop: one action every 1/rate s, people taking turns through their scripts."""
    progress = dict.fromkeys(users, 0)
    busy: set[int] = set()
    samples: list[float] = []
    tasks = []

    async def one(uid: int) -> None:
        try:
            samples.append(await step(core, watcher, lb, uid, SCRIPT[progress[uid]]))
            progress[uid] = (progress[uid] + 1) % len(SCRIPT)
        finally:
            busy.discard(uid)

    start = time.perf_counter()
    turn = 0
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        free = None
        for _ in range(len(users)):
            uid = users[turn % len(users)]
            turn += 1
            if uid not in busy:
                free = uid
                break
        if free is not None:
            busy.add(free)
            tasks.append(asyncio.create_task(one(free)))
    await asyncio.gather(*tasks)
    return samples


# --- the bot under test: one worker process ------------------------------------------------


async def run_child(database: str, url: str, port: int, workers: bool, now: dt.datetime) -> int:
    """One worker: the report bot on the scenario's clock behind its webhook endpoint."""
    settings = replace(Settings(), database=database)
    extra = {"sender_election": database} if workers else None
    app = build_application(
        settings, token=TOKEN, base_url=url, rate_limiter=False, clock=ManualClock(now),
        extra_bot_data=extra, concurrent_updates=CONCURRENT_UPDATES if workers else 1,
    )  # fmt: skip
    return await run_webhook(
        app, listen="127.0.0.1", port=port, url_path="telegram",
        webhook_url=f"http://127.0.0.1:{port}/telegram", secret=SECRET,
        workers_database=database if workers else None,
    )  # fmt: skip


# --- one configuration ---------------------------------------------------------------------


def _pg_create(admin: str) -> str:
    import psycopg

    name = f"pendamping_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(admin)._replace(path="/" + name).geturl()


def _pg_drop(admin: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_backends(url: str) -> list[int]:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [r[0] for r in rows]


async def run_config(name: str, database: str, n_workers: int, args: argparse.Namespace,
                     base: int) -> dict[str, Any]:  # fmt: skip
    core = SandboxCore(TOKEN)
    server = SandboxServer(core, control=False)
    await server.start()
    await server._pusher.stop()  # the balancer below delivers every update
    watcher = Watcher(core)
    sat_users = [base + i for i in range(args.n)]
    lat_users = [base + 500_000 + i for i in range(args.pool)]
    for uid in sat_users + lat_users:
        core.add_user(uid, f"U{uid}")
    await seed(database, sat_users + lat_users, args.now)
    ports = [_free_port() for _ in range(n_workers)]
    workers = database.startswith("postgresql://")
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--child",
            "--db",
            database,
            "--url",
            server.bot_base_url,
            "--port",
            str(port),
            "--now",
            args.now.isoformat(),
            *(["--workers"] if workers else []),
        )  # fmt: skip
        for port in ports
    ]
    lb = Balancer(core, ports)
    try:
        for port, proc in zip(ports, procs, strict=True):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"{name}: a worker exited with {proc.returncode}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # start-up work (menus, the sender's first pass) settles
        backends = _pg_backends(database) if workers else []
        pids = [p.pid for p in procs]
        cpu_before = [cpu_ms(p) for p in pids]
        pg_before = sum(cpu_ms(p) for p in backends)
        steps_per_s = await saturation(core, watcher, lb, sat_users)
        cpu_steps = [cpu_ms(p) - b for p, b in zip(pids, cpu_before, strict=True)]
        pg_cpu = sum(cpu_ms(p) for p in backends) - pg_before
        samples = await latency(core, watcher, lb, lat_users, args.rate, args.seconds)
    finally:
        await lb.session.close()
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await proc.wait()
        await server.stop()
    outcome = await check(core, database, sat_users)
    steps = args.n * len(SCRIPT)
    samples.sort()
    return {
        "steps_per_s": steps_per_s,
        "p95_ms": samples[int(0.95 * (len(samples) - 1))] * 1000,
        "p50_ms": statistics.median(samples) * 1000,
        "cpu_ms_per_step": [c / steps for c in cpu_steps],
        "cpu_ms_per_step_total": sum(cpu_steps) / steps,
        "pg_cpu_ms_per_step": pg_cpu / steps if workers else 0.0,
        **outcome,
    }


async def check(core: SandboxCore, database: str, users: list[int]) -> dict[str, int]:
    """Lost (no report), duplicated (more answers than the first person got), out of order
    (saved answers unlike the first person's) among the saturation people."""
    db = await open_migrated(database)
    try:
        rows = await db.fetchall(
            "SELECT a.telegram_user_id AS uid, r.answers FROM reports r"
            " JOIN accounts a ON a.recipient_id = r.recipient_id"
        )
    finally:
        await db.close()
    saved: dict[int, list[dict]] = {}
    for row in rows:
        saved.setdefault(row["uid"], []).append(json.loads(row["answers"]))
    reference = saved.get(users[0], [{}])[0]
    answers = len(core.bot_messages(users[0]))
    return {
        "lost": sum(1 for u in users if u not in saved),
        "duplicated": sum(max(0, len(core.bot_messages(u)) - answers) for u in users)
        + sum(len(saved[u]) - 1 for u in users if u in saved),
        "out_of_order": sum(1 for u in users if u in saved and saved[u][0] != reference),
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="people at once (saturation)")
    parser.add_argument("--pool", type=int, default=100, help="people for the latency phase")
    parser.add_argument("--rate", type=float, default=50.0, help="offered updates per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase length")
    parser.add_argument("--pg", default=os.environ.get("PENDAMPING_TEST_POSTGRES", DEFAULT_PG),
                        help="a PostgreSQL database URL whose user may CREATE DATABASE")  # fmt: skip
    parser.add_argument(
        "--now", default=SCENARIO_NOW, type=dt.datetime.fromisoformat,
        help=f"the scenario's moment, ISO with offset (default {SCENARIO_NOW})",
    )  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return await run_child(args.db, args.url, args.port, args.workers, args.now)
    if args.now != SCENARIO_MOMENT:
        print(f"scenario moment {args.now.isoformat()}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = str(Path(tmp) / "bench.db")
        results["sqlite"] = await run_config("sqlite", sqlite, 1, args, 100_000)
        for name, count in (("pg/1", 1), ("pg/2", 2)):
            url = await asyncio.to_thread(_pg_create, args.pg)
            try:
                results[name] = await run_config(name, url, count, args, 100_000)
            finally:
                await asyncio.to_thread(_pg_drop, args.pg, url)
    for name, r in results.items():
        per_worker = ", ".join(f"{c:.2f}" for c in r["cpu_ms_per_step"])
        pg = f", PostgreSQL server {r['pg_cpu_ms_per_step']:.2f}" if name != "sqlite" else ""
        print(
            f"{name:7} {r['steps_per_s']:7.1f} steps/s | at {args.rate:.0f} updates/s p50"
            f" {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms | CPU ms/step: workers"
            f" [{per_worker}] (total {r['cpu_ms_per_step_total']:.2f}){pg} | lost {r['lost']},"
            f" duplicated {r['duplicated']}, out of order {r['out_of_order']}",
            flush=True,
        )
    base, one, two = results["sqlite"], results["pg/1"], results["pg/2"]
    ratio = one["steps_per_s"] / base["steps_per_s"]
    cpu_ratio = one["cpu_ms_per_step_total"] / base["cpu_ms_per_step_total"]
    bad = two["lost"] + two["duplicated"] + two["out_of_order"]
    print(f"pg/1 / sqlite steps/s {ratio:.2f} (goal >= 0.7); CPU per step {cpu_ratio:.2f}x"
          f" (goal <= 1.5); pg/2 / sqlite steps/s {two['steps_per_s'] / base['steps_per_s']:.2f};"
          f" pg/2 lost+duplicated+out of order {bad} (goal 0)")  # fmt: skip
    for name, r in results.items():
        slug = name.replace("/", "")
        result(f"{slug}_steps_per_s", r["steps_per_s"], "steps/s")
        result(f"{slug}_p95_ms_at_{args.rate:.0f}_per_s", r["p95_ms"], "ms")
        result(f"{slug}_cpu_ms_per_step", r["cpu_ms_per_step_total"], "ms")
    result("pg1_to_sqlite_steps_ratio", ratio, "x", ">= 0.7", ratio >= 0.7)
    result("pg1_to_sqlite_cpu_ratio", cpu_ratio, "x", "<= 1.5", cpu_ratio <= 1.5)
    result("pg2_lost_dup_disorder", bad, "reports", "0", bad == 0)
    print(f"n={args.n}, {len(SCRIPT)} steps per report, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
