"""`pendamping doctor`: health checks, each an OK / WARN / FAIL line with what to do.

Read-only: the database is opened with mode=ro and nothing is created or migrated. Checks on
tables that later features add (outbox, tick_runs, digests) look the tables and columns up
first and WARN "not available yet" when they are missing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.db import (
    Database,
    DatabaseError,
    MigrationError,
    is_postgres,
    migration_status,
    pg_dump_command,
    write_problem,
)
from bot.runlock import is_locked, sender_holder
from bot.services.backup import backup_dir, list_auto_backups

OK, WARN, FAIL = "OK", "WARN", "FAIL"
GB = 1024**3
MB = 1024**2
DISK_WARN_BYTES = 1 * GB
DISK_FAIL_BYTES = 100 * MB
TICK_TABLES = ("tick_runs", "ticks")
TICK_TIME_COLUMNS = ("started_at", "finished_at", "ran_at", "at", "now")
DIGEST_TABLES = ("digest_runs", "digests", "digest_log", "digest_sends")
DIGEST_TIME_COLUMNS = ("sent_at", "finished_at", "created_at", "generated_at", "at")
# Webhook workers try the free sender lock every 2 s (bot/workers.py SenderElection): a bot
# found running without a sender is looked at again after that long before a WARN.
SENDER_TAKEOVER_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    status: str
    name: str
    message: str
    action: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name}: {self.message}"
        return f"{text} -> {self.action}" if self.action else text


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _age(now: dt.datetime, then: dt.datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def check_token(settings: Settings) -> Check:
    """OK when TELEGRAM_BOT_TOKEN is set, else what to do."""
    if settings.token:
        return Check(OK, "token", "TELEGRAM_BOT_TOKEN is set")
    return Check(
        WARN,
        "token",
        "no TELEGRAM_BOT_TOKEN: sandbox mode, the bot cannot reach Telegram",
        "set TELEGRAM_BOT_TOKEN in the service's EnvironmentFile (see docs/operations.md)",
    )


def check_disk(folder: Path) -> Check:
    """Free space in the folder that holds the database."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return Check(FAIL, "disk", f"cannot read free space of {folder}: {exc.strerror}")
    text = f"{free / GB:.1f} GB free at {folder}"
    if free < DISK_FAIL_BYTES:
        return Check(FAIL, "disk", text, "free space now: delete old logs/backups or grow the disk")
    if free < DISK_WARN_BYTES:
        return Check(WARN, "disk", text, "free some space soon (old logs, old backups)")
    return Check(OK, "disk", text)


def check_backups(settings: Settings, now: dt.datetime) -> Check:
    """Whether automatic backups exist and the newest is recent enough."""
    if is_postgres(settings.database):
        return Check(
            WARN,
            "backup",
            "PostgreSQL: the bot makes no automatic backups of a server database",
            f"schedule `{pg_dump_command(settings.database, 'pendamping-$(date +%F).dump')}`"
            " (docs/operations.md, PostgreSQL)",
        )
    folder = backup_dir(settings.database, settings)
    backups = list_auto_backups(folder)
    if settings.backup.keep <= 0:
        return Check(
            WARN,
            "backup",
            "automatic backups are off (backup.keep = 0)",
            "set backup.keep, or make sure backups are taken another way",
        )
    if not backups:
        return Check(
            WARN,
            "backup",
            f"no automatic backup in {folder} yet",
            "run `pendamping backup FILE` now; the bot makes one daily after backup.hour",
        )
    newest = backups[-1][0]
    hours = (now - newest).total_seconds() / 3600
    text = f"newest backup {backups[-1][1].name} is {_age(now, newest)} old ({len(backups)} kept)"
    limit = settings.health.backup_max_age_hours
    if hours > 3 * limit:
        return Check(FAIL, "backup", text, "backups stopped: check the bot runs and the log")
    if hours > limit:
        return Check(WARN, "backup", text, "check the daily backup ran (bot log)")
    return Check(OK, "backup", text)


async def _columns(db: Database, table: str) -> set[str]:
    return {c.name for c in await db.columns(table)}


async def _first_table(db: Database, names: tuple[str, ...]) -> str | None:
    for name in names:
        if await db.has_table(name):
            return name
    return None


