"""The behavioural access matrix: the real bot (sandbox), every role x every command of the
command table (bot/commands_menu.py, aliases included) x private chat / a group the office did
not configure / the configured staff group. Each cell asserts what the person SEES:

- nobody sees the name, phone or NIK of a family outside their scope, nor anything of an
  erased family; a full NIK never appears in chat;
- in a group, nothing personal at all: an unconfigured group gets one explanation when the bot
  is added and the bot leaves; the staff group answers only the group commands, any other
  command with the one private-only line;
- a role the command is not for gets a refusal, not a silence, in private;
- an erased family's former account is a stranger; a revoked account gets the revoked line.
One bot, seeded once, for every cell.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import replace

import pytest

from bot.commands_menu import ALIASES, command_list, group_commands
from bot.render import render
from bot.services.binding import revoke
from bot.services.persons import erase_recipient
from tests.hostile_helpers import ErrorCapture, generic_errors_sent
from tests.scoring_db import NOW, add_account, add_facilitator, add_recipient
from tests.suite_counts import COUNTS, SCENARIOS

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

IN_KEC, OUT_KEC = "33.28.06", "33.28.03"
FAMILIES = {  # key -> (nik, name, phone, kecamatan)
    "in": ("3328064107850001", "Sumirah Wulandari", "6281211110001", IN_KEC),
    "out": ("3328034107850002", "Karsinah Prameswari", "6281222220002", OUT_KEC),
    "erased": ("3328064107850003", "Tarminah Kusumawati", "6281233330003", IN_KEC),
    "revoked": ("3328064107850004", "Dasirah Handayani", "6281244440004", IN_KEC),
}
ROLES = {  # role -> (telegram id, families whose data it may see)
    "stranger": (9001, set()),
    "recipient": (1001, {"in"}),
    "facilitator": (2001, {"in", "revoked"}),
    "staff": (3001, {"in", "revoked"}),
    "admin": (4001, {"in", "out", "revoked"}),
    "erased": (1003, set()),
    "revoked": (1004, set()),
}
STAFF_GROUP, STRANGE_GROUP = -100, -700
PRIVATE_ONLY = render("group_private_only")
REVOKED = render("account_revoked")


def markers(key: str) -> tuple[str, ...]:
    nik, name, phone, _ = FAMILIES[key]
    return (nik, name, phone, "0" + phone[2:])


async def seed(db) -> None:
    fac_in = await add_facilitator(db, "PD-101", IN_KEC)
    fac_out = await add_facilitator(db, "PD-202", OUT_KEC)
    ids = {}
    for key, (nik, name, phone, kec) in FAMILIES.items():
        ids[key] = await add_recipient(
            db, nik, name=name, kec=kec, facilitator_id=fac_in if kec == IN_KEC else fac_out
        )
        await db.execute("UPDATE recipients SET phone = ? WHERE id = ?", (phone, ids[key]))
    await add_account(db, 1001, "recipient", recipient_id=ids["in"])
    await add_account(db, 1009, "recipient", recipient_id=ids["out"])
    await add_account(db, 1003, "recipient", recipient_id=ids["erased"])
    await add_account(db, 1004, "recipient", recipient_id=ids["revoked"])
    await add_account(db, 2001, "facilitator", facilitator_id=fac_in)
    await add_account(db, 3001, "staff", kec=IN_KEC)
    await add_account(db, 4001, "admin")
    await db.execute("UPDATE accounts SET consent_version = 'v1', consent_at = ?", (NOW,))
    when = dt.datetime(2024, 7, 1, 1, 0, tzinfo=dt.UTC)
    await erase_recipient(db, ids["erased"], "permintaan penerima", when, compact=False)
    await revoke(db, when, 1004, "HP dicuri")


async def until(condition, seconds: float = 10.0) -> None:
    """Wait for the bot to handle a membership update (the driver waits for messages only)."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the bot did not react in time")


def commands() -> list[str]:
    names = [c.name for c in command_list("id")]
    return names + [a for a, n in ALIASES.items() if n in names]


