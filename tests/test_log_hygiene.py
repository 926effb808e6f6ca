"""Log hygiene end to end: an import and a full monthly report, both as real
processes logging at DEBUG, leave no token, no full NIK, no phone number and no amount (typed
or derived) in what they write to stdout/stderr.

(a) `python -m bot import penerima-contoh.xlsx` (298 recipients, 10 facilitators);
(b) `python -m bot run --api-url ...` against an in-process sandbox that only accepts a
    distinctive token; Siti (seeded, linked) reports through the chat typing "1,5 jt", "500rb",
    "Rp 300.000"; then SIGTERM and the bot's log file is read.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from bot.db import open_migrated
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from tests.bot_process import BotProcess, bot_message_after, full_report, run_cli
from tests.report_seed import seed_basic

REPO = Path(__file__).resolve().parents[1]
WORKBOOK = REPO / "bot" / "demo_data" / "penerima-contoh.xlsx"
TOKEN = "987654321:AAHlogHygieneSecretZq9xW7vT5uR3sP1"
SECRET = TOKEN.split(":", 1)[1]
SITI = 1001
TYPED = {"revenue": ("send", "1,5 jt"), "costs": ("send", "500rb"),
         "other_income": ("send", "Rp 300.000"), "savings_amount": ("send", "100rb")}  # fmt: skip
# Every amount typed or derived (revenue, costs, profit = revenue - costs, other income,
# savings), in every spelling a log line could carry it.
AMOUNTS = [1_500_000, 500_000, 1_000_000, 300_000, 100_000]
TYPED_TEXTS = ["1,5 jt", "500rb", "Rp 300.000", "100rb", "Rp1.500.000", "Rp 1.500.000"]


def spellings(amount: int) -> list[str]:
    dotted = f"{amount:,}".replace(",", ".")
    return [str(amount), dotted, f"Rp{dotted}", f"Rp {dotted}"]


def amount_hits(text: str, amounts: list[int]) -> list[str]:
    """Amounts standing on their own (not digits inside a longer number or an id)."""
    hits = []
    for amount in amounts:
        for s in spellings(amount):
            if re.search(rf"(?<![\d.]){re.escape(s)}(?![\d.]|,\d)", text):
                hits.append(s)
    return hits


def workbook_values() -> tuple[set[str], set[str], set[int]]:
    """(NIKs, phone numbers, aid amounts) of the sample workbook."""
    wb = openpyxl.load_workbook(WORKBOOK, read_only=True)
    niks, phones, amounts = set(), set(), set()
    for ws in wb:
        rows = ws.iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        for row in rows:
            cells = dict(zip(header, row, strict=False))
            if cells.get("nik"):
                niks.add(str(cells["nik"]))
            if cells.get("no_hp"):
                phones.add(str(cells["no_hp"]))
            if isinstance(cells.get("nilai_bantuan"), int):
                amounts.add(cells["nilai_bantuan"])
    wb.close()
    return niks, phones, amounts


def seeded_niks(db_path: Path) -> set[str]:
    conn = sqlite3.connect(db_path)
    try:
        return {r[0] for r in conn.execute("SELECT nik FROM recipients WHERE nik IS NOT NULL")}
    finally:
        conn.close()


def assert_clean(text: str, niks: set[str], phones: set[str], amounts: list[int]) -> None:
    assert TOKEN not in text and SECRET not in text, "the bot token is in the log"
    leaked = sorted(n for n in niks if n in text)
    assert not leaked, f"full NIKs in the log: {leaked[:3]}"
    leaked = sorted(p for p in phones if p in text or p.lstrip("0") in text)
    assert not leaked, f"phone numbers in the log: {leaked[:3]}"
    assert not amount_hits(text, amounts), f"amounts in the log: {amount_hits(text, amounts)}"
    typed = [t for t in TYPED_TEXTS if t in text]
    assert not typed, f"message texts with amounts in the log: {typed}"


@pytest.fixture
def debug_config(tmp_path: Path) -> Path:
    config = tmp_path / "pendamping.toml"
    config.write_text('log_level = "DEBUG"\nbot_username = "pendamping_bot"\n')
    return config


async def test_import_logs_no_nik_phone_or_amount(tmp_path, debug_config):
    db_path = tmp_path / "bot.db"
    done = run_cli(db_path, "import", str(WORKBOOK), config=debug_config)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    assert "penerima: 298 ditambah" in out  # the import really ran
    niks, phones, amounts = workbook_values()
    assert len(niks) == 298 and seeded_niks(db_path) == niks
    assert_clean(out, niks, phones, sorted(amounts))


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_full_report_logs_no_token_nik_or_amount(tmp_path, clock, debug_config):
    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path), clock())
    await seed_basic(db)
    await db.close()
    imported = run_cli(db_path, "import", str(WORKBOOK), config=debug_config)
    assert imported.returncode == 0, imported.stderr
    core = SandboxCore(TOKEN, bot_username="pendamping_bot")
    core.add_user(SITI, "Siti", language_code="id")
    server = SandboxServer(core)
    await server.start()
    log_path = tmp_path / "bot.log"
    bot = BotProcess(db_path, server.bot_base_url, TOKEN, log_path, config=debug_config)
    try:
        bot.start()
        core.send(SITI, text="/start")
        assert await bot_message_after(core, SITI, 0, 60), "the bot never answered"
        await full_report(core, db_path, SITI, TYPED)
        said = [m.get("text") or "" for m in core.chat_messages(SITI)]
        assert any("sudah disimpan" in t for t in said)
        assert any("Rp1.500.000" in t for t in said)  # amounts were in the chat, not the log
    finally:
        code = bot.stop()
        await server.stop()
    assert code == 0, "the bot did not stop cleanly on SIGTERM"
    conn = sqlite3.connect(db_path)
    revenue, costs, profit, other = conn.execute(
        "SELECT revenue, costs, profit, other_income FROM reports"
    ).fetchone()
    conn.close()
    assert (revenue, costs, profit, other) == (1_500_000, 500_000, 1_000_000, 300_000)
    log = log_path.read_text(encoding="utf-8")
    assert "event=started" in log and "event=stopped" in log  # the log is really this run's
    niks, phones, aid = workbook_values()
    assert_clean(log, seeded_niks(db_path) | niks, phones, AMOUNTS + sorted(aid))
