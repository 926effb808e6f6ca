"""The real bot through the loopback sandbox: /start and /bantuan in a real chat."""

from __future__ import annotations


async def test_start_answers_in_private_chat(sandbox):
    siti = await sandbox.user(1001, "Siti")
    replies = await siti.send("/start")
    assert len(replies) == 1
    assert "Selamat datang" in (await siti.last()).text
    assert "Siti" in replies[0].text


async def test_bantuan_lists_commands(sandbox):
    budi = await sandbox.user(1002, "Budi")
    await budi.send("/bantuan")
    reply = await budi.last()
    assert "/bantuan" in reply.text
