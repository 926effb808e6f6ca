"""Invites bound to the right person, through the real bot (sandbox): no invite for erased or
ended records, the contact step, confirmation by a second person, no impersonation by a
facilitator, and revoked accounts (with the `pendamping accounts` CLI)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest

from bot.render import render
from bot.services.access import visible_recipients
from bot.services.accounts import get_account
from bot.services.invites import InviteError, create_invites, facilitator_invite, redeem
from bot.services.persons import erase_recipient
from tests.cli_helpers import run_cli
from tests.report_seed import add_account, add_desa, add_facilitator, add_recipient

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

BOT = "PendampingTegalBot"
SITI_PHONE, FAC_PHONE = "6281234560001", "6281299990000"
NOW = dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC)


async def seed(db) -> None:
    d = await add_desa(db, "Lebaksiu Kidul")
    f1 = await add_facilitator(db)
    await db.execute("UPDATE facilitators SET phone = ? WHERE id = ?", (FAC_PHONE, f1))
    await add_recipient(db, 1, "Siti Rahayu", "tata boga", f1, d)
    await add_recipient(db, 2, "Aminah Lestari", "menjahit", f1, d)  # no phone in the register
    await add_recipient(db, 3, "Warsini Ended", "tata boga", f1, d)
    await add_recipient(db, 4, "Kartini Erased", "tata boga", f1, d)
    await db.execute("UPDATE recipients SET phone = ? WHERE name = 'Siti Rahayu'", (SITI_PHONE,))
    await add_account(db, 2001, "facilitator", facilitator_id=f1, name="Rini")
    await add_account(db, 3001, "staff", name="Staf")


async def rid(db, name: str) -> int:
    return await db.fetchval("SELECT id FROM recipients WHERE name = ?", (name,))


def code_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["start"][0]


async def invite_for(db, name: str, now=NOW) -> str:
    nik = await db.fetchval("SELECT nik FROM recipients WHERE name = ?", (name,))
    cards = await create_invites(db, now, role="recipient", bot_username=BOT, expiry_days=30,
                                 niks=[nik])  # fmt: skip
    return code_of(cards[0].link)


async def end_and_erase(db) -> None:
    await db.execute("UPDATE recipients SET status = 'ended' WHERE name = 'Warsini Ended'")
    await erase_recipient(db, await rid(db, "Kartini Erased"), "permintaan", NOW, compact=False)


async def test_no_invite_for_an_erased_or_ended_record(db):
    await seed(db)
    old_ended = await invite_for(db, "Warsini Ended")
    old_erased = await invite_for(db, "Kartini Erased")
    ended, erased = await rid(db, "Warsini Ended"), await rid(db, "Kartini Erased")
    await end_and_erase(db)
    cards = await create_invites(db, NOW, role="recipient", bot_username=BOT, expiry_days=30,
                                 all_unlinked=True)  # fmt: skip
    assert sorted(c.name for c in cards) == ["Aminah Lestari", "Siti Rahayu"]
    nik = await db.fetchval("SELECT nik FROM recipients WHERE id = ?", (ended,))
    with pytest.raises(InviteError):
        await create_invites(db, NOW, role="recipient", bot_username=BOT, expiry_days=30,
                             niks=[nik])  # fmt: skip
    rini = await get_account(db, 2001)
    for record in (ended, erased):
        with pytest.raises(InviteError):
            await facilitator_invite(db, NOW, rini, record, bot_username=BOT, expiry_days=30)
    listed = [r["name"] for r in await visible_recipients(db, rini, unlinked_only=True)]
    assert sorted(listed) == ["Aminah Lestari", "Siti Rahayu"]
    # a link handed out before the record ended or was erased links nothing now
    for n, code in enumerate((old_ended, old_erased)):
        outcome = await redeem(db, NOW, telegram_user_id=5000 + n, chat_id=5000 + n,
                               display_name="X", code=code)  # fmt: skip
        assert outcome.status == "invalid"
    assert await db.fetchval("SELECT count(*) FROM accounts WHERE telegram_user_id >= 5000") == 0
    assert await db.fetchval("SELECT count(*) FROM pending_links") == 0


async def test_undang_lists_no_erased_or_ended_record(sandbox_factory):
    async def seeded(db):
        await seed(db)
        await end_and_erase(db)

    sb = await sandbox_factory(seed=seeded)
    rini = await sb.user(2001, "Rini")
    reply = (await rini.send("/undang"))[-1]
    assert sorted(reply.labels) == [
        "Aminah Lestari (Lebaksiu Kidul)",
        "Siti Rahayu (Lebaksiu Kidul)",
    ]
    assert not [label for label in reply.labels if "[dihapus]" in label]


@pytest.fixture
async def world(sandbox_factory):
    sb = await sandbox_factory(seed=seed)
    return sb


async def test_a_matching_own_number_links_and_a_forwarded_link_does_not(world):
    sb = world
    code = await invite_for(sb.db, "Siti Rahayu")
    stranger = await sb.user(9001, "Orang Lain", phone="6285700000009")
    asked = (await stranger.send(f"/start {code}"))[-1]
    assert asked.text == render("contact_request")
    assert "Siti" not in asked.text  # the family's name is not shown before verification
    assert asked.keyboard == [[render("btn_share_contact")]]
    # typing instead of pressing the button: the button again
    assert [r.text for r in await stranger.send("0857 0000 0009")] == [render("contact_request")]
    # a contact card of someone else (even with the family's number) is not accepted
    replies = await stranger.send_contact(SITI_PHONE, "Siti", own=False)
    assert render("contact_not_own") in [r.text for r in replies]
    # the stranger's own number does not match: pending, the facilitator is asked
    rini = await sb.user(2001, "Rini")
    pending = await stranger.share_contact()
    assert pending[-1].text == render("contact_pending")
    ask = (await rini.messages())[-1]
    assert ask.text.startswith("Akun baru untuk Siti Rahayu: benar?")
    assert ask.labels == [render("btn_confirm_yes"), render("btn_confirm_no")]
    assert await get_account(sb.db, 9001) is None
    assert (await stranger.send("/start"))[-1].text == render("contact_pending")
    assert render("report_error", key="not_linked") in (await stranger.send("/lapor"))[-1].text
    assert render("not_linked") in (await stranger.send("/profil"))[-1].text
    assert "0812" not in " ".join(r.text or "" for r in await stranger.messages())
    await rini.press(render("btn_confirm_no"))
    assert "tidak dikonfirmasi" in (await rini.messages())[-1].text
    assert await get_account(sb.db, 9001) is None
    # the real owner opens the same link and shares her own, matching number
    siti = await sb.user(1001, "Siti", phone="+62 812-3456-0001")
    await siti.send(f"/start {code}")
    replies = await siti.share_contact()
    assert replies[0].text == render("contact_linked")
    assert "UU 27/2022" in replies[-1].text and "Siti Rahayu" in replies[-1].text
    account = await get_account(sb.db, 1001)
    assert account is not None and account.role == "recipient"
    audit = await sb.db.fetchall("SELECT action FROM audit_log WHERE action LIKE 'account.link%'")
    assert {"account.link", "account.link_pending", "account.link_refused"} <= {
        r["action"] for r in audit
    }


async def test_no_register_phone_waits_for_the_facilitator_then_links(world):
    sb = world
    code = await invite_for(sb.db, "Aminah Lestari")
    aminah = await sb.user(1002, "Aminah", phone="6281377770002")
    rini = await sb.user(2001, "Rini")
    await aminah.send(f"/start {code}")
    assert (await aminah.share_contact())[-1].text == render("contact_pending")
    ask = (await rini.messages())[-1]
    assert "Data belum punya nomor HP" in ask.text
    done = await rini.press(render("btn_confirm_yes"))
    assert "sudah dikonfirmasi" in done[-1].text
    assert (await get_account(sb.db, 1002)).recipient_id == await rid(sb.db, "Aminah Lestari")
    await sb.app.bot_data["sender"].drain()
    assert render("account_confirmed") in [r.text for r in await aminah.messages()]
    # the facilitator's pressing again changes nothing
    again = await rini.press(render("btn_confirm_yes"))
    assert again[-1].text == render("account_confirm_done", status="unknown", name="")


async def test_a_facilitator_cannot_impersonate_a_family(world):
    """/undang -> the link -> a second Telegram account -> /lapor as the recipient."""
    sb = world
    rini = await sb.user(2001, "Rini", phone=FAC_PHONE)
    staff = await sb.user(3001, "Staf")
    await rini.send("/undang")
    link = next(
        line
        for line in (await rini.press("Siti Rahayu (Lebaksiu Kidul)"))[-1].text.split()
        if line.startswith("https://t.me/")
    )
    code = code_of(link)
    # her own account cannot take the family's link
    assert "Rini" in (await rini.send(f"/start {code}"))[-1].text
    assert (await get_account(sb.db, 2001)).role == "facilitator"
    # a second account sharing the facilitator's registered number is refused outright
    second = await sb.user(2009, "Rini HP2", phone="+62 812 9999 0000")
    await second.send(f"/start {code}")
    assert (await second.share_contact())[-1].text == render("contact_refused")
    # a second account with another SIM: the link waits for STAFF, not for the facilitator
    third = await sb.user(2010, "Rini HP3", phone="6285611110000")
    await third.send(f"/start {code}")
    assert (await third.share_contact())[-1].text == render("contact_pending")
    assert not [r for r in await rini.messages() if (r.text or "").startswith("Akun baru")]
    pending = await sb.db.fetchone("SELECT id, confirmer FROM pending_links WHERE"
                                   " telegram_user_id = 2010")  # fmt: skip
    assert pending["confirmer"] == "staff"
    # a forged confirmation by the facilitator gets the same answer as a missing request
    for data in (f"acc:ok:{pending['id']}", "acc:ok:99999"):
        result = sb.core.inject_callback(2001, None, data)
        await sb.idle(result["update_id"])
        assert (await rini.messages())[-1].text == render(
            "account_confirm_done", status="unknown", name=""
        )
    for person in (second, third):
        replies = await person.send("/lapor")
        assert render("report_error", key="not_linked") in replies[-1].text
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 0
    assert await sb.db.fetchval("SELECT count(*) FROM accounts WHERE role = 'recipient'") == 0
    assert (await staff.messages())[-1].text.startswith("Akun baru untuk Siti Rahayu")


async def test_accounts_cli_lists_and_revokes_and_the_revoked_person_is_told(world, tmp_path):
    sb = world
    code = await invite_for(sb.db, "Siti Rahayu")
    siti = await sb.user(1001, "Siti", phone=SITI_PHONE)
    await siti.send(f"/start {code}")
    await siti.share_contact()
    await siti.press(render("btn_consent"))
    await sb.stop_bot()
    env = {"PENDAMPING_DB": sb.settings.database}
    out = run_cli("accounts", "list", "--role", "recipient", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "1001" in out.stdout and "Siti Rahayu" in out.stdout and "2001" not in out.stdout
    out = run_cli("accounts", "revoke", "--telegram-id", "1001", "--reason", "HP hilang",
                  cwd=tmp_path, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    out = run_cli("accounts", "revoke", "--telegram-id", "1001", "--reason", "lagi",
                  cwd=tmp_path, env=env)  # fmt: skip
    assert out.returncode == 1 and "already revoked" in out.stdout
    await sb.start_bot()
    audit = await sb.db.fetchall("SELECT action, details FROM audit_log WHERE action IN"
                                 " ('account.list', 'account.revoke') ORDER BY id")  # fmt: skip
    assert [r["action"] for r in audit] == ["account.list", "account.revoke"]
    assert json.loads(audit[1]["details"])["reason"] == "HP hilang"
    for text in ("/lapor", "halo", "/profil", f"/start {await invite_for(sb.db, 'Siti Rahayu')}"):
        replies = await siti.send(text)
        assert [r.text for r in replies] == [render("account_revoked")], text
    assert await get_account(sb.db, 1001) is None


async def test_erasing_a_revoked_family_removes_the_revocation_too(db):
    from bot.services.binding import is_revoked, revoke

    await seed(db)
    siti = await rid(db, "Siti Rahayu")
    aminah = await rid(db, "Aminah Lestari")
    await add_account(db, 1001, "recipient", recipient_id=siti)
    await add_account(db, 1002, "recipient", recipient_id=aminah)
    for user in (1001, 1002):
        await revoke(db, NOW, user, "HP hilang")
        assert await is_revoked(db, user)
    for record in (siti, aminah):
        await erase_recipient(db, record, "permintaan", NOW, compact=False)
    assert await db.fetchval("SELECT count(*) FROM revoked_telegram") == 0
