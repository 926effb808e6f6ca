"""Shared helpers for the registry tests: where the sample workbooks are, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Both workbooks live in the repository (synthetic data): the package ships the clean one for
# `pendamping demo`, the messy one is test data only (tests/data/README.md).
SAMPLE = REPO / "bot" / "demo_data" / "penerima-contoh.xlsx"
MESSY = REPO / "tests" / "data" / "penerima-berantakan.xlsx"


def run_cli(*args: str, db: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PENDAMPING_DB": str(db)}
    env.pop("PENDAMPING_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
