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


def test_worker_template_runs_a_webhook_worker_on_its_instance_port() -> None:
    service = unit("pendamping-worker@.service")["Service"]
    assert service["User"] == "pendamping"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"].startswith("/etc/pendamping/")
    assert service["UMask"] == "0077"
    command = " ".join(service["ExecStart"].replace("\\\n", " ").split())
    assert command.startswith("/opt/pendamping/venv/bin/pendamping run --webhook-url https://")
    assert command.endswith("--listen 127.0.0.1 --port %i")
    assert "TELEGRAM_BOT_TOKEN" not in service.get("Environment", "")
    assert "--webhook-secret" not in command  # the secret comes from the EnvironmentFile


def test_nginx_example_spreads_the_webhook_over_the_worker_ports() -> None:
    import re

    conf = (REPO / "deploy" / "nginx-pendamping.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream pendamping_workers \{(.*?)\}", conf, re.S)
    assert upstream is not None
    ports = re.findall(r"^\s*server 127\.0\.0\.1:(\d+)", upstream.group(1), re.M)
    assert len(ports) >= 2
    assert "proxy_pass http://pendamping_workers/telegram;" in conf
    assert "client_max_body_size 1m;" in conf
    # a timed-out update is not posted to a second worker (it may still be handled)
    next_upstream = re.search(r"proxy_next_upstream ([^;]*);", conf)
    assert next_upstream is not None and "timeout" not in next_upstream.group(1)
    assert conf.count("{") == conf.count("}")
