"""Per-role "/" menus through the sandbox: a staff member's, a facilitator's and an admin's private
chat get their role's menu (BotCommandScopeChat), a recipient's keeps the default; linking,
unlinking and a role change made outside the bot move a chat's menu; the notice is role-worded."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest

from bot.commands_menu import commands_for
from bot.render import render
from bot.services.chat_menus import menu_changes, sync_chat_menus
from bot.services.invites import create_invites
from tests.conftest import FakeClock
from tests.digest_db import T, seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NOW = dt.datetime(2024, 2, 6, 1, 0, tzinfo=dt.UTC)
ADMIN, STAFF, BUDI, SITI, NEW_STAFF = 2001, 2002, 104, 101, 3003


def names(role: str) -> list[str]:
    return [name for name, _ in commands_for(role)]


async def seed_people(db) -> None:
    await seed(db)
    async with db.transaction() as c:
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, linked_at)"
            " VALUES (?, ?, 'Admin', 'admin', ?)", (ADMIN, ADMIN, T))  # fmt: skip
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role,"
            " kecamatan_code, linked_at) VALUES (?, ?, 'Staf Slawi', 'staff', '33.28.10', ?)",
            (STAFF, STAFF, T),
        )
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role,"
            " facilitator_id, linked_at) VALUES (?, ?, 'Budi', 'facilitator', 2, ?)",
            (BUDI, BUDI, T),
        )


@pytest.fixture
async def sb(sandbox_factory):
    return await sandbox_factory(clock=FakeClock(NOW), seed=seed_people)


async def test_each_role_sees_its_own_menu_from_start_up(sb) -> None:
    # the three menus differ, so the checks below can tell them apart
    assert len({tuple(names(r)) for r in ("recipient", "facilitator", "staff")}) == 3
    assert sb.menu(STAFF) == names("staff") and "ekspor" in sb.menu(STAFF)
    assert "lapor" not in sb.menu(STAFF)
    assert sb.menu(ADMIN) == names("admin")
    assert sb.menu(BUDI) == names("facilitator") and "daftar" in sb.menu(BUDI)
    # a recipient (linked or not) has no chat menu of their own: the default, the recipients'
    assert sb.menu(SITI) == names("recipient") and "ekspor" not in sb.menu(SITI)
    assert sb.menu(999_999) == names("recipient")
    # what the bot asked for: one chat-scoped call per staff/facilitator/admin chat, none for
    # the recipient
    scoped = [
        c["params"]["scope"]
        for c in sb.calls("setMyCommands")
        if (c["params"].get("scope") or {}).get("type") == "chat"
    ]
    expected = await sb.db.fetchall(
        "SELECT chat_id FROM accounts WHERE role != 'recipient' AND telegram_user_id > 0"
    )
    assert sorted(s["chat_id"] for s in scoped) == sorted(r["chat_id"] for r in expected)
    assert {ADMIN, STAFF, BUDI, 103} == {r["chat_id"] for r in expected}
    assert sb.menu(103) == names("facilitator")
    # recorded: the next pass has nothing to do
    assert await menu_changes(sb.db, 100) == []


async def test_linking_unlinking_and_a_role_change_move_the_menu(sb) -> None:
    cards = await create_invites(
        sb.db, sb.clock(), role="staff", bot_username=sb.settings.bot_username,
        expiry_days=7, kecamatan="33.28.10", name="Staf Baru",
    )  # fmt: skip
    code = parse_qs(urlparse(cards[0].link).query)["start"][0]
    staff = await sb.user(NEW_STAFF, "Staf Baru")
    assert sb.menu(NEW_STAFF) == names("recipient")  # not linked yet: the default
    notice = (await staff.send(f"/start {code}"))[-1]
    # the staff member's own notice, not the recipient's
    assert "UU 27/2022" in notice.text and "pendamping Anda" not in notice.text
    assert "jangan diteruskan" in notice.text
    assert sb.menu(NEW_STAFF) == names("staff")
    await staff.press(render("btn_consent"))
    await staff.send("/profil")
    await staff.press(render("btn_unlink"))
    await staff.press(render("btn_unlink_yes"))
    assert sb.menu(NEW_STAFF) == names("recipient")  # the chat's own menu was deleted
    deleted = [
        c for c in sb.calls("deleteMyCommands")
        if (c["params"].get("scope") or {}).get("chat_id") == NEW_STAFF
    ]  # fmt: skip
    assert len(deleted) == 1

    # a role changed outside the bot (CLI, database): the next pass sets the new menu
    await sb.db.execute("UPDATE accounts SET role = 'admin' WHERE telegram_user_id = ?", (STAFF,))
    assert await sync_chat_menus(sb.app.bot, sb.db, sb.clock(), pace=0) == 1
    assert sb.menu(STAFF) == names("admin")
    assert await sync_chat_menus(sb.app.bot, sb.db, sb.clock(), pace=0) == 0  # nothing left


async def test_a_refused_menu_is_not_retried_and_a_flood_wait_is(sb) -> None:
    await sb.db.execute("DELETE FROM chat_menus")
    sb.core.add_fault("setMyCommands", 400, count=1, description="Bad Request: chat not found")
    assert await sync_chat_menus(sb.app.bot, sb.db, sb.clock(), pace=0) == 4
    assert await menu_changes(sb.db, 100) == []
    await sb.db.execute("DELETE FROM chat_menus")
    sb.core.add_fault("setMyCommands", 500, count=10)
    assert await sync_chat_menus(sb.app.bot, sb.db, sb.clock(), pace=0) == 0
    assert len(await menu_changes(sb.db, 100)) == 4  # left for the next pass


def test_facilitator_and_staff_notices_are_their_own() -> None:
    for lang in ("id", "en"):
        recipient = render(
            "consent_notice", lang, name="Siti", role="recipient", kabupaten="Kabupaten Tegal"
        )
        for role in ("facilitator", "staff", "admin"):
            text = render(
                "consent_notice", lang, name="Budi", role=role, kabupaten="Kabupaten Tegal"
            )
            assert text != recipient
            assert ("pendamping Anda" if lang == "id" else "your facilitator") not in text
    assert "Data apa: nama, NIK" in render(
        "consent_notice", "id", name="S", role="recipient", kabupaten="Kabupaten Tegal"
    )
