"""The loopback door: an aiohttp server speaking the Bot API (and the control API) on a core."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.sandbox.bot_api import Upload, call_method, download
from bot.sandbox.control import add_control_routes
from bot.sandbox.core import SandboxCore
from bot.sandbox.webhook import WebhookPusher

_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


async def _params_of(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ValueError("Bad Request: can't parse JSON object")
        params.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = Upload(value.filename, value.file.read(), value.content_type)
            else:
                params[key] = value
    return params, files


def build_app(core: SandboxCore, *, control: bool = True) -> web.Application:
    app = web.Application(client_max_size=60 * 1024 * 1024)

    async def bot_method(request: web.Request) -> web.StreamResponse:
        try:
            params, files = await _params_of(request)
        except ValueError as exc:
            payload = {"ok": False, "error_code": 400, "description": str(exc)}
            return web.json_response(payload, status=400)
        status, payload = await call_method(
            core, request.match_info["token"], request.match_info["method"], params, files
        )
        return web.Response(
            body=json.dumps(payload).encode(), status=status, content_type="application/json"
        )

    async def file_download(request: web.Request) -> web.StreamResponse:
        status, body, ctype = download(
            core, request.match_info["token"], request.match_info["path"]
        )
        return web.Response(body=body, status=status, content_type=ctype)

    async def not_found(request: web.Request) -> web.StreamResponse:
        return web.json_response(_NOT_FOUND, status=404)

    app.router.add_route("*", "/bot{token}/{method}", bot_method)
    app.router.add_get("/file/bot{token}/{path:.+}", file_download)
    if control:
        add_control_routes(app, core)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


class SandboxServer:
    """Start/stop the loopback server (and webhook delivery) on 127.0.0.1:port (0 = free)."""

    def __init__(
        self, core: SandboxCore, host: str = "127.0.0.1", port: int = 0, *, control: bool = True
    ) -> None:
        self.core = core
        self.host = host
        self.port = port
        self.control = control
        self._runner: web.AppRunner | None = None
        self._pusher = WebhookPusher(core)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """What the bot gets as base_url."""
        return f"{self.url}/bot"

    async def start(self) -> str:
        self._runner = web.AppRunner(
            build_app(self.core, control=self.control),
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server  # the bound socket tells the free port chosen
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        await self._pusher.start()
        return self.url

    async def stop(self) -> None:
        self.core.close()
        await self._pusher.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
