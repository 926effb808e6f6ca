"""Load benchmark of the monthly report against a bare python-telegram-bot echo bot.

Both bots run in this process against the same kind of loopback sandbox (HTTP on 127.0.0.1,
Telegram's rate limits off), one after the other in the same run:

1. saturation: N simulated recipients (default 1,000) all at once, each completing a full
   tata-boga monthly report (10 steps: /lapor, 9 answers/buttons incl. Simpan), closed loop
   (a person acts again as soon as the bot answered). Prints steps/s for both bots and the ratio
   (goal: report bot >= 0.5x the echo bot);
2. latency: an open-loop offered load of `--rate` updates/s (default 50) for `--seconds` from
   a separate pool of people; p50/p95/max time from a person's message (or button press) to the
   bot's answer (goal: p95 <= 100 ms).

The echo bot answers every text with a message carrying one button and every button press with
answerCallbackQuery + a message, so both bots make the same Bot API calls per step.

The bot under test runs in a child process; the sandbox and the simulated people in this one.

The clock is the scenario's, never the wall clock: the people are registered and report at
`--now` (default 2024-02-05 10:00 WIB), so the run is the same on any date. The bot gets that
moment as an injected clock, which also keeps the minute job of the monthly cycle off (as in the
tests): no invitation or reminder lands between a person's question and answer.

    PYTHONPATH=. python benchmarks/report_load.py [--n 1000] [--rate 50] [--seconds 20] [--now ISO]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _result import result  # benchmarks/ is on sys.path when run as a script
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.db import open_migrated
from bot.domain.consent import NOTICE_VERSION
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer

TOKEN = "123456:sandbox"
# The moment the scenario plays at (--now changes it; any moment gives the same run).
SCENARIO_NOW = "2024-02-05T10:00:00+07:00"
SCENARIO_MOMENT = dt.datetime.fromisoformat(SCENARIO_NOW)

# One full tata boga report as a person does it: ("send", text) | ("press", button label).
SCRIPT: list[tuple[str, str]] = [
    ("send", "/lapor"),
    ("press", "Berjalan"),
    ("send", "1,5jt 500rb"),  # revenue and costs in one message
    ("press", "Ya"),
    ("send", "40 dan 5"),  # orders and days per week
    ("send", "300.000"),
    ("press", "Tidak ada"),  # nothing changed (household, equipment)
    ("press", "Mencatat saja"),  # savings and books
    ("press", "Tidak ada"),  # no difficulty (so no help question)
    ("press", "Simpan"),
]


class Watcher:
    """Per-chat wake-ups when the bot sends a message (the core only has one global event)."""

    def __init__(self, core: SandboxCore) -> None:
        self.waiters: dict[int, asyncio.Future] = {}
        self.last: dict[int, Any] = {}
        original = core._new_message

        def hooked(chat: Any, from_bot: bool, body: dict[str, Any]) -> Any:
            stored = original(chat, from_bot, body)
            if from_bot:
                self.last[chat.id] = stored
                waiter = self.waiters.pop(chat.id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(stored)
            return stored

        core._new_message = hooked  # instrumentation only: the bot sees the same API

    def expect(self, chat_id: int) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiters[chat_id] = fut
        return fut


def _button_data(stored: Any, label: str) -> str:
    for row in (stored.markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("text") == label:
                return button["callback_data"]
    raise AssertionError(f"no button {label!r} on message {stored.message_id}: {stored.data}")


def _first_offered(stored: Any, labels: list[str]) -> str:
    """The first of these labels that the message offers as a button (else the first)."""
    offered = {
        b.get("text") for row in (stored.markup or {}).get("inline_keyboard", []) for b in row
    }
    return next((label for label in labels if label in offered), labels[0])


async def step(core: SandboxCore, watcher: Watcher, uid: int, action: tuple[str, str],
               echo: bool) -> float:  # fmt: skip
    """Do one action; return seconds until the bot's answer arrived."""
    how, what = action
    fut = watcher.expect(uid)
    start = time.perf_counter()
    if how == "send":
        core.send(uid, text=what)
    else:
        stored = watcher.last[uid]
        label = "ok" if echo else _first_offered(stored, what.split("|"))
        core.press(uid, stored.message_id, _button_data(stored, label))
    core.notify()
    await asyncio.wait_for(fut, 600)
    return time.perf_counter() - start


