"""Cycle, /siaran, /berhenti and /mulai through the real Application and dispatcher: real
Update JSON in, the real PTB Bot out to an in-process fake Bot API (tests/fake_botapi.py),
a fake clock. (The shared sandbox was not on main while this was written.)"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from telegram import Update

from bot.app import build_application
from handlers.cycle import cycle_job
from tests import cycle_seed as seed
from tests.fake_botapi import TOKEN, FakeBotAPI

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


class Harness:
    def __init__(self, app, api, clock):
        self.app, self.api, self.clock = app, api, clock
        self._update_id = 0
        self.sender = app.bot_data["sender"]
        self.db = app.bot_data["db"]

    async def run_minute(self, when: dt.datetime) -> None:
        """What the per-minute job does at `when`, then the sender drains what is due."""
        self.clock.set(when)

        class Ctx:  # the job callback only reads context.application
            application = self.app

        await cycle_job(Ctx())
        await self.sender.drain()

    def texts(self, chat_id: int) -> list[str]:
        """The cycle's messages to the chat (the scheduled digests left out)."""
        digest = ("Ringkasan mingguan", "Laporan bulanan")
        return [t for t in self.api.sent.get(chat_id, []) if not t.startswith(digest)]

    def buttons(self, chat_id: int) -> list[tuple[str, str]]:
        markup = self.api.markups[chat_id][-1]
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]

    def _user(self, uid: int) -> dict:
        return {"id": uid, "is_bot": False, "first_name": f"U{uid}"}

    async def send(self, uid: int, text: str) -> None:
        self._update_id += 1
        msg = {"message_id": self._update_id, "date": 0, "chat": {"id": uid, "type": "private"},
               "from": self._user(uid), "text": text}  # fmt: skip
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0,
                                "length": len(text.split()[0])}]  # fmt: skip
        await self.app.process_update(Update.de_json({"update_id": self._update_id,
                                                      "message": msg}, self.app.bot))  # fmt: skip

    async def press(self, uid: int, label: str) -> None:
        data = dict(self.buttons(uid))[label]
        self._update_id += 1
        cq = {"id": str(self._update_id), "from": self._user(uid), "chat_instance": "x",
              "data": data, "message": {"message_id": 1, "date": 0,
                                        "chat": {"id": uid, "type": "private"}, "text": "x"}}  # fmt: skip
        await self.app.process_update(Update.de_json({"update_id": self._update_id,
                                                      "callback_query": cq}, self.app.bot))  # fmt: skip


@pytest.fixture
async def harness(settings, clock):
    api = FakeBotAPI()
    cfg = replace(settings, chats=replace(settings.chats, staff=[-100]))
    app = build_application(cfg, token=TOKEN, request=api, get_updates_request=FakeBotAPI(),
                            clock=clock, rate_limiter=False,
                            extra_bot_data={"sender_autostart": False})  # fmt: skip
    await app.initialize()
    await app.post_init(app)
    h = Harness(app, api, clock)
    # pacing has its own tests (test_outbox.py); here a group's 3 s spacing would only wait
    h.sender.limits = replace(
        h.sender.limits, private_interval_seconds=0.0, per_second=500.0, group_per_minute=60_000
    )
    yield h
    await app.post_shutdown(app)
    await app.shutdown()


@pytest.fixture
async def people(harness):
    db = harness.db
    d = await seed.desa(db, "Kalisapu")
    budi = await seed.facilitator(db, "Budi", chat_id=2001)
    ids = {
        "siti": await seed.recipient(db, "Siti", facilitator_id=budi, desa_id=d, chat_id=1001),
        "ani": await seed.recipient(db, "Ani", facilitator_id=budi, desa_id=d, chat_id=1002),
        "rina": await seed.recipient(db, "Rina", facilitator_id=budi),
    }
    await seed.account(db, 3001, "staff", kecamatan=seed.KEC_SLAWI, name="Staf Slawi")
    return ids


