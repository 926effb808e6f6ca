"""Invites, linking, consent, unlinking, throttle and access scopes (service level)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from urllib.parse import parse_qs, urlparse

import openpyxl
import pytest

from bot.domain.consent import NOTICE_VERSION
from bot.services.access import (
    AccessDenied,
    can_see_recipient,
    require_recipient,
    visible_recipients,
)
from bot.services.accounts import get_account
from bot.services.binding import share_contact
from bot.services.invites import (
    THROTTLE_FAILURES,
    InviteError,
    LinkOutcome,
    acknowledge_notice,
    add_admin,
    create_invites,
    facilitator_invite,
    hash_code,
    profile,
    redeem,
    unlink,
)
from bot.services.registry_import import import_registry
from bot.services.registry_source import open_source
from tests.registry_helpers import SAMPLE, run_cli

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

BOT = "PendampingTegalBot"


@pytest.fixture
async def registry(db, clock):
    source = open_source(SAMPLE)
    try:
        await import_registry(db, source, clock(), ["tata boga", "menjahit", "ternak kambing"])
    finally:
        source.close()
    return db


def code_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["start"][0]


async def invite(db, clock, role="recipient", **kw):
    return await create_invites(db, clock(), role=role, bot_username=BOT, expiry_days=30, **kw)


async def link(db, clock, code, user=1001):
    """Open the invite; a recipient's link completes as a family's does: by sharing their own
    phone number, the register's (bot.services.binding)."""
    outcome = await redeem(
        db, clock(), telegram_user_id=user, chat_id=user, display_name="X", code=code
    )
    if outcome.status != "contact_needed":
        return outcome
    phone = await db.fetchval(
        "SELECT r.phone FROM pending_links p JOIN recipients r ON r.id = p.recipient_id"
        " WHERE p.telegram_user_id = ? AND p.status = 'contact'",
        (user,),
    )
    assert phone, "the sample register has a phone for every invited family"
    shared = await share_contact(
        db, clock(), telegram_user_id=user, contact_user_id=user, phone=phone
    )
    assert shared.status == "linked", shared.status
    return LinkOutcome("linked", shared.account)


async def test_code_is_random_hashed_and_a_deep_link(registry, clock):
    cards = await invite(registry, clock, niks=["3328026704830002"])
    card = cards[0]
    assert card.link.startswith(f"https://t.me/{BOT}?start=")
    assert len(card.code) >= 16  # token_urlsafe(16): 128 bits
    assert card.nik_masked == "3328********0002"
    stored = await registry.fetchval("SELECT code_hash FROM invites")
    assert stored == hash_code(card.code) and card.code not in stored


async def test_link_recipient_then_consent(registry, clock):
    card = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    outcome = await link(registry, clock, card.code)
    assert outcome.status == "linked"
    account = outcome.account
    assert account.role == "recipient" and account.consent_at is None
    await acknowledge_notice(registry, clock(), account, NOTICE_VERSION)
    account = await get_account(registry, 1001)
    assert account.consent_version == NOTICE_VERSION
    assert account.consent_at == clock().isoformat(timespec="seconds")
    data = await profile(registry, account)
    assert data["name"] == "Cut Cinta Ramadan" and data["nik"] == "3328********0002"
    assert data["facilitator"] == "Alika Pradana" and data["desa"] == "Bumijawa"


async def test_reused_expired_and_wrong_code_get_the_same_answer(registry, clock):
    cards = await invite(registry, clock, niks=["3328026704830002", "3328036805990003"])
    assert (await link(registry, clock, cards[0].code, user=1)).status == "linked"
    reused = await link(registry, clock, cards[0].code, user=2)
    wrong = await link(registry, clock, "not-a-code-at-all", user=3)
    clock.advance(days=31)
    expired = await link(registry, clock, cards[1].code, user=4)
    assert reused.status == wrong.status == expired.status == "invalid"
    assert reused.account is wrong.account is expired.account is None


