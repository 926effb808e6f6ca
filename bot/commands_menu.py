"""The bot's one command table, read from templates/<lang>/commands.j2: each command's roles,
the chats it may be used in, and its description (menu, /bantuan and the chat gate)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.render import render

# Other names a command answers to (registered on the same handler).
ALIASES = {"help": "bantuan"}


@dataclass(frozen=True)
class CommandInfo:
    name: str
    roles: frozenset[str] | None  # None: everyone, linked or not
    description: str
    in_groups: bool = False  # also answered in the configured staff/operator groups


def command_list(lang: str = "id") -> list[CommandInfo]:
    commands = []
    for line in render("commands", lang).splitlines():
        line = line.strip()
        if not line:
            continue
        name, roles, chats, description = (part.strip() for part in line.split("|", 3))
        role_set = None if roles == "*" else frozenset(r.strip() for r in roles.split(","))
        where = {c.strip() for c in chats.split(",")}
        if not where <= {"private", "group"} or "private" not in where:
            raise ValueError(f"commands.j2: {name}: chats must be 'private' or 'private,group'")
        commands.append(CommandInfo(name, role_set, description, "group" in where))
    return commands


@lru_cache(maxsize=1)
def group_commands() -> frozenset[str]:
    """Commands (and their aliases) answered in a configured group; any other is private."""
    names = {c.name for c in command_list("id") if c.in_groups}
    return frozenset(names | {alias for alias, name in ALIASES.items() if name in names})


def commands_for(role: str | None, lang: str = "id") -> list[tuple[str, str]]:
    """(name, description) for the commands a role may use; role None = unlinked."""
    return [
        (c.name, c.description)
        for c in command_list(lang)
        if c.roles is None or (role is not None and role in c.roles)
    ]
