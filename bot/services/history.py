"""/riwayat: a family's last months in one short message (what counts, per month)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.config import Settings
from bot.db import Database
from bot.domain import periods as P
from bot.services.accounts import Account
from bot.services.read_model import effective_reports
from bot.services.report_drafts import first_period

MONTHS = 6


@dataclass(frozen=True)
class Month:
    period: str
    reported: bool
    status: str | None = None  # business_status of the report that counts
    profit: int | None = None
    revisions: int = 0  # reports of that month by the family (2+ = corrected)
    late: bool = False


async def history(
    db: Database, now: dt.datetime, settings: Settings, account: Account, months: int = MONTHS
) -> list[Month] | None:
    """The last `months` periods (newest first) of the account's own family, none before the
    family's first reporting month (the month after the hand-over) unless reported; None for
    people who do not report for themselves."""
    if account.role != "recipient" or account.recipient_id is None:
        return None
    periods = P.recent_periods(now, settings.tz, months)
    effective = await effective_reports(db, [account.recipient_id], periods)
    first = await first_period(db, settings, account.recipient_id)
    periods = [
        p for p in periods if p >= first or (account.recipient_id, p) in effective
    ] or periods[:1]
    counts = {
        r["period"]: r["n"]
        for r in await db.fetchall(
            "SELECT period, count(*) AS n FROM reports WHERE recipient_id = ?"
            " AND reporter_role = 'recipient' GROUP BY period",
            (account.recipient_id,),
        )
    }
    out = []
    for period in periods:
        e = effective.get((account.recipient_id, period))
        if e is None:
            out.append(Month(period, False))
        else:
            out.append(Month(period, True, e["business_status"], e["profit"],
                             counts.get(period, 0), e["late"]))  # fmt: skip
    return out
