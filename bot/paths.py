"""Locate the data directories (templates, migrations) shipped with the package."""

from __future__ import annotations

from pathlib import Path

_BOT_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return templates/ or migrations/: inside the wheel (bot/_data) or the source checkout."""
    for candidate in (_BOT_DIR / "_data" / name, _BOT_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"data directory {name!r} not found next to {_BOT_DIR}")


def files_folder(database: str, files_dir: str = "") -> Path | None:
    """The folder of the files the bot writes beside its data (digests/, backups/):
    `files_dir` when set, else the SQLite file's folder, else (PostgreSQL, whose data lives on
    a server) ./pendamping-files, with a folder per kabupaten schema when several share the
    database (bot/db/pgschema.py); None for an in-memory database."""
    if files_dir:
        return Path(files_dir).resolve()
    if database.startswith(("postgresql://", "postgres://")):
        from bot.db.pgschema import DEFAULT_SCHEMA, schema_of

        schema = schema_of(database)
        folder = Path("pendamping-files")
        return (folder if schema == DEFAULT_SCHEMA else folder / schema).resolve()
    if database == ":memory:":
        return None
    return Path(database).resolve().parent


def templates_dir() -> Path:
    return data_dir("templates")


def migrations_dir() -> Path:
    return data_dir("migrations")
