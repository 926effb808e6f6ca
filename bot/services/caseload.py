"""The facilitator's family list (/daftar with filters), search (/cari) and family card.

What needs action comes first: an open help request, then open cross-check flags, then
families not reported yet while the close date is near, graduation candidates and families
not linked to Telegram. A family outside the caseload is answered exactly like one that does
not exist (ReportError "not_found").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.domain import periods as P
from bot.services.accounts import Account, get_account
from bot.services.graduation import candidate_ids
from bot.services.invitations import invite_now
from bot.services.read_model import effective_reports
from bot.services.reports import FlagView, ReportError, open_flags

if TYPE_CHECKING:
    from bot.db import Database

FILTERS = ("missing", "help", "check", "ready", "unlinked", "all")
CLOSE_NEAR_DAYS = 5  # "not reported yet" counts as urgent this many days before the close
MIN_QUERY = 2  # /cari needs at least this many characters
FIGURE_MONTHS = 3  # months of figures on the card


@dataclass(frozen=True)
class Family:
    """One family of the caseload with everything the list and the card mark."""

    recipient_id: int
    name: str
    desa: str
    programme: str
    state: str  # 'reported' | 'draft' | 'missing'
    late: bool
    help_open: bool
    flags_open: int
    linked: bool
    candidate: bool
    phone: str | None

    def matches(self, filter_: str) -> bool:
        """Whether the family belongs under this filter button."""
        return {
            "missing": self.state != "reported",
            "help": self.help_open,
            "check": self.flags_open > 0,
            "ready": self.candidate,
            "unlinked": not self.linked,
            "all": True,
        }[filter_]


@dataclass(frozen=True)
class FamilyList:
    period: str
    filter: str
    rows: list[Family]
    page: int
    pages: int
    total: int  # families under the filter
    counts: dict[str, int]  # families under each filter
    close_date: dt.date | None  # the open period's last on-time day, if it is still open
    close_near: bool
    flags: list[FlagView]


@dataclass(frozen=True)
class Card:
    family: Family
    period: str
    figures: list[dict[str, Any]]  # newest first: {"period", "reported", "revenue", "profit"}
    flags: list[FlagView]
    last_visit: dict[str, Any] | None
    help_open: bool = field(default=False)


def _facilitator(account: Account) -> int:
    if account.role != "facilitator" or account.facilitator_id is None:
        raise ReportError("facilitator_only")
    return account.facilitator_id


def _close(settings: Settings, now: dt.datetime, period: str) -> tuple[dt.date | None, bool]:
    """The open period's last on-time day and whether it is near (None after the close)."""
    closes = P.closes_at(period, settings.cycle.close_day, settings.tz)
    if now >= closes:
        return None, False
    last_day = (closes - dt.timedelta(days=1)).date()
    return last_day, closes - now <= dt.timedelta(days=CLOSE_NEAR_DAYS)


async def families(
    db: Database, now: dt.datetime, settings: Settings, account: Account
) -> tuple[str, list[Family]]:
    """The open period and every active family of the facilitator's caseload."""
    fid = _facilitator(account)
    period = P.period_of(now, settings.tz)
    rows = await db.fetchall(
        "SELECT r.id, r.name, coalesce(d.name, '-') AS desa, r.programme, r.phone,"
        " (SELECT max(late) FROM reports x WHERE x.recipient_id = r.id AND x.period = ?) AS late,"
        " (SELECT count(*) FROM reports x WHERE x.recipient_id = r.id AND x.period = ?) AS n,"
        " (SELECT count(*) FROM report_drafts x WHERE x.recipient_id = r.id AND x.period = ?"
        "   AND x.status = 'open' AND x.form = 'monthly') AS drafts,"
        " (SELECT count(*) FROM report_flags f WHERE f.recipient_id = r.id"
        "   AND f.kind = 'help_request' AND f.status = 'open') AS help,"
        " (SELECT count(*) FROM report_flags f WHERE f.recipient_id = r.id"
        "   AND f.kind != 'help_request' AND f.status = 'open') AS flags,"
        " (SELECT count(*) FROM accounts a WHERE a.recipient_id = r.id) AS linked"
        " FROM recipients r LEFT JOIN desa d ON d.id = r.desa_id"
        " WHERE r.facilitator_id = ? AND r.status = 'active' ORDER BY r.name, r.id",
        (period, period, period, fid),
    )
    ready = await candidate_ids(db, settings)
    out = [
        Family(r["id"], r["name"], r["desa"], r["programme"],
               "reported" if r["n"] else "draft" if r["drafts"] else "missing",
               bool(r["late"]), bool(r["help"]), r["flags"], bool(r["linked"]),
               r["id"] in ready, r["phone"])
        for r in rows
    ]  # fmt: skip
    return period, out


