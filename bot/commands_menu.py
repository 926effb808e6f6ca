"""The bot's command list per role, read from templates/<lang>/commands.j2."""

from __future__ import annotations

from dataclasses import dataclass

from bot.render import render


@dataclass(frozen=True)
class CommandInfo:
    name: str
    roles: frozenset[str] | None  # None: everyone, linked or not
    description: str


def command_list(lang: str = "id") -> list[CommandInfo]:
    commands = []
    for line in render("commands", lang).splitlines():
        line = line.strip()
        if not line:
            continue
        name, roles, description = (part.strip() for part in line.split("|", 2))
        role_set = None if roles == "*" else frozenset(r.strip() for r in roles.split(","))
        commands.append(CommandInfo(name, role_set, description))
    return commands


def commands_for(role: str | None, lang: str = "id") -> list[tuple[str, str]]:
    """(name, description) for the commands a role may use; role None = unlinked."""
    return [
        (c.name, c.description)
        for c in command_list(lang)
        if c.roles is None or (role is not None and role in c.roles)
    ]
