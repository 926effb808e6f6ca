"""The callback-data codec (bot/callbacks.py): what encode makes decodes back, and nothing a
client could forge beyond that reaches a handler."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.callbacks import (
    MAX_ID,
    SPECS,
    Callback,
    CallbackError,
    decode,
    encode,
    matcher,
    try_decode,
)


@pytest.mark.parametrize(
    ("prefix", "action", "args"),
    [("rep", "", (12, 3, "!save")), ("rep", "", (MAX_ID, 0, "@revenue")),
     ("per", "", ("2024-06",)), ("onb", "ack", ("2024-01-v1",)), ("onb", "unlink", ()),
     ("onb", "unlink:yes", ()), ("onb", "unlink:no", ()), ("inv", "r", (7,)),
     ("acc", "ok", (5,)), ("acc", "no", (5,)), ("grd", "a", (1,)), ("grd", "r", (MAX_ID,)),
     ("fac", "d", (0,)), ("fac", "lr", (14,)), ("fac", "fr", (3, 2)), ("fac", "fv", (9,)),
     ("sia", "aud", ("kecamatan",)), ("sia", "val", ("kecamatan", "33.28.06")),
     ("sia", "ok", (2,))],
)  # fmt: skip
def test_encode_decodes_back(prefix, action, args):
    data = encode(prefix, action, *args)
    assert len(data.encode()) <= 64
    assert decode(data) == Callback(prefix, action, tuple(args))
    assert matcher(prefix)(data) and not matcher("zzz" if prefix != "zzz" else "rep")(data)


@pytest.mark.parametrize(
    "data",
    ["", "rep:", "rep:1:2:", "rep:1:2:\u00b2", "rep:1:\u00b2:ya", "rep:\u0661:2:ya",
     f"rep:{2**63}:1:ya", f"rep:1:{2**64}:ya", "rep:-1:1:ya", "rep:1:1:a:b",
     f"fac:lr:{2**63}", f"fac:lr:{2**64}", "fac:lr:", "fac:f:", f"fac:f:{2**64}", "fac:lr:1:2",
     "fac:zz:1", f"fac:d:{10**6}", "grd:a:x", "grd:x:1", "inv:r:\uff11", "onb:unlink:maybe",
     "onb:ack:", "per:2024-1\u00b2", "per:2024-01:x", "sia:ok:", "nope:1", "x" * 65,
     "acc:ok:-3", "acc:maybe:1", "fac:lr:007", "rep:01:1:ya"],
)  # fmt: skip
def test_forged_or_oversized_data_never_decodes(data):
    with pytest.raises(CallbackError):
        decode(data)
    assert try_decode(data) is None
    assert not any(matcher(p)(data) for p in SPECS)


def test_encode_refuses_what_decode_would_not_accept():
    for bad in [("fac", "lr", 2**63), ("rep", "", 1, 1, "\u00b2"), ("rep", "", 1, 1, "x" * 60),
                ("nope", "x", 1), ("fac", "lr")]:  # fmt: skip
        with pytest.raises(CallbackError):
            encode(*bad)


@given(st.text(max_size=70))
def test_any_text_either_decodes_to_bounded_fields_or_is_refused(data):
    found = try_decode(data)
    if found is None:
        return
    assert encode(found.prefix, found.action, *found.args) == data
    for value in found.args:
        assert not isinstance(value, int) or 0 <= value <= MAX_ID
