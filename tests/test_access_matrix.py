"""Every registered command has a row in the access matrix and in the command list."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.commands_menu import command_list
from tests.access_matrix import ALL, MATRIX, registered_commands

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


def test_every_registered_command_has_a_matrix_row(settings):
    app = build_application(settings, token="123456:matrix", rate_limiter=False)
    commands = registered_commands(app)
    assert {"start", "profil", "undang"} <= commands
    missing = commands - set(MATRIX)
    assert not missing, f"add these commands to tests/access_matrix.py: {sorted(missing)}"


def test_matrix_roles_agree_with_the_command_list():
    listed = {c.name: c.roles for c in command_list("id")}
    for name, roles in listed.items():
        expected = ALL if roles is None else roles
        assert frozenset(MATRIX[name]) == frozenset(expected), name