async def test_one_whole_period_with_a_fake_clock(harness, people):
    h = harness
    await h.run_minute(wib(2024, 2, 1, 7, 59))
    assert h.api.sent == {}
    await h.run_minute(wib(2024, 2, 1, 8, 0))  # open
    assert len(h.texts(1001)) == 1 and "sudah bisa diisi" in h.texts(1001)[0]
    assert len(h.texts(1002)) == 1
    await seed.report(h.db, people["siti"], "2024-01")  # Siti reports on the 3rd
    for day in range(2, 21):  # every day at 08:00 and a few minutes later
        for minute in (0, 1, 30):
            await h.run_minute(wib(2024, 2, day, 8, minute))
    # Siti: only the invitation; Ani: invitation + two reminders
    assert len(h.texts(1001)) == 1
    ani = h.texts(1002)
    assert [t.split("\n")[1][:20] for t in ani[:2]] == [
        "laporan usaha bulan ", "kami belum menerima "]  # fmt: skip
    assert len(ani) == 3 and "batas akhir" in ani[2]  # the last reminder: short, names the close
    (fac,) = h.texts(2001)  # escalation on the 12th: Ani and Rina are silent
    assert "2 keluarga" in fac and "Ani" in fac and "Rina" in fac and "Siti" not in fac
    staff = h.texts(3001)
    assert len(staff) == 2  # escalation (15th) and close (20th)
    assert "Budi: 1 sudah, 2 belum" in staff[0]
    assert "ditutup" in staff[1] and "1 dari 3" in staff[1]
    assert len(h.texts(-100)) == 2  # the configured staff group chat too
    rows = await seed.outbox(h.db, "status = 'sent'")
    when = {(r["chat_id"], r["step"]): r["sent_at"] for r in rows}
    assert when[(1002, "reminder1")] == wib(2024, 2, 5, 8).isoformat()
    assert when[(1002, "reminder2")] == wib(2024, 2, 10, 8).isoformat()
    assert when[(2001, "escalate_facilitator")] == wib(2024, 2, 12, 8).isoformat()
    assert when[(3001, "escalate_staff")] == wib(2024, 2, 15, 8).isoformat()
    assert when[(3001, "close")] == wib(2024, 2, 20, 8).isoformat()


async def test_quiet_hours_message_waits_for_morning(harness, people):
    h = harness
    await h.run_minute(wib(2024, 2, 5, 22, 0))  # back after an outage, at night
    assert h.api.sent == {}
    await h.run_minute(wib(2024, 2, 6, 5, 59))
    assert h.api.sent == {}
    await h.run_minute(wib(2024, 2, 6, 6, 0))
    assert len(h.texts(1001)) == 1 and len(h.texts(1002)) == 1


async def test_three_day_outage_each_step_once(harness, people):
    h = harness
    await h.run_minute(wib(2024, 2, 4, 8))
    await h.run_minute(wib(2024, 2, 13, 9))  # down from the 4th to the 13th
    await h.run_minute(wib(2024, 2, 13, 9, 1))
    assert len(h.texts(1002)) == 2  # open, then one late reminder (reminder2), not three
    assert len(h.texts(2001)) == 1
    skipped = await h.db.fetchall("SELECT step FROM cycle_steps WHERE status='skipped'")
    assert [r["step"] for r in skipped] == ["reminder1"]


async def test_berhenti_and_mulai(harness, people):
    h = harness
    await h.send(1001, "/berhenti")
    assert "tidak akan mengirim" in h.texts(1001)[-1]
    await h.run_minute(wib(2024, 2, 1, 8))
    assert len(h.texts(1001)) == 1 and len(h.texts(1002)) == 1  # Siti got nothing new
    await h.send(1001, "/mulai")
    await h.run_minute(wib(2024, 2, 5, 8))
    assert "kami belum menerima" in h.texts(1001)[-1]
    await h.send(3001, "/berhenti")
    assert "hanya untuk penerima" in h.texts(3001)[-1]


