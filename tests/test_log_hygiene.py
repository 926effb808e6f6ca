"""Log hygiene end to end: an import and a full monthly report, both as real processes
logging at DEBUG, leave no token, no full NIK, no phone number, no name and no amount (typed
or derived) in what they write to stdout/stderr; nor do the error and refusal paths (a reply
Telegram refuses, malformed webhook updates).

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


def workbook_names() -> set[str]:
    """Every person's name in the sample workbook (heads of family and facilitators)."""
    wb = openpyxl.load_workbook(WORKBOOK, read_only=True)
    names = set()
    for ws in wb:
        rows = ws.iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        for row in rows:
            cells = dict(zip(header, row, strict=False))
            for key in ("kepala_keluarga", "nama"):
                if cells.get(key):
                    names.add(str(cells[key]))
    wb.close()
    return names


def assert_no_names(text: str, names: set[str]) -> None:
    leaked = sorted(n for n in names if n in text)
    assert not leaked, f"names in the log: {leaked[:3]}"


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
    names = workbook_names()
    assert len(names) > 290
    assert_no_names(out, names)


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
    assert_no_names(log, workbook_names())


NAME = "Warsinah Kartikaningrum"
PHONE = "081298765432"


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_error_and_refusal_paths_log_no_name_nik_phone_or_token(
    tmp_path, clock, debug_config
):
    """The paths a normal run never takes, at DEBUG: a handler whose reply Telegram refuses
    (the error handler logs a traceback at ERROR), and malformed updates posted to the webhook
    with the right secret (PTB's server logged those in full at CRITICAL). None may write the
    person's name, NIK, phone or the token."""
    import asyncio
    import json as _json

    import httpx

    from bot.sandbox.runner import free_port

    db_path = tmp_path / "bot.db"
    db = await open_migrated(str(db_path), clock())
    await seed_basic(db)
    await db.execute("UPDATE recipients SET name = ?, phone = ? WHERE id = 1", (NAME, PHONE))
    nik = await db.fetchval("SELECT nik FROM recipients WHERE id = 1")
    await db.close()
    core = SandboxCore(TOKEN, bot_username="pendamping_bot")
    core.add_user(SITI, "Siti", language_code="id")
    server = SandboxServer(core)
    await server.start()
    port, secret = free_port(), "rahasia-webhook-log-0123456789"
    hook = f"http://127.0.0.1:{port}/telegram"
    log_path = tmp_path / "bot.log"
    bot = BotProcess(db_path, server.bot_base_url, TOKEN, log_path, config=debug_config,
                     args=("--webhook-url", hook, "--port", str(port)),
                     env={"PENDAMPING_WEBHOOK_SECRET": secret})  # fmt: skip
    personal = f"{NAME} {nik} {PHONE}"
    try:
        bot.start()
        for _ in range(1200):
            if core.webhook is not None:
                break
            await asyncio.sleep(0.05)
        assert core.webhook is not None, log_path.read_text()[-2000:]
        # (1) Telegram refuses the reply that carries the name and phone: the error path
        core.add_fault("sendMessage", 400, count=2, description="Bad Request: can't parse entities")
        core.send(SITI, text="/profil")
        for _ in range(1200):
            if not core.faults.get("sendmessage"):
                break
            await asyncio.sleep(0.05)
        assert not core.faults.get("sendmessage"), "the bot never tried to answer"
        # (2) malformed updates with the right secret: cut-off JSON and a wrong shape
        bad = [
            '{"update_id": 7, "message": {"text": "' + personal,
            _json.dumps({"update_id": 8, "message": {"text": personal, "chat": personal}}),
        ]
        async with httpx.AsyncClient() as client:
            for body in bad:
                answer = await client.post(hook, content=body.encode(), headers={
                    "X-Telegram-Bot-Api-Secret-Token": secret,
                    "Content-Type": "application/json"})  # fmt: skip
                assert answer.status_code == 400, answer.status_code
        # the bot is still fine afterwards
        core.send(SITI, text="/bantuan")
        assert await bot_message_after(core, SITI, 0, 60)
    finally:
        code = bot.stop()
        await server.stop()
    assert code == 0, "the bot did not stop cleanly on SIGTERM"
    log = log_path.read_text(encoding="utf-8")
    assert "level=ERROR" in log and "event=handler_error" in log  # the error path ran
    assert log.count("event=webhook_refused") == 2  # both refusals, one line each
    assert "CRITICAL" not in log
    leaked = [s for s in (NAME, "Warsinah", "Kartikaningrum", nik, PHONE, PHONE[1:]) if s in log]
    assert not leaked, f"personal data in the log: {leaked}"
    assert_clean(log, {nik}, {PHONE}, [])
