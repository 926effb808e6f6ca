"""Shared fixtures: settings and a migrated database in a temp dir, a fake clock."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database, open_migrated

# The sandbox driver fixtures (`sandbox`, `sandbox_factory`): e2e tests through the real bot.
pytest_plugins = ["bot.sandbox.testing"]

# Hypothesis: a fast local loop by default, the thorough search in CI (.ci/run sets CI=true).
# HYPOTHESIS_PROFILE=thorough (or fast) picks one explicitly.
hypothesis_settings.register_profile("fast", max_examples=30, deadline=None)
hypothesis_settings.register_profile("thorough", max_examples=200, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("thorough" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "fast")
)


# The tests' clock is the one the demo moves too.
FakeClock = ManualClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2024, 2, 1, 8, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults (no config file read from the working dir), database in tmp."""
    return replace(Settings(), database=str(tmp_path / "test.db"), token=None)


@pytest.fixture
async def db(settings: Settings, clock: FakeClock) -> Database:
    database = await open_migrated(settings.database, clock())
    yield database
    await database.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist a worker hands its suite counts to the controller, which prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests.suite_counts import COUNTS, SCENARIOS

        workeroutput["suite_counts"] = dict(COUNTS)
        workeroutput["suite_scenarios"] = list(SCENARIOS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """The controller adds up the counts each xdist worker sent (see pytest_sessionfinish)."""
    from tests.suite_counts import COUNTS, SCENARIOS

    output = getattr(node, "workeroutput", {})
    COUNTS.update(output.get("suite_counts", {}))
    SCENARIOS.extend(output.get("suite_scenarios", []))


def pytest_terminal_summary(terminalreporter) -> None:
    """The hostile/crash/access suites' counts (tests/suite_counts.py), printed without -s."""
    from tests.suite_counts import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("hostile, crash and access suites")
        for line in lines:
            terminalreporter.write_line(line)
