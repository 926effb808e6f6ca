"""Webhook delivery: while the bot has a webhook set, post each pending update to it in order."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from bot.sandbox.core import SandboxCore

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookPusher:
    """One update at a time (like max_connections=1); a non-2xx answer is retried with backoff."""

    def __init__(self, core: SandboxCore) -> None:
        self.core = core
        self._task: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook-pusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            hook = self.core.webhook
            pending = self.core.pending()
            if not hook or not pending or self.core.closed:
                await self.core.wait_changed(None)
                continue
            update = pending[0]
            headers = {}
            if hook.get("secret_token"):
                headers[SECRET_HEADER] = hook["secret_token"]
            status: int | None = None
            error = ""
            try:
                assert self._session is not None
                async with self._session.post(hook["url"], json=update, headers=headers) as resp:
                    status = resp.status
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"Connection failed: {type(exc).__name__}"
            if self.core.webhook is not hook:
                continue
            if status is not None and 200 <= status < 300:
                self.core.confirm(update["update_id"] + 1)
                self.core.notify()
                backoff = 0.05
            else:
                message = error or f"Wrong response from the webhook: {status}"
                self.core.webhook_last_error = (int(self.core.now()), message)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
