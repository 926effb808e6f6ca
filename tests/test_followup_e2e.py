"""End to end through the sandbox (real PTB, real SQLite, a FakeClock): after graduation the
3-month check-in reaches the graduate, "Usaha tutup" alerts the facilitator and staff, staff
reopen mentoring and the family gets the next monthly invitation."""

from __future__ import annotations

import pytest

from bot.callbacks import encode
from bot.render import render
from bot.services.cycle import tick
from tests.followup_seed import ADMIN, ANI, BUDI, FAR_STAFF, SITI, STAFF, WATI, wib, world
from tests.outbox_wait import delivered

pytestmark = [
    pytest.mark.both_engines,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


async def run_minute(sb, when) -> None:
    """What the per-minute job does at `when`: one tick, wake the sender, wait for it."""
    sb.clock.set(when)
    await tick(sb.db, sb.settings, sb.clock())
    sb.app.bot_data["sender"].wake()
    await delivered(sb)


async def inject(sb, user, data: str) -> str | None:
    """A press a modified client sends (any data, on the newest bot message): the toast."""
    message_id = user.replies()[-1].message_id if user.replies() else None
    result = sb.core.inject_callback(user.id, message_id, data)
    await sb.idle(result["update_id"])
    return sb.core.callback_queries[result["callback_query_id"]]["answer"]


async def test_check_in_alert_reopen_and_the_next_invitation(sandbox_factory, clock) -> None:
    clock.set(wib(2024, 10, 1, 9, 0))
    sb = await sandbox_factory(seed=world)
    u = {uid: await sb.user(uid, name) for uid, name in [
        (SITI, "Siti"), (WATI, "Wati"), (ANI, "Ani"), (BUDI, "Budi"), (STAFF, "Staf"),
        (FAR_STAFF, "Jauh"), (ADMIN, "Admin")]}  # fmt: skip
    siti, budi, staff = u[SITI], u[BUDI], u[STAFF]
    nik = await sb.db.fetchval("SELECT nik FROM recipients WHERE name = 'Siti'")
    case = await sb.db.fetchval(
        "SELECT g.id FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
        " WHERE r.name = 'Siti'"
    )

    # the day before: nothing; at decision + 3 months, 08:00 WIB: the question
    await run_minute(sb, wib(2024, 10, 2, 8, 0))
    assert await siti.messages() == []
    await run_minute(sb, wib(2024, 10, 3, 8, 0))
    await run_minute(sb, wib(2024, 10, 3, 8, 1))  # a second tick asks nothing more
    (question,) = await siti.messages()
    assert "Apakah usaha masih berjalan, dan apakah penghasilan cukup?" in question.text
    assert question.labels == ["Berjalan, cukup", "Berjalan, belum cukup", "Usaha tutup"]

    # she answers "Usaha tutup": thanked, the buttons go, facilitator and staff are alerted
    changed = await siti.press("Usaha tutup")
    assert any("jawaban Anda sudah tercatat" in r.text for r in changed)
    assert (await siti.messages())[0].labels == []
    sb.app.bot_data["sender"].wake()
    await delivered(sb)
    alert = (await budi.last()).text
    assert "Siti" in alert and "Desa Kalisapu" in alert and "usaha tutup" in alert
    assert f"{nik[:4]}********{nik[-4:]}" in alert and nik not in alert
    staff_alert = await staff.last()
    assert "usaha tutup" in staff_alert.text and staff_alert.labels == ["Buka kembali pendampingan"]
    assert "usaha tutup" in (await u[ADMIN].last()).text
    assert await u[FAR_STAFF].messages() == []  # another kecamatan is not told

    # a second press, a forged one, another family's press: a polite toast, nothing changes
    data = encode("flw", "a", question_id := await sb.db.fetchval(
        "SELECT id FROM followup_checkins WHERE account_id ="
        " (SELECT id FROM accounts WHERE telegram_user_id = ?)", (SITI,)), "cukup")  # fmt: skip
    before = len(await siti.messages())
    assert await inject(sb, siti, data) == render("followup_error", key="already", context={})
    assert await inject(sb, u[ANI], data) == render("followup_error", key="stale", context={})
    assert await inject(sb, siti, f"flw:a:{question_id}:ya") == render(
        "followup_error", key="stale", context={}
    )
    assert await inject(sb, siti, "flw:a:x1:tutup") == render("button_invalid")
    assert len(await siti.messages()) == before
    assert (
        await sb.db.fetchval("SELECT answer FROM followup_checkins WHERE id = ?", (question_id,))
        == "tutup"
    )
    assert await sb.db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'alert'") == 3

    # a graduate typing /lapor (or pressing its menu's Lapor) is told kindly that monthly
    # reports ended with graduation and check-ins come instead; no month is offered
    for words in ("/lapor", "Lapor"):
        ended = (await siti.send(words))[-1]
        assert "laporan bulanan sudah selesai" in ended.text and ended.labels == [], words
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 0

    # staff: the alert's button says how; bad input is refused kindly; a name search; reopen
    howto = (await staff.press("Buka kembali pendampingan"))[-1]
    assert f"/buka_kembali {case} <alasan>" in howto.text and nik not in howto.text
    assert "pesan berikutnya" in howto.text and howto.labels == ["Batal"]
    # the button asks the reason in the next message; Batal drops the question
    assert "Dibatalkan" in (await staff.press("Batal"))[-1].text
    assert await sb.db.fetchval("SELECT count(*) FROM graduation_waits") == 0
    assert "10 sampai 500 huruf" in (await staff.send(f"/buka_kembali {case} pendek"))[-1].text
    assert (
        "hanya untuk staf"
        in (await budi.send(f"/buka_kembali {case} alasan yang panjang"))[-1].text
    )
    assert "tidak ditemukan" in (await u[FAR_STAFF].send(
        f"/buka_kembali {nik} Usaha tutup, perlu didampingi"))[-1].text  # fmt: skip
    assert "Cara memakai" in (await staff.send("/buka_kembali"))[-1].text
    for bad in ("99999999999999999999", "-5", "12.5", "3328-1000", "²"):
        usage = (await staff.send(f"/buka_kembali {bad} alasan yang cukup panjang"))[-1].text
        assert "Cara memakai" in usage, bad
    found = (await staff.send("/buka_kembali siti"))[-1]
    assert "Siti" in found.text and "Wati" not in found.text and "usaha tutup" in found.text
    # the button carries the number the command uses (the case), not the list's position
    assert nik not in found.text and found.labels == [f"Buka kembali pendampingan {case}"]
    assert f"nomor {case}" in found.text
    await staff.press(f"Buka kembali pendampingan {case}")
    assert "10 sampai 500 huruf" in (await staff.send("pendek"))[-1].text  # asked again
    done = (await staff.send("Usaha katering tutup sejak September"))[-1].text
    assert "dibuka kembali" in done and "1 November 2024" in done and nik not in done
    assert "tidak diteruskan" not in done
    # the family (last told its assistance ended) and the facilitator are told, kindly
    sb.app.bot_data["sender"].wake()
    await delivered(sb)
    told = (await siti.last()).text
    assert "pendampingan Anda dibuka kembali" in told and "1 November 2024" in told
    assert "katering" not in told  # the reason is for the facilitator
    told = (await budi.last()).text
    assert "dibuka kembali" in told and "Alasan: Usaha katering tutup sejak September" in told
    assert "sudah dibuka kembali" in (await staff.send(
        f"/buka_kembali {case} Usaha katering tutup sejak September"))[-1].text  # fmt: skip
    assert await sb.db.fetchval("SELECT status FROM recipients WHERE name = 'Siti'") == "active"
    audit = await sb.db.fetchone(
        "SELECT actor, details FROM audit_log WHERE action = 'followup.reopen'"
    )
    staff_id = await sb.db.fetchval("SELECT id FROM accounts WHERE telegram_user_id = ?", (STAFF,))
    assert audit["actor"] == f"account:{staff_id}" and "sejak September" in audit["details"]

    # September's reminders are not hers; November's invitation (for October) is
    n = len(await siti.messages())
    await run_minute(sb, wib(2024, 10, 5, 8, 0))
    assert len(await siti.messages()) == n
    assert "kami belum menerima" in (await u[ANI].last()).text
    await run_minute(sb, wib(2024, 11, 1, 8, 0))
    invitation = await siti.last()
    assert "sudah bisa diisi" in invitation.text and "Oktober 2024" in invitation.text
    assert invitation.labels == ["Lapor sekarang"]
