"""Which report value counts for a recipient's month: the one rule every reader uses. Pure.

For each recipient and period, in this order:
1. a value a facilitator confirmed on a resolved cross-check flag (report_flags.resolved_value);
2. else the recipient's own report, latest revision;
3. else the facilitator's report on the recipient's behalf, latest revision.

A value with an open cross-check flag (jump, mismatch) is unverified: it counts as reported
but its money and goat values wait for the facilitator. bot/services/read_model.py runs the
queries; the score, /kemajuan, digests, charts, the export and the graduation views read
through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Reporter roles in rising precedence: in rows sorted by (role rank, revision) the last wins.
# 'facilitator' < 'recipient' alphabetically too, so SQL can sort by reporter_role directly.
ROLE_RANK = {"facilitator": 0, "recipient": 1}

# Flag kinds that put a reported value in doubt until a facilitator confirms it.
VALUE_FLAG_KINDS = ("jump", "mismatch_income", "mismatch_goats")

# Report columns a resolved flag can replace.
OVERRIDABLE = frozenset({"revenue", "costs", "profit", "other_income", "household_size", "goats"})


def flag_changes(
    flags: Iterable[tuple[str | None, str, int | None]], current: Mapping[str, Any]
) -> tuple[dict[str, Any], bool | None]:
    """Apply (field, status, resolved_value) flags, oldest first, to the counting values.

    Returns (changed columns, verified): verified is False while any flag is open, True when
    every flag is resolved, None when there are none. Profit follows a replaced revenue or
    costs unless the profit itself was confirmed."""
    changes: dict[str, Any] = {}
    verified: bool | None = None
    for field, status, value in flags:
        if status == "open":
            verified = False
            continue
        if verified is None:
            verified = True
        if value is not None and field in OVERRIDABLE:
            changes[field] = value
    if ("revenue" in changes or "costs" in changes) and "profit" not in changes:
        revenue = changes.get("revenue", current.get("revenue"))
        costs = changes.get("costs", current.get("costs"))
        if revenue is not None and costs is not None:
            changes["profit"] = revenue - costs
    return changes, verified
