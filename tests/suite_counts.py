"""Counters the hostile, crash and access suites fill; tests/conftest.py prints them at the end.

    from tests.suite_counts import COUNTS, SCENARIOS
    COUNTS["hostile: parse_amount"] += 1
    SCENARIOS.append("crash: report  lost=0 duplicated=0")

Each suite also prints its own line (visible with -s); the terminal summary shows them always.
"""

from __future__ import annotations

from collections import Counter

COUNTS: Counter[str] = Counter()
SCENARIOS: list[str] = []


def summary_lines() -> list[str]:
    lines = [f"{name}: {count} inputs tried" for name, count in sorted(COUNTS.items())]
    hostile = sum(c for n, c in COUNTS.items() if n.startswith("hostile"))
    if hostile:
        lines.append(f"hostile total: {hostile} inputs tried")
    return lines + SCENARIOS
