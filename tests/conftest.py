"""Shared fixtures: settings and a migrated database in a temp dir, a fake clock."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.clock import ManualClock
from bot.config import Settings
from bot.db import Database, open_migrated
from tests.pg_databases import PgTestServer, in_ci, pg_server_or_skip, unreachable

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_engines: run the test on SQLite and again on PostgreSQL (skipped without a"
        " server, a failure with CI=true; tests/pg_databases.py)",
    )
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): in a both_engines module, a test about the SQLite file itself"
        " (WAL, file bytes, file modes) that runs on SQLite only",
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only(reason): in a both_engines module, a test of what only PostgreSQL has"
        " (row locks, sessions) that runs on PostgreSQL only",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_engines that use the database run once per engine."""
    definition = metafunc.definition
    if (
        "engine" in metafunc.fixturenames
        and definition.get_closest_marker("both_engines")
        and not definition.get_closest_marker("sqlite_only")
    ):
        engines = ["sqlite", "postgresql"]
        if definition.get_closest_marker("postgresql_only"):
            engines = ["postgresql"]
        metafunc.parametrize("engine", engines, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No PostgreSQL and not CI: its runs are skipped up front, one reason (folded per file)."""
    pg = [
        item
        for item in items
        if getattr(item, "callspec", None) is not None
        and item.callspec.params.get("engine") == "postgresql"
    ]
    if not pg or in_ci():
        return
    problem = unreachable()
    if problem is not None:
        skip = pytest.mark.skip(
            reason=f"no PostgreSQL test server ({problem}); set PENDAMPING_TEST_POSTGRES"
        )
        for item in pg:
            item.add_marker(skip)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine of this test: sqlite unless parametrized (both_engines)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_test_server() -> PgTestServer | None:
    """This worker's PostgreSQL test server with a migrated template database (lazy)."""
    server = PgTestServer.from_env()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_test_server: PgTestServer | None) -> Iterator[str]:
    """A PostgreSQL database of the test's own (dropped after it), for PostgreSQL-only tests."""
    server = pg_server_or_skip(pg_test_server)
    url = server.create_database()
    yield url
    server.drop_database(url)


@pytest.fixture
def settings(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> Settings:
    """Defaults (no config file read from the working dir), database in tmp (SQLite) or a
    database of its own on the test server (PostgreSQL), dropped afterwards."""
    database = str(tmp_path / "test.db")
    if engine == "postgresql":
        server = pg_server_or_skip(request.getfixturevalue("pg_test_server"))
        database = server.create_database()
        request.addfinalizer(lambda: server.drop_database(database))
        return replace(Settings(), database=database, files_dir=str(tmp_path), token=None)
    return replace(Settings(), database=database, token=None)


@pytest.fixture
async def db(settings: Settings, clock: FakeClock) -> Database:
    database = await open_migrated(settings.database, clock(), files_dir=settings.files_dir)
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


# Passed test calls per engine, counted where the reports arrive (the xdist controller, or the
# one process with -n 0), so the summary shows that the PostgreSQL runs really ran.
ENGINE_PASSED: Counter[str] = Counter()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        path, _, params = report.nodeid.partition("[")
        on_postgres = "postgresql" in params or path.split("::")[0].endswith("_postgres.py")
        ENGINE_PASSED["postgresql" if on_postgres else "sqlite"] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    """The hostile/crash/access suites' counts (tests/suite_counts.py), printed without -s,
    and how many tests passed on each engine."""
    from tests.suite_counts import summary_lines

    terminalreporter.section("database engines")
    terminalreporter.write_line(
        f"passed on SQLite (and engine-free): {ENGINE_PASSED['sqlite']}, "
        f"on PostgreSQL: {ENGINE_PASSED['postgresql']}"
    )
    lines = summary_lines()
    if lines:
        terminalreporter.section("hostile, crash and access suites")
        for line in lines:
            terminalreporter.write_line(line)
