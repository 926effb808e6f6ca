"""A test's own nginx in front of webhook workers, configured from deploy/nginx-pendamping.conf.

nginx comes from Debian's packages (`apt-get install -y nginx`); NGINX is None where there is
no binary on PATH, and the tests that use it fall back (tests/test_multiworker_postgres.py) or
skip (tests/test_deploy.py) with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx")
NGINX_EXAMPLE = REPO / "deploy" / "nginx-pendamping.conf"
WORKER_HEADER = "X-Pendamping-Worker"  # nginx's $upstream_addr, added by the test's server


def nginx_version() -> str:
    """`nginx -v` of the binary on PATH, e.g. "nginx/1.22.1"; "" without one."""
    if NGINX is None:
        return ""
    out = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def nginx_config(
    tmp: Path, listen_port: int, worker_ports: list[int] | dict[str, list[int]]
) -> str:
    """A config for a test's own nginx, made from deploy/nginx-pendamping.conf.

    The example's `upstream pendamping_workers` block with one `server` line per worker (the
    parameters of its first server line) and its `location = /telegram` block, both as they
    are; around them a plain-HTTP server on 127.0.0.1:listen_port (the example's TLS and
    /var/log are the host's business) that names the worker which answered in a header, and
    the main context of a foreground nginx whose pid, logs and temporary files are in tmp.
    Several bots (a dict: name -> their workers' ports): one upstream `pendamping_<name>` and
    one `location = /telegram/<name>` each, as docs/operations.md shows for several kabupaten."""
    example = NGINX_EXAMPLE.read_text(encoding="utf-8")
    upstream = re.search(r"^upstream pendamping_workers \{\n(.*?)^\}", example, re.S | re.M)
    location = re.search(r"^( +location = /telegram \{\n.*?^ +\}\n)", example, re.S | re.M)
    assert upstream is not None and location is not None, "the example's shape changed"
    body = upstream.group(1).splitlines()
    params = next(m.group(1) for line in body
                  if (m := re.match(r"\s*server \S+(.*);", line)))  # fmt: skip
    kept = [line for line in body if line.strip() and not line.strip().startswith(("server ", "#"))]
    bots = worker_ports if isinstance(worker_ports, dict) else {"": worker_ports}
    blocks, locations = [], []
    for name, ports in bots.items():
        upstream_name = f"pendamping_{name}" if name else "pendamping_workers"
        servers = [f"    server 127.0.0.1:{port}{params};" for port in ports]
        blocks.append(f"upstream {upstream_name} {{\n" + "\n".join(servers + kept) + "\n}\n")
        locations.append(
            location.group(1)
            .replace(
                "location = /telegram {", f"location = /telegram{'/' + name if name else ''} {{"
            )
            .replace("http://pendamping_workers/", f"http://{upstream_name}/")
        )
    # As root the master would hand its worker to "nobody", who cannot enter tmp_path.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"{kind}_temp_path {tmp / ('nginx-' + kind)};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    return f"""daemon off;
master_process on;
worker_processes 1;
{user}pid {tmp / "nginx.pid"};
error_log {tmp / "nginx.error.log"} notice;
events {{ worker_connections 512; }}
http {{
log_format workers '$status "$upstream_addr" "$upstream_status" $request_time';
access_log {tmp / "nginx.access.log"} workers;
{temp}
{chr(10).join(blocks)}
server {{
    listen 127.0.0.1:{listen_port};
    add_header {WORKER_HEADER} $upstream_addr always;
{"".join(locations)}    location / {{ return 404; }}
}}
}}
"""


class Nginx:
    """nginx in the foreground on listen_port, spreading /telegram over worker_ports."""

    def __init__(
        self, tmp: Path, listen_port: int, worker_ports: list[int] | dict[str, list[int]]
    ) -> None:
        assert NGINX is not None
        self.port = listen_port
        self.worker_ports = (
            [p for ports in worker_ports.values() for p in ports]
            if isinstance(worker_ports, dict)
            else worker_ports
        )
        self.access_log = tmp / "nginx.access.log"
        self.error_log = tmp / "nginx.error.log"
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(tmp, listen_port, worker_ports), encoding="utf-8")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    def worker(self, addr: str) -> int:
        """The index in worker_ports of nginx's "127.0.0.1:PORT"."""
        return self.worker_ports.index(int(addr.rsplit(":", 1)[1]))

    def spread(self) -> dict[int, int]:
        """From the access log: worker index -> posts it answered with 200."""
        counts: dict[int, int] = {}
        for line in self.access_log.read_text(encoding="utf-8").splitlines():
            status, addrs = re.match(r'(\d+) "([^"]*)"', line).groups()  # type: ignore[union-attr]
            if status == "200":
                i = self.worker(addrs.split(",")[-1].strip())
                counts[i] = counts.get(i, 0) + 1
        return counts

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: it finishes open requests
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(10)