# --- the two bots --------------------------------------------------------------------------------


async def _echo_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(
        update.effective_message.text or "?",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]]),
    )


async def _echo_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer()
    await context.bot.send_message(
        update.effective_chat.id,
        update.callback_query.data or "?",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]]),
    )


async def start_echo(base_url: str) -> Any:
    app = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.ALL, _echo_text))
    app.add_handler(CallbackQueryHandler(_echo_press))
    await app.initialize()
    await app.updater.start_polling(poll_interval=0.0, timeout=10)
    await app.start()
    return app


async def stop_echo(app: Any) -> None:
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def seed(path: str, user_ids: list[int], when: dt.datetime) -> None:
    """Recipients registered at the scenario's moment, linked, the privacy notice accepted."""
    now = when.astimezone(dt.UTC).isoformat(timespec="seconds")
    db = await open_migrated(path, when)
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO facilitators (id, code, name, created_at, updated_at)"
                " VALUES (1, 'PD-1', 'Pendamping', ?, ?)",
                (now, now),
            )
            for i, uid in enumerate(user_ids):
                await conn.execute(
                    "INSERT INTO recipients (id, nik, name, kecamatan_code, programme,"
                    " facilitator_id, created_at, updated_at)"
                    " VALUES (?, ?, ?, '33.28.06', 'tata boga', 1, ?, ?)",
                    (i + 1, f"3328064{i:09d}", f"Penerima {i}", now, now),
                )
                # linked and the privacy notice already acknowledged (data collection needs it)
                await conn.execute(
                    "INSERT INTO accounts (telegram_user_id, chat_id, role, recipient_id,"
                    " linked_at, consent_version, consent_at) VALUES (?, ?, 'recipient', ?, ?,"
                    " ?, ?)",
                    (uid, uid, i + 1, now, NOTICE_VERSION, now),
                )
    finally:
        await db.close()


# --- phases --------------------------------------------------------------------------------------


async def saturation(core: SandboxCore, watcher: Watcher, users: list[int], echo: bool) -> float:
    async def person(uid: int) -> None:
        for action in SCRIPT:
            await step(core, watcher, uid, action, echo)

    start = time.perf_counter()
    await asyncio.gather(*(person(uid) for uid in users))
    elapsed = time.perf_counter() - start
    return len(users) * len(SCRIPT) / elapsed


async def latency(
    core: SandboxCore, watcher: Watcher, users: list[int], echo: bool, rate: float, seconds: float
) -> list[float]:
    """Open loop: one action every 1/rate s, people taking turns through their scripts."""
    progress = dict.fromkeys(users, 0)
    busy: set[int] = set()
    samples: list[float] = []
    tasks = []

    async def one(uid: int) -> None:
        try:
            samples.append(await step(core, watcher, uid, SCRIPT[progress[uid]], echo))
            progress[uid] = (progress[uid] + 1) % len(SCRIPT)
        finally:
            busy.discard(uid)

    total = int(rate * seconds)
    start = time.perf_counter()
    turn = 0
    skipped = 0
    for i in range(total):
        target = start + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        free = None
        for _ in range(len(users)):
            uid = users[turn % len(users)]
            turn += 1
            if uid not in busy:
                free = uid
                break
        if free is None:
            skipped += 1  # everyone still waits for an answer: the bot is overloaded
            continue
        busy.add(free)
        tasks.append(asyncio.create_task(one(free)))
    await asyncio.gather(*tasks)
    if skipped:
        print(f"  ({skipped} offered updates skipped: every person still waited)", flush=True)
    return samples


async def run_child(kind: str, url: str, db_path: str, concurrency: int, now: dt.datetime) -> int:
    """The bot under test in its own process (as in production: bot and API apart), on the
    scenario's clock."""
    if kind == "echo":
        app = await start_echo(url)
    else:
        settings = replace(Settings(), database=db_path)
        app = build_application(
            settings, token=TOKEN, base_url=url, rate_limiter=False,
            concurrent_updates=concurrency, clock=ManualClock(now),
        )  # fmt: skip
        await app.initialize()
        await app.post_init(app)
        await app.updater.start_polling(poll_interval=0.0, timeout=10)
        await app.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if kind != "echo":
        await app.post_shutdown(app)
    return 0


