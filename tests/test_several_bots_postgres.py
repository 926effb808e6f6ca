"""Several kabupaten on one PostgreSQL database, each with its own bot (bot/db/pgschema.py).

Two kabupaten share one test database, each in its own schema (`database_schema`), each with
its own bot token and its own Telegram (a sandbox per bot, as each bot has its own chats):
Kabupaten Tegal with two webhook workers, Kabupaten Brebes with one, all real
`python -m bot run --webhook-url` processes at once. Both bots' update ids start at 1, so they
collide on purpose: each update must still be handled once by its own bot. Each bot elects its
own outbox sender (both at once) and sends only its own kabupaten's messages, through its own
token; no row, report or message crosses from one kabupaten to the other. Brebes' schema
holds Brebes' kecamatan (`pendamping regions`), and its bot names Kabupaten Brebes. Where an
nginx binary is installed, one nginx (the deploy example's blocks, a location per bot) sits in
front of all three workers; without one the test delivers round-robin itself.

No PostgreSQL server: skipped with the reason (a failure with CI=true; tests/pg_databases.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import main as cli_main
from bot.config import load_settings
from bot.db import open_migrated
from bot.db.pgschema import with_schema
from bot.runlock import (
    SenderLockHeld,
    acquire_run_lock,
    acquire_sender_lock,
    is_locked,
    sender_holder,
)
from bot.sandbox.core import SandboxCore
from bot.sandbox.server import SandboxServer
from bot.services import broadcasts
from bot.services.regions import current, replace_regions
from tests.nginx_proxy import NGINX, Nginx
from tests.pg_databases import in_ci
from tests.suite_counts import SCENARIOS
from tests.test_multiworker_postgres import LAUNCH, NOW, SECRET, _free_port, _report, _take
from tests.test_multiworker_postgres import _seed as seed_families

FAMILIES = 12 if in_ci() else 6  # per kabupaten


@dataclass
class Kabupaten:
    schema: str
    token: str
    kecamatan: tuple[str, str]  # code, name
    first_family: int
    facilitator: int
    workers: int

    def url(self, base: str) -> str:
        return with_schema(base, self.schema)

    @property
    def families(self) -> list[int]:
        return [self.first_family + i for i in range(FAMILIES)]


TEGAL = Kabupaten("kab_tegal", "111111:tegal", ("33.28.06", "Lebaksiu"), 810_000, 801_000, 2)
BREBES = Kabupaten("kab_brebes", "222222:brebes", ("33.29.01", "Salem"), 820_000, 802_000, 1)
NAMES = {"kab_tegal": "Kabupaten Tegal", "kab_brebes": "Kabupaten Brebes"}
STRANGER = 899_999  # writes to both bots without an invitation


async def _seed(url: str, kab: Kabupaten) -> None:
    """The kabupaten's kecamatan (Brebes': loaded as `pendamping regions` does), families and
    their facilitator."""
    db = await open_migrated(url, NOW)
    try:
        if kab.kecamatan[0] not in (await current(db)).kecamatan:  # another kabupaten than Tegal
            await replace_regions(db, kab.kecamatan[0][:5], NAMES[kab.schema],
                                  dict([kab.kecamatan]), NOW)  # fmt: skip
    finally:
        await db.close()
    await seed_families(url, FAMILIES, NOW, first_family=kab.first_family,
                        facilitator=kab.facilitator, kecamatan=kab.kecamatan[0])  # fmt: skip


class BotWorkers:
    """One kabupaten's bot: N webhook workers with its token and schema, and the round-robin
    that plays its load balancer."""

    def __init__(self, tmp: Path, kab: Kabupaten, base_url: str, api_url: str) -> None:
        config = tmp / f"{kab.schema}.toml"
        config.write_text(
            f'database_schema = "{kab.schema}"\n[outbox]\nper_second = 200.0\n'
            "private_interval_seconds = 0.0\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PENDAMPING_", "TELEGRAM_"))}  # fmt: skip
        env.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]), PENDAMPING_DB=base_url,
                   TELEGRAM_BOT_TOKEN=kab.token, PENDAMPING_WEBHOOK_SECRET=SECRET,
                   PENDAMPING_CONFIG=str(config))  # fmt: skip
        self.ports = [_free_port() for _ in range(kab.workers)]
        self.logs = [tmp / f"{kab.schema}-worker{i}.log" for i in range(kab.workers)]
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    LAUNCH,
                    NOW.isoformat(),
                    "run",
                    "--api-url",
                    api_url,
                    "--webhook-url",
                    f"http://127.0.0.1:{port}/telegram",
                    "--listen",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=open(log, "ab"),  # noqa: SIM115
            )  # fmt: skip
            for port, log in zip(self.ports, self.logs, strict=True)
        ]
        self.turn = 0
        self.posts = 0
        self.via: str | None = None  # nginx's location for this bot, when the test runs one
        self.session: aiohttp.ClientSession | None = None

    def log_tail(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-1500:] for log in self.logs)

    async def ready(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        deadline = time.monotonic() + 60
        for proc, port in zip(self.procs, self.ports, strict=True):
            while True:
                assert proc.poll() is None, self.log_tail()
                try:
                    async with self.session.get(f"http://127.0.0.1:{port}/"):
                        break
                except aiohttp.ClientError:
                    assert time.monotonic() < deadline, (
                        "a worker did not listen\n" + self.log_tail()
                    )
                    await asyncio.sleep(0.1)

    async def post(self, update: dict[str, Any]) -> None:
        """Through nginx when there is one, else the next worker in turn."""
        assert self.session is not None
        url = self.via or f"http://127.0.0.1:{self.ports[self.turn % len(self.ports)]}/telegram"
        self.turn += 1
        self.posts += 1
        async with self.session.post(
            url, json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        ) as resp:  # fmt: skip
            assert resp.status == 200, (resp.status, await resp.text(), self.log_tail())

    async def stop(self) -> list[int]:
        if self.session is not None:
            await self.session.close()
        for proc in self.procs:
            proc.terminate()
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait(10))
        return codes


def _texts(core: SandboxCore, uid: int) -> list[str]:
    return [m.data.get("text") or m.data.get("caption") or "" for m in core.bot_messages(uid)]


async def _until(check: Any, what: str, logs: Any, within: float = 60) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}\n{logs()}"
        await asyncio.sleep(0.1)


async def test_two_kabupaten_bots_on_one_database(tmp_path, pg_url):
    kabs = (TEGAL, BREBES)
    for kab in kabs:
        await _seed(kab.url(pg_url), kab)
    cores, servers, bots, dbs = {}, {}, {}, {}
    for kab in kabs:
        core = SandboxCore(kab.token, call_log_size=100)
        core.add_user(kab.facilitator, "Pendamping")
        core.add_user(STRANGER, "Tamu")
        for uid in kab.families:
            core.add_user(uid, "Siti")
        server = SandboxServer(core, control=False)
        await server.start()
        await server._pusher.stop()  # the test delivers the updates (its load balancer)
        cores[kab.schema], servers[kab.schema] = core, server
    for kab in kabs:
        bots[kab.schema] = BotWorkers(tmp_path, kab, pg_url, servers[kab.schema].bot_base_url)
        dbs[kab.schema] = await open_migrated(kab.url(pg_url))
    # one nginx in front of both bots, a location each (docs/operations.md, several kabupaten)
    routes = {k.schema: bots[k.schema].ports for k in kabs}
    nginx = Nginx(tmp_path, _free_port(), routes) if NGINX else None
    if nginx is not None:
        for kab in kabs:
            bots[kab.schema].via = f"{nginx.url}/{kab.schema}"

    def logs() -> str:
        return "\n".join(b.log_tail() for b in bots.values())

    try:
        for b in bots.values():
            await b.ready()

        async def holders() -> list[str] | None:
            found = [await asyncio.to_thread(sender_holder, k.url(pg_url)) for k in kabs]
            return found if all(found) else None

        # one sender per bot, both at once
        senders = await _until(holders, "each bot elects its own sender", logs)
        pids = {int(re.search(r"pid (\d+)", h).group(1)) for h in senders}  # type: ignore[union-attr]
        assert len(pids) == 2
        # the families of both kabupaten report at the same time; update ids collide
        await asyncio.gather(*(
            _report(cores[k.schema], bots[k.schema], dbs[k.schema], uid)  # type: ignore[arg-type]
            for k in kabs for uid in k.families
        ))  # fmt: skip
        # a message to the facilitator, and a broadcast, queued in both kabupaten at once
        for kab in kabs:
            core = cores[kab.schema]
            await bots[kab.schema].post(_take(core, core.send(STRANGER, text="halo")["update_id"]))
            for uid in kab.families:
                await bots[kab.schema].post(_take(core, core.send(uid, text=f"halo dari {uid}")["update_id"]))  # fmt: skip
            settings = load_settings(tmp_path / f"{kab.schema}.toml", env={"PENDAMPING_DB": pg_url})
            db = dbs[kab.schema]
            p = await broadcasts.start_draft(db, settings, None, "recipients", None, NOW,
                                             f"Pelatihan {kab.schema} Sabtu ini.")  # fmt: skip
            assert await broadcasts.queue(db, settings, None, p.broadcast_id, NOW) == FAMILIES

        async def all_sent() -> bool:
            for db in dbs.values():
                if await db.fetchval("SELECT count(*) FROM outbox WHERE status != 'sent'"):
                    return False
            return True

        await _until(all_sent, "both outboxes delivered", logs)
    finally:
        codes = [c for b in bots.values() for c in await b.stop()]
        for server in servers.values():
            await server.stop()
        if nginx is not None:
            nginx.stop()
    assert codes == [0, 0, 0], logs()
    if nginx is not None:  # each bot's posts reached its own workers only, spread over them
        spread = nginx.spread()
        assert spread.get(0, 0) + spread.get(1, 0) == bots["kab_tegal"].posts, spread
        assert spread.get(2, 0) == bots["kab_brebes"].posts, spread
        assert spread.get(0) and spread.get(1), spread
    try:
        for kab, other in ((TEGAL, BREBES), (BREBES, TEGAL)):
            db, core, foreign = dbs[kab.schema], cores[kab.schema], cores[other.schema]
            # every report saved once, in its own kabupaten's schema
            saved = await db.fetchall("SELECT recipient_id, count(*) AS n FROM reports GROUP BY 1")
            assert sorted((r["recipient_id"], r["n"]) for r in saved) == [
                (i + 1, 1) for i in range(FAMILIES)
            ]
            rows = await db.fetchall("SELECT kind, chat_id, attempts FROM outbox")
            assert {r["chat_id"] for r in rows} <= {kab.facilitator, *kab.families}
            assert all(r["attempts"] == 1 for r in rows)
            # the facilitator got each family's message once, through this kabupaten's bot
            forwarded = [t for t in _texts(core, kab.facilitator) if "halo dari" in t]
            assert sorted(re.search(r"halo dari (\d+)", t).group(1) for t in forwarded) == sorted(  # type: ignore[union-attr]
                str(uid) for uid in kab.families
            )
            # someone without an invitation learns whose bot this is
            assert f"Dinas Sosial {NAMES[kab.schema]}." in _texts(core, STRANGER)[-1]
            for uid in kab.families:
                assert sum(f"Pelatihan {kab.schema}" in t for t in _texts(core, uid)) == 1
                assert not foreign.bot_messages(uid)  # nothing through the other bot
            assert not any(f"Pelatihan {kab.schema}" in t for u in other.families
                           for t in _texts(foreign, u))  # fmt: skip
    finally:
        for db in dbs.values():
            await db.close()
    SCENARIOS.append(
        f"several bots: 2 kabupaten on one PostgreSQL database (3 workers, 2 senders, "
        f"{'behind nginx' if nginx else 'round-robin by the test: no nginx'}), "
        f"{2 * FAMILIES} reports with colliding update ids, 0 crossed"
    )


def test_each_schema_has_its_own_locks(pg_url):
    tegal, brebes = TEGAL.url(pg_url), BREBES.url(pg_url)
    sender_t = acquire_sender_lock(tegal, "run")
    sender_b = acquire_sender_lock(brebes, "run")  # another kabupaten's bot sends at once
    try:
        with pytest.raises(SenderLockHeld, match=r"\(schema kab_tegal\)"):
            acquire_sender_lock(tegal, "send")
        mine = f"`pendamping run` (pid {os.getpid()})"
        assert sender_holder(tegal) == sender_holder(brebes) == mine
        assert sender_holder(pg_url) is None  # the public schema's sender is free
    finally:
        assert sender_t is not None and sender_b is not None
        sender_t.release()
        sender_b.release()
    run_t = acquire_run_lock(tegal)  # e.g. a restore of Tegal alone
    try:
        assert is_locked(tegal) and not is_locked(brebes)
        acquire_run_lock(brebes, shared=True).release()  # type: ignore[union-attr]
    finally:
        assert run_t is not None
        run_t.release()


def test_db_copy_moves_a_kabupaten_file_into_its_schema(tmp_path, pg_url, capsys):
    source = str(tmp_path / "tegal.db")

    async def make() -> None:
        db = await open_migrated(source, NOW)
        await db.execute(
            "INSERT INTO facilitators (code, name, created_at, updated_at)"
            " VALUES ('PD-9', 'Bu Rina', ?, ?)",
            (NOW.isoformat(), NOW.isoformat()),
        )
        await db.close()

    asyncio.run(make())
    code = cli_main(["db", "copy", "--from", source, "--to", pg_url, "--to-schema", "kab_tegal"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "(schema kab_tegal)" in out.out

    async def read(url: str) -> list[Any]:
        db = await open_migrated(url)
        try:
            return [r[0] for r in await db.fetchall("SELECT name FROM facilitators")]
        finally:
            await db.close()

    assert asyncio.run(read(TEGAL.url(pg_url))) == ["Bu Rina"]
    assert asyncio.run(read(pg_url)) == []  # the public schema untouched
    # a copy into the same schema again refuses (it holds data now)
    assert cli_main(["db", "copy", "--from", source, "--to", pg_url, "--to-schema",
                     "kab_tegal"]) == 2  # fmt: skip
    assert cli_main(["db", "copy", "--from", source, "--to", source + "2",
                     "--to-schema", "kab_x"]) != 0  # fmt: skip
    assert "--to-schema needs a postgresql:// URL" in capsys.readouterr().err