def _rank(family: Family, close_near: bool) -> int:
    """What needs action first (lower is sooner)."""
    if family.help_open:
        return 0
    if family.flags_open:
        return 1
    if family.state != "reported" and close_near:
        return 2
    if family.candidate:
        return 3
    if not family.linked:
        return 4
    return {"missing": 5, "draft": 6, "reported": 7}[family.state]


async def family_list(
    db: Database, now: dt.datetime, settings: Settings, account: Account, filter_: str = "all",
    page: int = 0,
) -> FamilyList:  # fmt: skip
    """/daftar: the caseload under a filter, what needs action first, paged."""
    if filter_ not in FILTERS:
        raise ReportError("stale")
    period, every = await families(db, now, settings, account)
    close_date, near = _close(settings, now, period)
    chosen = sorted(
        (f for f in every if f.matches(filter_)),
        key=lambda f: (_rank(f, near), f.name.casefold(), f.recipient_id),
    )
    size = settings.reports.page_size
    pages = max(1, -(-len(chosen) // size))
    page = min(max(page, 0), pages - 1)
    counts = {k: sum(1 for f in every if f.matches(k)) for k in FILTERS}
    flags = await open_flags(db, account) if filter_ in ("all", "check") else []
    return FamilyList(period, filter_, chosen[page * size : (page + 1) * size], page, pages,
                      len(chosen), counts, close_date, near, flags)  # fmt: skip


async def search(
    db: Database, now: dt.datetime, settings: Settings, account: Account, query: str
) -> list[Family]:
    """/cari: families of the caseload whose name contains the query (any case)."""
    needle = " ".join(query.split()).casefold()
    if len(needle) < MIN_QUERY:
        raise ReportError("search_short")
    _, every = await families(db, now, settings, account)
    found = [f for f in every if needle in f.name.casefold()]
    if not found:
        raise ReportError("search_none", query=query.strip()[:40])
    return found


async def family(
    db: Database, now: dt.datetime, settings: Settings, account: Account, recipient_id: int
) -> Family:
    """One family of the caseload; one that is not the facilitator's does not exist."""
    _, every = await families(db, now, settings, account)
    for f in every:
        if f.recipient_id == recipient_id:
            return f
    raise ReportError("not_found")


async def _monthly_figures(db: Database, recipient_id: int, periods: list[str]) -> dict[str, Any]:
    """The verified values that count for each month (the one place a card reads figures)."""
    effective = await effective_reports(db, [recipient_id], periods)
    return {p: effective.get((recipient_id, p)) for p in periods}


async def card(
    db: Database, now: dt.datetime, settings: Settings, account: Account, recipient_id: int
) -> Card:
    """The family card: who, where, phone, linked, 3 months' figures, flags, last visit."""
    fam = await family(db, now, settings, account, recipient_id)
    period = P.period_of(now, settings.tz)
    periods = [P.add_periods(period, -i) for i in range(FIGURE_MONTHS)]
    values = await _monthly_figures(db, recipient_id, periods)
    figures = [
        {"period": p, "reported": values[p] is not None,
         "revenue": (values[p] or {}).get("revenue"), "profit": (values[p] or {}).get("profit")}
        for p in periods
    ]  # fmt: skip
    flags = [f for f in await open_flags(db, account) if f.recipient_id == recipient_id]
    visit = await db.fetchone(
        "SELECT visit_date, notes FROM visits WHERE recipient_id = ?"
        " ORDER BY visit_date DESC, id DESC LIMIT 1",
        (recipient_id,),
    )
    last_visit = None if visit is None else {"date": dt.date.fromisoformat(visit["visit_date"]),
                                             "notes": visit["notes"]}  # fmt: skip
    return Card(fam, period, figures, flags, last_visit, fam.help_open)


def tel(phone: str | None) -> str | None:
    """A number Telegram shows as tappable: '+62...' (stored as '62...' or '08...')."""
    if not phone:
        return None
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return "+" + digits if digits else None


async def reinvite(
    db: Database, now: dt.datetime, settings: Settings, account: Account, recipient_id: int
) -> tuple[str, Family]:
    """'Kirim undangan ulang': the open month's report invitation again for a linked family,
    at most once a day (caseload_note key: reinvite_sent | reinvite_not_due | reinvite_unlinked)."""
    fam = await family(db, now, settings, account, recipient_id)
    row = await db.fetchone(
        "SELECT telegram_user_id FROM accounts WHERE recipient_id = ? ORDER BY id LIMIT 1",
        (recipient_id,),
    )
    target = None if row is None else await get_account(db, row[0])
    if target is None:
        return "reinvite_unlinked", fam
    day = now.astimezone(settings.tz).date().isoformat()
    sent = await invite_now(db, settings, now, target, step=f"again-{day}")  # once a day
    return ("reinvite_sent" if sent else "reinvite_not_due"), fam
