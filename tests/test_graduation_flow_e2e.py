"""Graduation decisions in chat, end to end (real PTB, sandbox, SQLite in a tmp dir).

A facilitator proposes from the family card without typing a NIK; one family agrees, another
objects with a reason staff see; staff page through the cards (edited in place), approve one
and reject one with a reason; the facilitator and each family get their notice. Then the bad
inputs: forged and stale buttons, decided proposals, short reasons and statements, name
searches, a family asking to graduate itself, 500 proposals in pages of five.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bot.domain.consent import NOTICE_VERSION
from bot.domain.scoring import Observation
from tests.outbox_wait import delivered
from tests.scoring_db import (
    add_account,
    add_checklist,
    add_facilitator,
    add_recipient,
    add_report,
    add_visit,
)
from tests.scoring_examples import checklist

pytestmark = [
    pytest.mark.both_engines,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

SITI_NIK, RINA_NIK, SRI_NIK = "3328064107850001", "3328064107850002", "3328064107850003"
SITI, RINA, FAC, STAFF, SRI, FAR_STAFF = 1001, 1006, 1002, 1003, 1007, 1004
NOW = dt.datetime(2024, 7, 3, 2, 0, tzinfo=dt.UTC)  # 09:00 WIB


def _obs(month: str, profit: int) -> Observation:
    return Observation(month, "berjalan", profit=profit, other_income=600_000, household_size=4,
                       has_savings=True, keeps_books=True, income_sources=2, equipment_ok=True)  # fmt: skip


async def seed(db) -> None:
    """Siti: ready (six good months, the kunjungan graduasi met). Rina: two months only, a
    recent visit, not ready. Sri: in the caseload, linked. Staff of the kecamatan and of
    another one."""
    fac = await add_facilitator(db)
    siti = await add_recipient(db, SITI_NIK, facilitator_id=fac, handover="2024-01-05",
                               receives_pkh=1, receives_sembako=1, welfare_decile=1)  # fmt: skip
    for i, month in enumerate(("2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06")):
        await add_report(db, siti, _obs(month, 2_000_000 + 100_000 * i))
    await add_visit(db, siti, "2024-06-20", (4, 4, 5, 5), fac)
    await add_checklist(db, siti, checklist("2024-06-20"))
    rina = await add_recipient(db, RINA_NIK, name="Rina Wati", facilitator_id=fac,
                               handover="2024-04-05", receives_pkh=1)  # fmt: skip
    for month in ("2024-05", "2024-06"):
        await add_report(db, rina, _obs(month, 900_000))
    await add_visit(db, rina, "2024-06-25", (3, 3, 4, 4), fac)
    sri = await add_recipient(db, SRI_NIK, name="Sri Rahayu", facilitator_id=fac)
    await add_account(db, SITI, "recipient", recipient_id=siti)
    await add_account(db, RINA, "recipient", recipient_id=rina)
    await add_account(db, SRI, "recipient", recipient_id=sri)
    fac_account = await add_account(db, FAC, "facilitator", facilitator_id=fac)
    await add_account(db, STAFF, "staff", kec="33.28.06")
    await add_account(db, FAR_STAFF, "staff", kec="33.28.10")
    await db.execute(
        "UPDATE accounts SET consent_version = ?, consent_at = linked_at", (NOTICE_VERSION,)
    )
    assert fac_account


@pytest.fixture
async def sb(sandbox_factory, clock):
    clock.set(NOW)
    return await sandbox_factory(seed=seed)


async def _card(user, name: str):
    await user.send(f"/cari {name.split()[0]}")
    found = await user.last()
    await user.press(next(label for label in found.labels if name in label))
    return await user.last()


async def case_of(sb, nik: str) -> int:
    return await sb.db.fetchval(
        "SELECT g.id FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
        " WHERE r.nik = ? ORDER BY g.id DESC LIMIT 1",
        (nik,),
    )


async def test_propose_answer_decide_and_notices(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    siti = await sb.user(SITI, "Siti")
    rina = await sb.user(RINA, "Rina")

    # the facilitator proposes Siti from her family card: no NIK typed
    card = await _card(budi, "Siti Aminah")
    assert "Usulkan graduasi" in card.labels
    prompt = (await budi.press("Usulkan graduasi"))[-1]
    assert "Usulan graduasi: Siti Aminah" in prompt.text and "Siap graduasi" in prompt.text
    assert "belum terpenuhi" not in prompt.text and prompt.labels == ["Batal"]
    assert "10 sampai 500 huruf" in (await budi.send("ok"))[-1].text  # too short: asked again
    done = (await budi.send("Usaha jahit stabil, sudah menabung tiap minggu"))[-1].text
    siti_case = await case_of(sb, SITI_NIK)
    # /skor no longer offers a second proposal: it names the one waiting
    skor = (await budi.send("/skor siti"))[-1]
    assert "Usulkan graduasi" not in skor.labels
    assert f"Usulan graduasi no. {siti_case} sedang menunggu keputusan" in skor.text
    # staff read the model's label, not its hash
    staff_skor = (await ani.send("/skor siti"))[-1].text
    assert "Model 2.0." in staff_skor and "2.0+" not in staff_skor
    assert f"usulan no. {siti_case}" in done and "Keluarga ditanya" in done
    assert SITI_NIK not in done and "3328********0001" in done

    # Rina is not ready: the proposal shows the unmet gates and the statement must address them
    await _card(budi, "Rina Wati")
    prompt = (await budi.press("Usulkan graduasi"))[-1].text
    assert "belum Siap graduasi" in prompt and "Syarat yang belum terpenuhi" in prompt
    assert "bulan Juni 2024: laba Rp900.000" in prompt  # months in words, not "2024-06"
    assert re.search(r"\d{4}-\d{2}", prompt) is None
    refused = (await budi.send("Keluarga ini rajin dan bersemangat sekali"))[-1].text
    assert "belum menjelaskan syarat" in refused
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_cases") == 1  # no half-record
    statement = ("Pendapatan naik tiap bulan walau baru 2 bulan lapor; tabungan ada di koperasi;"
                 " anak sekolah semua; pangan cukup; jamban dan air bersih ada; rumah layak;"
                 " tanpa utang rentenir; BPJS PBI aktif")  # fmt: skip
    done = (await budi.send(statement))[-1].text
    rina_case = await case_of(sb, RINA_NIK)
    assert f"usulan no. {rina_case}" in done and "walau skornya belum Siap graduasi" in done

    # each family is asked (through the outbox): what graduation means, Setuju / keberatan
    await delivered(sb)
    ask = await siti.last()
    assert "PKH dan sembako Anda akan berakhir" in ask.text
    assert "pendamping tetap menyapa" in ask.text
    assert ask.labels == ["Setuju", "Saya keberatan"]
    assert "Jawaban Anda (setuju)" in (await siti.press("Setuju"))[-1].text
    assert "usaha Anda sudah berjalan baik" in (await siti.messages())[0].text  # score Siap
    ask = await rina.last()
    assert "bantuan PKH Anda akan berakhir" in ask.text
    # nominated although the score is not "Siap": no claim that the business is going well
    assert "berjalan baik" not in ask.text and "karena" not in ask.text
    assert "Apa alasan Anda" in (await rina.press("Saya keberatan"))[-1].text
    objected = (await rina.send("Usaha saya masih baru, anak mau masuk SMP"))[-1].text
    assert "Keberatan Anda sudah diteruskan" in objected
    await delivered(sb)
    told = (await ani.last()).text
    assert "Rina Wati" in told and "KEBERATAN" in told and "anak mau masuk SMP" in told
    # the facilitator cannot open /graduasi: their notice points to the family's card
    fac_told = (await budi.last()).text
    assert "KEBERATAN" in fac_told and "/graduasi" not in fac_told and "/daftar" in fac_told
    assert "/graduasi" in told

    # staff: the cards, waiting for me first; the objection under its own filter
    page = (await ani.send("/graduasi"))[-1]
    assert page.text.startswith("Usulan graduasi · Menunggu keputusan Anda (1)")
    assert f"No. {siti_case} · Siti Aminah" in page.text and "Rina" not in page.text
    for needle in ("PKH ya, sembako ya, desil 1", "Syarat: ✅", "Kunjungan: pangan ✅",
                   "Laba 6 bln: ", "Kunjungan 20 Juni 2024", "Usaha jahit stabil",
                   "Keluarga: setuju"):  # fmt: skip
        assert needle in page.text, needle
    assert page.labels[:2] == [f"Setujui {siti_case}", f"Tolak {siti_case}"]
    edited = await ani.press("Keberatan (1)")
    objection = next(r for r in edited if r.message_id == page.message_id)
    assert objection.edited and "Keluarga keberatan (1)" in objection.text
    assert 'KEBERATAN: "Usaha saya masih baru, anak mau masuk SMP"' in objection.text
    assert "diusulkan walau skor belum siap" in objection.text
    assert "❌" in objection.text  # the unmet gates, with their reasons
    # months in words, free text shortened at a word boundary (never "bulan 2…")
    assert re.search(r"\d{4}-\d{2}", objection.text) is None
    assert "bulan Juni 2024: laba…" in objection.text
    assert all(re.search(r"\w…$", line) is None or line.split()[-1][:-1].isalpha()
               for line in objection.text.splitlines())  # fmt: skip

    # reject Rina: the reason is asked in the next message; one word is asked again
    asked = (await ani.press(f"Tolak {rina_case}"))[-1].text
    assert f"Tolak usulan no. {rina_case}" in asked
    assert "Alasan terlalu pendek" in (await ani.send("belum"))[-1].text
    assert await sb.db.fetchval("SELECT status FROM graduation_cases WHERE id = ?",
                                (rina_case,)) == "confirmed"  # fmt: skip
    rejected = (await ani.send("Keluarga keberatan, tunggu 3 bulan lagi"))[-1].text
    assert "DITOLAK" in rejected and "tunggu 3 bulan lagi" in rejected

    # approve Siti from her card: the page is edited in place
    await ani.send("/graduasi")
    page = await ani.last()
    # one press only asks: the family agreed and the score is "Siap", so a confirmation
    confirm = (await ani.press(f"Setujui {siti_case}"))[-1]
    assert "Keluarga setuju dan skor Siap graduasi" in confirm.text
    assert confirm.labels == [f"Ya, setujui {siti_case}", "Batal"]
    assert await sb.db.fetchval("SELECT status FROM graduation_cases WHERE id = ?",
                                (siti_case,)) == "confirmed"  # fmt: skip
    after = await ani.press(f"Ya, setujui {siti_case}")
    # the page the button came from is edited to what is true now
    again = next(r for r in await ani.messages() if r.message_id == page.message_id)
    assert again.edited and "Tidak ada usulan yang menunggu keputusan Anda" in again.text
    decided = next(r.text for r in after if "DISETUJUI" in r.text)
    assert "(model 2.0)" in decided and "2.0+" not in decided  # the hash stays in the audit

    # a second decision is refused naming who decided and when; nothing changes
    old = (await ani.send(f"/setujui {rina_case}"))[-1].text
    assert "sudah diputuskan (ditolak) oleh user1003 pada 3 Juli 2024 09:00 WIB" in old
    assert await sb.db.fetchval("SELECT status FROM recipients WHERE nik = ?",
                                (RINA_NIK,)) == "active"  # fmt: skip

    # the notices: the facilitator with the reasons, the families kindly
    await delivered(sb)
    fac_texts = [r.text for r in await budi.messages()]
    assert any("DISETUJUI" in t and "Siti Aminah" in t
               and "Alasan: Keluarga setuju dan skor Siap graduasi" in t for t in fac_texts)  # fmt: skip
    assert any("DITOLAK" in t and "tunggu 3 bulan lagi" in t for t in fac_texts)
    assert "Selamat, Siti Aminah!" in (await siti.last()).text
    kind = (await rina.last()).text
    assert "pendampingan dilanjutkan" in kind and "keberatan" not in kind.lower()
    assert "tunggu" not in kind  # no reason, no blame

    # every step audited: who, the score and model version, the reason
    audit = await sb.db.fetchall("SELECT actor, action, details FROM audit_log ORDER BY id")
    actions = [a["action"] for a in audit]
    assert actions == ["graduation.confirm", "graduation.confirm", "graduation.family_agree",
                       "graduation.family_object", "graduation.reject", "graduation.approve"]  # fmt: skip
    reject = json.loads(audit[4]["details"])
    assert reject["reason"] == "Keluarga keberatan, tunggu 3 bulan lagi"
    assert reject["model_version"].startswith("2.0+") and reject["score"] is not None
    staff_id = await sb.db.fetchval("SELECT id FROM accounts WHERE telegram_user_id = ?", (STAFF,))
    assert audit[5]["actor"] == f"account:{staff_id}"
    assert all(SITI_NIK not in a["details"] and RINA_NIK not in a["details"] for a in audit)


async def test_voice_objection_reaches_staff(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    siti = await sb.user(SITI, "Siti")
    await budi.send(f"/konfirmasi {SITI_NIK} Usaha jahit stabil, sudah menabung")
    await delivered(sb)
    await siti.press("Saya keberatan")
    assert "3 sampai 500 huruf" in (await siti.send("ok"))[-1].text  # too short: asked again
    await siti.send_voice()
    assert "Keberatan Anda sudah diteruskan" in (await siti.last()).text
    await delivered(sb)
    voice = await ani.last()
    assert voice.voice is not None and "pesan suara" in voice.body
    page = (await ani.send("/graduasi"))[-1]
    assert "Menunggu keputusan Anda (0)" in page.text
    shown = (await ani.press("Keberatan (1)"))[-1].text
    assert "KEBERATAN (pesan suara sudah diteruskan)" in shown
    # the voice note went to staff, not as a message to the facilitator's "Balas" thread
    assert await sb.db.fetchval("SELECT count(*) FROM family_messages") == 0
    # after the decision the family's buttons change nothing
    case = await case_of(sb, SITI_NIK)
    await ani.send(f"/tolak {case} Keluarga keberatan, kunjungi lagi bulan depan")
    await siti.press("Setuju")
    assert "sudah diputuskan Dinas Sosial" in siti.last_answer()
    assert await sb.db.fetchval("SELECT family_answer FROM graduation_cases") == "object"


async def test_stale_forged_and_out_of_scope_buttons(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    siti = await sb.user(SITI, "Siti")  # the family's question reaches a chat that exists
    ani = await sb.user(STAFF, "Ani")
    far = await sb.user(FAR_STAFF, "Dewi")
    await budi.send(f"/konfirmasi {SITI_NIK} Usaha jahit stabil, sudah menabung")
    case = await case_of(sb, SITI_NIK)
    first = (await ani.send("/graduasi"))[-1]
    await ani.send("/graduasi")  # a newer page: the first one's filter chips are stale
    await ani.press("Semua (1)", message_id=first.message_id)
    assert "sudah lama" in ani.last_answer()
    # forged: a case of another kecamatan, an unknown case, a filter that does not exist
    core = sb.core
    for user, data in ((far, f"grd:a:{case}"), (ani, "grd:a:987654"), (ani, "grd:v:zzz:0:1"),
                       (ani, "grd:fy:" + str(case))):  # fmt: skip
        mine = [r.message_id for r in user.replies()] or [1]
        result = core.inject_callback(user.id, mine[-1], data)
        await sb.idle(result["update_id"])
        answer = core.callback_queries[result["callback_query_id"]]["answer"]
        assert answer, data
    assert await sb.db.fetchval("SELECT status FROM graduation_cases") == "confirmed"
    assert await sb.db.fetchval("SELECT family_answer FROM graduation_cases") is None
    # "Tolak" asks the reason, but a command in between drops the question
    await ani.press(f"Tolak {case}")
    await ani.send("/graduasi")
    await ani.send("Keluarga belum siap, tunggu dulu")
    assert await sb.db.fetchval("SELECT status FROM graduation_cases") == "confirmed"
    # a family asked for its objection that presses its menu's "Lapor" reports instead
    await delivered(sb)
    await siti.press("Saya keberatan")
    await siti.send("Lapor")
    assert await sb.db.fetchval("SELECT family_answer FROM graduation_cases") is None
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    # a decided proposal's button: a toast naming who decided and when
    await ani.send(f"/setujui {case} Keluarga setuju lewat telepon, sudah dicek pendamping")
    await ani.press(f"Setujui {case}", message_id=first.message_id)
    assert "sudah diputuskan (disetujui) oleh user1003" in ani.last_answer()
    assert await sb.db.fetchval("SELECT count(*) FROM audit_log WHERE action ="
                                " 'graduation.approve'") == 1  # fmt: skip


async def test_commands_bad_input_and_name_search(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    siti = await sb.user(SITI, "Siti")  # the family's question reaches a chat that exists
    # a family typing /skor gets the role's refusal, not a usage line or "check the NIK"
    for words in ("/skor", "/skor Caturangga", f"/skor {SITI_NIK}"):
        refused = (await siti.send(words))[-1].text
        assert "hanya untuk pendamping dan staf" in refused and "/kemajuan" in refused, words
    assert "Cara memakai" in (await ani.send("/tolak abc alasan panjang"))[-1].text
    assert "tidak ditemukan" in (await ani.send("/tolak 999 alasan yang cukup panjang"))[-1].text
    assert "hanya untuk staf" in (await budi.send("/graduasi"))[-1].text
    assert "hanya untuk staf" in (await budi.send("/setujui 1"))[-1].text
    await budi.send(f"/konfirmasi {SITI_NIK} Usaha jahit stabil, sudah menabung")
    case = await case_of(sb, SITI_NIK)
    short = (await ani.send(f"/setujui {case} ok"))[-1].text
    assert "Alasan terlalu pendek" in short and "/setujui <nomor> saja" in short
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    await sb.db.execute("DELETE FROM graduation_cases")  # the rest starts without a proposal
    # /skor by name: one match, several (a pick list), none, too short
    one = (await budi.send("/skor rina"))[-1]
    assert "Rina Wati" in one.text and "Periode Juni 2024" in one.text
    several = (await ani.send("/skor a"))[-1].text
    assert "minimal 2 huruf" in several
    pick = (await ani.send("/skor ri"))[-1]
    assert "Ada 2 orang" in pick.text and len(pick.labels) == 2
    shown = (await ani.press(next(x for x in pick.labels if "Rina" in x)))[-1].text
    assert "Rina Wati" in shown and RINA_NIK not in shown
    assert "Tidak ada penerima bernama" in (await budi.send("/skor zulaikha"))[-1].text
    # /konfirmasi by name starts the proposal (the statement is the next message)
    prompt = (await budi.send("/konfirmasi siti"))[-1]
    assert "Usulan graduasi: Siti Aminah" in prompt.text
    assert "Dibatalkan" in (await budi.press("Batal"))[-1].text
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    # another feature's button (a family from /cari) drops the question too
    found = (await budi.send("/cari siti"))[-1]
    await budi.send("/konfirmasi siti")
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 1
    await budi.press(found.labels[0], message_id=found.message_id)
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    # Sri: no visit yet, so the button leads to the kunjungan graduasi
    await _card(budi, "Sri Rahayu")
    refused = (await budi.press("Usulkan graduasi"))[-1]
    assert "Belum ada kunjungan" in refused.text and refused.labels == ["Kunjungan graduasi"]
    # a statement longer than 500 characters is refused, the question stays
    await budi.send("/konfirmasi siti")
    assert "10 sampai 500" in (await budi.send("x" * 501))[-1].text
    assert "tercatat" in (await budi.send("Usaha stabil dan menabung rutin"))[-1].text
    # a proposal twice
    assert "sudah diusulkan" in (await budi.send(f"/konfirmasi {SITI_NIK} lagi lagi lagi"))[-1].text
    # /akhiri by name: several names give a pick list (nothing ended yet) restating the kind
    # and the reason; Batal ends nothing, an old pick button ends nothing, a pick ends that one
    several = (await ani.send("/akhiri ri pindah Pindah ke Brebes"))[-1]
    assert "Ada 2 orang" in several.text and "pindah, alasan: Pindah ke Brebes" in several.text
    assert any("3328********0003" in label for label in several.labels)
    assert SRI_NIK not in several.text and not any(SRI_NIK in x for x in several.labels)
    assert await sb.db.fetchval("SELECT count(*) FROM recipients WHERE status = 'ended'") == 0
    assert "Dibatalkan" in (await ani.press("Batal", message_id=several.message_id))[-1].text
    sri = next(x for x in several.labels if x.startswith("Sri Rahayu"))
    await ani.press(sri, message_id=several.message_id)
    assert await sb.db.fetchval("SELECT count(*) FROM recipients WHERE status = 'ended'") == 0
    again = (await ani.send("/akhiri ri pindah Pindah ke Brebes"))[-1]
    ended = (await ani.press(sri, message_id=again.message_id))[-1].text
    assert "Sri Rahayu" in ended and "diakhiri: pindah" in ended
    assert "Pindah ke Brebes" in ended
    assert "Cara memakai" in (await ani.send("/akhiri sri pindah"))[-1].text
    # one name found: ended at once, as with a NIK
    one = (await ani.send("/akhiri rina wati menolak Keluarga tidak mau lanjut"))[-1].text
    assert "Rina Wati" in one and "diakhiri: menolak" in one


async def test_family_asks_to_graduate(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    sri = await sb.user(SRI, "Sri")
    profil = (await sri.send("/profil"))[-1]
    assert "Saya ingin mandiri" in profil.labels
    assert "sudah diteruskan ke pendamping" in (await sri.press("Saya ingin mandiri"))[-1].text
    assert "sudah kami terima" in (await sri.press("Saya ingin mandiri"))[-1].text
    await delivered(sb)
    request = await budi.last()
    assert "Sri Rahayu" in request.text and "ingin mandiri" in request.text
    assert request.labels == ["Usulkan graduasi"]
    assert "ingin mandiri" in (await ani.last()).text
    # the facilitator's button starts the proposal (here: a visit first)
    assert "Belum ada kunjungan" in (await budi.press("Usulkan graduasi"))[-1].text


async def test_unreachable_family_is_shown_and_quiet_hours_hold_notices(sb) -> None:
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    await sb.db.execute("UPDATE accounts SET reachable = 0 WHERE telegram_user_id = ?", (SITI,))
    done = (await budi.send(f"/konfirmasi {SITI_NIK} Usaha jahit stabil, sudah menabung"))[-1]
    assert "belum bisa ditanya lewat bot" in done.text
    page = (await ani.send("/graduasi"))[-1].text
    assert "📵 tidak bisa dihubungi (memblokir bot)" in page
    # a decision at 22:00 WIB: the facilitator's notice waits for the morning
    sb.clock.set(dt.datetime(2024, 7, 3, 15, 0, tzinfo=dt.UTC))
    case = await case_of(sb, SITI_NIK)
    await ani.send(f"/tolak {case} Tunggu laporan Juli dan Agustus dulu")
    row = await sb.db.fetchone(
        "SELECT not_before, status FROM outbox WHERE step LIKE 'graduasi_notice_facilitator:%'"
    )
    assert row["not_before"] == "2024-07-03T23:00:00+00:00" and row["status"] == "pending"


async def _many(db) -> None:
    """500 open proposals in one kecamatan with the longest texts the bot accepts."""
    await seed(db)
    fac = await db.fetchval("SELECT id FROM facilitators")
    version = "2.0+longtest"
    await db.execute(
        "INSERT INTO score_models (version, label, params, created_at) VALUES (?, '2.0', '{}',"
        " '2024-07-01T00:00:00+00:00')",
        (version,),
    )
    long = "Ibu " + "Sekar Ayu Wulandari Kusumaningtyas " * 2
    gates = [[k, False, "Alasan syarat yang panjang sekali " * 6] for k in
             ("poverty_line", "umk", "months", "checklist")]  # fmt: skip
    inputs = json.dumps({"gates": gates, "checklist": {i: "not_met" for i in (
        "pangan", "sekolah", "jamban_air", "rumah", "tabungan", "rentenir", "bpjs")}})  # fmt: skip
    async with db.transaction() as conn:
        for i in range(500):
            nik = f"33280641078{i + 10:05d}"
            cur = await conn.execute(
                "INSERT INTO recipients (nik, name, kecamatan_code, programme, facilitator_id,"
                " created_at, updated_at) VALUES (?, ?, '33.28.06', 'menjahit', ?, ?, ?)"
                " RETURNING id",
                (nik, f"{long}{i}", fac, "2024-01-01", "2024-01-01"),
            )
            rid = (await cur.fetchone())[0]
            await cur.close()
            cur = await conn.execute(
                "INSERT INTO scores (recipient_id, period, model_version, score, band,"
                " gate_months, confidence, components, inputs, computed_at)"
                " VALUES (?, '2024-06', ?, 55, 'menuju', 0, 100, '[]', ?, '2024-07-01')"
                " RETURNING id",
                (rid, version, inputs),
            )
            sid = (await cur.fetchone())[0]
            await cur.close()
            cur = await conn.execute(
                "INSERT INTO visits (recipient_id, visit_date, notes, photo_file_id, created_at)"
                " VALUES (?, '2024-06-20', ?, 'photo', '2024-06-20') RETURNING id",
                (rid, "catatan kunjungan " * 60),
            )
            vid = (await cur.fetchone())[0]
            await cur.close()
            await conn.execute(
                "INSERT INTO graduation_cases (recipient_id, kind, status, score_id, score,"
                " model_version, period, visit_id, statement, created_at, proposed_ready,"
                " family_answer, family_reason)"
                " VALUES (?, 'graduation', 'confirmed', ?, 55, ?, '2024-06', ?, ?, ?, 0, ?, ?)",
                (rid, sid, version, vid, "p" * 500, "2024-07-01",
                 "object" if i % 7 == 0 else None, "k" * 500 if i % 7 == 0 else None),
            )  # fmt: skip


async def test_staff_page_through_500_proposals(sandbox_factory, clock) -> None:
    clock.set(NOW)
    sb = await sandbox_factory(seed=_many)
    ani = await sb.user(STAFF, "Ani")
    page = (await ani.send("/graduasi"))[-1]
    assert "Menunggu keputusan Anda (428)" in page.text and "Halaman 1/86" in page.text
    seen: list[str] = []
    lengths: list[int] = []
    while True:
        assert len(page.text) <= 4096
        lengths.append(len(page.text))
        seen += [line.split(" · ")[0] for line in page.text.splitlines() if line.startswith("No. ")]
        if "Berikutnya ▶" not in page.labels:
            break
        changed = await ani.press("Berikutnya ▶", message_id=page.message_id)
        (page,) = [r for r in changed if r.message_id == page.message_id]  # edited in place
        assert page.edited
    assert len(seen) == len(set(seen)) == 428
    print(f"500 proposals: {len(lengths)} pages, longest {max(lengths)} characters")
    # the objections filter pages too; all 500 under "Semua"
    (page,) = [r for r in await ani.press("Keberatan (72)") if r.message_id == page.message_id]
    assert "Keluarga keberatan (72)" in page.text and len(page.text) <= 4096
    (page,) = [r for r in await ani.press("Semua (500)") if r.message_id == page.message_id]
    assert "Semua usulan (500)" in page.text and "Halaman 1/100" in page.text
    assert len(await ani.messages()) == 1  # one message the whole time
    # Telegram (the sandbox) refused nothing: no text over 4,096 characters, no "not modified"
    edits = [c for c in sb.core.calls if c.method in ("sendMessage", "editMessageText")]
    assert len(edits) >= 88 and all(c.status == 200 for c in edits)


async def test_approving_without_the_familys_consent_needs_a_reason(sb) -> None:
    """One press never approves: a family that objected (or has not answered) or a score
    that is not "Siap" needs staff's own reason, which the facilitator then reads."""
    budi = await sb.user(FAC, "Budi")
    ani = await sb.user(STAFF, "Ani")
    rina = await sb.user(RINA, "Rina")
    siti = await sb.user(SITI, "Siti")
    statement = ("Pendapatan naik tiap bulan walau baru 2 bulan lapor; tabungan ada di koperasi;"
                 " anak sekolah semua; pangan cukup; jamban dan air bersih ada; rumah layak;"
                 " tanpa utang rentenir; BPJS PBI aktif")  # fmt: skip
    await budi.send(f"/konfirmasi {RINA_NIK} {statement}")
    await budi.send(f"/konfirmasi {SITI_NIK} Usaha jahit stabil, sudah menabung")
    rina_case, siti_case = await case_of(sb, RINA_NIK), await case_of(sb, SITI_NIK)
    await delivered(sb)
    await rina.press("Saya keberatan")
    await rina.send("Usaha saya masih baru, anak mau masuk SMP")

    # Rina objected and her score is not "Siap": the button says so and asks the reason
    await ani.send("/graduasi")
    await ani.press("Keberatan (1)")
    asked = (await ani.press(f"Setujui {rina_case}"))[-1]
    assert 'Keluarga keberatan: "Usaha saya masih baru' in asked.text
    assert "belum Siap graduasi" in asked.text and "tulis alasan" in asked.text
    assert asked.labels == ["Batal"]
    assert await sb.db.fetchval("SELECT status FROM graduation_cases WHERE id = ?",
                                (rina_case,)) == "confirmed"  # fmt: skip
    assert "Alasan terlalu pendek" in (await ani.send("oke"))[-1].text  # asked again
    done = (await ani.send("Sudah dibicarakan langsung, keluarga mau mencoba mandiri"))[-1]
    assert "DISETUJUI" in done.text

    # Siti has not answered: /setujui N alone asks too (no confirmation button, a reason)
    asked = (await ani.send(f"/setujui {siti_case}"))[-1]
    assert "Keluarga belum menjawab" in asked.text and asked.labels == ["Batal"]
    # staff cancel the question with /batal: told it is cancelled, nothing decided
    cancelled = (await ani.send("/batal"))[-1].text
    assert "Dibatalkan" in cancelled and "laporan" not in cancelled
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    assert "approve_reason_needed" not in cancelled

    # the facilitator reads the real reason, not a standard one that would be false
    await delivered(sb)
    told = [r.text for r in await budi.messages() if "DISETUJUI" in r.text]
    assert len(told) == 1 and "Alasan: Sudah dibicarakan langsung" in told[0]
    assert "Keluarga setuju" not in told[0]
    # the family's open question is closed by the decision: its buttons get a polite toast
    assert await sb.db.fetchval("SELECT family_answer FROM graduation_cases WHERE id = ?",
                                (siti_case,)) is None  # fmt: skip
    await ani.send(f"/setujui {siti_case} Keluarga sudah setuju lewat telepon ke pendamping")
    await siti.press("Setuju")
    assert "sudah diputuskan Dinas Sosial" in siti.last_answer()
    assert await sb.db.fetchval("SELECT family_answer FROM graduation_cases WHERE id = ?",
                                (siti_case,)) is None  # fmt: skip
    audit = await sb.db.fetchall(
        "SELECT details FROM audit_log WHERE action = 'graduation.approve'"
    )
    reasons = [json.loads(a["details"])["reason"] for a in audit]
    assert reasons == ["Sudah dibicarakan langsung, keluarga mau mencoba mandiri",
                       "Keluarga sudah setuju lewat telepon ke pendamping"]  # fmt: skip