async def check_outbox(db: Database, settings: Settings, now: dt.datetime) -> list[Check]:
    """Outbox health: failed messages (recent ones fail the check) and the backlog waiting."""
    if not await _first_table(db, ("outbox",)):
        return [Check(WARN, "outbox", "not available yet (no outbox table in this version)")]
    cols = await _columns(db, "outbox")
    if "status" not in cols:
        return [Check(WARN, "outbox", "not available yet (outbox has no status column)")]
    h = settings.health
    checks = []
    # Failed messages: recent ones are a FAIL, older ones a reminder.
    time_col = next((c for c in ("created_at", "claimed_at") if c in cols), None)
    if time_col:
        since = (now - dt.timedelta(hours=24)).astimezone(dt.UTC).isoformat(timespec="seconds")
        recent = await db.fetchval(
            f"SELECT count(*) FROM outbox WHERE status = 'failed' AND {time_col} >= ?", (since,)
        )
        total = await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'failed'")
    else:
        recent = total = await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'failed'")
    action = "look at outbox.last_error and the bot log; a 403 means the person blocked the bot"
    if recent > h.outbox_failed_max:
        checks.append(
            Check(FAIL, "outbox failed", f"{recent} messages failed in the last 24 hours", action)
        )
    elif total:
        checks.append(
            Check(WARN, "outbox failed", f"{total} failed messages, none in the last 24 hours")
        )
    else:
        checks.append(Check(OK, "outbox failed", "no failed messages"))
    # Backlog: pending messages that should have gone out a while ago.
    pending = await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'")
    if "not_before" in cols:
        late = (now - dt.timedelta(minutes=h.outbox_overdue_minutes)).astimezone(dt.UTC)
        overdue = await db.fetchval(
            "SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= ?",
            (late.isoformat(timespec="seconds"),),
        )
        what = f"{overdue} of {pending} pending messages overdue by {h.outbox_overdue_minutes}+ min"
    else:
        overdue = pending
        what = f"{pending} pending messages"
    action = "is the bot running and reaching Telegram? `systemctl status pendamping`, bot log"
    if overdue > h.outbox_backlog_max:
        checks.append(Check(FAIL, "outbox backlog", what, action))
    elif overdue:
        checks.append(Check(WARN, "outbox backlog", what, action))
    else:
        checks.append(Check(OK, "outbox backlog", what))
    return checks


async def check_tick(db: Database, settings: Settings, now: dt.datetime) -> Check:
    """Whether the monthly cycle's tick ran recently."""
    table = await _first_table(db, TICK_TABLES)
    if not table:
        return Check(WARN, "tick", "not available yet (no tick log in this version)")
    cols = await _columns(db, table)
    time_col = next((c for c in TICK_TIME_COLUMNS if c in cols), None)
    if not time_col:
        return Check(WARN, "tick", f"not available yet ({table} has no time column)")
    where = []
    if "error" in cols:
        where.append("error IS NULL")
    if "dry_run" in cols:
        where.append("dry_run = 0")
    if "status" in cols:
        where.append("status IN ('ok', 'done', 'success')")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    last = _parse_time(await db.fetchval(f'SELECT max("{time_col}") FROM "{table}"{clause}'))
    if last is None:
        return Check(
            WARN,
            "tick",
            "never ticked successfully",
            "start the bot (`systemctl start pendamping`); it ticks every minute",
        )
    text = f"last successful tick {_age(now, last)} ago"
    if now - last > dt.timedelta(minutes=settings.health.tick_stale_minutes):
        return Check(
            FAIL,
            "tick",
            text,
            "ticks stopped: is the bot running? `systemctl status pendamping`, bot log",
        )
    return Check(OK, "tick", text)


async def check_activity(db: Database, settings: Settings, now: dt.datetime) -> list[Check]:
    """What the running bot did, on either engine: the outbox, the tick, the last digest."""
    return [
        *await check_outbox(db, settings, now),
        await check_tick(db, settings, now),
        await check_digest(db, now),
    ]


async def check_digest(db: Database, now: dt.datetime) -> Check:
    """When the last digest went out to staff (a warning when none did or it is old)."""
    table = await _first_table(db, DIGEST_TABLES)
    if not table:
        return Check(WARN, "digest", "not available yet (no digest log in this version)")
    cols = await _columns(db, table)
    time_col = next((c for c in DIGEST_TIME_COLUMNS if c in cols), None)
    if not time_col:
        return Check(WARN, "digest", f"not available yet ({table} has no time column)")
    last = _parse_time(await db.fetchval(f'SELECT max("{time_col}") FROM "{table}"'))
    if last is None:
        return Check(WARN, "digest", "no digest sent yet", "check chats.staff is set")
    text = f"last digest {_age(now, last)} ago"
    if now - last > dt.timedelta(days=8):
        return Check(WARN, "digest", text, "check chats.staff and the bot log")
    return Check(OK, "digest", text)


async def alert_checks(db: Database, settings: Settings, now: dt.datetime) -> list[Check]:
    """The FAILs a running bot should tell chats.operator about (outbox, ticks).

    For the minute job: it takes the bot's open connection and only reads.
    """
    checks = await check_outbox(db, settings, now)
    checks.append(await check_tick(db, settings, now))
    return [c for c in checks if c.status == FAIL]


def check_thresholds(settings: Settings, now: dt.datetime) -> Check:
    """WARN when this year's (or last year's) poverty line, extreme line or UMK is missing:
    the score then judges those months by the latest earlier value."""
    year = now.year
    missing = settings.thresholds.missing_years([year - 1, year])
    if missing:
        return Check(
            WARN,
            "thresholds",
            "no value for " + ", ".join(missing),
            "add the published figure to [thresholds] in pendamping.toml (docs/scoring.md)",
        )
    return Check(OK, "thresholds", f"poverty line, extreme line and UMK known for {year}")


