"""One typed Settings object: pendamping.toml + environment overrides + defaults.

The bot token comes only from the environment (TELEGRAM_BOT_TOKEN) and is never part of
repr() or any log line.
"""

from __future__ import annotations

import functools
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import ErrorDetails

DEFAULT_CONFIG_PATH = "./pendamping.toml"
DEFAULT_DB_PATH = "./pendamping.db"


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config error: {key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class ChatsSettings:
    """Telegram chats the office uses."""

    operator: StrictInt | None = None
    staff: list[StrictInt] = field(default_factory=list)


@dataclass(frozen=True)
class CycleSettings:
    """The monthly cycle, in days of the month after the period (see docs/decisions.md)."""

    open_day: StrictInt = 1
    reminder_days: list[StrictInt] = field(default_factory=lambda: [5, 10])
    escalate_facilitator_day: StrictInt = 12
    escalate_staff_day: StrictInt = 15
    close_day: StrictInt = 20
    delivery_hour: StrictInt = 8
    quiet_start_hour: StrictInt = 21
    quiet_end_hour: StrictInt = 6
    mentoring_periods: StrictInt = 12

    def validate(self) -> None:
        days = [
            ("cycle.open_day", self.open_day),
            *[(f"cycle.reminder_days[{i}]", d) for i, d in enumerate(self.reminder_days)],
            ("cycle.escalate_facilitator_day", self.escalate_facilitator_day),
            ("cycle.escalate_staff_day", self.escalate_staff_day),
            ("cycle.close_day", self.close_day),
        ]
        for key, day in days:
            if not 1 <= day <= 28:
                raise ConfigError(key, f"{day} is not a day every month has (use 1-28)")
        for (prev_key, prev), (key, day) in zip(days, days[1:], strict=False):
            if day <= prev:
                raise ConfigError(key, f"{day} must come after {prev_key} ({prev})")
        for key, hour in (
            ("cycle.delivery_hour", self.delivery_hour),
            ("cycle.quiet_start_hour", self.quiet_start_hour),
            ("cycle.quiet_end_hour", self.quiet_end_hour),
        ):
            if not 0 <= hour <= 23:
                raise ConfigError(key, f"{hour} is not an hour (use 0-23)")
        if self.mentoring_periods < 1:
            raise ConfigError("cycle.mentoring_periods", "must be at least 1")
        start, end = self.quiet_start_hour, self.quiet_end_hour
        quiet = (
            (self.delivery_hour >= start or self.delivery_hour < end)
            if start > end
            else start <= self.delivery_hour < end
        )
        if quiet:
            raise ConfigError(
                "cycle.delivery_hour",
                f"{self.delivery_hour}:00 falls in the quiet hours ({start}:00-{end}:00)",
            )


@dataclass(frozen=True)
class OutboxSettings:
    """Delivery limits of the outbox sender (Telegram's published limits by default)."""

    per_second: StrictFloat = (
        29.5  # all chats together: a little under 30/s so jitter never trips it
    )
    private_interval_seconds: StrictFloat = 1.0  # between two messages to one private chat
    group_per_minute: StrictInt = 20  # to one group chat
    in_flight: StrictInt = 8  # sends under way at once: also the duplicate bound after a crash
    max_attempts: StrictInt = 5  # network errors / 5xx before a row is marked failed
    backoff_seconds: StrictFloat = 2.0  # first retry delay, doubled each attempt
    backoff_max_seconds: StrictFloat = 300.0
    global_429_chats: StrictInt = 5  # 429s for this many chats within 1 s: the whole bot is limited
    # a delivered (or failed) message keeps its text this long for questions such as "did the
    # bot send it?"; then the text is cleared and a digest's files deleted (personal data)
    keep_text_hours: StrictFloat = 72.0

    def validate(self) -> None:
        if self.per_second <= 0:
            raise ConfigError("outbox.per_second", "must be above 0")
        if self.private_interval_seconds < 0:
            raise ConfigError("outbox.private_interval_seconds", "must not be negative")
        if self.group_per_minute < 1:
            raise ConfigError("outbox.group_per_minute", "must be at least 1")
        if not 1 <= self.in_flight <= 100:
            raise ConfigError("outbox.in_flight", "must be between 1 and 100")
        if self.max_attempts < 1:
            raise ConfigError("outbox.max_attempts", "must be at least 1")
        if self.backoff_seconds < 0 or self.backoff_max_seconds < self.backoff_seconds:
            raise ConfigError("outbox.backoff_seconds", "must be >= 0 and <= backoff_max_seconds")
        if self.global_429_chats < 1:
            raise ConfigError("outbox.global_429_chats", "must be at least 1")
        if not 0 <= self.keep_text_hours <= 24 * 31:
            raise ConfigError("outbox.keep_text_hours", "must be between 0 and 744 (31 days)")


def _default_umk() -> dict[str, int]:
    # Kepgub Jateng on UMK: 2024 Rp2.191.161; 2025 Rp2.333.586; 2026 100.3.3.1/505/2025
    return {"2024": 2_191_161, "2025": 2_333_586, "2026": 2_484_162}


def _default_poverty_line() -> dict[str, int]:
    # BPS Kabupaten Tegal, garis kemiskinan (March of each year), per person per month
    return {"2023": 470_728, "2024": 497_315}


def _default_extreme_line() -> dict[str, int]:
    # USD 1.90 PPP (2023); BPS uses USD 2.15 PPP 2017 from 2025
    return {"2023": 351_957, "2025": 391_000}


YEAR_MIN, YEAR_MAX = 2000, 2100


@dataclass(frozen=True)
class ThresholdSettings:
    """Poverty line, extreme-poverty line and UMK of Kabupaten Tegal by year (sources in
    docs/scoring.md). A month is judged by its own year's value; a year with no value uses
    the latest earlier one (and the score and `pendamping doctor` say so)."""

    poverty_line: dict[StrictStr, StrictInt] = field(default_factory=_default_poverty_line)
    extreme_poverty_line: dict[StrictStr, StrictInt] = field(default_factory=_default_extreme_line)
    umk: dict[StrictStr, StrictInt] = field(default_factory=_default_umk)

    def validate(self) -> None:
        for name in ("poverty_line", "extreme_poverty_line", "umk"):
            table = getattr(self, name)
            if not table:
                raise ConfigError(f"thresholds.{name}", "needs at least one year")
            for year, value in table.items():
                key = f"thresholds.{name}.{year}"
                if not (year.isdigit() and YEAR_MIN <= int(year) <= YEAR_MAX):
                    raise ConfigError(key, f"{year!r} is not a year ({YEAR_MIN}-{YEAR_MAX})")
                if value <= 0:
                    raise ConfigError(key, f"must be above 0, got {value}")
        years = {int(y) for y in (*self.poverty_line, *self.extreme_poverty_line)}
        for year in sorted(years):
            pov = _pick(self.poverty_line, year)
            ext = _pick(self.extreme_poverty_line, year)
            if ext >= pov:
                raise ConfigError(
                    "thresholds.extreme_poverty_line",
                    f"{year}: extreme line {ext} must be below the poverty line {pov}",
                )

    def missing_years(self, years: typing.Iterable[int]) -> list[str]:
        """'umk 2027 (uses 2026)' for every table lacking one of the years."""
        out = []
        for year in sorted(set(years)):
            for name in ("poverty_line", "extreme_poverty_line", "umk"):
                table = getattr(self, name)
                if str(year) not in table:
                    earlier = [int(y) for y in table if int(y) <= year] or [
                        min(int(y) for y in table)
                    ]
                    out.append(f"{name} {year} (uses {max(earlier)})")
        return out


def _pick(table: dict[str, int], year: int) -> int:
    """The value of the year, else the latest earlier one, else the earliest."""
    ordered = sorted((int(y), v) for y, v in table.items())
    chosen = ordered[0][1]
    for y, v in ordered:
        if y <= year:
            chosen = v
    return chosen


def _default_package_goats() -> dict[str, int]:
    # The register's package text ("Paket 2 ekor kambing betina", bot/demo_data) is read
    # first; this is the fallback when neither a goat-count column nor the text says it.
    return {"ternak kambing": 2}


def _default_essential_items() -> list[str]:
    return ["pangan", "sekolah", "jamban_air", "rumah", "tabungan"]


CHECKLIST_ITEM_NAMES = ("pangan", "sekolah", "jamban_air", "rumah", "tabungan", "rentenir", "bpjs")


@dataclass(frozen=True)
class ScoringSettings:
    """The graduation readiness score: weights (sum 100), hard gates, model version.

    Every key is documented in docs/scoring.md; any change here yields a new model version.
    """

    version: StrictStr = "2.0"
    weight_income: StrictInt = 30
    weight_stability: StrictInt = 15
    weight_continuity: StrictInt = 10
    weight_assets: StrictInt = 10
    weight_sources: StrictInt = 10
    weight_savings_books: StrictInt = 10
    weight_facilitator: StrictInt = 10
    weight_checklist: StrictInt = 5
    intensive_below: StrictInt = 50
    poverty_gate_months: StrictInt = 4
    poverty_gate_of: StrictInt = 6
    umk_gate_months: StrictInt = 3
    umk_gate_of: StrictInt = 4
    umk_gate_share: StrictFloat = 1.0
    min_verified_months: StrictInt = 6
    window_months: StrictInt = 6
    income_umk_share: StrictFloat = 0.3
    comfortable_multiple: StrictFloat = 2.0
    swing_limit_pct: StrictInt = 50
    outlier_factor: StrictInt = 10
    default_household_size: StrictInt = 4
    min_income_sources: StrictInt = 2
    risk_income_drop_pct: StrictInt = 30
    package_goats: dict[StrictStr, StrictInt] = field(default_factory=_default_package_goats)
    goat_income_months: StrictInt = 12
    herd_growth_target: StrictFloat = 1.5
    essential_items: list[StrictStr] = field(default_factory=_default_essential_items)
    checklist_max_age_months: StrictInt = 12

    WEIGHT_KEYS = (
        "weight_income",
        "weight_stability",
        "weight_continuity",
        "weight_assets",
        "weight_sources",
        "weight_savings_books",
        "weight_facilitator",
        "weight_checklist",
    )

    def validate(self) -> None:
        if not self.version.strip():
            raise ConfigError("scoring.version", "must not be empty")
        for key in self.WEIGHT_KEYS:
            if getattr(self, key) < 0:
                raise ConfigError(f"scoring.{key}", "must not be negative")
        total = sum(getattr(self, key) for key in self.WEIGHT_KEYS)
        if total != 100:
            raise ConfigError("scoring.weight_*", f"weights must sum to 100, they sum to {total}")
        if not 0 < self.intensive_below <= 100:
            raise ConfigError("scoring.intensive_below", "must be between 1 and 100")
        for n_key, m_key in (
            ("poverty_gate_months", "poverty_gate_of"),
            ("umk_gate_months", "umk_gate_of"),
        ):
            n, m = getattr(self, n_key), getattr(self, m_key)
            if not 1 <= n <= m <= 24:
                raise ConfigError(
                    f"scoring.{n_key}", f"need 1 <= {n_key} ({n}) <= {m_key} ({m}) <= 24"
                )
        if not 1 <= self.window_months <= 24:
            raise ConfigError("scoring.window_months", "use 1-24")
        if not 1 <= self.min_verified_months <= 24:
            raise ConfigError("scoring.min_verified_months", "use 1-24")
        if not 0.0 < self.umk_gate_share <= 2.0:
            raise ConfigError("scoring.umk_gate_share", "must be above 0 and at most 2")
        if not 0.0 <= self.income_umk_share <= 1.0:
            raise ConfigError("scoring.income_umk_share", "must be between 0 and 1")
        if self.comfortable_multiple <= 1.0:
            raise ConfigError("scoring.comfortable_multiple", "must be above 1")
        if not 1 <= self.swing_limit_pct <= 1000:
            raise ConfigError("scoring.swing_limit_pct", "must be between 1 and 1000")
        if self.outlier_factor < 2:
            raise ConfigError("scoring.outlier_factor", "must be at least 2")
        if not 1 <= self.default_household_size <= 30:
            raise ConfigError("scoring.default_household_size", "must be between 1 and 30")
        if self.min_income_sources < 1:
            raise ConfigError("scoring.min_income_sources", "must be at least 1")
        if not 1 <= self.risk_income_drop_pct <= 100:
            raise ConfigError("scoring.risk_income_drop_pct", "must be between 1 and 100")
        for programme, count in self.package_goats.items():
            if count <= 0:
                raise ConfigError(f"scoring.package_goats.{programme}", "must be above 0")
        if not 1 <= self.goat_income_months <= 24:
            raise ConfigError("scoring.goat_income_months", "use 1-24")
        if self.herd_growth_target < 1.0:
            raise ConfigError("scoring.herd_growth_target", "must be at least 1")
        for item in self.essential_items:
            if item not in CHECKLIST_ITEM_NAMES:
                raise ConfigError(
                    "scoring.essential_items",
                    f"unknown item {item!r} (use {', '.join(CHECKLIST_ITEM_NAMES)})",
                )
        if not 1 <= self.checklist_max_age_months <= 60:
            raise ConfigError("scoring.checklist_max_age_months", "use 1-60")


@dataclass(frozen=True)
class InviteSettings:
    expiry_days: StrictInt = 30

    def validate(self) -> None:
        if self.expiry_days < 1:
            raise ConfigError("invites.expiry_days", "must be at least 1")


@dataclass(frozen=True)
class ReportSettings:
    """Monthly reports: amount ceiling, photo size and the cross-check thresholds."""

    amount_ceiling: StrictInt = 100_000_000  # larger typed amounts are refused as a typo
    max_photo_bytes: StrictInt = 5_000_000
    mismatch_share: StrictFloat = 0.3  # recipient vs facilitator differ by more than this share
    jump_factor: StrictFloat = 3.0  # profit more than this many times last month's
    pick_months: StrictInt = 4  # how many periods a person may pick from (open one + missed ones)
    page_size: StrictInt = 10  # /daftar rows per page

    def validate(self) -> None:
        if self.amount_ceiling < 1_000:
            raise ConfigError("reports.amount_ceiling", "must be at least 1000")
        if self.max_photo_bytes < 1:
            raise ConfigError("reports.max_photo_bytes", "must be positive")
        if not 0 < self.mismatch_share < 1:
            raise ConfigError("reports.mismatch_share", "must be between 0 and 1")
        if self.jump_factor <= 1:
            raise ConfigError("reports.jump_factor", "must be above 1")
        if not 1 <= self.pick_months <= 24:
            raise ConfigError("reports.pick_months", "use 1-24")
        if not 1 <= self.page_size <= 30:
            raise ConfigError("reports.page_size", "use 1-30")


@dataclass(frozen=True)
class BackupSettings:
    """The daily automatic backup."""

    dir: StrictStr = ""  # empty: a `backups` folder beside the database file
    keep: StrictInt = 14  # newest N automatic backups kept; 0 turns automatic backups off
    hour: StrictInt = 2  # local hour (timezone) from which the day's backup is made

    def validate(self) -> None:
        if self.keep < 0:
            raise ConfigError("backup.keep", "must be 0 (off) or more")
        if not 0 <= self.hour <= 23:
            raise ConfigError("backup.hour", f"{self.hour} is not an hour (use 0-23)")


@dataclass(frozen=True)
class RetentionSettings:
    """How long personal data is kept after mentoring ended (UU 27/2022)."""

    anonymise_after_years: StrictInt = 5  # 0: never anonymise automatically

    def validate(self) -> None:
        if self.anonymise_after_years < 0:
            raise ConfigError("retention.anonymise_after_years", "must be 0 (never) or more")


@dataclass(frozen=True)
class DigestSettings:
    """When the weekly digests go out; the monthly report follows the period close."""

    weekday: StrictInt = 0  # 0 = Monday ... 6 = Sunday (local time)
    hour: StrictInt = 8  # local hour (WIB)
    catch_up_hours: StrictInt = (
        24  # after an outage, a weekly digest still goes out this long after
    )
    min_open_days: StrictInt = 7  # no weekly digest until the period has been open this many days

    def validate(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ConfigError("digest.weekday", f"{self.weekday} is not a weekday (0=Monday-6)")
        if not 0 <= self.hour <= 23:
            raise ConfigError("digest.hour", f"{self.hour} is not an hour (use 0-23)")
        if not 1 <= self.catch_up_hours <= 24 * 6:
            raise ConfigError("digest.catch_up_hours", "must be between 1 and 144")
        if not 0 <= self.min_open_days <= 21:
            raise ConfigError(
                "digest.min_open_days",
                f"{self.min_open_days} must be between 0 and 21 (a period must still get a weekly digest)",
            )


@dataclass(frozen=True)
class HealthSettings:
    """Thresholds `pendamping doctor` (and the operator alert) judge by."""

    tick_stale_minutes: StrictInt = 15  # no successful tick for this long: FAIL
    outbox_backlog_max: StrictInt = 500  # more overdue pending messages than this: FAIL
    outbox_overdue_minutes: StrictInt = 15  # a pending message this late counts as backlog
    outbox_failed_max: StrictInt = 0  # more failed messages in the last 24 hours than this: FAIL
    backup_max_age_hours: StrictInt = 26  # newest backup older than this: WARN (3x: FAIL)

    def validate(self) -> None:
        for key in (
            "tick_stale_minutes",
            "outbox_backlog_max",
            "outbox_overdue_minutes",
            "outbox_failed_max",
            "backup_max_age_hours",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"health.{key}", "must not be negative")


@dataclass(frozen=True)
class Settings:
    """Everything the bot is configured with. Build it with load_settings()."""

    timezone: StrictStr = "Asia/Jakarta"
    database: StrictStr = DEFAULT_DB_PATH
    # PostgreSQL only: this kabupaten's schema when several share one database, each with its
    # own bot (bot/db/pgschema.py); folded into `database` as the URL's search_path.
    database_schema: StrictStr = ""
    # Folder of the files the bot writes (digests/, backups/); empty: beside the SQLite file,
    # or ./pendamping-files with PostgreSQL (bot.paths.files_folder).
    files_dir: StrictStr = ""
    bot_username: StrictStr = "PendampingTegalBot"
    language: StrictStr = "id"
    log_format: StrictStr = "keyvalue"
    log_level: StrictStr = "INFO"
    programmes: list[StrictStr] = field(
        default_factory=lambda: ["tata boga", "menjahit", "ternak kambing"]
    )
    chats: ChatsSettings = field(default_factory=ChatsSettings)
    cycle: CycleSettings = field(default_factory=CycleSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    thresholds: ThresholdSettings = field(default_factory=ThresholdSettings)
    invites: InviteSettings = field(default_factory=InviteSettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    digest: DigestSettings = field(default_factory=DigestSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    # Not from the file: from the environment only. Excluded from repr so it never leaks.
    token: str | None = field(default=None, repr=False, compare=False)
    source: str | None = field(default=None, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def files_folder(self) -> Path:
        """Where digests/ and backups/ go (files_dir, else beside the database file)."""
        from bot.paths import files_folder

        return files_folder(self.database, self.files_dir) or Path(".").resolve()

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("timezone", f"unknown time zone {self.timezone!r}") from None
        if self.language not in ("id", "en"):
            raise ConfigError("language", "must be 'id' or 'en'")
        if self.log_format not in ("keyvalue", "json"):
            raise ConfigError("log_format", "must be 'keyvalue' or 'json'")
        if self.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("log_level", "must be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'")
        if not self.programmes:
            raise ConfigError("programmes", "needs at least one programme")
        if self.database_schema:
            from bot.db import is_postgres
            from bot.db.pgschema import schema_problem

            if not is_postgres(self.database):
                raise ConfigError(
                    "database_schema",
                    "only for a PostgreSQL database (postgresql://...); with SQLite give each"
                    " kabupaten its own database file",
                )
            problem = schema_problem(self.database_schema)
            if problem:
                raise ConfigError("database_schema", problem)


_FILE_ONLY_EXCLUDED = {"token", "source"}

# Section classes reject keys they do not know (pydantic reads this attribute on stdlib
# dataclasses); the Strict* field types refuse coercion ("5" or true for a whole number).
_SECTION_CONFIG = ConfigDict(extra="forbid")
for _section in (
    ChatsSettings,
    CycleSettings,
    OutboxSettings,
    ThresholdSettings,
    ScoringSettings,
    InviteSettings,
    ReportSettings,
    BackupSettings,
    RetentionSettings,
    DigestSettings,
    HealthSettings,
    Settings,
):
    setattr(_section, "__pydantic_config__", _SECTION_CONFIG)  # noqa: B010 - not a field


@functools.cache
def _adapter() -> TypeAdapter[Settings]:
    """The pydantic validator of the Settings tree, built on first use."""
    return TypeAdapter(Settings)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _key(loc: tuple[int | str, ...]) -> str:
    """('chats', 'staff', 0) -> 'chats.staff[0]'; year-table keys stay dotted."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _hint_at(loc: tuple[int | str, ...]) -> Any:
    """The annotated type (without Strict markers) of the value at loc, or None."""
    tp: Any = Settings
    for part in loc:
        if isinstance(tp, type) and is_dataclass(tp):
            tp = typing.get_type_hints(tp).get(str(part))
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
        if typing.get_origin(tp) in (types.UnionType, typing.Union):
            tp = next(t for t in typing.get_args(tp) if t is not type(None))
    return tp


def _problem(error: ErrorDetails) -> str:
    """The same one-line reason the bot always gave for a value of the wrong type."""
    kind, value = error["type"], error.get("input")
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        return "unknown key (see pendamping.example.toml)"
    if kind == "dataclass_type":
        return "expected a [section]"
    if kind in ("list_type", "dict_type"):
        args = typing.get_args(_hint_at(error["loc"]))
        item = _type_name(args[-1]) if args else "values"
        shape = "list" if kind == "list_type" else "table"
        return f"expected a {shape} of {item}, got {value!r}"
    simple = {
        "int_type": "expected a whole number",
        "float_type": "expected a number",
        "bool_type": "expected true or false",
        "string_type": "expected text",
    }
    if kind in simple:
        return f"{simple[kind]}, got {value!r}"
    return " ".join(str(error["msg"]).split())  # pragma: no cover - schema bug


def _build(data: dict[str, Any]) -> Settings:
    """Type-check the parsed file with pydantic; the first problem becomes a ConfigError."""
    for key in data:
        if key in _FILE_ONLY_EXCLUDED:
            raise ConfigError(key, "unknown key (see pendamping.example.toml)")
    try:
        return _adapter().validate_python(data)
    except ValidationError as exc:
        errors = exc.errors()
        unknown = [e for e in errors if e["type"] == "unexpected_keyword_argument"]
        first = (unknown or errors)[0]
        raise ConfigError(_key(first["loc"]), _problem(first)) from None


def _validate_all(obj: Any) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            _validate_all(value)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()


def load_settings(
    path: str | os.PathLike[str] | None = None, env: typing.Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (if any), apply environment overrides, validate.

    path: explicit --config value; else PENDAMPING_CONFIG; else ./pendamping.toml if it exists.
    An explicitly named file that does not exist is an error; the default one is optional.
    """
    env = os.environ if env is None else env
    explicit = path if path is not None else env.get("PENDAMPING_CONFIG") or None
    config_path = Path(explicit) if explicit else Path(DEFAULT_CONFIG_PATH)
    data: dict[str, Any] = {}
    source = None
    if config_path.exists():
        try:
            with config_path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(config_path), f"not valid TOML ({exc})") from None
        except OSError as exc:
            raise ConfigError(str(config_path), f"cannot read file ({exc.strerror})") from None
        source = str(config_path)
    elif explicit:
        raise ConfigError(str(config_path), "config file not found")
    settings = _build(data)
    overrides: dict[str, Any] = {"source": source}
    if env.get("PENDAMPING_DB"):
        overrides["database"] = env["PENDAMPING_DB"]
    if env.get("PENDAMPING_DB_SCHEMA"):
        overrides["database_schema"] = env["PENDAMPING_DB_SCHEMA"].strip()
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    overrides["token"] = token or None
    settings = _replace(settings, **overrides)
    _validate_all(settings)
    if settings.database_schema:
        from bot.db.pgschema import with_schema

        settings = _replace(
            settings, database=with_schema(settings.database, settings.database_schema)
        )
    return settings


def _replace(settings: Settings, **changes: Any) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)
