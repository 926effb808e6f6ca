"""`pendamping demo`: months of mentoring fast-forwarded through the real bot, offline.

The real Application runs against the embedded sandbox with its own database in the output
folder and a clock the demo moves. Everything a person would do happens in chat: invite links
are opened, the privacy notice acknowledged, reports typed and buttons pressed. Scheduled
work runs the way the per-minute job runs it: tick(now), then the outbox sender delivers.
Nothing in the transcript or the summary is canned: both are read back from the sandbox's
record of the chats and from the demo database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from bot.clock import ManualClock
from bot.config import BackupSettings, ChatsSettings, OutboxSettings, Settings
from bot.db import Database
from bot.demo import personas as P
from bot.domain.forms import next_question
from bot.domain.periods import add_periods
from bot.render import render
from bot.sandbox.driver import Sandbox
from bot.services import reports as report_svc
from bot.services.accounts import get_account
from bot.services.cycle import iso
from bot.services.invites import create_invites
from bot.services.minute import run_minute
from bot.services.registry_import import import_registry
from bot.services.registry_source import open_source

WIB = ZoneInfo("Asia/Jakarta")
DEMO_DATA = Path(__file__).resolve().parent.parent / "demo_data" / "penerima-contoh.xlsx"
STAFF_GROUP = -1001000000001
STAFF_USER = 900001
ADMIN_USER = 900002
FACILITATOR_BASE = 800000
RECIPIENT_BASE = 700000
FIRST_PERIOD = "2023-12"  # hand-over 22-11-2023: the first full month after it


def wib(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=WIB)


@dataclass
class Person:
    user_id: int
    name: str
    role: str  # recipient | facilitator | staff | admin
    recipient_id: int | None = None
    facilitator_id: int | None = None
    programme: str | None = None
    persona: P.Persona | None = None
    desa: str | None = None
    nik: str | None = None


@dataclass
class Event:
    """Something a featured person did, for the transcript (bot messages come from the sandbox)."""

    chat_id: int
    after_message_id: int  # the bot message it answered (ordering in the transcript)
    when: dt.datetime
    who: str
    text: str


@dataclass
class DemoResult:
    out: Path
    transcript: str
    digest: str
    counts: dict[str, int]
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    monthly: str = ""
    compact: str = ""


class Demo:
    """One run: the sandbox, the bot, the simulated people and what they did."""

    def __init__(self, out: Path, periods: int, say: Callable[[str], None]) -> None:
        self.out = out
        self.periods = periods
        self.say = say
        self.clock = ManualClock(wib(2024, 1, 1, 7, 0))
        base = Settings()
        self.settings = replace(
            base,
            database=str(out / "demo.db"),
            chats=ChatsSettings(operator=None, staff=[STAFF_GROUP]),
            # Time is fast-forwarded, so pacing real seconds at Telegram's 30/s would only
            # make the demo slow; the sandbox does not enforce limits in the demo either.
            backup=BackupSettings(keep=0),  # no daily backups of a throw-away database
            outbox=OutboxSettings(per_second=2000.0, private_interval_seconds=0.0,
                                  group_per_minute=6000, in_flight=32),
            # The demo fast-forwards only a few months; the "verified months since hand-over"
            # gate (6 in production) is set to what the demo runs, so a family can graduate
            # if it meets every other gate (income, UMK, the kunjungan graduasi) honestly.
            scoring=replace(base.scoring, min_verified_months=min(periods, 6)),
        )  # fmt: skip
        # The whole call log is kept: the transcript is checked against it (tests/test_demo.py).
        self.sb = Sandbox(self.settings, self.clock, rate_limiter=False, door="in_process",
                          call_log_size=1_000_000)  # fmt: skip
        self.people: dict[int, Person] = {}
        self.featured: dict[int, str] = {}  # chat id -> title in the transcript
        self.events: list[Event] = []

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def db(self) -> Database:
        return self.sb.db

    async def minute(self, when: dt.datetime) -> None:
        """What the per-minute job (handlers/cycle.py) does at `when`, then the sender
        delivers what is due."""
        self.clock.set(when)
        await run_minute(self.db, self.settings, self.clock())
        await self.deliver()

    async def deliver(self) -> None:
        sender = self.sb.app.bot_data["sender"]
        sender.wake()
        for _ in range(6000):
            n = await self.db.fetchval(
                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                " AND not_before <= ?",
                (iso(self.clock()),),
            )
            if n == 0:
                break
            await asyncio.sleep(0.01)
        await self.sb.idle(within=120)

    def _last_bot_message_id(self, chat_id: int) -> int:
        found = self.sb.core.chat_messages(chat_id)
        return found[-1]["message_id"] if found else 0

    def _note(self, person: Person, text: str) -> None:
        if person.user_id in self.featured:
            self.events.append(
                Event(person.user_id, self._last_bot_message_id(person.user_id), self.clock(),
                      person.name, text)
            )  # fmt: skip

    def send(self, person: Person, text: str) -> int:
        self._note(person, text)
        return self.sb.core.send(person.user_id, text=text)["update_id"]

    def share_contact(self, person: Person, phone: str | None) -> int:
        """Press "share my phone number": Telegram sends the person's own contact."""
        self._note(person, f"[{render('btn_share_contact')}]")
        number = phone or f"62857{person.user_id % 10_000_000:07d}"
        contact = {"phone_number": number, "first_name": person.name.split()[0],
                   "user_id": person.user_id}  # fmt: skip
        return self.sb.core.send(person.user_id, contact=contact)["update_id"]

    async def _confirm_waiting(self) -> None:
        """Facilitators answer "Akun baru untuk ...: benar?" for families without a number."""
        yes = render("btn_confirm_yes")
        asks = [
            (p, view["message_id"], b["callback_data"])
            for p in self.people.values() if p.role in ("facilitator", "staff", "admin")
            for view in self.sb.core.chat_messages(p.user_id)
            for row in view["buttons"] for b in row if b["text"] == yes
        ]  # fmt: skip
        for p, message_id, data in asks:
            self._note(p, f"[{yes}]")
            self.sb.core.press(p.user_id, message_id, data)
        await self.sb.idle(within=300)

    def press(self, person: Person, label: str) -> int:
        """Press the newest button with this label in the person's chat (without waiting)."""
        for view in reversed(self.sb.core.chat_messages(person.user_id)):
            for row in view["buttons"]:
                for button in row:
                    if button["text"] == label and button.get("callback_data"):
                        self._note(person, f"[{label}]")
                        result = self.sb.core.press(
                            person.user_id, view["message_id"], button["callback_data"]
                        )
                        return result["update_id"]
        raise RuntimeError(f"demo: no button {label!r} for {person.name}")

    def find_button(self, person: Person, match: Callable[[str], bool]) -> str | None:
        """The label of the first button on the person's newest message that matches."""
        views = self.sb.core.chat_messages(person.user_id)
        if not views:
            return None
        return next((b["text"] for row in views[-1]["buttons"] for b in row if match(b["text"])),
                    None)  # fmt: skip

    def has_button(self, person: Person, label: str) -> bool:
        views = self.sb.core.chat_messages(person.user_id)
        return bool(views) and any(b["text"] == label for row in views[-1]["buttons"] for b in row)

    async def round(self, actions: list[Callable[[], int]]) -> None:
        """Everyone acts once (their updates queue up), then the bot works through them."""
        for act in actions:
            act()
        await self.sb.idle(within=300)

    # --- the story ---------------------------------------------------------------------------

    async def setup(self) -> None:
        async def load(db: Database) -> None:
            source = open_source(DEMO_DATA)
            try:
                result = await import_registry(
                    db, source, self.clock(), self.settings.programmes, actor="demo"
                )
            finally:
                source.close()
            self.import_summary = result

        await self.sb.seed(load)
        await self.sb.start()
        self.say(f"imported the sample workbook: {await self._count('recipients')} recipients, "
                 f"{await self._count('facilitators')} facilitators")  # fmt: skip

    async def _count(self, table: str, where: str = "1=1", params: tuple = ()) -> int:
        return int(await self.db.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", params))

    async def _code(self, **kw: Any) -> str:
        cards = await create_invites(
            self.db, self.clock(), bot_username=self.settings.bot_username,
            expiry_days=self.settings.invites.expiry_days, created_by="demo", **kw,
        )  # fmt: skip
        return parse_qs(urlparse(cards[0].link).query)["start"][0]

    async def onboard(self) -> None:
        """Invite links handed out and opened: staff, facilitators, families with a phone."""
        self.clock.set(wib(2024, 1, 1, 7, 0))
        staff = Person(STAFF_USER, "Bu Ratna (Dinsos)", "staff")
        admin = Person(ADMIN_USER, "Pak Hendra (admin)", "admin")
        joins: list[tuple[Person, str]] = [
            (staff, await self._code(role="staff", name=staff.name)),
            (admin, await self._code(role="admin", name=admin.name)),
        ]
        for i, row in enumerate(await self.db.fetchall(
            "SELECT id, code, name FROM facilitators ORDER BY code"
        )):  # fmt: skip
            p = Person(FACILITATOR_BASE + i, row["name"], "facilitator", facilitator_id=row["id"])
            joins.append((p, await self._code(role="facilitator", facilitator_code=row["code"])))
        rows = await self.db.fetchall(
            "SELECT r.id, r.nik, r.name, r.programme, d.name AS desa FROM recipients r"
            " LEFT JOIN desa d ON d.id = r.desa_id ORDER BY r.id"
        )
        self.personas = P.assign([r["id"] for r in rows])
        for i, row in enumerate(rows):
            persona = self.personas[row["id"]]
            p = Person(RECIPIENT_BASE + i, row["name"], "recipient", recipient_id=row["id"],
                       programme=row["programme"], persona=persona, desa=row["desa"],
                       nik=row["nik"])  # fmt: skip
            self.people[p.user_id] = p
            if persona.linked:
                joins.append((p, await self._code(role="recipient", niks=[row["nik"]])))
        for p, _ in joins:
            self.people[p.user_id] = p
            self.sb.core.add_user(p.user_id, p.name.split(",")[0].split()[0])
        fac_user = {p.facilitator_id: p.user_id for p in self.people.values()
                    if p.role == "facilitator"}  # fmt: skip
        self._pick_featured(
            {r["id"]: fac_user.get(r["facilitator_id"]) for r in await self.db.fetchall(
                "SELECT id, facilitator_id FROM recipients")}
        )  # fmt: skip
        self.sb.core.add_group(STAFF_GROUP, "Staf Dinsos Kab. Tegal", [STAFF_USER, ADMIN_USER])
        await self.round([partial(self.send, p, f"/start {c}") for p, c in joins])
        # a family's link completes when they share their own number with the contact button;
        # the register's number matches (a family without one waits for its facilitator)
        phones = {r["id"]: r["phone"] for r in await self.db.fetchall(
            "SELECT id, phone FROM recipients")}  # fmt: skip
        await self.round([partial(self.share_contact, p, phones.get(p.recipient_id))
                          for p, _ in joins if p.role == "recipient"])  # fmt: skip
        await self._confirm_waiting()
        consent = render("btn_consent")
        # a family confirmed by its facilitator reads the notice with /profil
        await self.round([partial(self.send, p, "/profil") for p, _ in joins
                          if not self.has_button(p, consent)])  # fmt: skip
        await self.round([partial(self.press, p, consent) for p, _ in joins])
        linked = await self._count("accounts", "consent_at IS NOT NULL")
        self.account_ids = {
            r["telegram_user_id"]: r["id"]
            for r in await self.db.fetchall("SELECT id, telegram_user_id FROM accounts")
        }
        self.say(f"{len(joins)} people opened their invite link and acknowledged the "
                 f"privacy notice ({linked} accounts linked)")  # fmt: skip

    def _pick_featured(self, fac_of: dict[int, int | None]) -> None:
        """A few chats to print: one family of each kind, their facilitator, the staff member."""
        self._fac_of = fac_of
        for kind in (P.MAJU, P.TERLAMBAT, P.KESULITAN):
            p = next(p for p in self.people.values()
                     if p.persona is not None and p.persona.kind == kind)  # fmt: skip
            self.featured[p.user_id] = f"{p.name} (penerima, {p.programme}, {kind})"
            fac_user = self._facilitator_of(p)
            if kind == P.MAJU and fac_user is not None:
                fac = self.people[fac_user]
                self.featured[fac.user_id] = f"{fac.name} (pendamping)"
        self.featured[STAFF_USER] = "Bu Ratna (staf Dinas Sosial)"

    def _facilitator_of(self, p: Person) -> int | None:
        """The Telegram user id of the family's facilitator (None without a linked one)."""
        return None if p.recipient_id is None else self._fac_of.get(p.recipient_id)

    async def report_round(self, reporters: list[Person], period_index: int,
                           on_behalf: dict[int, Person] | None = None) -> int:  # fmt: skip
        """Each reporter fills in the monthly report through the chat, one step per round."""
        on_behalf = on_behalf or {}
        plans: dict[int, dict[str, Any]] = {}
        for p in reporters:
            target = on_behalf.get(p.user_id, p)
            assert target.persona is not None and target.programme is not None
            plans[p.user_id] = P.answers(target.persona, target.programme, period_index)
        await self.round([partial(self.send, p, "/lapor") for p in reporters])
        for p in reporters:
            if p.user_id in on_behalf:
                await self._pick_recipient(p, on_behalf[p.user_id])
        saved = 0
        active = list(reporters)
        for _ in range(40):
            actions: list[Callable[[], int]] = []
            still: list[Person] = []
            drafts = await report_svc.open_drafts(self.db)
            for p in active:
                act = self._next_action(p, plans[p.user_id], drafts)
                if act is None:
                    continue
                if act == ("press", "!save"):
                    saved += 1
                else:
                    still.append(p)
                actions.append(self._action(p, act))
            if not actions:
                break
            await self.round(actions)
            active = still
        return saved

    async def _pick_recipient(self, facilitator: Person, target: Person) -> None:
        wanted = f"{target.name} - {target.desa}"[:40]
        for _ in range(20):
            label = self.find_button(  # "Name - Desa", maybe after a mark ("✅ ", "✏️ ")
                facilitator,
                lambda t: t.startswith(wanted) or t.partition(" ")[2].startswith(wanted),
            )
            if label is not None:
                await self.round([partial(self.press, facilitator, label)])
                return
            nxt = render("form_label", name="next")
            if not self.has_button(facilitator, nxt):
                raise RuntimeError(f"demo: {wanted} not in {facilitator.name}'s caseload")
            await self.round([partial(self.press, facilitator, nxt)])
        raise RuntimeError("demo: caseload pages did not end")

    def _next_action(
        self, p: Person, plan: dict[str, Any], drafts: dict[int, Any]
    ) -> tuple[str, str] | None:
        """What the person does next, from the question their open draft is at."""
        account_id = self.account_ids.get(p.user_id)
        if account_id is None:
            return None
        draft = drafts.get(account_id)
        if draft is None:
            views = self.sb.core.chat_messages(p.user_id)
            labels = [b["text"] for row in views[-1]["buttons"] for b in row] if views else []
            if labels and p.role == "recipient":  # asked which month: the open one first
                return ("label", labels[0])
            return None
        q = next_question(draft.form, draft.answers)
        if q is None:
            return ("press", "!save")
        how, value = plan[q.key]
        return (how, str(value))

    def _action(self, p: Person, act: tuple[str, str]) -> Callable[[], int]:
        how, value = act
        if how == "send":
            return lambda: self.send(p, value)
        label = value if how == "label" else render("form_label", name=value)
        return lambda: self.press(p, label)

    async def period(self, index: int) -> None:
        period = add_periods(FIRST_PERIOD, index)
        year, month = (int(x) for x in add_periods(period, 1).split("-"))
        cfg = self.settings.cycle
        self.say(f"period {period}: opens {year}-{month:02d}-{cfg.open_day:02d}")
        recipients = [p for p in self.people.values() if p.role == "recipient"]
        linked = [p for p in recipients if p.persona and p.persona.linked]
        when = {p.user_id: P.reports_when(p.persona, index) for p in recipients if p.persona}

        await self.minute(wib(year, month, cfg.open_day, cfg.delivery_hour))
        self.clock.set(wib(year, month, cfg.open_day, 19, 30))
        early = [p for p in linked if when[p.user_id] == "early"]
        saved = await self.report_round(early, index)
        await self.deliver()  # help requests reach the facilitator
        if index == 0:
            await self.family_side()
        for day in cfg.reminder_days:
            await self.minute(wib(year, month, day, cfg.delivery_hour))
            if day == cfg.reminder_days[0]:
                self.clock.set(wib(year, month, day, 12, 15))
                late = [p for p in linked if when[p.user_id] == "late"]
                saved += await self.report_round(late, index)
        await self.minute(wib(year, month, cfg.escalate_facilitator_day, cfg.delivery_hour))
        self.clock.set(wib(year, month, cfg.escalate_facilitator_day, 16, 0))
        saved += await self._facilitators_report(recipients, when, index)
        await self.minute(wib(year, month, cfg.escalate_staff_day, cfg.delivery_hour))
        await self.minute(wib(year, month, cfg.close_day, cfg.delivery_hour))
        self.say(f"period {period}: {saved} reports saved in chat, "
                 f"{await self._count('reports', 'period = ?', (period,))} in the database")  # fmt: skip

    async def family_side(self) -> None:
        """A family writes to its facilitator outside any form (forwarded through the outbox)
        and the facilitator answers with Telegram's Reply; a family that has reported corrects
        one answer (the report opens prefilled, "Ubah" per answer, saved as a revision)."""
        featured = [self.people[u] for u in self.featured if u in self.people]
        writer = next((p for p in featured if p.persona and p.persona.kind == P.KESULITAN), None)
        fac_user = self._facilitator_of(writer) if writer is not None else None
        if writer is not None and fac_user is not None:
            fac = self.people[fac_user]
            self.featured.setdefault(fac.user_id, f"{fac.name} (pendamping)")
            self.clock.set(self.clock() + dt.timedelta(minutes=40))
            await self.round([lambda: self.send(writer, P.message_for(writer.programme or ""))])
            await self.deliver()
            forwarded = self._last_bot_message_id(fac.user_id)
            answer = "Baik, Bu. Besok pagi saya mampir ke rumah, kita lihat bersama."
            self._note(fac, f"(membalas pesan itu) {answer}")
            self.sb.core.send(fac.user_id, text=answer, reply_to=forwarded)
            await self.sb.idle(within=60)
            await self.deliver()
        fixer = next((p for p in featured if p.persona and p.persona.kind == P.MAJU), None)
        if fixer is None or not await self._count(
            "reports", "recipient_id = ? AND period = ?", (fixer.recipient_id, FIRST_PERIOD)
        ):
            return
        await self.round([lambda: self.send(fixer, "/lapor")])
        # the correction opens at the summary: "Ubah", then the answer to change
        await self.round([lambda: self.press(fixer, render("form_label", name="!edit"))])
        edit = self.find_button(fixer, lambda t: t == render("form_label", name="s_revenue"))
        if edit is None:
            return
        await self.round([lambda: self.press(fixer, edit)])
        await self.round([lambda: self.send(fixer, "5jt200")])
        await self.round([lambda: self.press(fixer, render("form_label", name="ya"))])
        await self.round([lambda: self.press(fixer, render("form_label", name="!save"))])

    async def _facilitators_report(self, recipients: list[Person], when: dict[int, str | None],
                                   index: int) -> int:  # fmt: skip
        """After the escalation each facilitator reports for families without a report."""
        queues: dict[int, list[Person]] = {}
        for p in recipients:
            fac = self._facilitator_of(p)
            if when[p.user_id] == "facilitator" and fac is not None:
                queues.setdefault(fac, []).append(p)
        saved = 0
        while any(queues.values()):
            batch = {fac: q.pop(0) for fac, q in queues.items() if q}
            saved += await self.report_round(
                [self.people[f] for f in batch], index,
                on_behalf={f: target for f, target in batch.items()},
            )  # fmt: skip
        return saved

    async def graduation(self) -> None:
        """The facilitator visits a thriving family twice (a regular visit with the rubric,
        then the kunjungan graduasi checklist); if every gate then holds, the facilitator
        confirms and staff approve in chat."""
        from bot.services import graduation as grad

        staff_account = await get_account(self.db, STAFF_USER)
        assert staff_account is not None
        featured_maju = {self.people[u].recipient_id for u, t in self.featured.items()
                         if P.MAJU in t}  # fmt: skip
        thriving = sorted(
            (p for p in self.people.values()
             if p.persona is not None and p.persona.kind == P.MAJU
             and p.recipient_id is not None and self._fac_of.get(p.recipient_id) is not None),
            key=lambda p: (p.recipient_id not in featured_maju, p.recipient_id),
        )  # fmt: skip
        if not thriving:
            self.say("graduation candidates: no thriving family with a facilitator")
            return
        target = thriving[0]
        # the filter above kept only people with a recipient, a persona and a facilitator
        assert target.recipient_id is not None and target.persona is not None
        fac_user = self._fac_of[target.recipient_id]
        assert fac_user is not None
        fac = self.people[fac_user]
        self.featured.setdefault(fac.user_id, f"{fac.name} (pendamping)")
        self.clock.set(self.clock() + dt.timedelta(days=2, hours=2))
        plan = {**P.answers(target.persona, target.programme or "", 0), **P.GRADUATION_VISIT}
        for command in ("/kunjungan", "/kunjungan_graduasi"):
            await self.round([partial(self.send, fac, command)])
            await self._pick_recipient(fac, target)
            for _ in range(20):
                act = self._next_action(fac, plan, await report_svc.open_drafts(self.db))
                if act is None:
                    break
                await self.round([self._action(fac, act)])
                if act == ("press", "!save"):
                    break
        found = await grad.candidates(self.db, self.settings, staff_account)
        self.say(f"graduation candidates after {self.periods} periods: {len(found)}")
        if not any(c.recipient.id == target.recipient_id for c in found):
            return
        # the proposal from the saved kunjungan graduasi ("Usulkan graduasi", no NIK typed),
        # the family's agreement, the staff card, the decision and the notices
        self.featured.setdefault(target.user_id, f"{target.name} (penerima)")
        propose = render("caseload_button", name="graduate", count=None)
        await self.round([lambda: self.press(fac, propose)])
        await self.round([lambda: self.send(fac, "Usaha berjalan baik dan stabil, siap mandiri")])
        await self.deliver()
        agree = render("graduasi_label", key="agree")
        if any(
            b["text"] == agree
            for v in self.sb.core.chat_messages(target.user_id)
            for row in v["buttons"]
            for b in row
        ):  # a linked, reachable family is asked
            await self.round([lambda: self.press(target, agree)])
        await self.round([lambda: self.send(self.people[STAFF_USER], "/graduasi")])
        staff = self.people[STAFF_USER]
        approve = next(
            (b["text"] for v in reversed(self.sb.core.chat_messages(STAFF_USER))
             for row in v["buttons"] for b in row if b["text"].startswith("Setujui")),
            None,
        )  # fmt: skip
        if approve:
            # approving asks first: a confirmation when the family agreed and the score is
            # "Siap"; otherwise what is missing and staff's reason in the next message
            await self.round([lambda: self.press(staff, approve)])
            confirm = self.find_button(staff, lambda t: t.startswith("Ya, setujui"))
            if confirm:
                await self.round([lambda: self.press(staff, confirm)])
            elif self.has_button(staff, render("graduasi_label", key="cancel")):
                reason = "Dicek langsung saat kunjungan graduasi, keluarga siap mandiri"
                await self.round([lambda: self.send(staff, reason)])
        await self.deliver()

    async def followup(self) -> None:
        """Three months after the graduation: the check-in reaches the graduate, who answers
        "Berjalan, belum cukup"; the facilitator and staff are alerted (no reopening: the
        counts show the graduation). Only the follow-up part of the tick runs at that instant
        (bot.services.followup.plan_checkins): the other families' months are not
        fast-forwarded. The clock goes back afterwards, so the outputs keep the demo's date."""
        from bot.domain.followup import due_at
        from bot.services.followup import plan_checkins

        row = await self.db.fetchone(
            "SELECT g.recipient_id, g.decided_at FROM graduation_cases g"
            " WHERE g.kind = 'graduation' AND g.status = 'approved' ORDER BY g.id LIMIT 1"
        )
        graduate = next((p for p in self.people.values()
                         if row is not None and p.recipient_id == row["recipient_id"]
                         and p.role == "recipient"), None)  # fmt: skip
        if row is None or graduate is None:
            return
        self.featured.setdefault(graduate.user_id, f"{graduate.name} (penerima, lulus graduasi)")
        back = self.clock()
        decided = dt.datetime.fromisoformat(row["decided_at"])
        self.clock.set(due_at(decided, 3, self.settings.cycle.delivery_hour, self.settings.tz))
        async with self.db.transaction() as conn:
            await plan_checkins(conn, self.settings, self.clock())
        await self.deliver()
        label = render("followup_button", key="belum")
        if self.has_button(graduate, label):
            self.clock.set(self.clock() + dt.timedelta(hours=3))
            await self.round([lambda: self.press(graduate, label)])
            await self.deliver()
        self.say(f"follow-up: {graduate.name} asked 3 months after graduation")
        self.clock.set(back)

    async def staff_summary(self) -> str:
        staff = self.people[STAFF_USER]
        await self.round([lambda: self.send(staff, "/ringkasan")])
        # the text, then the period's export as a document: the last message with a text
        messages = self.sb.core.chat_messages(STAFF_USER)
        return next((m["text"] for m in reversed(messages) if m.get("text")), "")

    # --- outputs -----------------------------------------------------------------------------

    def transcript(self, compact: bool = False) -> str:
        """The featured chats: bot messages as sent, then each edit where it happened.

        compact: the first 40 and the last 25 messages of each chat (the full one is in
        transcript.txt).
        """
        out: list[str] = []
        for chat_id, title in self.featured.items():
            lines = self._chat_lines(chat_id)
            if compact and len(lines) > 65:
                lines = [*lines[:40], f"    ... ({len(lines) - 65} pesan lagi di transcript.txt)",
                         *lines[-25:]]  # fmt: skip
            out += [f"=== {title} ===", *lines, ""]
        return "\n".join(out)

    def _chat_lines(self, chat_id: int) -> list[str]:
        """One entry per message as it was sent, the person's actions placed after the message
        they answered, and each edit of a message (a page turned, a card after a decision) as
        its own entry where it happened: the transcript shows what people saw at the time."""
        entries: list[tuple[int, int, int, str]] = []  # (after message id, kind, seq, line)
        for m in self.sb.core.bot_messages(chat_id):
            edits = m.edits
            body = (edits[0]["before"] if edits else None) or m.data.get("text") or \
                m.data.get("caption") or _attachment(m.data)  # fmt: skip
            when = dt.datetime.fromtimestamp(m.data["date"], WIB)
            entries.append((m.message_id, 0, len(entries),
                            f"[{when:%d-%m-%Y %H:%M}] Bot: " + body.replace("\n", "\n    ")))  # fmt: skip
            for edit in edits:
                when = dt.datetime.fromtimestamp(edit["date"], WIB)
                entries.append((edit["after_message_id"], 2, len(entries),
                                f"[{when:%d-%m-%Y %H:%M}] Bot (pesan diubah): "
                                + edit["after"].replace("\n", "\n    ")))  # fmt: skip
        for e in self.events:
            if e.chat_id == chat_id:
                entries.append((e.after_message_id, 1, len(entries), self._event_line(e)))
        return [line for *_, line in sorted(entries)]

    @staticmethod
    def _event_line(e: Event) -> str:
        text = "/start <kode undangan>" if e.text.startswith("/start ") else e.text
        return f"[{e.when.astimezone(WIB):%d-%m-%Y %H:%M}] {e.who}: {text}"

    async def counts(self) -> dict[str, int]:
        return {
            "recipients": await self._count("recipients"),
            "facilitators": await self._count("facilitators"),
            "accounts_linked": await self._count("accounts", "consent_at IS NOT NULL"),
            "reports": await self._count("reports"),
            "reports_by_facilitator": await self._count("reports", "reporter_role='facilitator'"),
            "reports_late": await self._count("reports", "late = 1"),
            "messages_sent": await self._count("outbox", "status = 'sent'"),
            "help_requests": await self._count("report_flags", "kind = 'help_request'"),
            "graduated": await self._count("recipients", "status = 'graduated'"),
        }


def _attachment(data: dict[str, Any]) -> str:
    if "photo" in data:
        return "(gambar)"
    if "document" in data:
        return f"(berkas {data['document'].get('file_name', '')})"
    return "(pesan)"


async def _keep_ids(demo: Demo) -> list[str]:
    """Who to chat as after --keep: one linked family per programme, one facilitator, staff."""
    rows = await demo.db.fetchall(
        "SELECT a.telegram_user_id AS id, a.role, r.programme FROM accounts a"
        " LEFT JOIN recipients r ON r.id = a.recipient_id"
        " WHERE a.role IN ('recipient', 'facilitator') ORDER BY a.telegram_user_id"
    )
    picked: dict[str, int] = {}
    for row in rows:
        what = f"family ({row['programme']})" if row["role"] == "recipient" else "facilitator"
        picked.setdefault(what, row["id"])
    picked["staff"] = STAFF_USER
    lines = []
    for what, user_id in picked.items():
        person = demo.people.get(user_id)
        name = person.name.split(",")[0].split()[0] if person else what
        lines.append(f"  as {what}: pendamping sandbox chat --as {user_id} --name {name}"
                     f" --url {demo.sb.url}")  # fmt: skip
    return lines


async def run_demo(
    out: Path,
    *,
    periods: int = 4,
    keep: bool = False,
    say: Callable[[str], None] = print,
    show: Callable[[DemoResult], None] | None = None,
) -> DemoResult:
    """Run the demo into `out`; show(result) is called as soon as the outputs are written
    (before --keep waits for Ctrl-C)."""
    started = time.monotonic()
    demo = Demo(out, periods, say)
    await demo.setup()
    try:
        await demo.onboard()
        for index in range(periods):
            await demo.period(index)
        await demo.graduation()
        digest = await demo.staff_summary()
        await demo.followup()
        result = DemoResult(out, demo.transcript(), digest, await demo.counts())
        result.compact = demo.transcript(compact=True)
        result.files += await _write_outputs(demo, result)
        result.seconds = time.monotonic() - started
        if show is not None:
            show(result)
        if keep:
            say(f"sandbox and bot keep running at {demo.sb.url}: "
                f"pendamping sandbox chat --as {STAFF_USER} --url {demo.sb.url} (Ctrl-C to stop)")  # fmt: skip
            for line in await _keep_ids(demo):
                say(line)
            from bot.commands.sandbox import wait_for_stop_signal

            await wait_for_stop_signal()
        return result
    finally:
        await demo.sb.stop()


async def _write_outputs(demo: Demo, result: DemoResult) -> list[Path]:
    from bot.services import digests

    out = demo.out
    files = []
    (out / "transcript.txt").write_text(result.transcript + "\n", encoding="utf-8")
    (out / "digest.txt").write_text(result.digest + "\n", encoding="utf-8")
    (out / "counts.json").write_text(json.dumps(result.counts, indent=2) + "\n", encoding="utf-8")
    calls = [
        {"method": c["method"], "params": c.get("params", {})} for c in demo.sb.core.call_log()
    ]
    (out / "calls.json").write_text(json.dumps(calls, ensure_ascii=False, default=str),
                                    encoding="utf-8")  # fmt: skip
    files += [out / "transcript.txt", out / "digest.txt", out / "counts.json", out / "calls.json"]
    last = add_periods(FIRST_PERIOD, demo.periods - 1)
    bundle = await digests.monthly(demo.db, last, demo.clock(), demo.settings, None, out)
    (out / "monthly.txt").write_text(bundle.text + "\n", encoding="utf-8")
    result.monthly = bundle.text
    files += [out / "monthly.txt", *bundle.charts, bundle.export]
    return files
