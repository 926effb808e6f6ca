"""Run the CLI of the tree under test in a subprocess, as a person would at a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`pendamping ARGS` via `python -m bot`, with a clean env (no token, no config)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    base["PYTHONPATH"] = str(REPO)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
