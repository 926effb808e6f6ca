"""Shared helpers for the registry tests: where the sample workbooks are, running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SAMPLE = DATA / "penerima-contoh.xlsx"
MESSY = DATA / "penerima-berantakan.xlsx"

needs_data = pytest.mark.skipif(
    not SAMPLE.exists(), reason="sample workbooks not found at ../shared/data beside the repo"
)


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
