"""`pendamping demo [--out DIR] [--keep]`: a few months of mentoring in minutes, offline."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.demo.simulation import DemoResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="fast-forward months of mentoring through the real bot, offline",
        description=(
            "Import the 298-family sample workbook into a fresh demo database, run the real bot "
            "against the embedded sandbox and fast-forward several monthly periods: invites, "
            "reports in chat, reminders, escalations, scores, graduation, the staff digest. "
            "Never touches the configured database."
        ),
    )
    p.add_argument("--out", default="./pendamping-demo", help="output folder (replaced each run)")
    p.add_argument("--periods", type=int, default=4, help="monthly periods to simulate (1-12)")
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the sandbox and bot running afterwards (for pendamping sandbox chat)",
    )
    p.set_defaults(func=_run)


_STARTED = time.monotonic()


def _say(text: str) -> None:
    """Progress on stderr, with the seconds since the start."""
    print(f"[{time.monotonic() - _STARTED:5.1f}s] {text}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError
    from bot.demo.simulation import run_demo

    if not 1 <= args.periods <= 12:
        raise UsageError("--periods must be between 1 and 12")
    out = Path(args.out).resolve()
    if out.exists():
        if not (out / "demo.db").exists() and any(out.iterdir()):
            raise UsageError(f"{out} exists and is not a demo folder; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    asyncio.run(run_demo(out, periods=args.periods, keep=args.keep, say=_say, show=_show))
    return 0


def _show(result: DemoResult) -> None:
    """The transcript, the staff texts and the figures; the output folder as the last line."""
    print(result.compact)
    print("=== Ringkasan staf (/ringkasan) ===")
    print(result.digest)
    print()
    print("=== Laporan bulanan ===")
    print(result.monthly)
    print()
    for key, value in result.counts.items():
        print(f"{key}: {value}")
    print(f"finished in {result.seconds:.0f} s; files: " + ", ".join(p.name for p in result.files))
    print(result.out, flush=True)
