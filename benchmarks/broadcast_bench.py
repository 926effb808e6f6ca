"""Broadcast benchmark: N messages through a loopback Bot API server with Telegram's limits.

The server (default: the project's sandbox, benchmarks/sandbox_bench_server.py; or the
minimal tests/loopback_botapi.py) runs in a separate process so its CPU is not counted; it
enforces 30 sends per second overall and about 1 per second per chat, answers 403 for a share
of blocked users and, optionally, one 429 (retry_after 1) after a share of sends. The sender is the real
OutboxSender with its own PTB Bot, in this process; CPU time is this process's.

    python benchmarks/broadcast_bench.py                       # 10,000 msgs, 2 % blocked
    python benchmarks/broadcast_bench.py --inject-429 0.01     # plus 1 % per-chat 429s
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from _result import result  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.db import open_migrated  # noqa: E402
from bot.services import broadcasts  # noqa: E402
from bot.services.outbox import OutboxSender, make_sender_bot  # noqa: E402
from tests.loopback_botapi import TOKEN, LoopbackBotAPI  # noqa: E402

FIRST_CHAT = 700_000
NOW = "2024-01-01T00:00:00+00:00"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def seed(db, n: int) -> None:  # noqa: ANN001
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO recipients (id, nik, name, kecamatan_code, programme, status,"
            " created_at, updated_at) VALUES (?, ?, ?, '33.28.10', 'tata boga', 'active', ?, ?)",
            [(i + 1, f"3328{i:012d}", f"R{i}", NOW, NOW) for i in range(n)],
        )
        await conn.executemany(
            "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id, linked_at)"
            " VALUES (?, ?, 'recipient', ?, ?)",
            [(FIRST_CHAT + i, FIRST_CHAT + i, i + 1, NOW) for i in range(n)],
        )


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    if args.server == "sandbox":
        cmd = [
            sys.executable,
            "benchmarks/sandbox_bench_server.py",
            "--port",
            str(port),
            "--users",
            str(args.messages),
            "--first-chat",
            str(FIRST_CHAT),
            "--blocked-ratio",
            str(args.blocked),
            "--inject-429-ratio",
            str(args.inject_429),
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "tests.loopback_botapi",
            "--port",
            str(port),
            "--enforce",
            "--blocked-ratio",
            str(args.blocked),
            "--inject-429-ratio",
            str(args.inject_429),
        ]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert "listening" in server.stdout.readline()
    return server


def stop_server(args: argparse.Namespace, server: subprocess.Popen, port: int) -> dict:
    if args.server == "sandbox":
        server.terminate()
        out = server.stdout.read()
        server.wait()
        return json.loads(out.strip().splitlines()[-1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_ctl/stats") as resp:
        stats = json.load(resp)
    server.terminate()
    server.wait()
    return stats


async def run(args: argparse.Namespace) -> dict:
    port = free_port()
    server = start_server(args, port)  # noqa: ASYNC220 - started once, before timing
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(database=os.path.join(tmp, "bench.db"), token=TOKEN)
            settings = replace(settings, outbox=replace(settings.outbox, per_second=args.per_second,
                                                        in_flight=args.in_flight))  # fmt: skip
            db = await open_migrated(settings.database)
            await seed(db, args.messages)
            now = dt.datetime(2024, 2, 1, 3, tzinfo=dt.UTC)
            p = await broadcasts.start_draft(db, settings, None, "recipients", None, now,
                                             "Pengumuman: pelatihan hari Senin.")  # fmt: skip
            await broadcasts.queue(db, settings, None, p.broadcast_id, now)
            bot = make_sender_bot(settings, f"http://127.0.0.1:{port}/bot")
            await bot.initialize()
            sender = OutboxSender(db, bot, settings, lambda: now)
            cpu0, wall0 = time.process_time(), time.monotonic()
            stats = await sender.drain(linger_seconds=5)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            await bot.shutdown()
            prog = await broadcasts.progress(db, p.broadcast_id)
            await db.close()
    finally:
        server_stats = stop_server(args, server, port)
    deliveries = {int(k): v for k, v in server_stats["deliveries"].items()}
    expected = [FIRST_CHAT + i for i in range(args.messages)
                if not LoopbackBotAPI(blocked_ratio=args.blocked).is_blocked(FIRST_CHAT + i)]  # fmt: skip
    lost = sum(1 for c in expected if deliveries.get(c, 0) == 0)
    duplicates = sum(v - 1 for v in deliveries.values() if v > 1)
    delivered = sum(deliveries.values())
    call_span = server_stats["last_call"] - server_stats["first_call"]
    calls = server_stats["counts"]["calls"]
    return {
        "server": args.server,
        "messages": args.messages,
        "delivered": delivered,
        "unreachable (403)": prog.unreachable,
        "failed": prog.failed,
        "lost": lost,
        "duplicates": duplicates,
        "wall seconds": round(wall, 1),
        "sustained sendMessage calls/s incl. 403 and 429 (server, first to last call)": round(
            calls / call_span, 2
        ),
        "delivered msg/s over the same span": round(delivered / call_span, 2),
        "CPU ms per message (sender process)": round(cpu * 1000 / args.messages, 2),
        "429 answers seen by the sender": stats.rate_limited,
        "429 by cause (server)": {
            k: v for k, v in server_stats["counts"].items() if k.startswith("429")
        },  # fmt: skip
        "seconds waited on retry_after (sum over chats)": round(stats.waited_429_seconds, 1),
        "seconds lost vs. an ideal 30/s run": round(wall - args.messages / 30, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description="broadcast throughput through the outbox sender")
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--blocked", type=float, default=0.02, help="share of users who blocked the bot")
    p.add_argument("--inject-429", type=float, default=0.0, help="share of chats given one 429")
    p.add_argument("--per-second", type=float, default=29.5, help="sender's overall limit")
    p.add_argument("--in-flight", type=int, default=8)
    p.add_argument("--server", choices=["sandbox", "loopback"], default="sandbox",
                   help="bot/sandbox (default) or the minimal tests/loopback_botapi.py")  # fmt: skip
    args = p.parse_args()
    outcome = asyncio.run(run(args))
    print(f"broadcast_bench {dt.date.today()} cores={os.cpu_count()} "
          f"per_second={args.per_second} in_flight={args.in_flight}")  # fmt: skip
    for key, value in outcome.items():
        print(f"  {key}: {value}")
    rate = outcome["delivered msg/s over the same span"]
    result("broadcast_delivered_per_s", rate, "msg/s", ">= 28.5", rate >= 28.5)
    result("broadcast_lost", outcome["lost"], "messages", "0", outcome["lost"] == 0)
    result("broadcast_duplicates", outcome["duplicates"], "messages", "0",
           outcome["duplicates"] == 0)  # fmt: skip


if __name__ == "__main__":
    main()
