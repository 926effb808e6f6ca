"""Run the real Application against a sandbox in the current event loop (tests, demo)."""

from __future__ import annotations

import asyncio
import secrets
import socket
from typing import Any

from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.sandbox.core import SandboxCore

WEBHOOK_SERVER = "_webhook_server"  # bot_data key of the running bot.webhook.WebhookServer


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def start_bot(
    settings: Settings,
    *,
    token: str,
    base_url: str | None = None,
    request: Any = None,
    clock: Any = None,
    rate_limiter: bool = True,
    webhook: bool = False,
    poll_timeout: int = 10,
) -> Application:
    """Build, initialise and start the Application exactly as run_polling/run_webhook would.

    base_url: the loopback server's Bot API URL; or request: a factory of BaseRequest objects
    (the in-process door), called twice (one for getUpdates, one for everything else).
    """
    app = build_application(
        settings,
        token=token,
        base_url=base_url,
        request=request() if request else None,
        get_updates_request=request() if request else None,
        clock=clock,
        rate_limiter=rate_limiter,
    )
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    assert app.updater is not None
    if webhook:
        port = free_port()
        secret = secrets.token_urlsafe(16)
        app.bot_data["sandbox_webhook"] = {"port": port, "secret": secret, "path": "telegram"}
        # the endpoint `pendamping run --webhook-url` serves (bot/webhook.py)
        from bot.webhook import start_webhook

        await app.start()
        app.bot_data[WEBHOOK_SERVER] = await start_webhook(
            app, listen="127.0.0.1", port=port, url_path="telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram", secret=secret,
        )  # fmt: skip
        return app
    await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
    await app.start()
    return app


async def stop_bot(app: Application) -> None:
    """Stop as run_polling does on SIGTERM: updater, application, shutdown, post_shutdown."""
    server = app.bot_data.pop(WEBHOOK_SERVER, None)
    if server is not None:
        await server.stop()
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)


async def settle(
    core: SandboxCore,
    app: Application,
    update_id: int | None = None,
    *,
    within: float = 10.0,
    quiet: float = 0.005,
) -> None:
    """Return when the bot has finished with everything up to `update_id`.

    Idle means: the update was confirmed (next getUpdates offset, or webhook answered 2xx,
    both happen only after PTB queued it), the Application's update queue is joined (PTB calls
    task_done after the handlers and error handlers ran), tasks made with app.create_task are
    done, and no Bot API call is in flight nor started during a short quiet window.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within

    def remaining() -> float:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(
                f"the bot did not finish within {within}s "
                f"(update {update_id}, delivered={update_id is None or core.delivered(update_id)}, "
                f"calls in flight={core.inflight})"
            )
        return left

    if update_id is not None:
        while not core.delivered(update_id):
            await core.wait_changed(min(remaining(), 0.5))
    while True:
        try:
            await asyncio.wait_for(app.update_queue.join(), remaining())
        except TimeoutError:
            remaining()
        tasks = [t for t in getattr(app, "_Application__create_task_tasks", ()) if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=remaining())
        if core.inflight:
            await core.wait_changed(min(remaining(), 0.5))
            continue
        started = core.call_count
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.sleep(quiet)
        busy = core.inflight or getattr(app.update_queue, "_unfinished_tasks", 0)
        if not busy and core.call_count == started:
            return