async def test_siaran_preview_confirm_and_report(harness, people):
    h = harness
    await seed.desa(h.db, "Lebaksiu Kidul", seed.KEC_LEBAKSIU)
    await seed.recipient(h.db, "Jauh", kecamatan=seed.KEC_LEBAKSIU, chat_id=1009)
    h.api.blocked.add(1002)
    await h.send(3001, "/siaran")
    assert [label for label, _ in h.buttons(3001)][0] == "Semua penerima"
    await h.press(3001, "Per kecamatan")
    assert [label for label, _ in h.buttons(3001)] == ["Slawi"]  # only their region
    await h.press(3001, "Slawi")
    assert "2 orang" in h.texts(3001)[-1]
    await h.send(3001, "Pasar murah hari Sabtu di balai desa.")
    assert "Akan dikirim ke 2 orang" in h.texts(3001)[-1]
    await h.press(3001, "Kirim")
    assert "masuk antrean untuk 2 orang" in h.texts(3001)[-1]
    await h.sender.drain()
    assert h.texts(1001)[-1] == "Pasar murah hari Sabtu di balai desa."
    assert h.texts(1009) == []
    report = h.texts(3001)[-1]
    assert "Terkirim: 1" in report and "Tidak terjangkau: 1" in report
    (notice,) = h.texts(2001)  # Ani blocked the bot: her facilitator is told
    assert "Ani" in notice and "memblokir" in notice


async def test_siaran_refused_for_recipient_and_outside_region(harness, people):
    h = harness
    await h.send(1001, "/siaran")
    assert "hanya untuk staf" in h.texts(1001)[-1]
    await h.send(3001, "/siaran")
    await h.press(3001, "Per kecamatan")
    # a forged button for another kecamatan
    h.api.markups[3001].append({"inline_keyboard": [[{"text": "X",
                                "callback_data": f"sia:val:kecamatan:{seed.KEC_LEBAKSIU}"}]]})  # fmt: skip
    await h.press(3001, "X")
    assert "di luar wilayah Anda" in h.texts(3001)[-1]


async def test_blocked_user_who_writes_again_is_reachable(harness, people):
    h = harness
    h.api.blocked.add(1002)
    await h.run_minute(wib(2024, 2, 1, 8))
    assert await h.db.fetchval("SELECT reachable FROM accounts WHERE chat_id = 1002") == 0
    assert "Ani" in h.texts(2001)[0]
    h.api.blocked.discard(1002)
    await h.send(1002, "/start")
    assert await h.db.fetchval("SELECT reachable FROM accounts WHERE chat_id = 1002") == 1
    await h.run_minute(wib(2024, 2, 5, 8))
    assert "kami belum menerima" in h.texts(1002)[-1]


async def test_siaran_shows_progress_of_a_running_broadcast(harness, people):
    h = harness
    await h.send(3001, "/siaran")
    await h.press(3001, "Semua penerima")
    await h.send(3001, "Rapat kelompok Jumat.")
    await h.press(3001, "Kirim")
    await h.send(3001, "/siaran")  # before the sender ran
    assert "0 dari 2 terkirim, 2 menunggu" in h.texts(3001)[-1]


@pytest.mark.parametrize(("use_fake_clock", "flag", "scheduled"),
                         [(False, None, True), (True, None, False), (True, True, True)])  # fmt: skip
async def test_cycle_job_is_scheduled_on_the_real_clock_only(settings, clock, use_fake_clock,
                                                             flag, scheduled):  # fmt: skip
    extra = {"sender_autostart": False}
    if flag is not None:
        extra["cycle_job"] = flag
    app = build_application(settings, token=TOKEN, request=FakeBotAPI(),
                            get_updates_request=FakeBotAPI(),
                            clock=clock if use_fake_clock else None, rate_limiter=False,
                            extra_bot_data=extra)  # fmt: skip
    await app.initialize()
    await app.post_init(app)
    try:
        assert bool(app.job_queue.get_jobs_by_name("cycle")) is scheduled
    finally:
        await app.post_shutdown(app)
        await app.shutdown()
