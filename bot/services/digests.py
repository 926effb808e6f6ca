"""What /ringkasan, /ekspor and the scheduled digests send, with access control.

Handlers (wired by the lead once the sandbox lands) call one of these and send the result:
- ringkasan_reply(db, account, now, settings, out_dir=...): the text for /ringkasan and, for
  staff and admins in a private chat, the period's export of their region. Staff see their
  kecamatan (or the kabupaten when not scoped), admins the kabupaten, facilitators their
  caseload; anyone else gets DigestDenied. ringkasan(): the text alone.
- ekspor(db, account, period, now, settings, out_dir): an XLSX file with NIK masked, for staff
  and admins only, in a private chat only; DigestDenied / PeriodUnavailable otherwise.
- monthly(db, now, settings, scope_code, out_dir): the monthly report text, chart files and
  export for one staff chat (scheduled at period close).
- staff_weekly(db, now, settings, kecamatan_code): the weekly text for one staff chat.
- facilitator_weekly(db, facilitator_id, now, settings): the weekly facilitator text.

Every refusal carries a rendered Indonesian/English text, ready to send.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.db import Database
from bot.domain.digest import Scope, facilitator_digest
from bot.domain.periods import period_of
from bot.private_files import private_dir
from bot.render import now_label, render
from bot.services.accounts import Account
from bot.services.digest_data import (
    build_monthly_report,
    build_staff_digest,
    load_snapshots,
    period_check,
    write_period_export,
)
from bot.services.regions import kabupaten_name

WEEK = dt.timedelta(days=7)
STAFF_ROLES = ("staff", "admin")
FACILITATOR_LIMIT = 10  # names per list in the facilitator digest


class DigestDenied(Exception):
    """The account may not have this; `text` says why, in the account's language."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class PeriodUnavailable(Exception):
    """The export was asked for a period that does not exist; `text` says so."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class ExportFile:
    path: Path
    period: str
    region: str  # the kabupaten's name ('Kabupaten Tegal') or 'Kec. <name>'


@dataclass
class MonthlyBundle:
    text: str
    export: Path  # the period's XLSX of the region
    charts: list[Path] = field(default_factory=list)


async def region_label(db: Database, kecamatan_code: str | None) -> str:
    """'Kec. <name>' for a kecamatan, the kabupaten's name for the whole region."""
    if kecamatan_code is None:
        return await kabupaten_name(db)
    name = await db.fetchval("SELECT name FROM kecamatan WHERE code = ?", (kecamatan_code,))
    return f"Kec. {name}" if name else await kabupaten_name(db)


def staff_scope(account: Account) -> Scope:
    """Admins see the kabupaten; staff their kecamatan (all when not scoped)."""
    if account.role == "admin":
        return Scope()
    return Scope.for_staff(account.kecamatan_code)


@dataclass(frozen=True)
class RingkasanReply:
    """What /ringkasan sends: the text, then (staff and admins, private chat) the export."""

    text: str
    file: ExportFile | None = None


async def ringkasan(
    db: Database,
    account: Account | None,
    now: dt.datetime,
    settings: Settings,
    since: dt.datetime | None = None,
    *,
    private_chat: bool = True,
) -> str:
    """The /ringkasan text alone (no file, so it never says one is attached)."""
    return (
        await ringkasan_reply(db, account, now, settings, since, private_chat=private_chat)
    ).text


async def ringkasan_reply(
    db: Database,
    account: Account | None,
    now: dt.datetime,
    settings: Settings,
    since: dt.datetime | None = None,
    *,
    private_chat: bool = True,
    out_dir: Path | None = None,
) -> RingkasanReply:
    """/ringkasan for this account (period open now; flags of the last week new).

    Staff and admins in a private chat get the period's export of their region written into
    `out_dir` (when given and the period exists), and only then does the text say a file is
    attached. The facilitator version names families, so it is only given in a private chat."""
    lang = account.language if account else settings.language
    period = period_of(now, settings.tz)
    if account is not None and account.role in STAFF_ROLES:
        scope = staff_scope(account)
        d = await build_staff_digest(db, period, since or now - WEEK, scope, settings)
        label = await region_label(db, None if account.role == "admin" else account.kecamatan_code)
        file = None
        if (
            out_dir is not None
            and private_chat
            and await period_check(db, period, now, settings.tz) is None
        ):
            file = await _export_file(db, account, period, out_dir)
        text = render("digest_staff", lang, d=d, scope=label, now=now_label(now, settings.tz),
                      attached=file is not None)  # fmt: skip
        return RingkasanReply(text, file)
    if account is not None and account.role == "facilitator" and account.facilitator_id:
        if not private_chat:
            raise DigestDenied(render("digest_denied", lang, what="ringkasan_group"))
        text = await facilitator_weekly(db, account.facilitator_id, now, settings, lang)
        return RingkasanReply(text)
    raise DigestDenied(render("digest_denied", lang, what="ringkasan"))