async def test_throttle_after_five_wrong_codes_in_ten_minutes(registry, clock):
    card = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    for _ in range(THROTTLE_FAILURES):
        assert (await link(registry, clock, "wrong", user=7)).status == "invalid"
        clock.advance(seconds=30)
    # even the right code is refused while throttled
    assert (await link(registry, clock, card.code, user=7)).status == "throttled"
    assert (await link(registry, clock, card.code, user=8)).status == "linked"
    clock.advance(minutes=10)
    assert (await link(registry, clock, "wrong", user=7)).status == "invalid"


async def test_new_invite_replaces_unused_old_one(registry, clock):
    old = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    new = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    assert (await link(registry, clock, old.code)).status == "invalid"
    assert (await link(registry, clock, new.code, user=2)).status == "linked"


async def test_already_linked_account_and_record_taken(registry, clock):
    a, b = await invite(registry, clock, niks=["3328026704830002", "3328036805990003"])
    assert (await link(registry, clock, a.code, user=1)).status == "linked"
    assert (await link(registry, clock, b.code, user=1)).status == "already_linked"
    again = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    assert (await link(registry, clock, again.code, user=2)).status == "record_taken"


async def test_unlink_then_relink_keeps_the_same_account(registry, clock):
    card = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    account = (await link(registry, clock, card.code, user=1)).account
    await unlink(registry, clock(), account)
    assert await get_account(registry, 1) is None
    cards = await invite(registry, clock, all_unlinked=True)
    assert any(c.name == "Cut Cinta Ramadan" for c in cards)
    card = (await invite(registry, clock, niks=["3328026704830002"]))[0]
    relinked = (await link(registry, clock, card.code, user=2)).account
    assert relinked.id == account.id and relinked.consent_at is None


async def test_facilitator_and_staff_and_admin_invites(registry, clock):
    fac = (await invite(registry, clock, role="facilitator", facilitator_code="PD-101"))[0]
    facc = (await link(registry, clock, fac.code, user=10)).account
    assert facc.role == "facilitator"
    staff = (await invite(registry, clock, role="staff", name="Sri", kecamatan="Bojong"))[0]
    staffacc = (await link(registry, clock, staff.code, user=11)).account
    assert (staffacc.role, staffacc.kecamatan_code) == ("staff", "33.28.03")
    adm = (await invite(registry, clock, role="admin", name="Kepala"))[0]
    assert (await link(registry, clock, adm.code, user=12)).account.role == "admin"
    with pytest.raises(InviteError):
        await invite(registry, clock, role="facilitator", facilitator_code="PD-999")
    assert len(await invite(registry, clock, role="recipient", facilitator_code="PD-101")) > 0


async def _accounts(db, clock):
    """One account per role (facilitator PD-101, recipient in PD-101's caseload, staff Bojong)."""
    fac_card = (await invite(db, clock, role="facilitator", facilitator_code="PD-101"))[0]
    fac = (await link(db, clock, fac_card.code, user=20)).account
    rec_card = (await invite(db, clock, niks=["3328026704830002"]))[0]
    rec = (await link(db, clock, rec_card.code, user=21)).account
    st_card = (await invite(db, clock, role="staff", name="S", kecamatan="Bojong"))[0]
    staff = (await link(db, clock, st_card.code, user=22)).account
    await add_admin(db, clock(), 23, "Admin")
    admin = await get_account(db, 23)
    return {"recipient": rec, "facilitator": fac, "staff": staff, "admin": admin}


async def test_access_scopes_every_role_against_every_record(registry, clock):
    accounts = await _accounts(registry, clock)
    rows = await registry.fetchall(
        "SELECT r.id, r.kecamatan_code, f.code FROM recipients r"
        " JOIN facilitators f ON f.id = r.facilitator_id"
    )
    own = accounts["recipient"].recipient_id
    for role, account in accounts.items():
        visible = {r["id"] for r in await visible_recipients(registry, account)}
        for row in rows:
            expected = {
                "recipient": row["id"] == own,
                "facilitator": row["code"] == "PD-101",
                "staff": row["kecamatan_code"] == "33.28.03",
                "admin": True,
            }[role]
            assert (row["id"] in visible) == expected, (role, row["id"])
            assert await can_see_recipient(registry, account, row["id"]) == expected
    assert not await can_see_recipient(registry, None, own)


