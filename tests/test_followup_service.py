"""The follow-up after graduation against real SQLite: planning by the tick (once, late, out of
quiet hours, superseded), answers stored once, alerts, reopening (audited, scoped, refused
kindly) and the cycle mentoring the family again; the graduates export's columns."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from bot.callbacks import decode
from bot.commands.graduates import COLUMNS, _write
from bot.services import followup as fu
from bot.services.accounts import get_account
from bot.services.cycle import tick
from bot.services.graduation import approved_graduates
from tests.followup_seed import (
    ADMIN,
    ANI,
    BUDI,
    FAR_STAFF,
    SITI,
    STAFF,
    WATI,
    wib,
    world,
)

pytestmark = pytest.mark.both_engines


async def rid_of(db, name: str) -> int:
    return await db.fetchval("SELECT id FROM recipients WHERE name = ?", (name,))


async def nik_of(db, name: str) -> str:
    return await db.fetchval("SELECT nik FROM recipients WHERE name = ?", (name,))


async def case_of(db, name: str) -> int:
    return await db.fetchval(
        "SELECT g.id FROM graduation_cases g JOIN recipients r ON r.id = g.recipient_id"
        " WHERE r.name = ?",
        (name,),
    )


async def followups(db) -> list[dict]:
    rows = await db.fetchall("SELECT * FROM outbox WHERE kind = 'followup' ORDER BY id")
    return [dict(r) for r in rows]


async def checkin_of(db, name: str, step: str = "m3") -> int:
    return await db.fetchval(
        "SELECT c.id FROM followup_checkins c JOIN recipients r ON r.id = c.recipient_id"
        " WHERE r.name = ? AND c.step = ?",
        (name, step),
    )


async def acc(db, tg: int):
    return await get_account(db, tg)


async def test_the_check_in_is_planned_once_when_due_with_three_buttons(db, settings) -> None:
    await world(db)
    await tick(db, settings, wib(2024, 10, 3, 7, 59))
    assert await followups(db) == []
    result = await tick(db, settings, wib(2024, 10, 3, 8, 0))
    assert sorted(m.who.split(" (")[0] for m in result.planned if m.kind == "followup") == [
        "graduate Siti", "graduate Wati"
    ]  # fmt: skip
    rows = await followups(db)
    assert len(rows) == 2 and {r["chat_id"] for r in rows} == {SITI, WATI}
    siti = next(r for r in rows if r["chat_id"] == SITI)
    assert "Apakah usaha masih berjalan, dan apakah penghasilan cukup?" in siti["text"]
    assert siti["not_before"] == "2024-10-03T01:00:00+00:00"
    buttons = json.loads(siti["attachment"])["reply_markup"]["inline_keyboard"]
    assert [b[0]["text"] for b in buttons] == [
        "Berjalan, cukup", "Berjalan, belum cukup", "Usaha tutup"
    ]  # fmt: skip
    checkin = await checkin_of(db, "Siti")
    assert [decode(b[0]["callback_data"]).args for b in buttons] == [
        (checkin, "cukup"), (checkin, "belum"), (checkin, "tutup")
    ]  # fmt: skip
    # every later tick, however many: nothing more
    for when in (wib(2024, 10, 3, 8, 1), wib(2024, 10, 20, 8, 0), wib(2024, 12, 1, 8, 0)):
        await tick(db, settings, when)
    assert len(await followups(db)) == 2
    assert await db.fetchval("SELECT count(*) FROM followup_checkins") == 2
    # the 6-month one in its turn
    await tick(db, settings, wib(2025, 1, 3, 8, 0))
    assert [r["step"].split(":")[1] for r in await followups(db)] == ["m3", "m3", "m6", "m6"]


async def test_a_late_tick_asks_once_and_a_superseded_one_never(db, settings) -> None:
    await world(db)
    # the bot was down from September to late December: the 3-month question goes out once
    await tick(db, settings, wib(2024, 12, 20, 8, 0))
    await tick(db, settings, wib(2024, 12, 21, 8, 0))
    assert [r["step"].split(":")[1] for r in await followups(db)] == ["m3", "m3"]
    # a dry run shows the 6-month one but writes nothing
    dry = await tick(db, settings, wib(2025, 1, 3, 8, 0), dry_run=True)
    assert len([m for m in dry.planned if m.kind == "followup"]) == 2
    assert await db.fetchval("SELECT count(*) FROM followup_checkins") == 2


async def test_first_tick_after_the_six_month_date_asks_only_that_one(db, settings) -> None:
    await world(db)
    await tick(db, settings, wib(2025, 1, 5, 8, 0))
    assert [r["step"].split(":")[1] for r in await followups(db)] == ["m6", "m6"]
    # past the stale limit (decision + 9 months) nothing new is asked
    await db.execute("DELETE FROM outbox")
    await db.execute("DELETE FROM followup_checkins")
    await tick(db, settings, wib(2025, 4, 3, 8, 0))
    assert await followups(db) == []


async def test_quiet_hours_muted_and_late_linked(db, settings) -> None:
    await world(db)
    await db.execute("UPDATE accounts SET muted = 1 WHERE telegram_user_id = ?", (WATI,))
    await tick(db, settings, wib(2024, 10, 3, 22, 0))  # first tick after the due time: night
    (row,) = await followups(db)
    assert row["chat_id"] == SITI and row["not_before"] == "2024-10-03T23:00:00+00:00"  # 06 WIB
    # Wati unmutes later while the question is current: she is asked then
    await db.execute("UPDATE accounts SET muted = 0 WHERE telegram_user_id = ?", (WATI,))
    await tick(db, settings, wib(2024, 10, 10, 9, 0))
    assert {r["chat_id"] for r in await followups(db)} == {SITI, WATI}


async def test_an_answer_is_stored_once_and_a_closed_business_alerts(db, settings) -> None:
    await world(db)
    await tick(db, settings, wib(2024, 10, 3, 8, 0))
    checkin, now = await checkin_of(db, "Siti"), wib(2024, 10, 3, 9, 0)
    siti = await acc(db, SITI)
    # forged, stale and wrong presses change nothing
    for who, cid, answer in [(ANI, checkin, "tutup"), (STAFF, checkin, "tutup"),
                             (BUDI, checkin, "cukup"), (SITI, checkin, "ya"),
                             (SITI, 999_999, "tutup"), (SITI, await checkin_of(db, "Wati"), "cukup")]:  # fmt: skip
        with pytest.raises(fu.FollowupError) as err:
            await fu.answer_checkin(db, settings, await acc(db, who), cid, answer, now)
        assert err.value.key == "stale", (who, cid, answer)
    with pytest.raises(fu.FollowupError):
        await fu.answer_checkin(db, settings, None, checkin, "tutup", now)
    assert await db.fetchval("SELECT count(*) FROM followup_checkins WHERE answer IS NOT NULL") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0

    answered = await fu.answer_checkin(db, settings, siti, checkin, "tutup", now)
    assert answered.answer == "tutup" and answered.months == 3 and answered.alerts == 3
    alerts = [dict(r) for r in await db.fetchall(
        "SELECT * FROM outbox WHERE kind = 'alert' ORDER BY id")]  # fmt: skip
    assert {a["chat_id"] for a in alerts} == {BUDI, STAFF, ADMIN}  # not staff of Lebaksiu
    nik = await nik_of(db, "Siti")
    for a in alerts:
        assert "Siti" in a["text"] and "Desa Kalisapu" in a["text"] and "usaha tutup" in a["text"]
        assert nik not in a["text"] and f"{nik[:4]}********{nik[-4:]}" in a["text"]
        assert a["priority"] == 2
    by_chat = {a["chat_id"]: a for a in alerts}
    assert by_chat[BUDI]["attachment"] is None and "/buka_kembali" not in by_chat[BUDI]["text"]
    button = json.loads(by_chat[STAFF]["attachment"])["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "Buka kembali pendampingan"
    assert decode(button["callback_data"]).args == (await case_of(db, "Siti"),)

    # a second press (another button of the same question, or a retry): already recorded
    with pytest.raises(fu.FollowupError) as err:
        await fu.answer_checkin(db, settings, siti, checkin, "cukup", now)
    assert err.value.key == "already"
    row = await db.fetchone("SELECT answer, answered_by FROM followup_checkins WHERE id = ?",
                            (checkin,))  # fmt: skip
    assert row["answer"] == "tutup" and row["answered_by"] == siti.id
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'alert'") == 3
    audit = await db.fetchall("SELECT action, details FROM audit_log WHERE action LIKE 'followup%'")
    assert [a["action"] for a in audit] == ["followup.answer"]

    # a good answer alerts nobody; 'belum cukup' does
    wati = await acc(db, WATI)
    assert (await fu.answer_checkin(db, settings, wati, await checkin_of(db, "Wati"), "cukup",
                                    now)).alerts == 0  # fmt: skip


async def test_reopening_is_for_staff_with_a_reason_audited_once(db, settings) -> None:
    await world(db)
    await tick(db, settings, wib(2024, 10, 3, 8, 0))
    now, nik = wib(2024, 10, 3, 10, 0), await nik_of(db, "Siti")
    reason = "Usaha katering tutup sejak September"
    for who, ref, why, key in [
        (BUDI, nik, reason, "staff_only"),
        (SITI, nik, reason, "staff_only"),
        (STAFF, nik, "pendek", "reason_length"),
        (STAFF, nik, None, "reason_length"),
        (STAFF, nik, "          ", "reason_length"),
        (FAR_STAFF, nik, reason, "not_found"),  # another kecamatan: no hint it exists
        (STAFF, "3328100000009999", reason, "not_found"),
        (STAFF, 987_654, reason, "not_found"),
    ]:
        with pytest.raises(fu.FollowupError) as err:
            await fu.reopen(db, settings, await acc(db, who), ref, why, now)
        assert err.value.key == key, (who, ref, why)
    with pytest.raises(fu.FollowupError):
        await fu.reopen(db, settings, None, nik, reason, now)
    assert await db.fetchval("SELECT status FROM recipients WHERE nik = ?", (nik,)) == "graduated"
    assert await db.fetchval("SELECT count(*) FROM followup_reopenings") == 0

    staff = await acc(db, STAFF)
    done = await fu.reopen(db, settings, staff, nik, f"  {reason} ", now)
    assert done.graduate.name == "Siti" and done.reason == reason
    assert done.first_period == "2024-10" and done.invitation_at == wib(2024, 11, 1, 8, 0)
    row = await db.fetchone("SELECT status, status_reason FROM recipients WHERE nik = ?", (nik,))
    assert row["status"] == "active" and reason in row["status_reason"]
    audit = await db.fetchone(
        "SELECT at, actor, action, entity_id, details FROM audit_log WHERE action = 'followup.reopen'"
    )
    assert audit["actor"] == f"account:{staff.id}" and audit["at"] == "2024-10-03T03:00:00+00:00"
    assert audit["entity_id"] == str(await rid_of(db, "Siti"))
    details = json.loads(audit["details"])
    assert details["reason"] == reason and details["case_id"] == await case_of(db, "Siti")
    assert nik not in audit["details"]
    for ref in (nik, await case_of(db, "Siti")):
        with pytest.raises(fu.FollowupError) as err:
            await fu.reopen(db, settings, staff, ref, reason, now)
        assert err.value.key == "already_reopened"
    # the question sent before the reopening is stale now
    with pytest.raises(fu.FollowupError) as err:
        await fu.answer_checkin(db, settings, await acc(db, SITI), await checkin_of(db, "Siti"),
                                "cukup", now)  # fmt: skip
    assert err.value.key == "stale"
    # the admin reopens Wati by case number
    admin = await acc(db, ADMIN)
    assert (await fu.reopen(db, settings, admin, await case_of(db, "Wati"), reason, now)).graduate.name == "Wati"  # fmt: skip


async def test_search_by_name_is_scoped_and_literal(db, settings) -> None:
    await world(db)
    staff, far = await acc(db, STAFF), await acc(db, FAR_STAFF)
    assert [g.name for g in await fu.search_graduates(db, staff, "  wAt ")] == ["Wati"]
    assert {g.name for g in await fu.search_graduates(db, staff, "ti")} == {"Siti", "Wati"}
    assert await fu.search_graduates(db, staff, "Ani") == []  # still mentored: not a graduate
    assert await fu.search_graduates(db, far, "Siti") == []
    assert await fu.search_graduates(db, staff, "%%") == []
    assert await fu.search_graduates(db, staff, "_i") == []
    for who, query, key in [(STAFF, "S", "search_short"), (STAFF, "  ", "search_short"),
                            (BUDI, "Siti", "staff_only")]:  # fmt: skip
        with pytest.raises(fu.FollowupError) as err:
            await fu.search_graduates(db, await acc(db, who), query)
        assert err.value.key == key


async def test_a_reopened_family_is_mentored_again_from_the_next_invitation(db, settings) -> None:
    await world(db)
    await fu.reopen(db, settings, await acc(db, STAFF), await nik_of(db, "Siti"),
                    "Usaha tutup, perlu didampingi lagi", wib(2024, 10, 3, 10, 0))  # fmt: skip

    async def cycle_rows(chat: int) -> list[str]:
        rows = await db.fetchall(
            "SELECT period, step FROM outbox WHERE kind = 'cycle' AND chat_id = ? ORDER BY id",
            (chat,),
        )
        return [f"{r['period']}/{r['step']}" for r in rows]

    # September's reminders are not hers: she was a graduate in September
    await tick(db, settings, wib(2024, 10, 5, 8, 0))
    await tick(db, settings, wib(2024, 10, 10, 8, 0))
    assert await cycle_rows(SITI) == []
    assert await cycle_rows(ANI) == ["2024-09/reminder1", "2024-09/reminder2"]
    # no more check-ins for her; Wati (still a graduate) is asked
    assert {r["chat_id"] for r in await followups(db)} == {WATI}
    await tick(db, settings, wib(2024, 11, 1, 8, 0))
    assert await cycle_rows(SITI) == ["2024-10/open"]
    # the window lasts six periods (October to March): she is ended at March's close
    await tick(db, settings, wib(2025, 3, 20, 8, 0))
    assert await db.fetchval("SELECT status FROM recipients WHERE name = 'Siti'") == "active"
    await tick(db, settings, wib(2025, 4, 20, 8, 0))
    assert await db.fetchval("SELECT status FROM recipients WHERE name = 'Siti'") == "ended"


async def test_the_graduates_export_keeps_graduates_with_their_follow_up(db, settings, tmp_path):
    await world(db)
    await tick(db, settings, wib(2024, 10, 3, 8, 0))
    siti = await acc(db, SITI)
    await fu.answer_checkin(db, settings, siti, await checkin_of(db, "Siti"), "tutup",
                            wib(2024, 10, 4, 9, 0))  # fmt: skip
    await fu.reopen(db, settings, await acc(db, STAFF), await case_of(db, "Siti"),
                    "Usaha tutup, perlu didampingi lagi", wib(2024, 10, 5, 10, 0))  # fmt: skip
    rows = await fu.with_followup(db, await approved_graduates(db))
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"Siti", "Wati"}  # a reopened graduate stays in the export
    assert by_name["Siti"]["followup_m3"] == "usaha tutup"
    assert by_name["Siti"]["followup_m3_date"] == "2024-10-04"
    assert by_name["Siti"]["followup_m6"] == "" and by_name["Siti"]["followup_m6_date"] == ""
    assert by_name["Siti"]["reopened_date"] == "2024-10-05"
    assert by_name["Siti"]["reopen_reason"] == "Usaha tutup, perlu didampingi lagi"
    assert by_name["Wati"]["followup_m3"] == "belum dijawab"
    assert by_name["Wati"]["reopened_date"] == ""
    out = tmp_path / "lulusan.csv"
    _write(out, rows)
    with out.open(encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0][-6:] == [
        "Tindak lanjut 3 bulan", "Tanggal jawaban 3 bulan", "Tindak lanjut 6 bulan",
        "Tanggal jawaban 6 bulan", "Dibuka kembali", "Alasan dibuka kembali",
    ]  # fmt: skip
    assert len(table[0]) == len(COLUMNS)
    assert "usaha tutup" in next(r for r in table[1:] if r[0] == "Siti")


async def test_a_check_in_planned_in_the_tick_is_rolled_back_with_it(db, settings) -> None:
    """The check-in row and its outbox row are one transaction with the tick."""
    await world(db)
    await db.execute("UPDATE accounts SET reachable = 0 WHERE telegram_user_id = ?", (WATI,))
    before = dt.datetime(2024, 10, 3, 1, 0, tzinfo=dt.UTC)
    await tick(db, settings, before, dry_run=True)
    assert await db.fetchval("SELECT count(*) FROM followup_checkins") == 0
    await tick(db, settings, before)
    assert await db.fetchval("SELECT count(*) FROM followup_checkins") == 1
