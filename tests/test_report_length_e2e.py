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
# Measured with the form of graduation readiness model 2 (equipment bought asked apart from
# costs, a tata boga equipment question, household size asked outright in quarter months and
# "did it change?" otherwise); a longer report fails this test.
MEASURED = {"tata boga": 17, "menjahit": 16, "ternak kambing": 20}
USERS = {"tata boga": (1001, "Siti"), "menjahit": (1002, "Aminah"),
         "ternak kambing": (1003, "Warsini")}  # fmt: skip
# A normal month: button labels to press, or text to type where no button fits.
TYPICAL = {
    "status": ("press", "Berjalan"), "revenue": ("send", "1,5 jt"), "costs": ("send", "500rb"),
    "profit_ok": ("press", "Ya"), "tb_orders": ("send", "40"), "tb_days": ("press", "5"),
    "mj_pieces": ("send", "12"), "mj_machine": ("press", "Ya"), "tk_adult": ("press", "3"),
    "tk_kid": ("press", "2"), "tk_births": ("press", "0"), "tk_deaths": ("press", "0"),
    "tk_sold": ("press", "0"), "tk_feed": ("press", "Ya"), "other_income": ("send", "0"),
    "household": ("press", "4"), "savings": ("press", "Tidak"), "books": ("press", "Ya"),
    "problem": ("press", "Tidak ada"), "help": ("press", "Tidak"), "photo": ("press", "Lewati"),
    "equipment_buy": ("send", "0"), "tb_equipment": ("press", "Ya"),
    "household_changed": ("press", "Tidak"),
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


@pytest.mark.xfail(strict=True, reason="the goal needs a shorter form: paired revenue/costs, "
                   "quarterly equipment and household questions, savings and books in one "
                   "question, help folded into the problem question")  # fmt: skip
@pytest.mark.parametrize("programme", list(USERS))
async def test_report_length_goal(sandbox_factory, programme: str) -> None:
    sb = await sandbox_factory(seed=seed_basic)
    count, _ = await complete_report(sb, programme)
    assert count <= GOAL[programme]
