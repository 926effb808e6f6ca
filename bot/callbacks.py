"""The one codec for inline-button callback data: every prefix, its actions and its fields.

A button's data is "<prefix>:<action>:<field>:<field>..." (the reports' "rep:" has no action
word: "rep:<draft>:<step>:<value>"). Whatever a client sends back is untrusted: decode() accepts
only what encode() can produce, with ASCII digits for numbers and every number bounds-checked
(an id fits SQLite's INTEGER, a page or step is small), so a forged "²", an empty field or
2^64 never reaches a service. The Application routes each prefix with
CallbackQueryHandler(pattern=matcher(prefix)); a press that does not decode falls through to
one catch-all that answers with a polite toast. No telegram import here.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

MAX_DATA_BYTES = 64  # Telegram's limit for callback_data
MAX_ID = 2**63 - 1  # SQLite INTEGER
MAX_SMALL = 100_000  # pages, steps, option numbers

_DIGITS = re.compile(r"0|[1-9][0-9]{0,18}")  # canonical: no sign, no leading zero
_FIELD_RE = {
    "token": re.compile(r"[A-Za-z0-9_.-]{1,32}"),  # a version, an audience name
    "value": re.compile(r"[A-Za-z0-9_!@.,+ -]{1,48}"),  # a form answer or an action
    "period": re.compile(r"[0-9]{4}-[0-9]{2}"),
}


class CallbackError(ValueError):
    """The data is not something the bot ever put on a button."""


@dataclass(frozen=True)
class Spec:
    """One action of a prefix and the kinds of its fields ('id', 'small', 'token', 'value',
    'period'); a trailing 'value' may contain ':'."""

    action: str
    fields: tuple[str, ...]


SPECS: dict[str, tuple[Spec, ...]] = {
    "onb": (Spec("ack", ("token",)), Spec("unlink", ()), Spec("unlink:yes", ()),
            Spec("unlink:no", ())),
    "inv": (Spec("r", ("id",)),),
    "acc": (Spec("ok", ("id",)), Spec("no", ("id",))),
    "grd": (Spec("a", ("id",)), Spec("ay", ("id",)), Spec("r", ("id",)), Spec("v", ("token", "small", "small")),
            Spec("s", ("id",)), Spec("p", ("id",)), Spec("fy", ("id",)), Spec("fn", ("id",)),
            Spec("m", ()), Spec("x", ()), Spec("e", ("id",))),
    # after graduation: a check-in answer (check-in id, answer) and staff's "reopen" (case id)
    "flw": (Spec("a", ("id", "token")), Spec("r", ("id",))),
    "rep": (Spec("", ("id", "small", "value")),),
    "per": (Spec("", ("period",)),),
    "fac": (Spec("d", ("small",)), Spec("l", ("small",)), Spec("k", ("small",)),
            Spec("g", ("small",)), Spec("lr", ("id",)), Spec("kr", ("id",)), Spec("gr", ("id",)),
            Spec("f", ("id",)),
            Spec("fr", ("id", "small")), Spec("fv", ("id",)),
            Spec("v", ("token", "small", "small")), Spec("c", ("id",)), Spec("cf", ("id",)),
            Spec("cg", ("id",)), Spec("ci", ("id",))),
    "msg": (Spec("", ("id",)),),  # "Balas" under a family's forwarded message
    "lap": (Spec("now", ()),),  # "Lapor sekarang" under invitations and reminders
    "sia": (Spec("aud", ("token",)), Spec("val", ("token", "value")), Spec("ok", ("id",)),
            Spec("no", ("id",))),
}  # fmt: skip


@dataclass(frozen=True)
class Callback:
    """Decoded callback data: prefix, action and typed fields (ints for 'id'/'small')."""

    prefix: str
    action: str
    args: tuple[int | str, ...]

    def int(self, i: builtins.int = 0) -> builtins.int:
        """The i-th field as a number (an 'id' or 'small' field)."""
        value = self.args[i]
        assert isinstance(value, builtins.int)
        return value

    # The method named `int` above shadows the builtin inside this class body.
    def str(self, i: builtins.int = 0) -> builtins.str:
        """The i-th field as text."""
        return str(self.args[i])


def _field(kind: str, raw: str) -> int | str:
    if kind in ("id", "small"):
        if not _DIGITS.fullmatch(raw):
            raise CallbackError(kind)
        value = int(raw)
        top = MAX_ID if kind == "id" else MAX_SMALL
        if not 0 <= value <= top:
            raise CallbackError(kind)
        return value
    if not _FIELD_RE[kind].fullmatch(raw):
        raise CallbackError(kind)
    return raw


def _spec(prefix: str, action: str) -> Spec:
    for spec in SPECS.get(prefix, ()):
        if spec.action == action:
            return spec
    raise CallbackError(f"unknown action {prefix}:{action}")


def encode(prefix: str, action: str, *args: int | str) -> str:
    """The data for a button; checks it decodes back and fits Telegram's 64 bytes."""
    spec = _spec(prefix, action)
    if len(args) != len(spec.fields):
        raise CallbackError(f"{prefix}:{action} takes {len(spec.fields)} fields")
    parts = [prefix] + ([action] if action else []) + [str(a) for a in args]
    data = ":".join(parts)
    if len(data.encode()) > MAX_DATA_BYTES or decode(data) != Callback(
        prefix, action, tuple(_field(k, str(a)) for k, a in zip(spec.fields, args, strict=True))
    ):
        raise CallbackError(f"cannot encode {data!r}")
    return data


def decode(data: str | None, prefix: str | None = None) -> Callback:
    """Decoded data (of this prefix, when given); CallbackError for anything else."""
    if not isinstance(data, str) or not data or len(data.encode()) > MAX_DATA_BYTES:
        raise CallbackError("empty or too long")
    head, sep, rest = data.partition(":")
    if not sep or head not in SPECS or (prefix is not None and head != prefix):
        raise CallbackError("unknown prefix")
    # the longest action that the rest starts with ('unlink:yes' before 'unlink')
    for spec in sorted(SPECS[head], key=lambda s: -len(s.action)):
        if spec.action and not (rest == spec.action or rest.startswith(spec.action + ":")):
            continue
        tail = rest[len(spec.action) + 1 :] if spec.action else rest
        if not spec.fields:
            if rest != spec.action:
                continue
            return Callback(head, spec.action, ())
        if spec.action and rest == spec.action:
            continue
        n = len(spec.fields)
        raw = tail.split(":", n - 1) if spec.fields[-1] == "value" else tail.split(":")
        if len(raw) != n:
            continue
        return Callback(
            head, spec.action, tuple(_field(k, r) for k, r in zip(spec.fields, raw, strict=True))
        )
    raise CallbackError("no action matches")


def try_decode(data: object, prefix: str | None = None) -> Callback | None:
    try:
        return decode(data if isinstance(data, str) else None, prefix)
    except CallbackError:
        return None


def matcher(prefix: str):  # noqa: ANN201 - a predicate for CallbackQueryHandler(pattern=...)
    """A pattern for CallbackQueryHandler: true only for data of this prefix that decodes."""

    def match(data: object) -> bool:
        return try_decode(data, prefix) is not None

    match.prefix = prefix  # type: ignore[attr-defined]
    return match


PREFIXES = tuple(f"{p}:" for p in SPECS)
