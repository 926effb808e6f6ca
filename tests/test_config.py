"""Settings: defaults, file, environment overrides, one clear error per bad key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pendamping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.database == "./pendamping.db"
    assert settings.timezone == "Asia/Jakarta"
    assert settings.token is None
    assert settings.source is None
    assert settings.thresholds.umk == {"2024": 2_191_161, "2025": 2_333_586, "2026": 2_484_162}
    assert settings.thresholds.poverty_line == {"2023": 470_728, "2024": 497_315}
    assert settings.thresholds.extreme_poverty_line == {"2023": 351_957, "2025": 391_000}
    assert settings.cycle.reminder_days == [5, 10]


def test_file_values_and_env_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'database = "/srv/a.db"\nbot_username = "TegalBot"\n[cycle]\nclose_day = 22\n'
        "[chats]\nstaff = [-100123]\noperator = 42\n",
    )
    settings = load_settings(
        path, env={"PENDAMPING_DB": "/tmp/override.db", "TELEGRAM_BOT_TOKEN": " 1:abc "}
    )
    assert settings.database == "/tmp/override.db"
    assert settings.bot_username == "TegalBot"
    assert settings.cycle.close_day == 22
    assert settings.chats.staff == [-100123]
    assert settings.chats.operator == 42
    assert settings.token == "1:abc"
    assert settings.source == str(path)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'bot_username = "FromEnv"\n')
    settings = load_settings(env={"PENDAMPING_CONFIG": str(path)})
    assert settings.bot_username == "FromEnv"


def test_token_never_in_repr() -> None:
    settings = Settings(token="123456:SECRET")
    assert "SECRET" not in repr(settings)
    assert "SECRET" not in str(settings)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("colour = 1\n", "colour", "unknown key"),
        ("[cycle]\nclose_dya = 3\n", "cycle.close_dya", "unknown key"),
        ("[cycle]\nclose_day = 'x'\n", "cycle.close_day", "whole number"),
        ("[cycle]\nreminder_days = 5\n", "cycle.reminder_days", "list"),
        ("[cycle]\nclose_day = 31\n", "cycle.close_day", "1-28"),
        ("[cycle]\nreminder_days = [5, 3]\n", "cycle.reminder_days[1]", "must come after"),
        ("[cycle]\ndelivery_hour = 25\n", "cycle.delivery_hour", "hour"),
        ("[digest]\nmin_open_days = 22\n", "digest.min_open_days", "between 0 and 21"),
        ("[digest]\nmin_open_days = -1\n", "digest.min_open_days", "between 0 and 21"),
        ("timezone = 'Mars/Olympus'\n", "timezone", "unknown time zone"),
        ("cycle = 3\n", "cycle", "section"),
        ("[chats]\nstaff = ['a']\n", "chats.staff[0]", "whole number"),
        ("[chats]\noperator = true\n", "chats.operator", "whole number"),
        (
            '[thresholds]\nextreme_poverty_line = { "2024" = 600000 }\n',
            "thresholds.extreme_poverty_line",
            "below",
        ),
        ("[thresholds]\numk = 2333586\n", "thresholds.umk", "table"),
        ('[thresholds]\numk = { "1850" = 2333586 }\n', "thresholds.umk.1850", "not a year"),
        ('[thresholds]\numk = { "dua" = 2333586 }\n', "thresholds.umk.dua", "not a year"),
        ('[thresholds]\numk = { "2025" = -5 }\n', "thresholds.umk.2025", "above 0"),
        (
            '[thresholds]\npoverty_line = { "2024" = 0 }\n',
            "thresholds.poverty_line.2024",
            "above 0",
        ),
        ("[scoring]\nweight_income = 40\n", "scoring.weight_*", "sum to 100"),
        ("[scoring]\numk_gate_months = 5\n", "scoring.umk_gate_months", "<="),
        ("[scoring]\nessential_items = ['emas']\n", "scoring.essential_items", "unknown item"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == key
    message = str(info.value)
    assert key in message and words in message
    assert "\n" not in message


def test_malformed_toml_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[cycle\nclose_day = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "not valid TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def _keys(cls: type, prefix: str = "") -> set[str]:
    keys = set()
    for f in fields(cls):
        if f.name in ("token", "source"):
            continue
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default):
            keys |= _keys(type(default), f"{prefix}{f.name}.")
        else:
            keys.add(f"{prefix}{f.name}")
    return keys


def _toml_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        if isinstance(value, dict) and not all(k.isdigit() for k in value):  # year tables: leaves
            keys |= _toml_keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def _commented_keys(text: str) -> set[str]:
    """Keys documented as comments ('# operator = ...'), with their [section] prefix."""
    keys, section = set(), ""
    for line in text.splitlines():
        header = re.match(r"^\[(\w+)\]", line)
        if header:
            section = header.group(1) + "."
        commented = re.match(r"^#\s*(\w+)\s*=", line)
        if commented:
            keys.add(section + commented.group(1))
    return keys


def test_example_config_documents_every_key_and_loads() -> None:
    example = REPO / "pendamping.example.toml"
    text = example.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert _toml_keys(data) | _commented_keys(text) == _keys(Settings)
    settings = load_settings(example, env={})
    assert settings.source == str(example)
