"""Offline Telegram Bot API (see SANDBOX.md): core state, Bot API methods, control API,
an aiohttp loopback server, an in-process BaseRequest, a test driver and a terminal chat."""

from bot.sandbox.core import DEFAULT_TOKEN, ApiError, ControlError, SandboxCore

__all__ = ["DEFAULT_TOKEN", "ApiError", "ControlError", "SandboxCore"]
