"""The facilitator's family list, search and family card end to end (real PTB, sandbox, SQLite).

Seed (tests/report_seed.py): facilitator Rini (2001) with Siti (1001, Lebaksiu Kidul), Aminah
(1002, Kajen) and Warsini (1003, Lebaksiu Kidul); "Lain" belongs to another facilitator. The
FakeClock starts on 1 Feb 2024 08:00 UTC: January 2024 is open, on time until 20 Feb.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from bot.render import render
from tests.outbox_wait import delivered
from tests.report_seed import add_recipient, seed_basic
from tests.test_reports_e2e import fill

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

STALE = render("caseload_note", key="list_stale")


async def seed_cards(db) -> dict:
    """seed_basic, phones for Siti, and Darmi: in the caseload, never linked to Telegram."""
    ids = await seed_basic(db)
    await db.execute("UPDATE recipients SET phone = '6281211110001' WHERE name = 'Siti'")
    await add_recipient(db, 40, "Darmi", "menjahit", ids["facilitator"], ids["desa"][1])
    return ids


@pytest.fixture
async def bot(sandbox_factory):
    return await sandbox_factory(seed=seed_cards)


async def rid(sb, name: str) -> int:
    return await sb.db.fetchval("SELECT id FROM recipients WHERE name = ?", (name,))


def lines_of(text: str) -> list[str]:
    """The numbered family lines of a /daftar message."""
    return [line for line in text.splitlines() if line[:1].isdigit() and ". " in line]


async def test_find_by_name_open_card_and_report_from_it(bot):
    rini = await bot.user(2001, "Rini")
    await rini.send("/cari SIT")
    found = await rini.last()
    assert "Ditemukan 1 keluarga" in found.text
    assert found.labels == ["⏳ Siti - Lebaksiu Kidul"]
    await rini.press("⏳ Siti - Lebaksiu Kidul")
    card = await rini.last()
    assert card.text.startswith("Siti\nDesa Lebaksiu Kidul, program tata boga")
    assert "Telepon: +6281211110001" in card.text
    assert "Telegram: terhubung" in card.text
    assert "Januari 2024: belum lapor" in card.text and "November 2023" in card.text
    assert "Kunjungan terakhir: belum pernah" in card.text
    assert card.labels == [
        "Lapor untuk keluarga ini", "Catat kunjungan", "Selesaikan tanda", "Usulkan graduasi",
        "Kirim undangan ulang",
    ]  # fmt: skip
    await rini.press("Lapor untuk keluarga ini")
    assert "Siti" in (await rini.last()).text
    await fill(bot, rini, {"photo": ("press", "Lewati")})
    await rini.press("Simpan")
    row = await bot.db.fetchone("SELECT recipient_id, reporter_role, profit FROM reports")
    assert tuple(row) == (await rid(bot, "Siti"), "facilitator", 1_000_000)
    # The card now shows the month's figures.
    await rini.send("/cari siti")
    await rini.press("✅ Siti - Lebaksiu Kidul")
    card = (await rini.last()).text
    assert "Januari 2024: omzet Rp1.500.000, laba Rp1.000.000" in card


async def test_unlinked_family_card_and_card_actions(bot):
    rini = await bot.user(2001, "Rini")
    await rini.send("/cari darmi")
    await rini.press("⏳ Darmi - Kajen")
    card = (await rini.last()).text
    assert "Telepon: belum tercatat" in card and "Telegram: 📵 belum terhubung" in card
    # an unlinked family: a new invite link to pass on, as /undang makes it
    await rini.press("Kirim undangan ulang")
    invite = (await rini.last()).text
    assert "Undangan untuk Darmi" in invite and "https://t.me/" in invite
    await rini.press("Usulkan graduasi")
    assert "Belum ada kunjungan" in (await rini.last()).text  # the proposal rests on a visit
    await rini.press("Selesaikan tanda")
    assert "Darmi tidak punya tanda" in (await rini.last()).text
    await rini.press("Catat kunjungan")
    assert "Kunjungan ke Darmi" in (await rini.last()).text


async def test_search_and_card_refusals(bot):
    rini = await bot.user(2001, "Rini")
    await rini.send("/cari")
    assert "contoh: /cari siti" in (await rini.last()).text
    await rini.send("/cari s")
    assert "paling sedikit 2 huruf" in (await rini.last()).text
    await rini.send("/cari zzz")
    nobody = (await rini.last()).text
    assert 'Tidak ada keluarga dampingan bernama "zzz"' in nobody
    # Another facilitator's family is answered as if it did not exist.
    await rini.send("/cari Lain")
    assert (await rini.last()).text == nobody.replace("zzz", "Lain")
    mine = (await rini.last()).message_id
    answers = []
    for recipient in (await rid(bot, "Lain"), 987654):
        before = len(rini.replies())
        result = bot.core.inject_callback(rini.id, mine, f"fac:c:{recipient}")
        await bot.idle(result["update_id"])
        answers.append([r.text for r in rini.replies()[before:]])
    assert answers[0] == answers[1] == [render("report_error", key="not_found")]
    # Not for families themselves.
    siti = await bot.user(1001, "Siti")
    await siti.send("/cari siti")
    assert "hanya untuk pendamping" in (await siti.last()).text


async def test_help_request_is_at_the_top_and_filters_edit_the_message(bot):
    warsini, rini = await bot.user(1003, "Warsini"), await bot.user(2001, "Rini")
    await warsini.send("/lapor")
    await fill(bot, warsini, {"help": ("press", "Ya")})
    await warsini.press("Simpan")
    await rini.send("/daftar")
    daftar = await rini.last()
    first = lines_of(daftar.text)[0]
    assert first.startswith("1. ✅ Warsini") and "🆘 minta bantuan" in first, daftar.text
    assert daftar.labels[0] == "🆘 Warsini - Lebaksiu Kidul"
    assert "📵 belum terhubung" in next(x for x in lines_of(daftar.text) if "Darmi" in x)
    assert "Batas lapor tepat waktu: 20 Februari 2024." in daftar.text
    assert {"⏳ Belum lapor (3)", "🆘 Minta bantuan (1)", "📵 Belum terhubung (1)",
            "🎓 Calon graduasi (0)", "• Semua"} <= set(daftar.labels)  # fmt: skip
    edits_before = len(bot.calls("editMessageText"))
    changed = await rini.press("🆘 Minta bantuan (1)")
    assert [r.message_id for r in changed] == [daftar.message_id]  # edited, nothing new
    assert len(bot.calls("editMessageText")) == edits_before + 1
    only = await rini.last()
    assert only.message_id == daftar.message_id
    assert [x.split(" (")[0] for x in lines_of(only.text)] == ["1. ✅ Warsini"]
    await rini.press("🎓 Calon graduasi (0)")
    empty = await rini.last()
    assert empty.message_id == daftar.message_id
    assert 'Tidak ada keluarga dengan tanda "Calon graduasi".' in empty.text
    assert not lines_of(empty.text) and "Halaman" not in empty.text
    await rini.press("• Semua" if "• Semua" in rini.buttons() else "Semua")
    assert lines_of((await rini.last()).text)[0].startswith("1. ✅ Warsini")


async def test_paging_edits_the_message_and_an_old_page_button_gets_a_toast(
    sandbox_factory, settings
):
    small = replace(settings, reports=replace(settings.reports, page_size=2))
    bot = await sandbox_factory(settings=small, seed=seed_cards)
    rini = await bot.user(2001, "Rini")
    await rini.send("/daftar")
    first = await rini.last()
    assert "Halaman 1 dari 2" in first.text
    old_next = next(
        b["callback_data"] for row in first.buttons for b in row if b["text"] == "Berikutnya >"
    )
    count = len(rini.replies())
    await rini.press("Berikutnya >")
    second = await rini.last()
    assert second.message_id == first.message_id and second.edited
    assert "Halaman 2 dari 2" in second.text and "3. " in second.text
    assert len(rini.replies()) == count  # no new message
    assert bot.calls("editMessageText")
    # A client that still shows page 1's keyboard presses its "next" again: a toast.
    result = bot.core.inject_callback(rini.id, first.message_id, old_next)
    await bot.idle(result["update_id"])
    assert bot.core.callback_queries[result["callback_query_id"]]["answer"] == STALE
    assert "Halaman 2 dari 2" in (await rini.last()).text
    # A newer /daftar makes the older message's buttons stale too.
    await rini.send("/daftar")
    newer = await rini.last()
    assert newer.message_id != first.message_id
    await rini.press("< Sebelumnya", message_id=first.message_id)
    assert rini.last_answer() == STALE
    kept = next(r for r in rini.replies() if r.message_id == first.message_id)
    assert "Halaman 2 dari 2" in kept.text  # untouched
    await rini.press("Berikutnya >", message_id=newer.message_id)
    assert "Halaman 2 dari 2" in (await rini.last()).text
    # A page button of the list before this feature ("fac:d:<page>") is stale as well.
    result = bot.core.inject_callback(rini.id, newer.message_id, "fac:d:1")
    await bot.idle(result["update_id"])
    assert bot.core.callback_queries[result["callback_query_id"]]["answer"]


async def test_close_date_near_puts_missing_families_before_candidates(bot, clock):
    clock.set(dt.datetime(2024, 2, 17, 2, 0, tzinfo=dt.UTC))  # 3 days before the close
    siti, rini = await bot.user(1001, "Siti"), await bot.user(2001, "Rini")
    await siti.send("/lapor")
    await fill(bot, siti)
    await siti.press("Simpan")
    await rini.send("/daftar")
    text = (await rini.last()).text
    assert "(sudah dekat)" in text
    names = [line.split(" ")[2] for line in lines_of(text)]
    assert names[-1] == "Siti" and set(names[:3]) == {"Aminah", "Darmi", "Warsini"}


async def test_send_the_invitation_again_once_a_day(bot):
    aminah, rini = await bot.user(1002, "Aminah"), await bot.user(2001, "Rini")
    await rini.send("/cari amin")
    await rini.press("⏳ Aminah - Kajen")
    await rini.press("Kirim undangan ulang")
    assert (await rini.last()).text == "Undangan lapor Aminah dikirim ulang."
    await delivered(bot)
    invitation = await aminah.last()
    assert "Januari 2024" in invitation.text and "Lapor sekarang" in invitation.labels
    await rini.press("Kirim undangan ulang")
    assert "sudah dikirim ulang hari ini" in (await rini.last()).text
    steps = await bot.db.fetchall("SELECT step FROM outbox WHERE person LIKE 'acc:%'")
    assert [s[0] for s in steps] == ["again-2024-02-01"]
