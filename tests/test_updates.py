"""bot.updates.ChatOrderedProcessor: chats in parallel, each chat in arrival order."""

from __future__ import annotations

import asyncio
import datetime as dt

from telegram import Chat, Message, Update, User

from bot.updates import ChatOrderedProcessor, chat_key


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    user = User(chat_id, "U", False)
    msg = Message(update_id, dt.datetime(2024, 2, 1, tzinfo=dt.UTC), chat, from_user=user, text="x")
    return Update(update_id, message=msg)


async def test_same_chat_in_order_other_chats_concurrently() -> None:
    proc = ChatOrderedProcessor(16)
    await proc.initialize()
    log: list[tuple[str, int, int]] = []

    async def work(chat: int, n: int, delay: float) -> None:
        log.append(("start", chat, n))
        await asyncio.sleep(delay)
        log.append(("end", chat, n))

    jobs = [
        proc.process_update(update(1, 5), work(5, 1, 0.03)),
        proc.process_update(update(2, 5), work(5, 2, 0.0)),
        proc.process_update(update(3, 7), work(7, 1, 0.0)),
    ]
    await asyncio.gather(*jobs)
    chat5 = [e for e in log if e[1] == 5]
    assert chat5 == [("start", 5, 1), ("end", 5, 1), ("start", 5, 2), ("end", 5, 2)]
    # chat 7 did not wait for chat 5's slow update
    assert log.index(("end", 7, 1)) < log.index(("end", 5, 1))
    assert proc._locks == {}
    await proc.shutdown()


def test_chat_key() -> None:
    assert chat_key(update(1, 42)) == 42
    assert chat_key(object()) is None
