"""How many Bot API calls per second the loopback sandbox server sustains.

Starts `pendamping sandbox serve --port 0` in its own process (as in the demo and load
tests), then several concurrent aiohttp clients on loopback call sendMessage (with an inline
keyboard, like the bot does) and getMe for a bounded number of calls or seconds.
Prints calls/s. Goal: >= 2,000 calls/s on a 2-core machine.

    python benchmarks/sandbox_throughput.py [--calls 20000] [--clients 16] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from _result import result  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:sandbox"


async def start_server() -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sandbox", "serve", "--port", "0",
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    if not line.startswith("listening on "):
        raise SystemExit(f"sandbox did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a process (Linux /proc), to show the server's own cost."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def worker(session, url, deadline, budget, counts, index):
    markup = json.dumps({"inline_keyboard": [[{"text": "Berjalan", "callback_data": "rep:ok"}]]})
    n = 0
    while budget[0] > 0 and time.perf_counter() < deadline:
        budget[0] -= 1
        n += 1
        if n % 5 == 0:
            async with session.post(f"{url}/bot{TOKEN}/getMe") as resp:
                await resp.read()
        else:
            form = {"chat_id": str(1000 + index), "text": f"Pesan {n}", "reply_markup": markup}
            async with session.post(f"{url}/bot{TOKEN}/sendMessage", data=form) as resp:
                await resp.read()
        counts[resp.status] = counts.get(resp.status, 0) + 1


def _request(host: str, path: str, form: dict[str, str] | None) -> bytes:
    body = urlencode(form).encode() if form else b""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def raw_worker(url, deadline, budget, counts, index):
    """A minimal keep-alive HTTP/1.1 client, so the figure measures the server, not the client."""
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    markup = json.dumps({"inline_keyboard": [[{"text": "Berjalan", "callback_data": "rep:ok"}]]})
    get_me = _request(host_port, f"/bot{TOKEN}/getMe", None)
    n = 0
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            n += 1
            if n % 5 == 0:
                writer.write(get_me)
            else:
                form = {"chat_id": str(1000 + index), "text": f"Pesan {n}", "reply_markup": markup}
                writer.write(_request(host_port, f"/bot{TOKEN}/sendMessage", form))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--url", help="use a sandbox already running there (not started here)")
    parser.add_argument(
        "--client", choices=["raw", "aiohttp"], default="raw",
        help="raw: minimal keep-alive HTTP client (measures the server); aiohttp: full client",
    )  # fmt: skip
    args = parser.parse_args()
    if args.url:
        proc, url = None, args.url.rstrip("/")
    else:
        proc, url = await start_server()
    try:
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            for i in range(args.clients):
                await session.post(
                    f"{url}/_sandbox/users", json={"id": 1000 + i, "first_name": f"U{i}"}
                )
            # warm-up
            await asyncio.gather(*(session.post(f"{url}/bot{TOKEN}/getMe") for _ in range(50)))
            counts: dict[int, int] = {}
            budget = [args.calls]
            cpu_before = cpu_seconds(proc.pid) if proc else None
            start = time.perf_counter()
            deadline = start + args.seconds
            if args.client == "raw":
                jobs = [raw_worker(url, deadline, budget, counts, i) for i in range(args.clients)]
            else:
                jobs = [
                    worker(session, url, deadline, budget, counts, i) for i in range(args.clients)
                ]
            await asyncio.gather(*jobs)
            elapsed = time.perf_counter() - start
            cpu_after = cpu_seconds(proc.pid) if proc else None
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()
    total = sum(counts.values())
    rate = total / elapsed
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"calls: {total} in {elapsed:.2f} s with {args.clients} concurrent {args.client} clients; "
        f"statuses {counts}"
    )
    print(f"load average before the end: {os.getloadavg()[0]:.2f}")
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        per_cpu = total / (cpu_after - cpu_before)
        print(f"server cost: {per_cpu:.0f} calls per CPU-second of the sandbox process")
    print(f"throughput: {rate:.0f} Bot API calls/s (goal >= 2000)")
    result("sandbox_calls_per_s", rate, "calls/s", ">= 2000", rate >= 2000)
    return 0 if rate >= 2000 and set(counts) == {200} else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
