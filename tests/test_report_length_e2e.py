"""How long a monthly report is, counted in chat: every message sent and every button pressed
is one interaction, from /lapor to "Simpan", for a month with the business running and
nothing unusual. Goal: at most 10 for tata boga and menjahit, 12 for ternak kambing.

The quickest honest path is taken: a button where one fits (number buttons for small counts
included), a typed amount otherwise. The measured counts are printed in the terminal summary.
"""

from __future__ import annotations

import re

import pytest

from bot.domain.forms import next_question
from bot.services import reports as svc
from bot.services.accounts import get_account
from tests.report_seed import seed_basic
from tests.suite_counts import SCENARIOS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

GOAL = {"tata boga": 10, "menjahit": 10, "ternak kambing": 12}
# Measured with the short form (revenue and costs in one message, orders and days / adult and
# young goats in one message, one "ada perubahan?" question for household and equipment,
# savings and books in one question, help asked only after a problem, the photo optional at
# any question); before it: 17, 16 and 20. A longer report fails this test.
MEASURED = {"tata boga": 10, "menjahit": 10, "ternak kambing": 12}
USERS = {"tata boga": (1001, "Siti"), "menjahit": (1002, "Aminah"),
         "ternak kambing": (1003, "Warsini")}  # fmt: skip
# A normal month: button labels to press, or text to type where no button fits.
TYPICAL = {
    "status": ("press", "Berjalan"), "revenue": ("send", "1,5jt 500rb"), "costs": ("send", "500rb"),
    "profit_ok": ("press", "Ya"), "tb_orders": ("send", "40 dan 5"), "tb_days": ("press", "5"),
    "mj_pieces": ("send", "12"), "tk_adult": ("send", "3 dan 2"), "tk_kid": ("press", "2"),
    "tk_moves": ("press", "Tidak"), "tk_feed": ("press", "Tidak"), "other_income": ("send", "0"),
    "changes": ("press", "Tidak ada"), "savings_books": ("press", "Mencatat saja"),
    "problem": ("press", "Tidak ada"),
}  # fmt: skip
MODEL_ID = re.compile(r"\d+\.\d+\+[0-9a-f]{6,}")


async def _key(sb, user_id: int) -> str | None:
    account = await get_account(sb.db, user_id)
    draft = await svc.open_draft(sb.db, account)
    if draft is None:
        return None
    q = next_question(draft.form, draft.answers)
    return "!save" if q is None else q.key


async def complete_report(sb, programme: str) -> tuple[int, list[str]]:
    """Interactions to complete one report, and every text the family was shown."""
    user_id, name = USERS[programme]
    person = await sb.user(user_id, name)
    shown = [r.body for r in await person.send("/lapor")]
    count = 1
    for _ in range(40):
        key = await _key(sb, user_id)
        if key is None:
            break
        if key == "!save":
            shown += [r.body for r in await person.press("Simpan")]
            count += 1
            break
        how, what = TYPICAL[key]
        replies = await (person.press(what) if how == "press" else person.send(what))
        shown += [r.body for r in replies]
        count += 1
    assert (
        await sb.db.fetchval(
            "SELECT count(*) FROM reports WHERE recipient_id = (SELECT recipient_id FROM accounts"
            " WHERE telegram_user_id = ?)",
            (user_id,),
        )
        == 1
    ), "the report was not saved"
    return count, shown


@pytest.mark.parametrize("programme", list(USERS))
async def test_report_length_per_programme(sandbox_factory, programme: str) -> None:
    sb = await sandbox_factory(seed=seed_basic)
    count, shown = await complete_report(sb, programme)
    SCENARIOS.append(f"report length: {programme} {count} interactions (goal {GOAL[programme]})")
    assert count <= MEASURED[programme]
    # the counter "(n/N)" never grows, and no family-facing text shows internal codes
    totals = [int(m.group(1)) for t in shown for m in [re.search(r"\(\d+/(\d+)\)", t or "")] if m]
    assert totals == sorted(totals, reverse=True)
    for text in shown:
        assert not MODEL_ID.search(text or ""), text
        assert ".." not in (text or "") and "recipient" not in (text or ""), text


@pytest.mark.parametrize("programme", list(USERS))
async def test_report_length_goal(sandbox_factory, programme: str) -> None:
    sb = await sandbox_factory(seed=seed_basic)
    count, _ = await complete_report(sb, programme)
    assert count <= GOAL[programme]


def _totals(texts: list[str | None]) -> list[tuple[int, int]]:
    return [
        (int(m.group(1)), int(m.group(2)))
        for t in texts
        for m in [re.search(r"^\((\d+)/(\d+)\)", t or "", re.MULTILINE)]
        if m
    ]


