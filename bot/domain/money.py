"""Rupiah amounts as whole integers and their Indonesian display form."""

from __future__ import annotations


def format_rupiah(amount: int | None) -> str:
    """1500000 -> 'Rp1.500.000'; negative amounts keep their sign ('-Rp5.000')."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(amount)):,}".replace(",", ".")
