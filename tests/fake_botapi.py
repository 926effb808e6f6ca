"""An in-process Bot API double at the protocol boundary (a PTB BaseRequest).

The real PTB Bot talks to it, so errors come out as PTB's own RetryAfter / Forbidden /
BadRequest / NetworkError / TimedOut. Used by the cycle/outbox service tests until (and
besides) the shared sandbox; it answers getMe and sendMessage (and records sendPhoto/sendDocument).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from collections.abc import Callable

from telegram import Bot
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

TOKEN = "123456:fake"


class FakeBotAPI(BaseRequest):
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic  # the time recorded in `calls` (a manual clock in tests)
        self.sent: dict[int, list[str]] = defaultdict(list)
        self.calls: list[tuple[float, int]] = []  # (monotonic time, chat_id) of every send try
        self.blocked: set[int] = set()
        self.unknown: set[int] = set()
        self.faults: dict[int | None, deque[tuple[int | str, int]]] = defaultdict(deque)
        self._message_id = 0
        self.markups: dict[int, list] = defaultdict(list)
        self.files: dict[int, list[str]] = defaultdict(list)  # chat -> 'sendPhoto'|'sendDocument'

    def fault(self, status: int | str, *, chat_id: int | None = None, retry_after: int = 0,
              count: int = 1) -> None:  # fmt: skip
        """The next `count` sends (to chat_id, or to any chat) fail: 429/403/400/502/'timeout'."""
        for _ in range(count):
            self.faults[chat_id].append((status, retry_after))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(self, url, method, request_data: RequestData | None = None,
                         read_timeout=None, write_timeout=None, connect_timeout=None,
                         pool_timeout=None):  # noqa: ANN001  # fmt: skip
        api = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if api == "getMe":
            return self._ok({"id": 1, "is_bot": True, "first_name": "Pendamping",
                             "username": "PendampingTegalBot"})  # fmt: skip
        if api in ("setMyCommands", "answerCallbackQuery", "deleteWebhook"):
            return self._ok(True)
        if api in ("sendPhoto", "sendDocument"):  # digests' charts and export: recorded only
            chat_id = int(params["chat_id"])
            self._message_id += 1
            self.files[chat_id].append(api)
            chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "S"}
            return self._ok({"message_id": self._message_id, "date": int(time.time()),
                             "chat": chat})  # fmt: skip
        if api != "sendMessage":
            return 404, json.dumps({"ok": False, "error_code": 404,
                                    "description": "Not Found"}).encode()  # fmt: skip
        chat_id = int(params["chat_id"])
        self.calls.append((self.monotonic(), chat_id))
        queue = self.faults.get(chat_id) or self.faults.get(None)
        if queue:
            status, retry_after = queue.popleft()
            if status == "timeout":
                raise TimedOut("fake timeout")
            if status == 429:
                return self._error(429, f"Too Many Requests: retry after {retry_after}",
                                   {"retry_after": retry_after})  # fmt: skip
            if status == 403:
                return self._error(403, "Forbidden: bot was blocked by the user")
            if status == 400:
                return self._error(400, "Bad Request: chat not found")
            if status == 401:
                return self._error(401, "Unauthorized")
            return self._error(int(status), "Bad Gateway")
        if chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unknown:
            return self._error(400, "Bad Request: chat not found")
        self._message_id += 1
        self.sent[chat_id].append(params["text"])
        self.markups[chat_id].append(params.get("reply_markup"))
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group"}
        if chat_id < 0:
            chat["title"] = "Staf"
        else:
            chat["first_name"] = "U"
        return self._ok({"message_id": self._message_id, "date": int(time.time()), "chat": chat,
                         "text": params["text"]})  # fmt: skip

    @staticmethod
    def _ok(result: dict | bool) -> tuple[int, bytes]:
        return 200, json.dumps({"ok": True, "result": result}).encode()

    @staticmethod
    def _error(code: int, description: str, parameters: dict | None = None) -> tuple[int, bytes]:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return code, json.dumps(body).encode()


async def fake_bot(api: FakeBotAPI) -> Bot:
    bot = Bot(TOKEN, request=api, get_updates_request=FakeBotAPI())
    await bot.initialize()
    return bot