# An unusual month: every follow-up asked, an answer typed alone where a pair was possible,
# two steps back, a photo sent in the middle. Keys missing here are answered as in TYPICAL.
UNUSUAL = {
    "revenue": ("send", "2 juta"), "costs": ("send", "750rb"), "profit_ok": ("press", "Tidak"),
    "profit": ("send", "rugi 100rb"), "tb_orders": ("send", "40"), "tk_adult": ("press", "3"),
    "tk_moves": ("press", "Ya"), "tk_births": ("press", "1"), "tk_deaths": ("press", "1"),
    "tk_sold": ("press", "1"), "tk_sold_value": ("send", "2,5 juta"),
    "changes": ("press", "Keduanya"), "household": ("press", "5"), "tb_equipment": ("press", "Ya"),
    "mj_machine": ("press", "Tidak"), "equipment_buy": ("send", "300rb"),
    "savings_books": ("press", "Menabung dan mencatat"), "savings_amount": ("send", "200rb"),
    "problem": ("press", "Kurang modal"), "problem_text": ("send", "Harga bahan naik"),
    "help": ("press", "Ya"),
}  # fmt: skip


@pytest.mark.parametrize("programme", list(USERS))
async def test_counter_never_grows_in_an_unusual_month(sandbox_factory, programme: str) -> None:
    """The "(k/n)" counter: n never grows (answers, follow-ups, pairs, Kembali, a photo) and
    k never passes n; k goes back only with Kembali."""
    sb = await sandbox_factory(seed=seed_basic)
    user_id, name = USERS[programme]
    person = await sb.user(user_id, name)
    shown = [r.body for r in await person.send("/lapor")]
    backs = 0
    for _ in range(60):
        key = await _key(sb, user_id)
        if key == "!save":
            break
        assert key is not None
        if key == "savings_books" and backs < 2:
            # Kembali twice (other_income, then changes are asked again), photo in between
            shown += [r.body for r in await person.press("< Kembali")]
            backs += 1
            if backs == 1:
                shown += [r.body for r in await person.send_photo(b"\x89PNG\r\n\x1a\n" + b"1" * 99)]
            continue
        how, what = UNUSUAL.get(key, TYPICAL.get(key, ("", "")))
        replies = await (person.press(what) if how == "press" else person.send(what))
        shown += [r.body for r in replies]
    else:
        raise AssertionError("the report did not end")
    counters = _totals(shown)
    assert len(counters) > 8
    totals = [n for _, n in counters]
    assert totals == sorted(totals, reverse=True), counters
    assert all(1 <= k <= n for k, n in counters), counters
    assert any("Foto diterima" in (t or "") for t in shown)
    await person.press("Simpan")
    row = await sb.db.fetchone(
        "SELECT * FROM reports WHERE recipient_id = (SELECT recipient_id FROM accounts"
        " WHERE telegram_user_id = ?)",
        (user_id,),
    )
    assert row["wants_help"] == 1 and row["has_savings"] == 1 and row["keeps_books"] == 1
    assert row["household_size"] == 5 and row["savings_amount"] == 200_000
    assert row["photo_unique_id"]
    if programme == "ternak kambing":
        assert (row["goats"], row["goats_born"], row["goats_died"], row["goats_sold"]) == (
            5, 1, 1, 1)  # fmt: skip
        assert row["revenue"] == 2_000_000 + 2_500_000 and row["equipment_spend"] == 300_000
    else:
        assert row["profit"] == -100_000 and row["equipment_spend"] == 300_000
        assert row["equipment_ok"] == (1 if programme == "tata boga" else 0)


async def test_quiet_month_still_gives_the_score_every_input(sandbox_factory) -> None:
    """ "Tidak ada" answers are answers: savings/books/help are known, goats born/died/sold
    are 0, equipment bought is 0, the equipment state carries over (the starter package at
    first), and the household size is left to the score's last known size / register."""
    sb = await sandbox_factory(seed=seed_basic)
    for programme in USERS:
        await complete_report(sb, programme)
    rows = {
        r["programme"]: r
        for r in await sb.db.fetchall(
            "SELECT rc.programme, rp.* FROM reports rp JOIN recipients rc ON rc.id = rp.recipient_id"
        )
    }
    for programme, row in rows.items():
        assert (row["has_savings"], row["keeps_books"], row["wants_help"]) == (0, 1, 0)
        assert row["household_size"] is None and row["other_income"] == 0
        assert row["revenue"] == 1_500_000 and row["costs"] == 500_000
        if programme == "ternak kambing":
            assert (row["goats"], row["goats_born"], row["goats_died"], row["goats_sold"]) == (
                5, 0, 0, 0)  # fmt: skip
        else:
            assert row["equipment_ok"] == 1 and row["equipment_spend"] == 0
