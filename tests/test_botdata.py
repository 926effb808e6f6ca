"""The Application's bot_data is the typed BotData: handlers read db, settings, clock, sender."""

from __future__ import annotations

import pytest

from bot.app import build_application
from bot.botdata import BotData, bot_data_of
from bot.services.outbox import OutboxSender
from tests.fake_botapi import TOKEN, FakeBotAPI

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


class _Ctx:  # the one attribute the accessors read from a CallbackContext
    def __init__(self, application) -> None:  # noqa: ANN001
        self.application = application


async def test_the_application_carries_typed_bot_data(settings, clock):
    app = build_application(settings, token=TOKEN, request=FakeBotAPI(),
                            get_updates_request=FakeBotAPI(), clock=clock, rate_limiter=False,
                            extra_bot_data={"sender_autostart": False})  # fmt: skip
    data = app.bot_data
    assert isinstance(data, BotData)
    assert data.settings is settings and data["settings"] is settings  # still a dict
    assert data.clock() == clock() and data.sender is None
    await app.initialize()
    await app.post_init(app)
    try:
        assert data.db is data["db"] and data.db is not None
        assert isinstance(data.sender, OutboxSender)
        assert bot_data_of(_Ctx(app)) is data
    finally:
        await app.post_shutdown(app)
        await app.shutdown()


def test_a_plain_dict_is_read_through_the_same_accessors(settings, clock):
    class _App:
        bot_data = {"settings": settings, "clock": clock}  # noqa: RUF012

    data = bot_data_of(_Ctx(_App()))
    assert data.settings is settings and data.clock() == clock() and data.sender is None
