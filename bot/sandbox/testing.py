"""A conversational driver over the sandbox, and its pytest fixtures (`sandbox`, `sandbox_factory`).

    async def test_start(sandbox):
        siti = await sandbox.user(1001, "Siti")
        await siti.send("/start")
        assert "Selamat datang" in (await siti.last()).text

The fixture starts the loopback server on a free port and the REAL Application against it
(polling by default, webhook on request) with the test's settings (temp SQLite) and FakeClock.
`send`/`press` return once the bot has finished handling that update (see runner.settle).
Registered from tests/conftest.py with `pytest_plugins = ["bot.sandbox.testing"]`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.config import Settings
from bot.sandbox.driver import (  # noqa: F401 (re-exported for tests)
    ChatGroup,
    ChatUser,
    Conversation,
    Reply,
    Sandbox,
    Seed,
)

# -- pytest fixtures --------------------------------------------------------------------------

SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def sandbox_factory(settings: Settings, clock: Any):
    """make(settings=?, clock=?, seed=async fn(db), webhook=False, rate_limiter=True, door="http").

    door="in_process" skips sockets (SandboxRequest); the control API still has its server.
    """
    made: list[Sandbox] = []

    async def make(
        *,
        settings: Settings = settings,
        clock: Any = clock,
        seed: Seed | None = None,
        webhook: bool = False,
        rate_limiter: bool = True,
        door: str = "http",
    ) -> Sandbox:
        sb = Sandbox(settings, clock, webhook=webhook, rate_limiter=rate_limiter, door=door)
        if seed is not None:
            await sb.seed(seed)
        made.append(sb)
        return await sb.start()

    yield make
    for sb in reversed(made):
        await sb.stop()


@pytest.fixture
async def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """The real bot, polling a loopback sandbox; see the module docstring."""
    return await sandbox_factory()