def arguments(command: str) -> list[str]:
    """Harmless arguments: a NIK inside and outside scope where the command takes one."""
    if command == "skor":
        return [f" {FAMILIES['in'][0]}", f" {FAMILIES['out'][0]}", f" {FAMILIES['erased'][0]}"]
    if command == "cari":
        return [" Sumirah", " Karsinah"]
    if command == "buka_kembali":  # a name search, a NIK in and out of scope (none graduated)
        return [
            " Sumirah",
            " Karsinah",
            f" {FAMILIES['in'][0]} usaha tutup sejak bulan lalu",
            f" {FAMILIES['out'][0]} usaha tutup sejak bulan lalu",
        ]
    return [""]


NIK_RE = re.compile(r"(?<!\d)\d{16}(?!\d)")


async def test_every_role_command_and_chat_behaves(sandbox_factory, settings, clock):
    clock.set(dt.datetime(2024, 7, 3, 2, 0, tzinfo=dt.UTC))
    cfg = replace(settings, chats=replace(settings.chats, staff=[STAFF_GROUP]))
    # without PTB's rate limiter: it spaces group messages 3 s apart (20 per minute)
    sb = await sandbox_factory(settings=cfg, seed=seed, rate_limiter=False)
    users = {role: await sb.user(uid, f"U{uid}") for role, (uid, _) in ROLES.items()}
    members = list(users.values())
    staff_group = await sb.group(STAFF_GROUP, "Staf Dinsos", members)
    strange = await sb.group(STRANGE_GROUP, "Arisan", members)
    await sb.idle()
    await until(lambda: strange.replies())
    assert [r.text for r in strange.replies()] == [render("group_leave")]
    problems: list[str] = []
    cells = 0
    group_ok = group_commands()
    with ErrorCapture() as errors:
        for role, (_uid, visible) in ROLES.items():
            user = users[role]
            forbidden = [m for key in FAMILIES if key not in visible for m in markers(key)]
            for command in commands():
                info = next(
                    c for c in command_list("id") if c.name == ALIASES.get(command, command)
                )
                allowed = info.roles is None or (role in info.roles)
                for arg in arguments(command):
                    for where, chat in (("private", None), ("unconfigured group", strange),
                                        ("staff group", staff_group)):  # fmt: skip
                        cells += 1
                        cell = f"{role} /{command}{arg} in {where}"
                        replies = await user.send(f"/{command}{arg}", chat=chat)
                        seen = "\n".join(r.body + " " + " ".join(r.labels) for r in replies)
                        if NIK_RE.search(seen):
                            problems.append(f"{cell}: a full NIK")
                        problems += [f"{cell}: shows {m!r}" for m in forbidden if m in seen]
                        if where == "unconfigured group":
                            if replies:
                                problems.append(f"{cell}: the bot answered in a group it left")
                            continue
                        if role == "revoked" and where == "private":
                            if [r.text for r in replies] != [REVOKED]:
                                problems.append(f"{cell}: not the revoked line: {seen[:80]!r}")
                            continue
                        if where == "staff group":
                            if command not in group_ok:
                                if [r.text for r in replies] != [PRIVATE_ONLY]:
                                    problems.append(f"{cell}: not the private-only line")
                            elif role not in ("staff", "admin"):
                                mine = [m for key in visible for m in markers(key)]
                                problems += [f"{cell}: personal data {m!r} in a group"
                                             for m in mine if m in seen]  # fmt: skip
                            continue
                        if not replies:
                            problems.append(f"{cell}: no answer")
                        if not allowed and any(m in seen for k in visible for m in markers(k)):
                            problems.append(f"{cell}: data for a role the command is not for")
        assert not errors.records, errors.describe()
    assert not generic_errors_sent(sb.core)
    # the suite can see: people in scope do get their own data where they may
    assert FAMILIES["in"][1] in (await users["recipient"].send("/profil"))[-1].text
    assert FAMILIES["in"][1] in (await users["staff"].send(f"/skor {FAMILIES['in'][0]}"))[-1].text
    assert FAMILIES["out"][1] in (await users["admin"].send(f"/skor {FAMILIES['out'][0]}"))[-1].text
    COUNTS["access: behavioural role x command x chat cells"] += cells
    SCENARIOS.append(f"behavioural access matrix: {cells} cells, {len(problems)} problems")
    assert not problems, "\n".join(problems)