async def test_facilitator_can_invite_only_own_caseload(registry, clock):
    accounts = await _accounts(registry, clock)
    fac = accounts["facilitator"]
    mine = await visible_recipients(registry, fac, unlinked_only=True)
    assert mine and all(r["id"] != accounts["recipient"].recipient_id for r in mine)
    card = await facilitator_invite(registry, clock(), fac, mine[0]["id"], bot_username=BOT,
                                    expiry_days=30)  # fmt: skip
    assert (await link(registry, clock, card.code, user=99)).status == "linked"
    other = await registry.fetchval(
        "SELECT r.id FROM recipients r JOIN facilitators f ON f.id = r.facilitator_id"
        " WHERE f.code = 'PD-202' LIMIT 1"
    )
    with pytest.raises(AccessDenied):
        await facilitator_invite(registry, clock(), fac, other, bot_username=BOT, expiry_days=30)
    with pytest.raises(AccessDenied):
        await facilitator_invite(registry, clock(), accounts["recipient"], other,
                                 bot_username=BOT, expiry_days=30)  # fmt: skip
    with pytest.raises(AccessDenied):
        await require_recipient(registry, accounts["recipient"], other)


# ---- CLI: links, cards, QR codes ---------------------------------------------------------


def test_cli_invite_pdf_cards_qr_decode_to_links(tmp_path):
    import pypdfium2
    import zxingcpp

    db = tmp_path / "p.db"
    assert run_cli("import", str(SAMPLE), db=db, cwd=tmp_path).returncode == 0
    pdf_path, xlsx_path = tmp_path / "kartu.pdf", tmp_path / "daftar.xlsx"
    proc = run_cli("invite", "--role", "recipient", "--facilitator", "PD-101", "--out",
                   str(pdf_path), "--out", str(xlsx_path), db=db, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    links = proc.stdout.split()
    assert links and all(x.startswith(f"https://t.me/{BOT}?start=") for x in links)
    with sqlite3.connect(db) as conn:
        niks = [
            row[0]
            for row in conn.execute(
                "SELECT nik FROM recipients r JOIN facilitators f ON f.id = r.facilitator_id"
                " WHERE f.code = 'PD-101'"
            )
        ]
    assert len(links) == len(niks)
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    assert len(pdf) == -(-len(links) // 8)
    decoded = []
    for page in pdf:
        image = page.render(scale=3).to_pil()
        found = [b.text for b in zxingcpp.read_barcodes(image)]
        assert len(found) <= 8
        decoded.extend(found)
        text = page.get_textpage().get_text_range()
        assert "3328********" in text
        assert not any(nik in text for nik in niks)
    pdf.close()
    assert sorted(decoded) == sorted(links)
    ws = openpyxl.load_workbook(xlsx_path)["undangan"]
    assert ws.max_row == len(links) + 1
    assert all("*" in (ws.cell(r, 2).value or "") for r in range(2, ws.max_row + 1))


def test_cli_first_admin_and_usage_errors(tmp_path):
    db = tmp_path / "p.db"
    proc = run_cli("admin", "add", "--telegram-id", "555", "--name", "Kepala", db=db, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "SELECT role FROM accounts WHERE telegram_user_id = 555"
        ).fetchone() == ("admin",)
    again = run_cli("admin", "add", "--telegram-id", "555", "--name", "K", db=db, cwd=tmp_path)
    assert again.returncode == 1
    bad = run_cli("invite", "--role", "recipient", "--nik", "123", db=db, cwd=tmp_path)
    assert bad.returncode == 2 and "NIK" in bad.stderr
    assert run_cli("invite", "--role", "staff", db=db, cwd=tmp_path).returncode == 2


def test_expired_clock_boundary_is_strict():
    # expiry is compared as ISO text of aware UTC times, which sorts like time
    a = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).isoformat(timespec="seconds")
    b = dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.UTC).isoformat(timespec="seconds")
    assert a < b
