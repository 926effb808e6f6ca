"""Monthly reports, visits and flags end to end: real Application, loopback sandbox, real SQLite.

People are seeded with plain SQL (tests/report_seed.py): Siti (1001, tata boga), Aminah (1002,
menjahit), Warsini (1003, ternak kambing), all with facilitator Rini (2001). The FakeClock
starts on 1 Feb 2024 08:00 UTC, so the open period is January 2024.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace

import pytest

from bot.domain.forms import next_question  # noqa: E402
from bot.services import reports as svc
from bot.services.accounts import get_account
from tests.outbox_wait import delivered  # noqa: E402
from tests.report_seed import add_account, add_recipient, seed_basic

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (64).to_bytes(4, "big") * 2 + b"\x00" * 200
# The sandbox, like Telegram, gives the same bytes the same file_unique_id, so every photo a
# test person takes is a new one (a distinct tail) unless a test sends ("same_photo", bytes).
_PHOTO_SEQ = itertools.count(1)

# What a person does at each question: ("press", label) | ("send", text) | ("photo", bytes).
ANSWERS = {
    "status": ("press", "Berjalan"),
    "status_reason": ("send", "Sakit"),
    "revenue": ("send", "1,5 jt"),
    "costs": ("send", "500rb"),
    "profit_ok": ("press", "Ya"),
    "profit": ("send", "900 ribu"),
    "tb_orders": ("send", "40"),
    "tb_days": ("press", "5"),
    "mj_pieces": ("send", "12"),
    "mj_machine": ("press", "Ya"),
    "tk_adult": ("send", "3"),
    "tk_kid": ("send", "2"),
    "tk_moves": ("press", "Ya"),
    "tk_births": ("send", "1"),
    "tk_deaths": ("send", "0"),
    "tk_sold": ("send", "1"),
    "tk_sold_value": ("send", "2 juta"),
    "tk_feed": ("press", "Tidak"),
    "equipment_buy": ("send", "0"),
    "tb_equipment": ("press", "Ya"),
    "changes": ("press", "Anggota keluarga"),
    "g_pangan": ("press", "Ya"),
    "g_sekolah": ("press", "Ya"),
    "g_jamban_air": ("press", "Ya"),
    "g_rumah": ("press", "Tidak"),
    "g_tabungan": ("press", "Ya"),
    "g_tabungan_amount": ("send", "500rb"),
    "g_rentenir": ("press", "Tidak"),
    "g_bpjs": ("press", "Tidak tahu"),
    "other_income": ("send", "300.000"),
    "household": ("send", "4"),
    "savings_books": ("press", "Menabung dan mencatat"),
    "savings_amount": ("send", "100rb"),
    "problem": ("press", "Kurang modal"),
    "problem_text": ("press", "Lewati"),
    "help": ("press", "Tidak"),
    "photo": ("photo", PNG),
    "v_date": ("press", "Hari ini"),
    "v_running": ("press", "Ya"),
    "v_bookkeeping": ("press", "3"),
    "v_quality": ("press", "4"),
    "v_market": ("press", "2"),
    "v_motivation": ("press", "5"),
    "v_notes": ("send", "Dagangan laris"),
    "v_photo": ("press", "Lewati"),
}


async def current_key(sandbox, user_id: int) -> str | None:
    account = await get_account(sandbox.db, user_id)
    draft = await svc.open_draft(sandbox.db, account)
    assert draft is not None, "no open draft"
    q = next_question(draft.form, draft.answers)
    return None if q is None else q.key


async def act(user, action: tuple[str, object]) -> None:
    how, what = action
    if how == "press":
        await user.press(what)
    elif how == "photo":
        await user.send_photo(what + next(_PHOTO_SEQ).to_bytes(4, "big"))
    elif how == "same_photo":
        await user.send_photo(what)
    else:
        await user.send(what)


async def fill(sandbox, user, overrides: dict | None = None) -> str:
    """Answer questions until the summary shows; return the summary text."""
    answers = {**ANSWERS, **(overrides or {})}
    for _ in range(60):
        key = await current_key(sandbox, user.id)
        if key is None:
            account = await get_account(sandbox.db, user.id)
            draft = await svc.open_draft(sandbox.db, account)
            if draft.form_name == "monthly" and "photo" not in draft.answers:
                # the photo is never asked on its own: sent at the summary, it goes along
                await act(user, answers["photo"])
                if answers["photo"][0] != "press":
                    assert "Foto diterima" in (await user.last()).text
            last = await user.last()
            assert "Simpan" in last.labels, last
            return last.text
        await act(user, answers[key])
    raise AssertionError("the form did not end")


@pytest.fixture
async def bot(sandbox_factory):
    sb = await sandbox_factory(seed=seed_basic)
    return sb


async def people(sb):
    return (
        await sb.user(1001, "Siti"),
        await sb.user(1002, "Aminah"),
        await sb.user(1003, "Warsini"),
        await sb.user(2001, "Rini"),
    )


async def test_recipient_reports_for_each_programme(bot):
    siti, aminah, warsini, _ = await people(bot)
    for user in (siti, aminah, warsini):
        await user.send("/lapor")
        assert "Januari 2024" in (await user.last()).text
        summary = await fill(bot, user)
        assert "Rp1.500.000" in summary and "Rp1.000.000" in summary
        await user.press("Simpan")
        assert "sudah disimpan" in (await user.last()).text
    rows = await bot.db.fetchall("SELECT * FROM reports ORDER BY recipient_id")
    assert [r["reporter_role"] for r in rows] == ["recipient"] * 3
    assert rows[0]["revenue"] == 1_500_000 and rows[0]["profit"] == 1_000_000
    assert rows[1]["equipment_ok"] == 1 and rows[2]["goats"] == 5
    assert rows[0]["photo_unique_id"]


async def test_facilitator_reports_on_behalf_for_each_programme(bot):
    *_, rini = await people(bot)
    for name, desa in (
        ("Siti", "Lebaksiu Kidul"),
        ("Aminah", "Kajen"),
        ("Warsini", "Lebaksiu Kidul"),
    ):
        await rini.send("/lapor")
        await rini.press(f"{name} - {desa}")
        assert name in (await rini.last()).text
        await fill(bot, rini, {"photo": ("press", "Lewati")})
        await rini.press("Simpan")
        assert f"untuk {name}" in (await rini.last()).text
    roles = await bot.db.fetchall("SELECT DISTINCT reporter_role FROM reports")
    assert [r[0] for r in roles] == ["facilitator"]
    assert await bot.db.fetchval("SELECT count(*) FROM reports") == 3


async def test_change_an_answer_from_the_summary(bot):
    siti, *_ = await people(bot)
    await siti.send("/lapor")
    await fill(bot, siti)
    await siti.press("Ubah")
    await siti.press("Omzet")
    assert "omzet" in (await siti.last()).text.lower()
    await siti.send("2 juta")
    # The profit is computed from the sales, so it is confirmed again.
    assert "Rp1.500.000" in (await siti.last()).text
    await siti.press("Ya")
    summary = (await siti.last()).text
    assert "Rp2.000.000" in summary and "Simpan" in siti.buttons()
    await siti.press("Simpan")
    assert await bot.db.fetchval("SELECT revenue FROM reports") == 2_000_000


async def test_draft_survives_a_restart_of_the_bot(bot):
    siti, *_ = await people(bot)
    await siti.send("/lapor")
    await siti.press("Berjalan")
    await siti.send("1,5 jt")
    await bot.restart_bot()
    await siti.send("/lanjut")
    assert "modal" in (await siti.last()).text.lower()  # the costs question
    await fill(bot, siti)
    await siti.press("Simpan")
    assert await bot.db.fetchval("SELECT revenue FROM reports") == 1_500_000


async def test_every_bad_input_gets_a_friendly_reply(sandbox_factory, settings):
    small = replace(settings, reports=replace(settings.reports, max_photo_bytes=150))
    bot = await sandbox_factory(settings=small, seed=seed_basic)
    siti, *_ = await people(bot)
    await siti.send("/lapor")
    first = await siti.last()
    # sticker / voice / location / document where a button answer is expected
    await siti.send_sticker()
    assert "stiker" in (await siti.last()).text
    await siti.send_voice()  # a voice note is never lost: it goes to the facilitator
    assert "diteruskan ke pendamping" in (await siti.last()).text
    await siti.send_location(-6.98, 109.14)
    assert "lokasi" in (await siti.last()).text
    await siti.send_document(b"%PDF-1.4 test", file_name="a.pdf")
    assert "berkas" in (await siti.last()).text
    await siti.send("lancar jaya")  # a try at the answer (two words): the buttons again
    assert "tombol" in (await siti.last()).text
    await siti.press("Berjalan", message_id=first.message_id)
    # stale button: the first question's buttons are old now
    await siti.press("Tutup", message_id=first.message_id)
    assert "tidak berlaku" in siti.last_answer()
    # text / letters / negative / emoji / 10,000 characters where an amount is expected
    await siti.send("banyak")  # no digits: an amount is asked for, with an example
    assert "perlu jumlah uang dalam angka, contoh" in (await siti.last()).text
    await siti.send("15OO0")
    assert "huruf" in (await siti.last()).text
    await siti.send("-50.000")
    assert "minus" in (await siti.last()).text
    await siti.send("😀😀")
    assert "belum terbaca" in (await siti.last()).text
    await siti.send("9" * 10_000)
    assert "terlalu panjang" in (await siti.last()).text
    await siti.send("1,5")
    assert "Rp1.500.000 atau Rp1.500" in (await siti.last()).text
    await siti.press("Rp1.500.000")
    # a command in the middle explains the current question and changes nothing
    await siti.send("/bantuan")
    assert "modal" in (await siti.last()).text.lower()
    await siti.send("/start")
    # two quick messages at once: each is applied to the question current when handled
    core = bot.core
    core.send(siti.id, text="500rb")
    core.send(siti.id, text="tidak tahu")
    await bot.idle()
    account = await get_account(bot.db, siti.id)
    draft = await svc.open_draft(bot.db, account)
    assert draft.answers["costs"] == 500_000 and "profit_ok" not in draft.answers
    assert "tombol" in (await siti.last()).text  # "tidak tahu" is no yes/no: asked again
    # the same button pressed twice
    profit_msg = await siti.last()
    await siti.press("Ya", message_id=profit_msg.message_id)
    await siti.press("Ya", message_id=profit_msg.message_id)
    assert "tidak berlaku" in siti.last_answer()
    draft = await svc.open_draft(bot.db, account)
    assert draft.answers["profit_ok"] is True and "tb_orders" not in draft.answers
    await siti.send("40 5")  # a pair of counts needs "dan" or "/": refused, says how
    assert "satu jumlah" in (await siti.last()).text
    await siti.send("40")
    await siti.press("5")
    await siti.send("0")  # other income
    await siti.send("🙂")
    assert "tombol" in (await siti.last()).text  # changes: buttons
    await siti.press("Keduanya")
    await siti.send("🙂")
    assert "angka" in (await siti.last()).text  # household: a number is expected
    await siti.send("4")
    await siti.press("Ya")  # cooking equipment still there
    await siti.send("tidak tahu")
    assert "jumlah uang dalam angka" in (await siti.last()).text  # equipment bought: an amount
    await siti.send("0")
    await siti.press("Mencatat saja")
    await siti.send("ini fotonya")
    assert "tombol" in (await siti.last()).text
    await siti.send_sticker()
    assert "stiker" in (await siti.last()).text
    await siti.send_photo(PNG + b"\x00" * 200)
    assert "terlalu besar" in (await siti.last()).text
    await siti.press("Lainnya")
    await siti.send("🙂🙂🙂")
    assert "kata-kata" in (await siti.last()).text
    await siti.send("x" * 10_000)
    assert "terlalu panjang" in (await siti.last()).text
    await siti.send("Harga minyak naik")
    await siti.press("Tidak")  # help
    assert "Simpan" in siti.buttons()
    await siti.send_photo(PNG[:60])  # at the summary: the photo goes with the report
    assert "Foto diterima" in (await siti.last()).text and "Simpan" in siti.buttons()
    await siti.send("halo")
    assert "Simpan" in (await siti.last()).text
    await siti.press("Simpan")
    row = await bot.db.fetchone("SELECT * FROM reports")
    assert row["revenue"] == 1_500_000 and row["costs"] == 500_000
    assert row["photo_unique_id"] and row["household_size"] == 4 and row["keeps_books"] == 1
    assert await bot.db.fetchval("SELECT count(*) FROM reports") == 1


async def test_cancel_asks_first(bot):
    siti, *_ = await people(bot)
    await siti.send("/lapor")
    await siti.press("Berjalan")
    await siti.send("/batal")
    await siti.press("Tidak, lanjutkan")
    assert "omzet" in (await siti.last()).text.lower()
    await siti.send("/batal")
    await siti.press("Ya, batalkan")
    assert "dibatalkan" in (await siti.last()).text
    await siti.send("/lanjut")
    assert "Tidak ada laporan" in (await siti.last()).text


async def test_cross_check_flags_raised_and_one_resolved_from_daftar(bot, clock):
    siti, aminah, warsini, rini = await people(bot)
    await siti.send("/lapor")
    await fill(bot, siti)
    await siti.press("Simpan")
    # Rini reports a different income for Siti: mismatch.
    await rini.send("/lapor")
    await rini.press("✅ Siti - Lebaksiu Kidul")
    await fill(bot, rini, {"revenue": ("send", "5 juta"), "photo": ("press", "Lewati")})
    await rini.press("Simpan")
    assert (
        "perlu diperiksa" in (await rini.last()).text.lower()
        or "daftar" in (await rini.last()).text
    )
    # Goats differ between Warsini and Rini.
    await warsini.send("/lapor")
    await fill(bot, warsini)
    await warsini.press("Simpan")
    await rini.send("/lapor")
    await rini.press("✅ Warsini - Lebaksiu Kidul")
    await fill(bot, rini, {"tk_adult": ("send", "9"), "photo": ("press", "Lewati")})
    await rini.press("Simpan")
    kinds = {r[0] for r in await bot.db.fetchall("SELECT kind FROM report_flags")}
    assert kinds == {"mismatch_income", "mismatch_goats"}
    # Resolve the income one from /daftar with the facilitator's value.
    await rini.send("/daftar")
    daftar = await rini.last()
    assert "Perlu diperiksa (2)" in daftar.text
    await rini.press("Untung beda: Siti Januari 2024")
    assert "Rp1.000.000" in (await rini.last()).text
    await rini.press("Pakai angka pendamping: Rp4.500.000")
    assert "diselesaikan" in (await rini.last()).text
    r1 = (await bot.db.fetchone("SELECT id FROM recipients WHERE name = 'Siti'"))[0]
    eff = await svc.effective_reports(bot.db, [r1], ["2024-01"])
    assert eff[(r1, "2024-01")]["profit"] == 4_500_000
    # The goats one: type the verified count.
    await rini.send("/daftar")
    await rini.press("Kambing beda: Warsini Januari 2024")
    await rini.press("Ketik angka yang benar")
    await rini.send("7")
    assert "7 ekor" in (await rini.last()).text
    # A jump: February profit more than 3x January's.
    clock.set(dt.datetime(2024, 3, 2, 3, 0, tzinfo=dt.UTC))
    await siti.send("/lapor")
    assert "Februari 2024" in (await siti.last()).text
    await fill(bot, siti, {"revenue": ("send", "20 juta")})
    await siti.press("Simpan")
    assert await bot.db.fetchval("SELECT count(*) FROM report_flags WHERE kind = 'jump'") == 1
    # The facilitator is told at once.
    assert "Siti bulan Februari 2024 perlu diperiksa" in (await rini.last()).text
    await rini.send("/daftar")
    assert "Untung melonjak: Siti Februari 2024" in rini.buttons()


async def test_late_report_is_marked_late(bot, clock):
    siti, *_ = await people(bot)
    clock.set(dt.datetime(2024, 2, 21, 2, 0, tzinfo=dt.UTC))  # 21 Feb 09:00 WIB
    await siti.send("/lapor")
    summary = await fill(bot, siti)
    assert "terlambat" in summary
    await siti.press("Simpan")
    assert "terlambat" in (await siti.last()).text
    assert await bot.db.fetchval("SELECT late FROM reports") == 1


async def test_missed_month_can_be_picked(bot):
    async def older(db):
        r = await add_recipient(db, 30, "Darsih", created_at="2023-11-05T00:00:00+00:00")
        await add_account(db, 1030, "recipient", recipient_id=r)

    await older(bot.db)
    darsih = await bot.user(1030, "Darsih")
    await darsih.send("/lapor")
    assert darsih.buttons() == ["Januari 2024", "Desember 2023", "November 2023"]
    # /batal or /kembali at the month picker: the choice is closed (no report line that
    # does not fit: nothing was being filled in), the buttons go
    for word in ("/batal", "/kembali"):
        closed = (await darsih.send(word))[-1].text
        assert "Pilihan bulan ditutup" in closed and "Tidak ada laporan" not in closed, word
        assert darsih.buttons() == []
        await darsih.send("/lapor")
    await darsih.press("November 2023")
    assert "November 2023" in (await darsih.last()).text
    await fill(bot, darsih)
    await darsih.press("Simpan")
    row = await bot.db.fetchone("SELECT period, late FROM reports")
    assert tuple(row) == ("2023-11", 1)


async def test_help_request_reaches_facilitator_until_a_visit(bot):
    siti, *_, rini = await people(bot)
    await siti.send("/lapor")
    await fill(bot, siti, {"help": ("press", "Ya")})
    await siti.press("Simpan")
    assert "Pendamping Anda sudah diberi tahu" in (await siti.last()).text
    await delivered(bot)  # the notice goes through the outbox
    notice = await rini.last()
    assert "Permintaan bantuan: Siti" in notice.text and "kurang modal" in notice.text
    await rini.send("/daftar")
    assert "minta bantuan" in (await rini.last()).text
    await rini.send("/kunjungan")
    await rini.press("✅ Siti - Lebaksiu Kidul")
    assert "Kunjungan ke Siti" in (await rini.last()).text
    summary = await fill(bot, rini)
    assert "1 Februari 2024" in summary
    await rini.press("Simpan")
    assert "ditandai selesai" in (await rini.last()).text
    visit = await bot.db.fetchone("SELECT * FROM visits")
    assert visit["score_motivation"] == 5 and visit["notes"] == "Dagangan laris"
    await rini.send("/daftar")
    assert "minta bantuan" not in (await rini.last()).text


async def test_daftar_pages_with_desa_on_each_line(sandbox_factory, settings):
    small = replace(settings, reports=replace(settings.reports, page_size=2))
    bot = await sandbox_factory(settings=small, seed=seed_basic)
    siti, *_, rini = await people(bot)
    await siti.send("/lapor")
    await rini.send("/daftar")
    first = (await rini.last()).text
    assert "Halaman 1 dari 2" in first and "⏳ Aminah (Kajen, menjahit): belum lapor" in first
    await rini.press("Berikutnya >")
    second = (await rini.last()).text
    assert "Halaman 2 dari 2" in second
    assert "3. ✏️ Siti (Lebaksiu Kidul, tata boga): sedang mengisi" in second
    await rini.press("< Sebelumnya")
    assert "Halaman 1 dari 2" in (await rini.last()).text
    await siti.send("/daftar")
    assert "hanya untuk pendamping" in (await siti.last()).text


async def test_reused_photo_is_flagged(bot):
    """The same picture sent by two people (as when a photo is forwarded: Telegram keeps its
    file_unique_id) raises a photo_reused flag on the later report. Both photos go through
    the chat; nothing is written to the database by hand."""
    siti, aminah, _, rini = await people(bot)
    same = PNG + b"the-same-picture"
    await aminah.send("/lapor")
    await fill(bot, aminah, {"photo": ("same_photo", same)})
    await aminah.press("Simpan")
    assert "sudah disimpan" in (await aminah.last()).text
    assert await bot.db.fetchval("SELECT count(*) FROM report_flags") == 0
    await siti.send("/lapor")
    await fill(bot, siti, {"photo": ("same_photo", same)})
    rows = await bot.db.fetchall("SELECT photo_unique_id FROM reports")
    account = await get_account(bot.db, siti.id)
    draft = await svc.open_draft(bot.db, account)
    assert [r[0] for r in rows] == [draft.answers["photo"]["unique_id"]]
    assert draft.answers["photo"]["file_id"] != (
        await bot.db.fetchval("SELECT photo_file_id FROM reports")
    )  # a new upload: a new file_id, the same file_unique_id
    await siti.press("Simpan")
    assert "perlu diperiksa" in (await rini.last()).text
    assert "foto sama" in (await rini.last()).text
    await rini.send("/daftar")
    await rini.press("Foto sama: Siti Januari 2024")
    detail = (await rini.last()).text
    assert "foto laporan lain (Januari 2024)" in detail, detail
    details = await bot.db.fetchval("SELECT details FROM report_flags WHERE kind = 'photo_reused'")
    aminah_id = await bot.db.fetchval("SELECT id FROM recipients WHERE name = 'Aminah'")
    assert json.loads(details)["other_recipient_id"] == aminah_id
    await rini.press("Sudah diperiksa, tidak masalah")
    assert "diselesaikan" in (await rini.last()).text
    status = await bot.db.fetchval("SELECT status FROM report_flags WHERE kind = 'photo_reused'")
    assert status == "resolved"


async def test_text_typed_at_the_visit_photo_is_kept_as_a_note(bot):
    """Text typed where the visit photo is asked is no longer refused ("Di sini perlu foto"):
    it is added to the visit's notes, and the photo is still asked (or skipped)."""
    *_, rini = await people(bot)
    await rini.send("/kunjungan")
    await rini.press("Siti - Lebaksiu Kidul")
    for _ in range(20):
        if await current_key(bot, rini.id) == "v_photo":
            break
        await act(rini, ANSWERS[await current_key(bot, rini.id)])
    await rini.send("Ibu Siti minta pelatihan kemasan")
    reply = (await rini.last()).text
    assert "Catatan disimpan" in reply and "perlu foto" not in reply
    assert await current_key(bot, rini.id) == "v_photo"  # a photo may still follow
    await rini.press("Lewati")
    summary = (await rini.last()).text
    assert "Dagangan laris" in summary and "minta pelatihan kemasan" in summary
    await rini.press("Simpan")
    notes = await bot.db.fetchval("SELECT notes FROM visits")
    assert notes == "Dagangan laris\nIbu Siti minta pelatihan kemasan"


