"""The shipped systemd unit keeps the properties docs/operations.md promises."""

from __future__ import annotations

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((REPO / "deploy" / name).read_text(encoding="utf-8"))
    return parser


def test_service_runs_unprivileged_restarts_and_reads_token_from_env_file() -> None:
    service = unit("pendamping.service")["Service"]
    assert service["User"] not in ("", "root")
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/pendamping/")
    assert service["ExecStart"].endswith("pendamping run")
    assert service["UMask"] == "0077"
    assert "TELEGRAM_BOT_TOKEN" not in service.get("Environment", "")


def test_retention_timer_points_at_its_service() -> None:
    assert unit("pendamping-retention.timer")["Timer"]["OnCalendar"]
    service = unit("pendamping-retention.service")["Service"]
    assert service["ExecStart"].endswith("pendamping retention")
    assert service["User"] == "pendamping"
