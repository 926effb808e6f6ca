"""The shipped systemd units and nginx example keep the properties docs/operations.md
promises."""

from __future__ import annotations

import configparser
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.nginx_proxy import NGINX, WORKER_HEADER, Nginx

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
    # ... but a POST that failed otherwise is (nginx re-sends a POST only with non_idempotent)
    assert {"error", "http_503", "non_idempotent"} <= set(next_upstream.group(1).split())
    assert conf.count("{") == conf.count("}")


@pytest.mark.skipif(NGINX is None, reason="no nginx binary (Debian: apt-get install -y nginx)")
async def test_nginx_example_sends_a_failed_post_on_to_the_next_worker(tmp_path: Path) -> None:
    """The example's upstream and location, run by a real nginx (tests/nginx_proxy.py), in
    front of three stand-in workers: one answers 503 (its database session failed), one reads
    the update and closes the connection (killed mid-update), one answers 200. Every post
    is answered 200 by the third; without non_idempotent nginx would answer 503 or 502."""
    import asyncio

    import aiohttp

    hits = {"503": 0, "dropped": 0, "200": 0}

    def stand_in(answer: str) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                hits[answer] += 1
                if answer != "dropped":
                    writer.write(f"HTTP/1.1 {answer} x\r\nContent-Length: 2\r\n"
                                 "Connection: close\r\n\r\nok".encode())  # fmt: skip
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        return handle

    servers = [await asyncio.start_server(stand_in(a), "127.0.0.1", 0) for a in hits]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        listen = s.getsockname()[1]
    nginx = Nginx(tmp_path, listen, ports)
    try:
        for _ in range(100):
            assert nginx.proc.poll() is None, nginx.errors()
            try:
                with socket.create_connection(("127.0.0.1", listen), timeout=0.2):
                    break
            except OSError:
                await asyncio.sleep(0.05)
        secret = {"X-Telegram-Bot-Api-Secret-Token": "s"}
        async with aiohttp.ClientSession() as session:
            answers = []
            for update_id in range(6):
                async with session.post(nginx.url, json={"update_id": update_id},
                                        headers=secret) as resp:  # fmt: skip
                    answers.append((resp.status, resp.headers.get(WORKER_HEADER, "")))
            async with session.post(nginx.url, json={}) as resp:  # no secret: nginx refuses
                refused = (resp.status, resp.headers.get(WORKER_HEADER))
            async with session.post(nginx.url.replace("/telegram", "/"), headers=secret) as resp:
                elsewhere = resp.status
    finally:
        nginx.stop()
        for s in servers:
            s.close()
    good = f"127.0.0.1:{ports[2]}"
    assert all(status == 200 and tried.endswith(good) for status, tried in answers), answers
    assert hits["503"] >= 1 and hits["dropped"] >= 1 and hits["200"] == 6, hits
    assert refused == (403, None) and elsewhere == 404
