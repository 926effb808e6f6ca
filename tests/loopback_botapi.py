"""A minimal loopback Bot API server (aiohttp) for the kill test and the broadcast benchmark.

Only what the outbox sender needs: getMe and sendMessage, Telegram's limits (30 sends in any
1 s overall, 1 per second per private chat, with a small tolerance), blocked users (403),
injected per-chat 429s, and delivery counts per chat. These tests could move to the shared
sandbox (bot/sandbox); this stays a stand-in at the same boundary.

Run: python -m tests.loopback_botapi --port 8099 [--enforce] [--blocked 1001,1002]
[--blocked-ratio 0.02] [--inject-429-ratio 0.01] [--seed 1]
Control: GET /_ctl/stats -> {"deliveries": {chat: n}, "calls": n, "429": n, "403": n}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
from collections import defaultdict, deque

from aiohttp import web

TOKEN = "123456:sandbox"


class LoopbackBotAPI:
    def __init__(self, *, enforce: bool = False, blocked: set[int] | None = None,
                 blocked_ratio: float = 0.0, inject_429_ratio: float = 0.0,
                 seed: int = 1) -> None:  # fmt: skip
        self.enforce = enforce
        self.blocked = set(blocked or ())
        self.blocked_ratio = blocked_ratio
        self.inject_429_ratio = inject_429_ratio
        self.rng = random.Random(seed)
        self.deliveries: dict[int, int] = defaultdict(int)
        self.window: deque[float] = deque()
        self.last_per_chat: dict[int, float] = {}
        self.injected: set[int] = set()
        self.counts = defaultdict(int)
        self.message_id = 0
        self.first_send: float | None = None
        self.last_send: float | None = None
        self.first_call: float | None = None
        self.last_call: float | None = None

    def is_blocked(self, chat_id: int) -> bool:
        if chat_id in self.blocked:
            return True
        # a stable 2 % (or whatever ratio) of chats, by hash: same answer every time
        return (
            self.blocked_ratio > 0 and (chat_id * 2654435761 % 10_000) < self.blocked_ratio * 10_000
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        app.router.add_get("/_ctl/stats", self.stats)
        return app

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({
            "deliveries": {str(k): v for k, v in self.deliveries.items()},
            "counts": dict(self.counts),
            "first_send": self.first_send, "last_send": self.last_send,
            "first_call": self.first_call, "last_call": self.last_call,
        })  # fmt: skip

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        if method == "getMe":
            return web.json_response({"ok": True, "result": {
                "id": 123456, "is_bot": True, "first_name": "Pendamping",
                "username": "PendampingTegalBot"}})  # fmt: skip
        if method in ("setMyCommands", "deleteWebhook", "answerCallbackQuery"):
            return web.json_response({"ok": True, "result": True})
        if method != "sendMessage":
            return self._error(404, "Not Found")
        chat_id = int(params["chat_id"])
        now = time.monotonic()
        self.counts["calls"] += 1
        self.first_call = self.first_call or now
        self.last_call = now
        if self.enforce:
            while self.window and self.window[0] <= now - 1.0:
                self.window.popleft()
            if len(self.window) >= 30:
                self.counts["429_global"] += 1
                return self._error(429, "Too Many Requests: retry after 1", 1)
            last = self.last_per_chat.get(chat_id)
            if last is not None and now - last < 0.9:  # short bursts tolerated: 10 %
                self.counts["429_chat"] += 1
                return self._error(429, "Too Many Requests: retry after 1", 1)
        if self.is_blocked(chat_id):
            self.counts["403"] += 1
            return self._error(403, "Forbidden: bot was blocked by the user")
        if (
            self.inject_429_ratio
            and chat_id not in self.injected
            and self.rng.random() < self.inject_429_ratio
        ):
            self.injected.add(chat_id)
            self.counts["429_injected"] += 1
            return self._error(429, "Too Many Requests: retry after 1", 1)
        if self.enforce:
            self.window.append(now)
            self.last_per_chat[chat_id] = now
        self.deliveries[chat_id] += 1
        self.first_send = self.first_send or now
        self.last_send = now
        self.message_id += 1
        return web.json_response({"ok": True, "result": {
            "message_id": self.message_id, "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "U"},
            "text": params.get("text", "")}})  # fmt: skip


async def start(api: LoopbackBotAPI, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8099)
    p.add_argument("--enforce", action="store_true")
    p.add_argument("--blocked-ratio", type=float, default=0.0)
    p.add_argument("--inject-429-ratio", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    api = LoopbackBotAPI(enforce=args.enforce, blocked_ratio=args.blocked_ratio,
                         inject_429_ratio=args.inject_429_ratio, seed=args.seed)  # fmt: skip

    async def serve() -> None:
        runner, port = await start(api, args.port)
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