async def run_checks(settings: Settings, now: dt.datetime) -> list[Check]:
    """Every check after the config loaded; never writes anything."""
    checks = [check_token(settings), check_thresholds(settings, now)]
    if is_postgres(settings.database):
        return checks + await _postgres_checks(settings, now)
    path = Path(settings.database)
    holder = is_locked(settings.database) if path.parent.exists() else None
    if holder:
        checks.append(Check(OK, "bot", f"running: {holder} holds the run lock"))
    else:
        checks.append(Check(WARN, "bot", "not running", "start it: `systemctl start pendamping`"))
    checks.append(check_disk(path.parent if path.parent.exists() else Path(".")))
    if not path.exists():
        checks.append(
            Check(
                FAIL,
                "database",
                f"{path} does not exist",
                "run `pendamping migrate` (new install) or `pendamping restore BACKUP`",
            )
        )
        checks.append(check_backups(settings, now))
        return checks
    try:
        db = await Database.open(settings.database, readonly=True)
    except DatabaseError as exc:
        checks.append(Check(FAIL, "database", str(exc), "restore from a backup"))
        return checks
    problem = write_problem(settings.database)
    if problem:
        checks.append(Check(FAIL, "writable", problem[0], problem[1]))
    else:
        checks.append(Check(OK, "writable", "the bot can write the database and its folder"))
    try:
        checks.append(Check(OK, "database", f"{path} opens read-only"))
        try:
            problems = await db.integrity_check()
        except Exception as exc:  # a damaged page
            problems = [str(exc)]
        if problems:
            checks.append(
                Check(
                    FAIL,
                    "integrity",
                    f"integrity_check: {problems[0]}",
                    "stop the bot, `pendamping restore` the newest good backup",
                )
            )
        else:
            checks.append(Check(OK, "integrity", "integrity_check ok"))
        checks.append(await check_migrations(db))
        checks.extend(await check_activity(db, settings, now))
    finally:
        await db.close()
    checks.append(check_backups(settings, now))
    return checks


async def check_migrations(db: Database) -> Check:
    """FAIL for a history that does not match the files or a pending migration, else OK."""
    try:
        states = await migration_status(db)
    except MigrationError as exc:
        return Check(FAIL, "migrations", str(exc))
    pending = [s.name for s in states if s.applied_at is None]
    if pending:
        return Check(
            FAIL,
            "migrations",
            f"pending: {', '.join(pending)}",
            "run `pendamping migrate` (the bot also migrates when it starts)",
        )
    return Check(OK, "migrations", f"all {len(states)} applied")


async def check_sender(
    database: str, running: bool, *, takeover_seconds: float | None = None
) -> Check:
    """PostgreSQL: who holds the sender lock, i.e. which process delivers the outbox.

    A running bot always has one (a single `pendamping run` holds it for its life; webhook
    workers elect one within 2 s), so a running bot with none, seen twice `takeover_seconds`
    (default SENDER_TAKEOVER_SECONDS) apart, is a WARN: queued messages wait. A stopped bot
    with none is just said."""
    holder = sender_holder(database, where=True)
    if holder is None and running:
        wait = SENDER_TAKEOVER_SECONDS if takeover_seconds is None else takeover_seconds
        await asyncio.sleep(wait)
        holder = sender_holder(database, where=True)
    if holder:
        return Check(OK, "outbox sender", holder)
    if not running:
        return Check(OK, "outbox sender", "none (the bot is not running)")
    return Check(
        WARN,
        "outbox sender",
        "none while the bot runs: queued messages wait",
        "see the bot log (event=sender_lock_unavailable, sender_lock_lost,"
        " outbox_invalid_token); restart the bot or its workers once the cause is fixed",
    )


async def _postgres_checks(settings: Settings, now: dt.datetime) -> list[Check]:
    """The same checks for a PostgreSQL database: the server keeps the files, pages and
    write rights, so those are not the bot's to check."""
    checks: list[Check] = []
    holder = is_locked(settings.database)
    if holder:
        checks.append(Check(OK, "bot", f"running: {holder} holds the run lock"))
    else:
        checks.append(Check(WARN, "bot", "not running", "start it: `systemctl start pendamping`"))
    folder = settings.files_folder
    checks.append(check_disk(folder if folder.exists() else Path(".")))
    try:
        db = await Database.open(settings.database, readonly=True)
    except DatabaseError as exc:
        checks.append(Check(FAIL, "database", str(exc), "check the URL, the server and the role"))
        checks.append(check_backups(settings, now))
        return checks
    try:
        checks.append(Check(OK, "database", f"{db.describe()} answers (read-only session)"))
        checks.append(await check_sender(settings.database, running=holder is not None))
        migrations = await check_migrations(db)
        checks.append(migrations)
        if migrations.status == OK:  # the tables the next checks read exist
            checks.extend(await check_activity(db, settings, now))
    finally:
        await db.close()
    checks.append(check_backups(settings, now))
    return checks
