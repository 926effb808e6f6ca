"""End to end through the sandbox: import, invite, link with consent, /profil, /undang,
bad codes and the throttle, unlinking, and the access matrix over every registered command."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from bot.render import render  # noqa: E402
from bot.services.invites import create_invites  # noqa: E402
from bot.services.registry_import import import_registry  # noqa: E402
from bot.services.registry_source import open_source  # noqa: E402
from tests.access_matrix import MATRIX, registered_commands  # noqa: E402
from tests.registry_helpers import SAMPLE  # noqa: E402

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = [
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

SITI_NIK = "3328026704830002"  # Cut Cinta Ramadan, PD-101, Bumijawa
OTHER_NIK = "3328036805990003"  # Cut Fitria Natsir, PD-202, Bojong
INVALID = render("onboarding_invalid")
CONSENT = render("btn_consent")


async def load_registry(sandbox) -> None:
    source = open_source(SAMPLE)
    try:
        await import_registry(sandbox.db, source, sandbox.clock(), sandbox.settings.programmes)
    finally:
        source.close()


async def invite_code(sandbox, role="recipient", **kw) -> str:
    cards = await create_invites(
        sandbox.db, sandbox.clock(), role=role, bot_username=sandbox.settings.bot_username,
        expiry_days=sandbox.settings.invites.expiry_days, **kw,
    )  # fmt: skip
    return parse_qs(urlparse(cards[0].link).query)["start"][0]


async def share_register_phone(sandbox, person):
    """A family's step after opening its link: share their own number (the register's)."""
    person.phone = await sandbox.db.fetchval(
        "SELECT r.phone FROM pending_links p JOIN recipients r ON r.id = p.recipient_id"
        " WHERE p.telegram_user_id = ? AND p.status = 'contact'",
        (person.id,),
    )
    assert person.phone, "the sample register has a phone for every invited family"
    return await person.share_contact()


async def linked_user(sandbox, user_id, name, code):
    person = await sandbox.user(user_id, name)
    replies = await person.send(f"/start {code}")
    if replies[-1].text == render("contact_request"):  # a recipient's link: the contact step
        replies = await share_register_phone(sandbox, person)
    assert "UU 27/2022" in replies[-1].text
    assert CONSENT in replies[-1].labels
    done = await person.press(CONSENT)
    # thanks, then (for a family, when a month is open) that month's invitation
    assert any("Terima kasih" in r.text for r in done)
    return person


async def test_recipient_links_consents_and_sees_only_own_profile(sandbox):
    await load_registry(sandbox)
    code = await invite_code(sandbox, niks=[SITI_NIK])
    siti = await sandbox.user(1001, "Siti")
    asked = (await siti.send(f"/start {code}"))[-1]
    assert asked.text == render("contact_request") and "Cut Cinta" not in asked.text
    notice = (await share_register_phone(sandbox, siti))[-1]
    assert "Cut Cinta Ramadan" in notice.text
    # nothing is collected before the acknowledgement: the account has no consent yet
    assert (
        await sandbox.db.fetchval("SELECT consent_at FROM accounts WHERE telegram_user_id = 1001")
        is None
    )
    await siti.press(CONSENT)
    row = await sandbox.db.fetchone(
        "SELECT consent_version, consent_at FROM accounts WHERE telegram_user_id = 1001"
    )
    assert row["consent_version"] and row["consent_at"] == sandbox.clock().isoformat(
        timespec="seconds"
    )
    profil = (await siti.send("/profil"))[-1]
    assert "3328********0002" in profil.text and SITI_NIK not in profil.text
    assert "Alika Pradana" in profil.text
    assert "Cut Fitria Natsir" not in profil.text
    # a recipient cannot invite
    assert render("undang_denied") in (await siti.send("/undang"))[-1].text


async def test_facilitator_links_and_invites_a_family_of_own_caseload(sandbox):
    await load_registry(sandbox)
    code = await invite_code(sandbox, role="facilitator", facilitator_code="PD-101")
    alika = await linked_user(sandbox, 2001, "Alika", code)
    profil = (await alika.send("/profil"))[-1]
    assert "Alika Pradana" in profil.text
    pick = (await alika.send("/undang"))[-1]
    assert pick.labels and all("Cut Fitria Natsir" not in label for label in pick.labels)
    family = pick.labels[0]
    link = (await alika.press(family))[-1].text
    url = next(w for w in link.split() if w.startswith("https://t.me/"))
    new_code = parse_qs(urlparse(url).query)["start"][0]
    person = await sandbox.user(3001, "Keluarga")
    replies = await person.send(f"/start {new_code}")
    assert replies[-1].text == render("contact_request")  # no family name before the check
    replies = await share_register_phone(sandbox, person)
    assert family.split(" (")[0] in replies[-1].text


async def test_reused_expired_wrong_codes_and_throttle(sandbox):
    await load_registry(sandbox)
    used = await invite_code(sandbox, niks=[SITI_NIK])
    await linked_user(sandbox, 1001, "Siti", used)
    expiring = await invite_code(sandbox, niks=[OTHER_NIK])
    budi = await sandbox.user(1002, "Budi")
    assert (await budi.send(f"/start {used}"))[-1].text == INVALID
    assert (await budi.send("/start salahketik123"))[-1].text == INVALID
    sandbox.clock.advance(days=sandbox.settings.invites.expiry_days + 1)
    assert (await budi.send(f"/start {expiring}"))[-1].text == INVALID
    # let those failures age out; then five wrong codes reach the limit,
    # and even a good code is refused for ten minutes
    sandbox.clock.advance(minutes=11)
    fresh = await invite_code(sandbox, niks=[OTHER_NIK])
    for attempt in range(5):
        assert (await budi.send(f"/start salah{attempt}"))[-1].text == INVALID
    assert (await budi.send(f"/start {fresh}"))[-1].text == render("onboarding_throttled")
    sandbox.clock.advance(minutes=11)
    assert (await budi.send(f"/start {fresh}"))[-1].text == render("contact_request")


async def test_invite_code_in_a_group_links_nothing(sandbox):
    await load_registry(sandbox)
    code = await invite_code(sandbox, niks=[SITI_NIK])
    siti = await sandbox.user(1001, "Siti")
    group = await sandbox.group(-500, "Kelompok Tata Boga", [siti])
    await group.send(siti, f"/start {code}")
    # a group the office did not configure: one explanation, and the bot leaves it
    assert [r.text for r in await group.messages()] == [render("group_leave")]
    assert await sandbox.db.fetchval("SELECT count(*) FROM accounts") == 0
    assert await sandbox.db.fetchval("SELECT count(*) FROM pending_links") == 0
    assert (await siti.send(f"/start {code}"))[-1].text == render("contact_request")


async def test_unlink_from_profil_with_confirmation(sandbox):
    await load_registry(sandbox)
    siti = await linked_user(sandbox, 1001, "Siti", await invite_code(sandbox, niks=[SITI_NIK]))
    await siti.send("/profil")
    confirm = (await siti.press(render("btn_unlink")))[-1]
    assert render("unlink_confirm") in confirm.text
    assert render("unlink_cancelled") in (await siti.press(render("btn_cancel")))[-1].text
    await siti.send("/profil")
    await siti.press(render("btn_unlink"))
    assert render("unlink_done") in (await siti.press(render("btn_unlink_yes")))[-1].text
    assert render("not_linked") in (await siti.send("/profil"))[-1].text


# ---- access matrix: every registered command x every role, nobody sees others' data ------


async def test_access_matrix_every_role_every_command_no_leak(sandbox):
    await load_registry(sandbox)
    commands = registered_commands(sandbox.app)
    missing = commands - set(MATRIX)
    assert not missing, f"add these commands to the access matrix: {sorted(missing)}"
    # someone else's record: Bojong recipient of PD-202, seen by no one below but admin
    other = await sandbox.db.fetchone(
        "SELECT name, nik FROM recipients WHERE nik = ?", (OTHER_NIK,)
    )
    people = {
        "recipient": await linked_user(sandbox, 1001, "R", await invite_code(sandbox, niks=[SITI_NIK])),
        "facilitator": await linked_user(
            sandbox, 1002, "F", await invite_code(sandbox, role="facilitator", facilitator_code="PD-101")
        ),
        "staff": await linked_user(
            sandbox, 1003, "S", await invite_code(sandbox, role="staff", name="S", kecamatan="Bumijawa")
        ),
        "admin": await linked_user(
            sandbox, 1004, "A", await invite_code(sandbox, role="admin", name="A")
        ),
        "unlinked": await sandbox.user(1005, "U"),
    }  # fmt: skip
    all_niks = [r["nik"] for r in await sandbox.db.fetchall("SELECT nik FROM recipients")]
    for command in sorted(commands):
        for role, person in people.items():
            replies = await person.send(f"/{command}")
            texts = " ".join(r.body + " " + " ".join(r.labels) for r in replies)
            assert replies, (command, role)
            assert not any(nik in texts for nik in all_niks), (command, role, "full NIK")
            if role != "admin":
                assert other["name"] not in texts, (command, role, "someone else's record")
            if role not in MATRIX[command]:
                assert render("onboarding_invalid") not in texts
