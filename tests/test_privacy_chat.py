"""Privacy in chat, through the real bot (sandbox): nothing personal in groups, forged or
oversized button data, and one answer for "not yours" and "does not exist"."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.render import render
from tests.hostile_helpers import ErrorCapture, generic_errors_sent
from tests.report_seed import add_account, seed_basic
from tests.test_access_behaviour import until

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

STAFF_GROUP, OPERATOR, STRANGE_GROUP = -100, -500, -700
SITI_NIK, SITI_PHONE = "3328064211650001", "081234560001"
PERSONAL = ("Siti", "Aminah", "Warsini", "Lain", SITI_NIK, SITI_PHONE, "Lebaksiu", "Kajen")
PRIVATE_ONLY = render("group_private_only")
INVALID_BUTTON = render("button_invalid")


async def seed(db):
    await seed_basic(db)
    await add_account(db, 3001, "staff", name="Staf")
    await db.execute("UPDATE recipients SET phone = ? WHERE nik = ?", (SITI_PHONE, SITI_NIK))


@pytest.fixture
async def world(sandbox_factory, settings):
    cfg = replace(settings, chats=replace(settings.chats, staff=[STAFF_GROUP], operator=OPERATOR))
    sb = await sandbox_factory(settings=cfg, seed=seed)
    people = {uid: await sb.user(uid, f"U{uid}") for uid in (1001, 2001, 3001, 9001)}
    return sb, people


def bot_texts(sb, chat_id: int) -> list[str]:
    return [
        m.data.get("text") or m.data.get("caption") or "" for m in sb.core.bot_messages(chat_id)
    ]


def operator_alerts(sb) -> list[str]:
    return [t for t in bot_texts(sb, OPERATOR)]


async def test_an_unconfigured_group_gets_one_explanation_and_the_bot_leaves(world):
    sb, people = world
    group = await sb.group(STRANGE_GROUP, "Arisan RT 03", list(people.values()))
    await until(lambda: sb.calls("leaveChat"))
    assert bot_texts(sb, STRANGE_GROUP) == [render("group_leave")]
    assert [c["params"]["chat_id"] for c in sb.calls("leaveChat")] == [STRANGE_GROUP]
    assert sb.core.chats[STRANGE_GROUP].bot_removed
    # whatever members type afterwards, nothing personal appears there
    for uid, command in ((2001, "/daftar"), (2001, f"/skor {SITI_NIK}"), (1001, "/profil"),
                         (1001, "/kemajuan"), (1001, "/lapor")):  # fmt: skip
        await group.send(people[uid], command)
    texts = bot_texts(sb, STRANGE_GROUP)
    assert texts == [render("group_leave")]
    assert not [t for t in texts for p in PERSONAL if p in t]


@pytest.mark.parametrize(
    ("uid", "command"),
    [(2001, "/daftar"), (2001, f"/skor {SITI_NIK}"), (3001, f"/skor {SITI_NIK}"),
     (1001, "/profil"), (2001, "/profil"), (1001, "/kemajuan"), (1001, "/lapor"),
     (2001, "/lapor"), (2001, "/undang"), (3001, "/graduasi"), (2001, "/kunjungan"),
     (9001, "/start"), (1001, "/lanjut")],
)  # fmt: skip
async def test_in_the_staff_group_private_commands_get_one_short_line(world, uid, command):
    sb, people = world
    group = await sb.group(STAFF_GROUP, "Staf Dinsos", list(people.values()))
    replies = await group.send(people[uid], command)
    assert [r.text for r in replies] == [PRIVATE_ONLY]
    assert not replies[0].buttons
    # and nothing reached the person's private chat either (no form was opened)
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 0


async def test_in_the_staff_group_the_group_commands_still_work(world):
    sb, people = world
    group = await sb.group(STAFF_GROUP, "Staf Dinsos", list(people.values()))
    bantuan = await group.send(people[3001], "/bantuan")
    assert "/ringkasan" in bantuan[0].text
    ringkasan = await group.send(people[3001], "/ringkasan")
    assert ringkasan and PRIVATE_ONLY not in ringkasan[0].text
    # a facilitator's caseload digest is refused in a group by the digest service itself
    fac = await group.send(people[2001], "/ringkasan")
    assert not [p for p in PERSONAL if p in fac[0].text]


async def test_a_button_pressed_in_a_group_gets_a_toast_and_changes_nothing(world):
    sb, people = world
    await sb.group(STAFF_GROUP, "Staf Dinsos", list(people.values()))
    siti = await sb.db.fetchval("SELECT id FROM recipients WHERE nik = ?", (SITI_NIK,))
    result = sb.core.inject_callback(2001, None, f"fac:lr:{siti}", STAFF_GROUP)
    await sb.idle(result["update_id"])
    assert sb.core.callback_queries[result["callback_query_id"]]["answer"] == PRIVATE_ONLY
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 0
    assert not [t for t in bot_texts(sb, STAFF_GROUP) for p in PERSONAL if p in t]


# --- forged and oversized button data ---------------------------------------------------------


async def press_forged(sb, uid: int, data: str) -> str | None:
    """The toast the forged press got, else the one line the bot answered with."""
    mine = [m.message_id for m in sb.core.bot_messages(uid)] or [None]
    seen = len(sb.core.bot_messages(uid))
    result = sb.core.inject_callback(uid, mine[-1], data)
    await sb.idle(result["update_id"])
    query = sb.core.callback_queries[result["callback_query_id"]]
    assert query["answered"], data
    if query["answer"]:
        return query["answer"]
    lines = [m.data.get("text") or "" for m in sb.core.bot_messages(uid)[seen:]]
    assert len(lines) == 1, (data, lines)
    return lines[0]


async def db_state(sb) -> list:
    out = []
    for table in ("report_drafts", "reports", "report_flags", "graduation_cases", "invites",
                  "visits", "accounts"):  # fmt: skip
        out.append([tuple(r) for r in await sb.db.fetchall(f"SELECT * FROM {table} ORDER BY id")])
    return out


async def test_forged_values_on_the_live_draft_and_oversized_ids_get_one_polite_toast(world):
    sb, people = world
    siti = people[1001]
    await siti.send("/lapor")
    await siti.press(siti.buttons()[0])  # the business runs: the live question is an amount
    draft = await sb.db.fetchone(
        "SELECT id, step, current_key FROM report_drafts WHERE status = 'open'"
    )
    assert draft["current_key"] == "revenue"
    live = f"rep:{draft['id']}:{draft['step']}:"
    forged = [
        live + "\u00b2",
        live + "\u0661",
        live + "\uff11",
        live + str(2**63),
        live + str(2**64),
        live + "",
        f"rep:{draft['id']}:{2**64}:ya",
        f"rep:{2**63}:{draft['step']}:ya",
        f"rep:{2**64}:{draft['step']}:ya",
        f"rep:{draft['id']}:\u00b2:ya",
    ]
    before = await db_state(sb)
    with ErrorCapture() as errors:
        for data in forged:
            answer = await press_forged(sb, 1001, data)
            # a value the live question cannot take is answered like a wrong answer: one line
            polite = re.search(r"\(2/\d+\)", answer) is not None  # the live question again
            assert answer in (INVALID_BUTTON, render("report_stale")) or polite, (data, answer)
        for data in (f"fac:lr:{2**63}", f"fac:lr:{2**64}", f"fac:f:{2**63}", f"fac:f:{2**64}",
                     "fac:lr:", "fac:f:", f"fac:fr:1:{2**64}", f"fac:d:{2**64}",
                     f"grd:a:{2**64}", f"inv:r:{2**64}", f"sia:ok:{2**64}", "onb:ack:",
                     "per:2024-1\u00b2"):  # fmt: skip
            answer = await press_forged(sb, 2001 if data.startswith(("fac", "inv")) else 3001,
                                        data)  # fmt: skip
            assert answer == INVALID_BUTTON, (data, answer)
        tolak = await people[3001].send("/tolak 99999999999999999999999 tidak layak")
        assert tolak and render("graduasi_error", key="usage_decide", context={}) in tolak[0].text
        assert not errors.records, errors.describe()
    assert not generic_errors_sent(sb.core)
    assert operator_alerts(sb) == []
    assert await sb.db.fetchval("SELECT count(*) FROM outbox") == 0
    assert await db_state(sb) == before


# --- one answer for "not yours" and "does not exist" -----------------------------------------


async def test_not_yours_and_does_not_exist_get_the_same_answer(world):
    sb, people = world
    other = await sb.db.fetchval("SELECT id FROM recipients WHERE name = 'Lain'")
    await sb.db.execute(
        "INSERT INTO report_flags (recipient_id, period, kind, details, created_at)"
        " VALUES (?, '2024-01', 'revenue_jump', '{}', '2024-01-15T00:00:00+00:00')",
        (other,),
    )
    other_flag = await sb.db.fetchval(
        "SELECT id FROM report_flags WHERE recipient_id = ?", (other,)
    )
    await sb.db.execute(
        "INSERT INTO graduation_cases (recipient_id, kind, status, score, period, statement,"
        " confirmed_at, created_at) VALUES (?, 'graduation', 'confirmed', 80, '2024-01', 's',"
        " '2024-01-15T00:00:00+00:00', '2024-01-15T00:00:00+00:00')",
        (other,),
    )
    other_case = await sb.db.fetchval("SELECT id FROM graduation_cases")
    await sb.db.execute(
        "UPDATE accounts SET kecamatan_code = '33.28.03' WHERE telegram_user_id = 3001"
    )
    rini, staff = people[2001], people[3001]
    pairs = [
        (2001, f"fac:lr:{other}", "fac:lr:99999"),
        (2001, f"fac:kr:{other}", "fac:kr:99999"),
        (2001, f"fac:f:{other_flag}", "fac:f:99999"),
        (2001, f"fac:fv:{other_flag}", "fac:fv:99999"),
        (2001, f"fac:fr:{other_flag}:0", "fac:fr:99999:0"),
        (2001, f"inv:r:{other}", "inv:r:99999"),
        (3001, f"grd:a:{other_case}", "grd:a:99999"),
    ]

    async def answer_to(uid: int, data: str) -> str:
        user = people[uid]
        since = len(user.replies())
        toast = await press_forged(sb, uid, data)
        texts = [r.text or "" for r in user.replies()[since:]]
        return " | ".join([toast or "", *texts])

    for uid, mine_not, missing in pairs:
        assert await answer_to(uid, mine_not) == await answer_to(uid, missing), mine_not
    for command in ("/tolak {} bukan", "/setujui {} layak"):
        yours_not = (await staff.send(command.format(other_case)))[-1].text
        absent = (await staff.send(command.format(99999)))[-1].text
        assert yours_not == absent, command
    assert "Lain" not in " ".join(r.text or "" for r in rini.replies() + staff.replies())