async def test_loss_wording_and_a_correction_from_the_summary(bot):
    """A loss typed is echoed as "rugi", the correction menu says "Laba/rugi", a question asked
    again from the summary shows "(Ubah)" instead of "(9/10)", and a typed profit equal to the
    computed one is "sesuai hitungan: Ya"."""
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await siti.press("Berjalan")
    shown = [r.text for r in await siti.send("1,5jt 500rb")]
    assert shown[-1].startswith("(3/9) ")  # costs typed with the revenue: not counted
    await siti.press("Tidak")
    echo = (await siti.send("rugi 200rb"))[-1].text
    assert "Dicatat: rugi Rp200.000" in echo and "Untung" not in echo
    await fill(bot, siti)
    await siti.press("Ubah")
    menu = await siti.last()
    assert "Laba/rugi" in menu.labels and "Untung" not in " ".join(menu.labels)
    await siti.press("Omzet")
    assert (await siti.last()).text.startswith("(Ubah) ")
    await siti.send("1,5jt")
    asked = (await siti.last()).text
    assert asked.startswith("(Ubah) ") and "(10/10)" not in asked
    await siti.press("Tidak")
    assert (await siti.last()).text.startswith("(Ubah) ")
    summary = (await siti.send("1jt"))[-1].text  # typed, equal to 1,5jt - 500rb
    assert "Laba/rugi sesuai hitungan: Ya" in summary, summary
