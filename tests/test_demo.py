"""`pendamping demo` end to end: what it prints is what the sandbox and the database hold."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from PIL import Image

from tests.cli_helpers import REPO


@dataclass
class DemoRun:
    """One `pendamping demo --keep` (the default four periods), shared by this file's tests:
    its output folder, what it printed, and the process still serving at `url`."""

    out: Path
    stdout_path: Path
    stderr_path: Path
    proc: subprocess.Popen
    url: str

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Run the demo once with --keep: the outputs are written before it keeps serving, so the
    output tests and the --keep test share one run (the demo is the slowest thing tested)."""
    base = tmp_path_factory.mktemp("demo")
    out, stdout_path, stderr_path = base / "out", base / "stdout.txt", base / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}
    env["PYTHONPATH"] = str(REPO)
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "demo", "--out", str(out), "--keep"],
            cwd=base, env=env, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 600
        while url is None:  # the announcement comes after the outputs and the printed summary
            assert proc.poll() is None, stderr_path.read_text(encoding="utf-8")[-3000:]
            assert time.monotonic() < deadline, "the demo did not finish in 10 minutes"
            match = re.search(r"--url (http://127\.0\.0\.1:\d+)", stderr_path.read_text())
            url = match.group(1) if match else None
            time.sleep(0.2)
        yield DemoRun(out, stdout_path, stderr_path, proc, url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> tuple[Path, str]:
    """The output folder and what the demo printed."""
    return demo_run.out, demo_run.stdout


def test_no_background_work_failed(demo_run: DemoRun) -> None:
    """The minute job's parts (scores, flags, digests) all succeeded: a failure there is only
    logged, so the demo would still exit 0 with wrong figures in the digest."""
    log = demo_run.stderr_path.read_text(encoding="utf-8")
    failed = [line for line in log.splitlines() if "_failed" in line or "Traceback" in line]
    assert failed == [], failed[:5]


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
    # the whole flow: the proposal without a NIK, the family's agreement, the staff card,
    # the decision and the notices
    for step in ("[Usulkan graduasi]", "Apakah Anda setuju?", "[Setuju]",
                 "Jawaban Anda (setuju)", "Usulan graduasi · Menunggu keputusan Anda",
                 "Pendamping dan keluarga diberi tahu", "Selamat,"):  # fmt: skip
        assert step in full, step
    # the staff card as staff saw it before deciding (the decision edits it afterwards)
    assert "Usulan graduasi · Menunggu keputusan Anda (1)" in full
    assert "Bot (pesan diubah): Usulan graduasi · Menunggu keputusan Anda (0)" in full
    assert full.index("Menunggu keputusan Anda (1)") < full.index("[Ya, setujui")


def test_keep_leaves_the_bot_running_for_a_person_to_continue(demo_run: DemoRun) -> None:
    """--keep: after the outputs, the sandbox answers a new chat until SIGTERM."""
    with httpx.Client(base_url=demo_run.url, timeout=30) as client:
        client.post("/_sandbox/users", json={"id": 4242, "first_name": "Tamu"})
        client.post("/_sandbox/send", json={"user_id": 4242, "text": "/start"})
        for _ in range(100):
            messages = client.get("/_sandbox/chats/4242/messages").json()
            if messages:
                break
            time.sleep(0.1)
    assert "Selamat datang" in messages[0]["text"]
    # ids to chat as: a family per programme, a facilitator, staff
    log = demo_run.stderr_path.read_text(encoding="utf-8")
    for what in ("family (tata boga)", "family (menjahit)", "family (ternak kambing)",
                 "facilitator", "staff"):  # fmt: skip
        assert re.search(rf"as {re.escape(what)}: pendamping sandbox chat --as \d+", log), what
    demo_run.proc.send_signal(signal.SIGTERM)
    assert demo_run.proc.wait(60) == 0
    assert demo_run.stdout.rstrip().splitlines()[-1] == str(demo_run.out)


def test_transcript_shows_a_forwarded_message_and_a_correction(demo: tuple[Path, str]) -> None:
    """The family's side of the chat: a message outside the report reaches the facilitator and
    the answer comes back; a reported month is corrected from its prefilled answers."""
    out, _ = demo
    text = (out / "transcript.txt").read_text(encoding="utf-8")
    assert "Pesan Anda sudah diteruskan ke pendamping Anda" in text
    assert "Pesan dari " in text and "Balasan dari pendamping Anda" in text
    assert "sudah pernah dilaporkan" in text and "Ini perbaikan ke-1" in text


def test_demo_database_round_trips_through_postgresql(
    demo: tuple[Path, str], tmp_path: Path, pg_test_server, capsys
) -> None:
    """The demo's database (four months of 298 families) copied SQLite -> PostgreSQL -> SQLite
    by `pendamping db copy`: every table's row count and checksum equal at each step."""
    from bot.cli import main
    from bot.db import backup_to
    from tests.pg_databases import pg_server_or_skip

    server = pg_server_or_skip(pg_test_server)
    out, _ = demo
    snapshot = tmp_path / "demo-snapshot.db"
    backup_to(out / "demo.db", snapshot)  # the demo bot still serves (--keep)
    url = server.create_empty_database()
    try:
        assert main(["db", "copy", "--from", str(snapshot), "--to", url]) == 0
        back = tmp_path / "back.db"
        assert main(["db", "copy", "--from", url, "--to", str(back)]) == 0
        printed = capsys.readouterr().out
        assert printed.count("checked: row count and checksum equal in every table") == 2
        with sqlite3.connect(snapshot) as a, sqlite3.connect(back) as b:
            for table in ("recipients", "reports", "outbox", "scores"):
                query = f"SELECT * FROM {table} ORDER BY id"
                assert a.execute(query).fetchall() == b.execute(query).fetchall(), table
            assert a.execute("SELECT count(*) FROM reports").fetchone()[0] > 500
    finally:
        server.drop_database(url)
