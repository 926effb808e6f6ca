"""Several kabupaten on one PostgreSQL database: each in a schema of its own, with its own bot.

A kabupaten's tables live in its schema (`database_schema = "kab_tegal"` in pendamping.toml);
the schema travels inside the connection URL as libpq's `options=-csearch_path=kab_tegal`, so
every connection a process opens (the bot's, the locks', a worker's, `db copy`'s) lands in the
same schema without being told twice. No schema means PostgreSQL's default, `public`.

The database-wide advisory locks (run, sender, migrations) are keyed per schema, so each
kabupaten's bot has its own outbox sender and its own run lock on the shared server
(docs/decisions.md, several bots on one database).
"""

from __future__ import annotations

import re
import zlib
from urllib.parse import parse_qsl, urlencode, urlsplit

DEFAULT_SCHEMA = "public"
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s]+)")


def schema_problem(schema: str) -> str | None:
    """Why a schema name cannot be used, or None (lower-case letters, digits, _)."""
    if not SCHEMA_NAME.match(schema):
        return f"{schema!r} is not a schema name (lower-case letters, digits and _, e.g. kab_tegal)"
    if schema.startswith("pg_") or schema in ("information_schema", "pendamping_workers"):
        return f"{schema!r} is reserved (PostgreSQL's or the workers' own schema)"
    return None


def schema_of(url: str) -> str:
    """The schema a PostgreSQL URL works in: the first of its search_path, else `public`."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return DEFAULT_SCHEMA
    for key, value in parse_qsl(query):
        if key == "options":
            match = _SEARCH_PATH.search(value)
            if match:
                first = match.group(1).split(",")[0].strip().strip('"')
                return first or DEFAULT_SCHEMA
    return DEFAULT_SCHEMA


def with_schema(url: str, schema: str) -> str:
    """The URL working in `schema` (any search_path it named is replaced)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query)
    options = " ".join(v for k, v in pairs if k == "options")
    options = " ".join(_SEARCH_PATH.sub("", options).split())
    options = f"{options} -csearch_path={schema}".strip()
    pairs = [(k, v) for k, v in pairs if k != "options"] + [("options", options)]
    return parts._replace(query=urlencode(pairs)).geturl()


def lock_key(url: str, kind: int) -> int:
    """The second key of an advisory lock `kind` (1 run, 2 sender, 3 migrations) for the URL's
    schema: `kind` itself in `public` (as before schemas), else a 32-bit hash of the schema
    with the kind in its low 4 bits, as a signed int4."""
    schema = schema_of(url)
    if schema == DEFAULT_SCHEMA:
        return kind
    key = (zlib.crc32(schema.encode()) & 0xFFFFFFF0) | kind
    if key < 16:  # never one of the public keys
        key |= 0x100
    return key - (1 << 32) if key >= (1 << 31) else key
