"""A text sparkline: a month's profit as one block character (no I/O, no telegram)."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
MISSING = "·"  # a month with no report


def sparkline(values: Sequence[int | None]) -> str:
    """One character per value, scaled between the smallest and the largest present value;
    a missing value is a dot; equal values sit in the middle."""
    present = [v for v in values if v is not None]
    if not present:
        return MISSING * len(values)
    low, high = min(present), max(present)
    out = []
    for v in values:
        if v is None:
            out.append(MISSING)
        elif high == low:
            out.append(BLOCKS[len(BLOCKS) // 2])
        else:
            out.append(BLOCKS[round((v - low) * (len(BLOCKS) - 1) / (high - low))])
    return "".join(out)
