"""The family's side of the chat, end to end (real Application, loopback sandbox, real SQLite).

People (tests/report_seed.py): Siti (1001, tata boga), Aminah (1002, menjahit), Warsini (1003,
ternak kambing, desa Lebaksiu Kidul), facilitator Rini (2001, "Bu Rini"). The FakeClock starts
on 1 Feb 2024 08:00 UTC: January 2024 is open.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.outbox_wait import delivered
from tests.report_seed import seed_basic
from tests.test_reports_e2e import ANSWERS, act, current_key, fill

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


@pytest.fixture
async def bot(sandbox_factory):
    return await sandbox_factory(seed=seed_basic)


async def test_sick_goat_message_reaches_the_facilitator_and_the_reply_comes_back(bot):
    warsini = await bot.user(1003, "Warsini")
    rini = await bot.user(2001, "Rini")
    text = "Bu, kambing saya sakit tidak mau makan, tolong dibantu"
    answer = (await warsini.send(text))[-1]
    assert "Pesan Anda sudah diteruskan ke pendamping Anda, Bu Rini" in answer.text
    assert answer.keyboard is not None  # the steady menu comes with it
    row = await bot.db.fetchone("SELECT kind, step, status FROM outbox WHERE chat_id = 2001")
    assert row["kind"] == "notice" and row["step"].startswith("family_message:")
    await delivered(bot)
    forwarded = await rini.last()
    assert text in forwarded.text
    assert "Warsini" in forwarded.text and "Lebaksiu Kidul" in forwarded.text
    assert "Balas" in forwarded.labels
    # Telegram's Reply on the forwarded message reaches the family.
    sent = await rini.send("Besok saya datang, Bu. Beri air hangat dulu.",
                           reply_to=forwarded.message_id)  # fmt: skip
    assert "Warsini" in sent[-1].text
    await delivered(bot)
    got = await warsini.last()
    assert "Bu Rini" in got.text and "Besok saya datang" in got.text
    # The "Balas" button asks for the text, and the next text is the reply.
    await warsini.send("Terima kasih, Bu")
    await delivered(bot)
    await rini.press("Balas")
    assert "Tulis balasan untuk Warsini" in (await rini.last()).text
    await rini.send("Sama-sama")
    await delivered(bot)
    assert "Sama-sama" in (await warsini.last()).text
    n = await bot.db.fetchval("SELECT count(*) FROM family_messages")
    assert n == 4


async def test_photo_and_voice_note_are_forwarded(bot):
    siti = await bot.user(1001, "Siti")
    rini = await bot.user(2001, "Rini")
    await siti.send_photo(b"\x89PNG\r\n\x1a\n" + b"\0" * 300, caption="Kue pesanan hari ini")
    assert "diteruskan" in (await siti.last()).text
    await siti.send_voice()
    assert "diteruskan" in (await siti.last()).text
    await delivered(bot)
    got = await rini.messages()
    assert any(m.photo and "Kue pesanan" in (m.caption or "") for m in got)
    assert any(m.voice and "pesan suara" in (m.caption or "") for m in got)


async def test_voice_during_a_report_is_forwarded_and_the_report_waits(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await siti.send_voice()
    last = (await siti.last()).text
    assert "diteruskan" in last and "/lanjut" in last


async def test_free_text_during_a_report_reaches_the_facilitator_and_the_report_waits(bot):
    """ "kambing saya sakit" typed at a button question is a message, not a wrong answer: it
    goes to the facilitator, the family is told so and sees the same question again. At an
    amount question a typo is still refused with an example; a wordy message goes on."""
    warsini = await bot.user(1003, "Warsini")
    rini = await bot.user(2001, "Rini")
    await warsini.send("/lapor")
    await warsini.press("Berjalan")
    await warsini.send("1,5jt 500rb")
    asked = await warsini.last()
    assert await current_key(bot, 1003) == "profit_ok"
    got = await warsini.send("kambing saya sakit")
    assert "diteruskan ke pendamping Anda, Bu Rini" in got[0].text
    assert "menunggu" in got[0].text and "tombol" not in got[0].text
    assert got[-1].text == asked.text and got[-1].labels == asked.labels
    assert await current_key(bot, 1003) == "profit_ok"  # the report waits, nothing answered
    await delivered(bot)
    assert "kambing saya sakit" in (await rini.last()).text
    # the same question's buttons still work
    await warsini.press("Ya")
    assert await current_key(bot, 1003) == "tk_adult"
    typo = (await warsini.send("banyak"))[-1].text
    assert "angka" in typo and "tercampur huruf" not in typo and "diteruskan" not in typo
    wordy = await warsini.send("bu besok tolong datang ya")
    assert "diteruskan" in wordy[0].text and await current_key(bot, 1003) == "tk_adult"
    assert await bot.db.fetchval("SELECT count(*) FROM family_messages") == 2


async def test_too_long_message_is_refused_with_a_clear_line(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("x" * 4090)
    assert "terlalu panjang" in (await siti.last()).text
    assert await bot.db.fetchval("SELECT count(*) FROM outbox WHERE chat_id = 2001") == 0


async def test_stranger_and_unknown_command_get_answers(bot):
    stranger = await bot.user(5555, "Tamu")
    await stranger.send("halo")
    text = (await stranger.last()).text
    assert "undangan" in text and ("pendamping" in text or "Dinas Sosial" in text)
    await stranger.send("/xyz")
    assert "/xyz" in (await stranger.last()).text
    siti = await bot.user(1001, "Siti")
    await siti.send("/xyz")
    assert "/lapor" in (await siti.last()).text
    rini = await bot.user(2001, "Rini")
    await rini.send("/xyz")
    assert "/daftar" in (await rini.last()).text


async def test_kembali_goes_one_question_back(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    assert "Kembali" in " ".join((await siti.last()).labels)
    await siti.press("Berjalan")
    assert await current_key(bot, 1001) == "revenue"
    await siti.press("< Kembali")
    assert await current_key(bot, 1001) == "status"
    await siti.press("Berjalan")
    await siti.send("/kembali")
    assert await current_key(bot, 1001) == "status"
    await siti.press("Berjalan")
    await siti.send("kembali")
    assert await current_key(bot, 1001) == "status"


async def test_counts_in_words_and_refused_decimals_e2e(bot):
    warsini = await bot.user(1003, "Warsini")
    await warsini.send("/lapor")
    for _ in range(10):
        key = await current_key(bot, 1003)
        if key == "tk_adult":
            break
        await act(warsini, ANSWERS[key])
    assert await current_key(bot, 1003) == "tk_adult"
    question = await warsini.last()
    assert "5" in question.labels and "Lebih dari 10" in question.labels
    await warsini.send("2.5")
    assert "jumlah ekor harus bilangan bulat" in (await warsini.last()).text.lower()
    await warsini.send("3 4")
    assert "satu jumlah" in (await warsini.last()).text.lower()
    assert await current_key(bot, 1003) == "tk_adult"
    await warsini.send("lima ekor")
    assert await current_key(bot, 1003) == "tk_kid"
    await warsini.press("2")
    assert await current_key(bot, 1003) == "tk_moves"


async def test_loss_is_said_rugi_and_typed_at_the_correction(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await siti.press("Berjalan")
    await siti.send("300rb")
    await siti.send("450rb")
    assert "rugi Rp150.000" in (await siti.last()).text
    await siti.press("Tidak")
    await siti.send("rugi 200rb")
    assert await current_key(bot, 1001) != "profit"
    summary = await fill(bot, siti)
    assert "rugi Rp200.000" in summary


async def test_1jt500_is_rp1_500_000_and_echoed(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await siti.press("Berjalan")
    await siti.send("1jt500")
    text = (await siti.last()).text
    assert "Rp1.500.000" in text and "Dicatat" in text
    await siti.send("500.000")
    assert "Dicatat" not in (await siti.last()).text


async def test_counter_never_grows_in_chat(bot):
    import re

    warsini = await bot.user(1003, "Warsini")
    await warsini.send("/lapor")
    totals = []
    for _ in range(40):
        last = await warsini.last()
        m = re.match(r"\((\d+)/(\d+)\)", last.text or "")
        if m:
            totals.append(int(m.group(2)))
        key = await current_key(bot, 1003)
        if key is None:
            break
        await act(warsini, ANSWERS[key])
    assert totals and totals == sorted(totals, reverse=True)


async def test_correction_opens_prefilled_and_riwayat_shows_it(bot):
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await fill(bot, siti)
    await siti.press("Simpan")
    await siti.send("/lapor")
    summary = await siti.last()
    assert "sudah pernah dilaporkan" in summary.text
    assert "Rp1.500.000" in summary.text  # the answers given before
    # short: not "late" (January is reported in time), and three buttons, not one per answer
    assert "terlambat" not in summary.text and "lewat batas" not in summary.text
    assert summary.labels == ["Simpan", "Ubah", "Batal"]
    await siti.press("Ubah")
    await siti.press("Omzet")
    await siti.send("2 juta")
    await siti.press("Ya")  # the profit is computed from the omzet: confirmed again
    after = await siti.last()
    assert "Simpan" in after.labels and "Rp2.000.000" in after.text
    await siti.press("Simpan")
    assert "perbaikan" in (await siti.last()).text
    revisions = await bot.db.fetchval(
        "SELECT max(revision) FROM reports WHERE recipient_id = 1 AND period = '2024-01'"
    )
    assert revisions == 2
    await siti.send("/riwayat")
    text = (await siti.last()).text
    assert "Januari 2024" in text and "diperbaiki" in text
    # Siti's mentoring starts in January 2024: earlier months are not "belum lapor"
    assert "Desember 2023" not in text and "belum" not in text.lower()
    assert text.count("\n- ") == 1


async def test_riwayat_starts_at_the_programme_start(sandbox_factory):
    """/riwayat lists no month before the family's first reporting month (the month after the
    hand-over), and a month reported before it still shows."""
    from tests.report_seed import add_account, add_recipient

    async def seed(db):
        await seed_basic(db)
        rid = await add_recipient(db, 21, "Baru", created_at="2023-06-01T00:00:00+00:00")
        await db.execute("UPDATE recipients SET handover_date = '2023-10-20' WHERE id = ?", (rid,))
        await add_account(db, 1021, "recipient", recipient_id=rid, name="Baru")

    bot = await sandbox_factory(seed=seed)
    baru = await bot.user(1021, "Baru")
    await baru.send("/riwayat")
    text = (await baru.last()).text
    # hand-over 20 Oct 2023: the first full month is November 2023
    assert "November 2023" in text and "Desember 2023" in text and "Januari 2024" in text
    assert "Oktober 2023" not in text and "Agustus 2023" not in text


async def test_late_correction_is_not_called_late(bot):
    """A correction made after the close day keeps the first report's mark: the summary does
    not say "terlambat" and the revision is not marked late."""
    siti = await bot.user(1001, "Siti")
    await siti.send("/lapor")
    await fill(bot, siti)
    await siti.press("Simpan")
    bot.clock.set(dt.datetime(2024, 2, 25, 3, 0, tzinfo=dt.UTC))  # after the close (20th)
    await siti.send("/lapor")  # January is still the open period: its summary at once
    summary = await siti.last()
    assert "sudah pernah dilaporkan" in summary.text and "lewat batas" not in summary.text
    assert summary.labels == ["Simpan", "Ubah", "Batal"]
    await siti.press("Ubah")
    await siti.press("Omzet")
    await siti.send("2jt 800rb")  # both typed again at the correction
    assert "Rp2.000.000 - Rp800.000 = Rp1.200.000" in (await siti.last()).text
    await siti.press("Ya")
    await siti.press("Simpan")
    saved = (await siti.last()).text
    assert "perbaikan" in saved and "terlambat" not in saved
    late = await bot.db.fetchall("SELECT revision, late, costs FROM reports ORDER BY revision")
    assert [tuple(r) for r in late] == [(1, 0, 500_000), (2, 0, 800_000)]


async def test_reported_month_is_marked_in_the_picker(sandbox_factory):
    from tests.report_seed import add_account, add_recipient

    async def seed(db):
        await seed_basic(db)
        rid = await add_recipient(db, 20, "Lama", created_at="2023-10-01T00:00:00+00:00")
        await add_account(db, 1020, "recipient", recipient_id=rid, name="Lama")

    bot = await sandbox_factory(seed=seed)
    lama = await bot.user(1020, "Lama")
    await lama.send("/lapor")
    await lama.press("Januari 2024")
    await fill(bot, lama)
    await lama.press("Simpan")
    await lama.send("/lapor")
    labels = (await lama.last()).labels
    assert "Januari 2024 (sudah dilapor)" in labels and "Desember 2023" in labels


async def test_terminal_chat_sends_numbers_as_text_for_number_questions(bot):
    """`pendamping sandbox chat`: a typed number answers a number question as text; `/tekan N`
    (or `/press N`) presses button N; elsewhere a number still presses that button."""
    import io

    from bot.sandbox.chat import TerminalChat

    async def lines():
        for line in (
            "/lapor",
            "/tekan 1",
            "1500000",
            "500000",
            "1",
            "40",
            "5",
            "0",
            "2",
            "/press 5",
        ):
            yield line

    out = io.StringIO()
    chat = TerminalChat(bot.url, 1001, "Siti", out=out, settle=True)
    assert await chat.run(lines()) == 0
    text = out.getvalue()
    assert "> [Berjalan]" in text and "> [Ya]" in text and "! no button" not in text, text
    account_answers = await bot.db.fetchval(
        "SELECT answers FROM report_drafts WHERE account_id = 1 AND status = 'open'"
    )
    import json

    answers = json.loads(account_answers)
    assert answers["revenue"] == 1_500_000 and answers["costs"] == 500_000
    assert answers["profit_ok"] is True and answers["tb_orders"] == 40
    assert answers["tb_days"] == 5 and answers["other_income"] == 0
    assert answers["changes"] == "anggota_keluarga"  # "2": the second button
    assert answers["household"] == 5  # "/press 5": the fifth button of 1..10


async def test_bantuan_names_the_facilitator_and_the_menu_is_there(bot):
    await bot.db.execute("UPDATE facilitators SET phone = '6281234567890' WHERE code = 'PD-101'")
    siti = await bot.user(1001, "Siti")
    got = (await siti.send("/bantuan"))[-1]
    assert "Bu Rini" in got.text and "081234567890" in got.text
    assert len(got.text.splitlines()) <= 8
    assert got.keyboard == [["Lapor", "Kemajuan", "Bantuan"]]
    # the menu's words work as typed (or pressed)
    assert "081234567890" in (await siti.send("Bantuan"))[-1].text
    await siti.send("Lapor")
    assert await current_key(bot, 1001) == "status"
    rini = await bot.user(2001, "Rini")
    assert "/daftar" in (await rini.send("/bantuan"))[-1].text


async def test_profile_role_in_indonesian_and_one_period_after_a_title(bot):
    await bot.db.execute("UPDATE recipients SET name = 'Ani Lestari, S.H.' WHERE id = 1")
    siti = await bot.user(1001, "Siti")
    profil = (await siti.send("/profil"))[-1].text
    assert "Peran: penerima bantuan" in profil and "recipient" not in profil
    start = (await siti.send("/start"))[-1].text
    assert "Halo Ani Lestari, S.H." in start and "S.H.." not in start
