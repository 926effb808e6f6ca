"""End to end through the sandbox: 5 months of reports -> facilitator confirms -> staff approve."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from bot.db import Database  # noqa: E402
from bot.domain.consent import NOTICE_VERSION  # noqa: E402
from bot.domain.scoring import BAND_LABELS, Observation  # noqa: E402
from bot.services.cycle import tick  # noqa: E402
from tests.outbox_wait import delivered  # noqa: E402
from tests.scoring_db import add_account, add_facilitator, add_recipient, add_report, add_visit  # noqa: E402

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NIK = "3328064107850001"
RECIPIENT, FACILITATOR, STAFF, NEIGHBOUR = 1001, 1002, 1003, 1006


async def seed(db: Database) -> None:
    fac = await add_facilitator(db)
    rid = await add_recipient(db, NIK, facilitator_id=fac, handover="2024-01-05", receives_pkh=1,
                              receives_sembako=1, welfare_decile=1)  # fmt: skip
    for month in ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"):
        obs = Observation(month, "berjalan", profit=2_400_000, other_income=600_000,
                          household_size=4, has_savings=True, keeps_books=True,
                          income_sources=2, equipment_ok=True)  # fmt: skip
        await add_report(db, rid, obs)
    await add_visit(db, rid, "2024-06-20", (4, 4, 5, 5), fac)
    await add_account(db, RECIPIENT, "recipient", recipient_id=rid)
    fac_account = await add_account(db, FACILITATOR, "facilitator", facilitator_id=fac)
    await add_account(db, STAFF, "staff", kec="33.28.06")
    # the facilitator has read the privacy notice (needed to fill in a visit form)
    await db.execute(
        "UPDATE accounts SET consent_version = ?, consent_at = linked_at WHERE id = ?",
        (NOTICE_VERSION, fac_account),
    )


async def seed_with_neighbour(db: Database) -> None:
    """A neighbour still in mentoring (no reports, so no candidate): she keeps her reminders."""
    await seed(db)
    fac = await db.fetchval("SELECT id FROM facilitators")
    other = await add_recipient(db, "3328064107850002", name="Ani", facilitator_id=fac)
    await add_account(db, NEIGHBOUR, "recipient", recipient_id=other)


async def test_graduation_from_reports_to_staff_approval(sandbox_factory, clock) -> None:
    clock.set(dt.datetime(2024, 7, 3, 2, 0, tzinfo=dt.UTC))
    sandbox = await sandbox_factory(seed=seed_with_neighbour)
    siti = await sandbox.user(RECIPIENT, "Siti")
    budi = await sandbox.user(FACILITATOR, "Budi")
    ani = await sandbox.user(STAFF, "Ani")
    neighbour = await sandbox.user(NEIGHBOUR, "Ani")

    # the recipient's own view: encouraging, no score number, no band label
    progress = (await siti.send("/kemajuan"))[-1].text
    assert "Kemajuan usaha Anda" in progress and "Rp2.400.000" in progress
    assert not any(label in progress for label in BAND_LABELS.values())
    assert "graduasi" not in progress.lower() and "skor" not in progress.lower()
    stripped = re.sub(r"Rp[\d.]+|\b20\d\d\b", "", progress)
    assert not re.search(r"\d", stripped), stripped

    # before the kunjungan graduasi the checklist is unknown, so the family is not ready yet
    before = (await budi.send(f"/skor {NIK}"))[-1].text
    assert (
        "Menuju graduasi" in before and "tabungan (dilihat pendamping): belum diketahui" in before
    )
    assert "Butir penting kunjungan graduasi" in before
    # the explanation names checklist items in words and months as people say them
    assert "jamban & air bersih (belum diketahui)" in before and "jamban_air" not in before
    assert not re.search(r"\b20\d\d-\d\d\b", before), before

    # the facilitator makes the graduation visit through the new form
    picker = (await budi.send("/kunjungan_graduasi"))[-1]
    assert "Kunjungan graduasi ke siapa" in picker.text
    await budi.press(next(label for label in picker.labels if "Siti" in label))
    for action, value in [("press", "Hari ini"), ("press", "Ya"), ("press", "Ya"),
                          ("press", "Ya"), ("press", "Ya"), ("press", "Ya"),
                          ("send", "500rb"), ("press", "Tidak"), ("press", "Tidak tahu"),
                          ("press", "Lewati")]:  # fmt: skip
        await (budi.press(value) if action == "press" else budi.send(value))
    saved = await budi.press("Simpan")
    assert any("Kunjungan graduasi ke Siti Aminah" in r.text for r in saved)
    checks = await sandbox.db.fetchall(
        "SELECT item, met, amount FROM graduation_checks ORDER BY id"
    )
    assert {r["item"]: r["met"] for r in checks} == {
        "pangan": 1, "sekolah": 1, "jamban_air": 1, "rumah": 1, "tabungan": 1,
        "rentenir": 1, "bpjs": None,
    }  # fmt: skip

    # the facilitator sees the score with reasons (NIK masked) and confirms after the visit
    score = (await budi.send(f"/skor {NIK}"))[-1].text
    assert "Siap graduasi" in score and "3328********0001" in score and NIK not in score
    assert "Kecukupan pendapatan" in score
    assert "cukup pangan: terpenuhi" in score and "BPJS PBI/JKN: belum diketahui" in score
    assert "PKH ya, sembako ya, desil 1" in score
    # right after the kunjungan graduasi is saved: "Usulkan graduasi", no NIK typed
    assert any("Usulkan graduasi" in r.labels for r in saved)
    prompt = (await budi.press("Usulkan graduasi"))[-1].text
    assert "Usulan graduasi: Siti Aminah" in prompt and "Skor" in prompt
    done = await budi.send("Usaha jahit stabil, sudah menabung tiap minggu")
    assert "tercatat" in done[-1].text

    # staff see the proposal card in their region and approve with the button
    listing = (await ani.send("/graduasi"))[-1]
    assert "Menunggu keputusan Anda (1)" in listing.text and "Usaha jahit stabil" in listing.text
    assert "PKH ya, sembako ya, desil 1" in listing.text
    assert listing.labels[:2] == ["Setujui 1", "Tolak 1"]
    # the family has not answered yet: approving asks staff's own reason first
    asked = (await ani.press("Setujui 1"))[-1].text
    assert "Keluarga belum menjawab" in asked
    approved = await ani.send("Sudah bertemu keluarga, mereka setuju lulus")
    assert any("DISETUJUI" in r.text for r in approved)
    await delivered(sandbox)  # the congratulation goes through the outbox
    congrats = (await siti.last()).text
    assert "Selamat" in congrats
    assert (
        await sandbox.db.fetchval(
            "SELECT count(*) FROM outbox WHERE kind = 'notice' AND status = 'sent'"
        )
        == 3  # the family's question, then the congratulation and the facilitator's notice
    )

    # graduation ends the mentoring: reminders stopped. The next period's open and reminder steps
    # remind the neighbour, never the graduate.
    for day in (1, 5, 10):
        when = dt.datetime(2024, 8, day, 1, 0, tzinfo=dt.UTC)  # 08:00 WIB
        sandbox.clock.set(when)
        await tick(sandbox.db, sandbox.settings, when)
        sandbox.app.bot_data["sender"].wake()  # as the minute job does after its tick
        await delivered(sandbox)
    reminded = await sandbox.db.fetchall(
        "SELECT a.telegram_user_id, o.step FROM outbox o JOIN accounts a ON a.id = o.account_id"
        " WHERE o.kind = 'cycle'"
    )
    assert {r["step"] for r in reminded} == {"open", "reminder1", "reminder2"}
    assert {r["telegram_user_id"] for r in reminded} == {NEIGHBOUR}
    assert (await siti.last()).text == congrats
    assert len(await neighbour.messages()) == 3

    db = sandbox.db
    assert await db.fetchval("SELECT status FROM recipients WHERE nik = ?", (NIK,)) == "graduated"
    audit = await db.fetchall("SELECT actor, action, details FROM audit_log ORDER BY id")
    actions = [a["action"] for a in audit]
    assert actions[-2:] == ["graduation.confirm", "graduation.approve"]
    details = json.loads(audit[-1]["details"])
    staff_id = await db.fetchval("SELECT id FROM accounts WHERE telegram_user_id = ?", (STAFF,))
    assert audit[-1]["actor"] == f"account:{staff_id}"
    assert details["score"] >= 50 and details["model_version"].startswith("2.0+")
    assert NIK not in audit[-1]["details"]
    # no longer waiting for a decision
    assert "Tidak ada usulan yang menunggu" in (await ani.send("/graduasi"))[-1].text


async def seed_more(db: Database) -> None:
    """As seed, with the kunjungan graduasi already recorded (every item met)."""
    from tests.scoring_db import add_checklist
    from tests.scoring_examples import checklist

    await seed(db)
    rid = await db.fetchval("SELECT id FROM recipients WHERE nik = ?", (NIK,))
    await add_checklist(db, rid, checklist("2024-06-20"))
    await add_account(db, 1004, "staff", kec="33.28.10")  # another kecamatan
    other = await add_facilitator(db, "PD-202")
    await add_account(db, 1005, "facilitator", facilitator_id=other)


async def test_scope_rejection_and_end_of_mentoring(sandbox_factory, clock) -> None:
    clock.set(dt.datetime(2024, 7, 3, 2, 0, tzinfo=dt.UTC))
    sandbox = await sandbox_factory(seed=seed_more)
    budi = await sandbox.user(FACILITATOR, "Budi")
    ani = await sandbox.user(STAFF, "Ani")
    far_staff = await sandbox.user(1004, "Dewi")
    far_fac = await sandbox.user(1005, "Eko")
    siti = await sandbox.user(RECIPIENT, "Siti")

    assert "tidak ditemukan" in (await far_fac.send(f"/skor {NIK}"))[-1].text
    assert "Cara memakai" in (await budi.send("/skor 123"))[-1].text
    assert "hanya untuk pendamping dan staf" in (await siti.send(f"/skor {NIK}"))[-1].text
    assert "hanya untuk staf" in (await budi.send("/graduasi"))[-1].text
    await budi.send(f"/skor {NIK}")
    await budi.send(f"/konfirmasi {NIK} Sudah dikunjungi, usaha stabil")
    assert "Menunggu keputusan Anda (0)" in (await far_staff.send("/graduasi"))[-1].text
    case_id = await sandbox.db.fetchval("SELECT id FROM graduation_cases")
    # reject: the button asks for the reason in the next message; so does /tolak without one
    await ani.send("/graduasi")
    howto = await ani.press(f"Tolak {case_id}")
    assert f"Tolak usulan no. {case_id}" in howto[-1].text
    assert "alasan" in (await ani.send(f"/tolak {case_id}"))[-1].text.lower()
    rejected = (await ani.send(f"/tolak {case_id} Tunggu satu bulan lagi"))[-1].text
    assert "DITOLAK" in rejected and "Tunggu satu bulan lagi" in rejected
    assert await sandbox.db.fetchval("SELECT status FROM recipients") == "active"
    # end mentoring for another reason
    ended = (await ani.send(f"/akhiri {NIK} pindah Pindah ke Brebes"))[-1].text
    assert "diakhiri: pindah" in ended and NIK not in ended
    assert await sandbox.db.fetchval("SELECT status FROM recipients") == "ended"
    actions = [r[0] for r in await sandbox.db.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-3:] == ["graduation.confirm", "graduation.reject", "mentoring.end"]
