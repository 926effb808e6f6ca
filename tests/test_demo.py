"""`pendamping demo` end to end: what it prints is what the sandbox and the database hold."""

from __future__ import annotations

import json
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from tests.cli_helpers import run_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_cli("demo", "--out", str(out), cwd=out.parent, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


def bot_texts(calls: list[dict]) -> set[str]:
    """Every text or caption the bot sent or edited to, from the sandbox's call log."""
    texts = set()
    for call in calls:
        params = call["params"]
        for key in ("text", "caption"):
            if isinstance(params.get(key), str):
                texts.add(params[key])
    return texts


def test_last_line_is_the_output_folder(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    assert stdout.rstrip().splitlines()[-1] == str(out)


def test_every_bot_message_printed_was_really_sent(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    calls = json.loads((out / "calls.json").read_text(encoding="utf-8"))
    sent = bot_texts(calls)
    printed = re.findall(r"^\[[\d: -]+\] Bot: (.*?)(?=^\[|^=== |^    \.\.\. |\Z)",
                         stdout, re.M | re.S)  # fmt: skip
    assert len(printed) > 50
    files = [c for c in calls if c["method"] in ("sendPhoto", "sendDocument")]
    placeholders = 0
    for body in printed:
        text = "\n".join(line[4:] if line.startswith("    ") else line
                         for line in body.rstrip("\n").split("\n"))  # fmt: skip
        if re.fullmatch(r"\((gambar|berkas [^)]*)\)", text):  # a photo or file without caption
            placeholders += 1
            continue
        assert text in sent, text[:200]
    assert placeholders <= len(files)


def test_printed_counts_match_the_demo_database(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    printed = dict(re.findall(r"^(\w+): (\d+)$", stdout, re.M))
    with sqlite3.connect(out / "demo.db") as conn:

        def count(sql: str) -> str:
            return str(conn.execute(sql).fetchone()[0])

        assert printed["recipients"] == count("SELECT count(*) FROM recipients") == "298"
        assert printed["facilitators"] == count("SELECT count(*) FROM facilitators") == "10"
        assert printed["reports"] == count("SELECT count(*) FROM reports")
        assert printed["reports_by_facilitator"] == count(
            "SELECT count(*) FROM reports WHERE reporter_role = 'facilitator'"
        )
        assert printed["messages_sent"] == count("SELECT count(*) FROM outbox WHERE status='sent'")
        assert printed["graduated"] == count(
            "SELECT count(*) FROM recipients WHERE status = 'graduated'"
        )
        assert int(printed["reports"]) > 4 * 200  # four periods, most families report
        assert int(printed["graduated"]) >= 1
        assert (
            count("SELECT count(*) FROM audit_log WHERE action LIKE 'graduation.approve%'")
            == printed["graduated"]
        )
    # the same numbers were written for machines too
    assert json.loads((out / "counts.json").read_text()) == {k: int(v) for k, v in printed.items()}


def test_the_demo_never_touches_a_configured_database(demo: tuple[Path, str]) -> None:
    out, _ = demo
    assert not (out.parent / "pendamping.db").exists()


def test_charts_and_export_are_written(demo: tuple[Path, str]) -> None:
    out, _ = demo
    charts = sorted(out.glob("*.png"))
    assert len(charts) == 3
    for chart in charts:
        with Image.open(chart) as img:
            img.verify()
        assert chart.stat().st_size > 10_000
    (export,) = out.glob("*.xlsx")
    assert zipfile.is_zipfile(export)
    wb = load_workbook(export, read_only=True)
    assert wb.sheetnames == ["penerima", "laporan", "kunjungan", "tanda", "keterangan"]
    penerima = wb[wb.sheetnames[0]]
    rows = list(penerima.iter_rows(values_only=True))
    assert len(rows) == 1 + 298
    niks = [v for row in rows[1:] for v in row if isinstance(v, str) and "********" in v]
    assert len(niks) == 298  # masked in the file that could go to chat


def test_transcript_file_holds_the_full_chats(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    full = (out / "transcript.txt").read_text(encoding="utf-8")
    assert len(full) > len(stdout.split("=== Ringkasan")[0]) - 100
    assert "/start <kode undangan>" in full
    assert "DISETUJUI" in full  # the graduation approved in chat


def test_keep_leaves_the_bot_running_for_a_person_to_continue(tmp_path: Path) -> None:
    """--keep: after the outputs, the sandbox answers a new chat until SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from tests.cli_helpers import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(REPO)
    out = tmp_path / "kept"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--out", str(out), "--periods", "1", "--keep"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 300
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "demo ended early"
            match = re.search(r"--url (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url, "no sandbox URL announced"
        with httpx.Client(base_url=url, timeout=30) as client:
            client.post("/_sandbox/users", json={"id": 4242, "first_name": "Tamu"})
            client.post("/_sandbox/send", json={"user_id": 4242, "text": "/start"})
            for _ in range(100):
                messages = client.get("/_sandbox/chats/4242/messages").json()
                if messages:
                    break
                time.sleep(0.1)
        assert "Selamat datang" in messages[0]["text"]
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert stdout.rstrip().splitlines()[-1] == str(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
