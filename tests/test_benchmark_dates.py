"""Benchmarks give the same run on any date: report_load takes its clock from its scenario
(`--now`, default a fixed moment), never from the wall clock. A tiny configuration, run today
and at a far-future December 3rd (the day of the month on which the wall-clock version met the
monthly invitation instead of the report's first button)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = ["--n", "2", "--pool", "2", "--rate", "5", "--seconds", "1", "--concurrency", "0"]


def report_load(*extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "report_load.py", *TINY, *extra],
        cwd=REPO / "benchmarks", env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_report_load_runs_on_any_date() -> None:
    """Today's wall clock (the run) and a far-future scenario moment (--now)."""
    proc = report_load("--now", "2099-12-03T10:00:00+07:00")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    names = [line.split()[1] for line in results]
    assert names == ["name=report_ratio_to_echo", "name=report_p95_ms_at_5_per_s"], proc.stdout