async def run_bot(
    kind: str,
    n: int,
    pool: int,
    rate: float,
    seconds: float,
    concurrency: int = 1,
    now: dt.datetime = SCENARIO_MOMENT,
) -> dict[str, Any]:
    echo = kind == "echo"
    core = SandboxCore(TOKEN)
    server = SandboxServer(core, control=False)
    await server.start()
    watcher = Watcher(core)
    sat_users = [100_000 + i for i in range(n)]
    lat_users = [500_000 + i for i in range(pool)]
    for uid in sat_users + lat_users:
        core.add_user(uid, f"U{uid}")
    tmp = tempfile.TemporaryDirectory()
    db_path = str(Path(tmp.name) / "bench.db")
    if not echo:
        await seed(db_path, sat_users + lat_users, now)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", kind, "--url", server.bot_base_url, "--db", db_path,
        "--concurrency", str(concurrency), "--now", now.isoformat(),
    )  # fmt: skip
    try:
        while not core.call_log("getUpdates"):
            if proc.returncode is not None:
                raise RuntimeError(f"the {kind} bot exited with {proc.returncode}")
            await asyncio.sleep(0.05)
        steps_per_s = await saturation(core, watcher, sat_users, echo)
        samples = await latency(core, watcher, lat_users, echo, rate, seconds)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await proc.wait()
        await server.stop()
    if not echo:
        db = await open_migrated(db_path)
        saved = await db.fetchval("SELECT count(*) FROM reports")
        await db.close()
        assert saved >= n, f"only {saved} of {n} reports saved"
    tmp.cleanup()
    samples.sort()
    return {
        "steps_per_s": steps_per_s,
        "p50_ms": statistics.median(samples) * 1000,
        "p95_ms": samples[int(0.95 * (len(samples) - 1))] * 1000,
        "max_ms": samples[-1] * 1000,
        "samples": len(samples),
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="simulated recipients (saturation)")
    parser.add_argument("--pool", type=int, default=200, help="people for the latency phase")
    parser.add_argument("--rate", type=float, default=50.0, help="offered updates per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="latency phase length")
    parser.add_argument(
        "--concurrency", type=int, default=64,
        help="also run the report bot with ChatOrderedProcessor(N) (0: skip that run)",
    )  # fmt: skip
    parser.add_argument(
        "--now", default=SCENARIO_NOW, type=dt.datetime.fromisoformat,
        help=f"the scenario's moment, ISO with offset (default {SCENARIO_NOW})",
    )  # fmt: skip
    parser.add_argument("--child", choices=["echo", "report"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return await run_child(args.child, args.url, args.db, args.concurrency, args.now)
    results = {}
    runs = [("echo", "echo", 1), ("report", "report", 1)]
    if args.concurrency > 1:
        runs.append((f"report/c{args.concurrency}", "report", args.concurrency))
    for name, kind, conc in runs:
        results[name] = await run_bot(
            kind, args.n, args.pool, args.rate, args.seconds, conc, args.now
        )
        r = results[name]
        print(
            f"{name:10} saturation {r['steps_per_s']:8.1f} steps/s | at {args.rate:.0f} updates/s:"
            f" p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, max {r['max_ms']:.1f} ms"
            f" ({r['samples']} samples)",
            flush=True,
        )
    for name in results:
        if name == "echo":
            continue
        ratio = results[name]["steps_per_s"] / results["echo"]["steps_per_s"]
        p95 = results[name]["p95_ms"]
        print(f"{name}: ratio to echo {ratio:.2f} (goal >= 0.5) {'ok' if ratio >= 0.5 else 'MISSED'};"
              f" p95 at {args.rate:.0f}/s {p95:.1f} ms (goal <= 100)"
              f" {'ok' if p95 <= 100 else 'MISSED'}")  # fmt: skip
        slug = name.replace("/", "_")
        result(f"{slug}_ratio_to_echo", ratio, "x", ">= 0.5", ratio >= 0.5)
        result(f"{slug}_p95_ms_at_{args.rate:.0f}_per_s", p95, "ms", "<= 100", p95 <= 100)
    print(f"n={args.n}, {len(SCRIPT)} steps per report, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
