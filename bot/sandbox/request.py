"""The in-process door: a BaseRequest answering PTB's calls from a SandboxCore, no sockets."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from telegram.request import BaseRequest, RequestData

from bot.sandbox.bot_api import Upload, call_method, download
from bot.sandbox.core import SandboxCore

_METHOD_PATH = re.compile(r"^.*/bot([^/]+)/([A-Za-z_]+)$")
_FILE_PATH = re.compile(r"^.*/file/bot([^/]+)/(.+)$")


class SandboxRequest(BaseRequest):
    """Give to ApplicationBuilder.request() and .get_updates_request() for fast tests."""

    def __init__(self, core: SandboxCore) -> None:
        self.core = core

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        path = urlsplit(url).path
        file_match = _FILE_PATH.match(path)
        if file_match:
            status, body, _ = download(
                self.core, unquote(file_match.group(1)), unquote(file_match.group(2))
            )
            return status, body
        match = _METHOD_PATH.match(path)
        if not match:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        params: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        if request_data is not None:
            params = dict(request_data.json_parameters)
            for name, part in request_data.multipart_data.items():
                filename, content, mime = (
                    part  # PTB: (file name, bytes or a file handle, MIME type)
                )
                data = content if isinstance(content, bytes) else content.read()
                files[name] = Upload(filename, data, mime)
        status, payload = await call_method(
            self.core, match.group(1), match.group(2), params, files
        )
        return status, json.dumps(payload).encode()
