"""A database the bot cannot write: `run` refuses at start with one line (exit 1) and
`doctor` FAILs with the fix, for a read-only folder and for a read-only file.

Honesty: the tests run as root, and root ignores file modes (CAP_DAC_OVERRIDE), so a chmod
alone would prove nothing. As root the commands therefore run under `setpriv` with
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from the bounding and inheritable sets: the
child is still uid 0 but the kernel now enforces the modes, exactly as for the unprivileged
`pendamping` service user (its writes really fail; the test checks that first). As a normal
user the commands run as they are.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.db import open_migrated
from tests.cli_helpers import REPO

DROP = "-dac_override,-dac_read_search"


def _unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, "--bounding-set", DROP, "--inh-caps", DROP, *argv]


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), PENDAMPING_DB=str(db), TELEGRAM_BOT_TOKEN="123456:sandbox")
    return subprocess.run(
        _unprivileged([sys.executable, "-m", "bot", *args]),
        cwd=db.parent.parent, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _write_really_fails(db: Path) -> None:
    """Precondition: an unprivileged write to the database really fails."""
    probe = subprocess.run(
        _unprivileged([sys.executable, "-c",
                       "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                       "c.execute('CREATE TABLE probe (x)'); c.commit()", str(db)]),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode != 0, "the write succeeded: the test would prove nothing"


@pytest.fixture
async def live(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "pendamping.db"
    conn = await open_migrated(str(db))
    await conn.close()
    sqlite3.connect(db).execute("PRAGMA journal_mode = DELETE").fetchall()  # no -wal left
    yield db
    folder.chmod(0o700)
    db.chmod(0o600)


def _assert_refused(done: subprocess.CompletedProcess[str], what: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Traceback" not in out, out
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot run:"), out
    assert what in lines[0] and "fix:" in lines[0], out


def _assert_doctor_fails(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    line = next((x for x in done.stdout.splitlines() if x.startswith("FAIL writable")), None)
    assert line is not None, done.stdout
    assert what in line and "->" in line and "chown" in line, line


async def test_read_only_folder(live):
    live.parent.chmod(0o500)
    _write_really_fails(live)
    _assert_refused(_cli(live, "run", "--api-url", "http://127.0.0.1:9/bot"), "folder")
    _assert_doctor_fails(_cli(live, "doctor"), "folder")


async def test_read_only_file(live):
    live.chmod(0o400)
    _write_really_fails(live)
    _assert_refused(_cli(live, "run", "--api-url", "http://127.0.0.1:9/bot"), "file")
    _assert_doctor_fails(_cli(live, "doctor"), "file")


async def test_writable_database_passes_the_check(live):
    done = _cli(live, "doctor")
    assert "OK   writable" in done.stdout, done.stdout
