"""What happens every minute, in one place: the job (handlers/cycle.py) and the demo run it."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.db import Database, DatabaseError
from bot.services import upkeep
from bot.services.cycle import TickResult, tick
from bot.services.digest_schedule import plan_digests

log = logging.getLogger("pendamping.minute")


@dataclass
class MinuteResult:
    tick: TickResult | None = None
    upkeep: upkeep.UpkeepResult | None = None
    digests: Any = None


async def run_minute(db: Database, settings: Settings, now: dt.datetime) -> MinuteResult:
    """tick (periods, reminders, escalations), then upkeep (scores of a period that just
    closed, the daily backup, operator alerts), then digests: the monthly report built at a
    close therefore already has that period's scores. Upkeep runs even if tick fails, but not
    when the database itself could not be had (away, locked): each part would only wait for it
    again; the error goes to the job's error handler and the next minute catches up."""
    result = MinuteResult()
    database_away = False
    try:
        result.tick = await tick(db, settings, now)
        if result.tick.planned or result.tick.steps:
            log.info(
                "event=tick planned=%d steps=%d", len(result.tick.planned), len(result.tick.steps)
            )
    except DatabaseError:
        database_away = True
        raise
    finally:
        if not database_away:
            # Each part guarded inside; never raises.
            result.upkeep = await upkeep.after_tick(db, settings, now)
    result.digests = await plan_digests(db, settings, now)
    return result
