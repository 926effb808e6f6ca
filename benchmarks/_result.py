"""The one parseable line every benchmark prints per figure, collected by benchmarks/run_all.py:

    RESULT name=<slug> value=<number> unit=<unit> goal=<text or -> ok=yes|no|-

name and unit have no spaces; goal is the rest up to ' ok=' (may contain spaces).
"""

from __future__ import annotations


def result(name: str, value: float, unit: str, goal: str = "-", ok: bool | None = None) -> None:
    shown = f"{value:.3g}" if isinstance(value, float) and abs(value) < 100 else f"{value:.0f}"
    verdict = "-" if ok is None else ("yes" if ok else "no")
    print(f"RESULT name={name} value={shown} unit={unit} goal={goal} ok={verdict}", flush=True)