async def _export_file(db: Database, account: Account, period: str, out_dir: Path) -> ExportFile:
    """The period's XLSX of the account's region (NIK masked) in out_dir."""
    private_dir(out_dir)
    region = account.kecamatan_code if account.role == "staff" else None
    # Named like the monthly report's export, so staff recognise the same workbook.
    path = out_dir / f"pendamping-{period}{'-' + region if region else ''}-ekspor.xlsx"
    await write_period_export(db, period, path, staff_scope(account), full_nik=False)
    return ExportFile(path, period, await region_label(db, region))


async def staff_weekly(
    db: Database,
    now: dt.datetime,
    settings: Settings,
    kecamatan_code: str | None = None,
    since: dt.datetime | None = None,
    lang: str = "id",
) -> str:
    """The scheduled weekly digest for one staff chat (a kecamatan, or the kabupaten)."""
    period = period_of(now, settings.tz)
    d = await build_staff_digest(
        db, period, since or now - WEEK, Scope.for_staff(kecamatan_code), settings
    )
    label = await region_label(db, kecamatan_code)
    return render("digest_staff", lang, d=d, scope=label, now=now_label(now, settings.tz))


async def facilitator_weekly(
    db: Database, facilitator_id: int, now: dt.datetime, settings: Settings, lang: str = "id"
) -> str:
    """The weekly digest text of one facilitator's caseload for the open period."""
    period = period_of(now, settings.tz)
    snaps = await load_snapshots(
        db, period, Scope.for_facilitator(facilitator_id), with_profits=False, settings=settings
    )
    d = facilitator_digest(snaps, period, facilitator_id)
    return render("digest_facilitator", lang, d=d, limit=FACILITATOR_LIMIT)


async def ekspor(
    db: Database,
    account: Account | None,
    period: str | None,
    now: dt.datetime,
    settings: Settings,
    out_dir: Path,
    *,
    private_chat: bool,
) -> ExportFile:
    """/ekspor [YYYY-MM]: the period's XLSX (NIK masked) for staff/admin in a private chat."""
    lang = account.language if account else settings.language
    if account is None or account.role not in STAFF_ROLES:
        raise DigestDenied(render("digest_denied", lang, what="ekspor"))
    if not private_chat:
        raise DigestDenied(render("digest_denied", lang, what="ekspor_group"))
    period = period or period_of(now, settings.tz)
    issue = await period_check(db, period, now, settings.tz)
    if issue is not None:
        raise PeriodUnavailable(render("digest_period_unavailable", lang, issue=issue))
    return await _export_file(db, account, period, out_dir)


async def monthly(
    db: Database,
    period: str,
    now: dt.datetime,
    settings: Settings,
    kecamatan_code: str | None,
    out_dir: Path,
    lang: str = "id",
    since: dt.datetime | None = None,
) -> MonthlyBundle:
    """The monthly report of a region: text, chart PNGs (only those with data; none when the
    period has no reports), export."""
    from bot.charts import monthly_charts, write_charts

    scope = Scope.for_staff(kecamatan_code)
    private_dir(out_dir, tighten=True)
    report = await build_monthly_report(
        db, period, since or now - WEEK, scope, settings.programmes, settings
    )
    charts = monthly_charts(report, lang) if report.digest.has_reports else {}
    prefix = f"{period}-{kecamatan_code + '-' if kecamatan_code else ''}"
    paths = write_charts(charts, out_dir, prefix)
    export = out_dir / f"pendamping-{prefix}ekspor.xlsx"
    await write_period_export(db, period, export, scope)
    label = await region_label(db, kecamatan_code)
    text = render("digest_monthly", lang, r=report, scope=label, charts=len(paths))
    return MonthlyBundle(text, export=export, charts=paths)
