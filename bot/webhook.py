"""The webhook endpoint of `pendamping run --webhook-url`: a small aiohttp server of our own.

PTB's built-in webhook server (tornado) reads the whole body before it looks at the secret
header, accepts up to 100 MB, answers malformed JSON with 500 and logs a bad update in full at
CRITICAL. This one, in order:

1. the secret header (X-Telegram-Bot-Api-Secret-Token) is compared in constant time before
   a byte of the body is read: without it, 403;
2. a declared body over MAX_BODY (1 MB; Telegram's updates are a few kB) is refused with 413
   unread; an undeclared (chunked) one is cut off at MAX_BODY, also 413;
3. a body that is not a JSON object, or not an Update, gets 400 and one log line with its
   size only, never its content;
4. a good update goes into the Application's update queue (as PTB's server does): 200.
   One of several workers on a PostgreSQL database (bot/workers.py) handles it instead, while
   it holds the chat's lock, and answers 200 after the handling (503 when the lock's database
   session fails: Telegram delivers the update again); an update already handled by a worker
   (delivered again) is answered 200 and skipped.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ExtBot

from bot.updates import chat_key

if TYPE_CHECKING:
    from bot.workers import ChatLocks

log = logging.getLogger("pendamping.webhook")

MAX_BODY = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    """POST /<path> -> the Application's update queue; see the module docstring."""

    def __init__(
        self,
        app: Application,
        listen: str,
        port: int,
        path: str,
        secret: str,
        *,
        max_body: int = MAX_BODY,
        chat_locks: ChatLocks | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the webhook needs a secret token")
        self.app = app
        self.listen, self.port = listen, port
        self.path = "/" + path.strip("/")
        self._secret = secret.encode()
        self.max_body = max_body
        self.chat_locks = chat_locks
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen (OSError when the port is taken)."""
        web_app = web.Application(client_max_size=self.max_body)
        web_app.router.add_post(self.path, self._handle)
        web_app.router.add_post(self.path + "/", self._handle)
        self._runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        log.info("event=webhook_listening address=%s port=%d", self.listen, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(token, self._secret):
            log.warning("event=webhook_refused reason=%s", "wrong_secret" if token else "no_secret")
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > self.max_body:
            log.warning("event=webhook_refused reason=too_large bytes=%d", request.content_length)
            return web.Response(status=413, text="too large")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("event=webhook_refused reason=too_large bytes=over_%d", self.max_body)
            return web.Response(status=413, text="too large")
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            log.warning("event=webhook_refused reason=bad_json bytes=%d", len(body))
            return web.Response(status=400, text="bad request")
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:  # any field of the wrong shape
            log.warning(
                "event=webhook_refused reason=bad_update bytes=%d error=%s",
                len(body),
                type(exc).__name__,
            )
            return web.Response(status=400, text="bad request")
        if isinstance(self.app.bot, ExtBot):
            self.app.bot.insert_callback_data(update)
        if self.chat_locks is None:
            await self.app.update_queue.put(update)
            return web.Response(status=200, text="ok")
        try:
            async with self.chat_locks.hold(chat_key(update), update.update_id) as seen:
                if seen:  # delivered again, and a worker handled it already
                    log.info("event=webhook_duplicate update_id=%d", update.update_id)
                    return web.Response(status=200, text="ok")
                # through the update processor, as PTB's own loop does (its concurrency limit)
                await self.app.update_processor.process_update(
                    update, self.app.process_update(update)
                )
        except Exception as exc:  # the lock's session failed (handler errors are PTB's own)
            log.error("event=webhook_chat_lock_failed error=%s", type(exc).__name__)
            return web.Response(status=503, text="try again")
        return web.Response(status=200, text="ok")


async def start_webhook(
    app: Application,
    *,
    listen: str,
    port: int,
    url_path: str,
    webhook_url: str,
    secret: str,
    chat_locks: ChatLocks | None = None,
) -> WebhookServer:
    """Serve the endpoint, then tell Telegram (setWebhook with the secret) where it is."""
    server = WebhookServer(app, listen, port, url_path, secret, chat_locks=chat_locks)
    await server.start()
    try:
        await app.bot.set_webhook(url=webhook_url, secret_token=secret)
    except BaseException:
        await server.stop()
        raise
    return server


def bot_id_of(token: str) -> int:
    """The bot's id, the token's public part before the colon (0 when it has none)."""
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else 0


async def run_webhook(
    app: Application,
    *,
    listen: str,
    port: int,
    url_path: str,
    webhook_url: str,
    secret: str,
    workers_database: str | None = None,
) -> int:
    """Like PTB's run_webhook (initialize, post_init, start ... stop, shutdown), with this
    server; until SIGTERM or SIGINT. 1 (with one line) when the port cannot be bound.

    workers_database: a PostgreSQL URL when this is one of several workers (bot/workers.py)."""
    from bot.commands.sandbox import wait_for_stop_signal

    chat_locks = None
    if workers_database:
        from bot.workers import ChatLocks

        chat_locks = ChatLocks(workers_database, bot_id_of(app.bot.token))
        await chat_locks.open()
    await app.initialize()
    try:
        if app.post_init:
            await app.post_init(app)
        try:
            server = await start_webhook(app, listen=listen, port=port, url_path=url_path,
                                         webhook_url=webhook_url, secret=secret,
                                         chat_locks=chat_locks)  # fmt: skip
        except OSError as exc:
            print(f"error: cannot listen on {listen}:{port}: {exc.strerror}", flush=True)
            return 1
        await app.start()
        try:
            await wait_for_stop_signal()
        finally:
            await server.stop()
            await app.stop()
            if app.post_stop:
                await app.post_stop(app)
    finally:
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)
        if chat_locks is not None:
            await chat_locks.close()
    return 0


def serve(app: Application, **kwargs: object) -> int:
    """run_webhook in a fresh event loop (the CLI's entry)."""
    return asyncio.run(run_webhook(app, **kwargs))  # type: ignore[arg-type]
