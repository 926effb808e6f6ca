"""Who does what in the demo: a deterministic mix of simulated families (pure, no I/O).

Each recipient of the sample workbook gets one persona from a seeded random draw, so every
run of `pendamping demo` tells the same story and a test can check it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.domain.money import format_rupiah

# name: (share of families, what they do)
MAJU = "maju"  # business grows: profit above UMK every month -> graduation candidate
STABIL = "stabil"  # reports on time, modest steady profit
TERLAMBAT = "terlambat"  # reports only after the first reminder
KESULITAN = "kesulitan"  # business struggles, pauses in later months, asks for help
DIAM = "diam"  # never answers; the facilitator reports for some of them
TANPA_HP = "tanpa_hp"  # no Telegram: never linked, the facilitator reports for them

SHARES: tuple[tuple[str, float], ...] = (
    (MAJU, 0.05),
    (STABIL, 0.52),
    (TERLAMBAT, 0.12),
    (KESULITAN, 0.11),
    (DIAM, 0.12),
    (TANPA_HP, 0.08),
)
LINKED = frozenset({MAJU, STABIL, TERLAMBAT, KESULITAN, DIAM})


@dataclass(frozen=True)
class Persona:
    kind: str
    seed: int  # per-family variation of the amounts

    @property
    def linked(self) -> bool:
        return self.kind in LINKED


def assign(recipient_ids: list[int], seed: int = 2024) -> dict[int, Persona]:
    """One persona per recipient id, drawn with the shares above (at least one MAJU)."""
    rng = random.Random(seed)
    kinds = [k for k, _ in SHARES]
    weights = [w for _, w in SHARES]
    out = {rid: Persona(rng.choices(kinds, weights)[0], rng.randrange(1_000_000))
           for rid in recipient_ids}  # fmt: skip
    if recipient_ids and not any(p.kind == MAJU for p in out.values()):
        first = recipient_ids[0]
        out[first] = Persona(MAJU, out[first].seed)
    return out


def reports_when(persona: Persona, period_index: int) -> str | None:
    """When this family reports in a period: 'early', 'late', 'facilitator' or None (silent)."""
    kind = persona.kind
    if kind in (MAJU, STABIL):
        return "early"
    if kind == TERLAMBAT:
        return "late"
    if kind == KESULITAN:
        return "early"
    if kind == DIAM:
        # the facilitator catches up with every other silent family after the escalation
        return "facilitator" if persona.seed % 2 == 0 else None
    if kind == TANPA_HP:
        return "facilitator"
    return None


# What the facilitator sees at the kunjungan graduasi of a thriving family.
GRADUATION_VISIT: dict[str, object] = {
    "v_date": ("press", "today"),
    "g_pangan": ("press", "ya"),
    "g_sekolah": ("press", "ya"),
    "g_jamban_air": ("press", "ya"),
    "g_rumah": ("press", "ya"),
    "g_tabungan": ("press", "ya"),
    "g_tabungan_amount": ("send", "1,2 juta"),
    "g_rentenir": ("press", "tidak"),
    "g_bpjs": ("press", "ya"),
    "v_notes": ("send", "Rumah dan usaha rapi, tabungan di koperasi"),
}


def answers(persona: Persona, programme: str, period_index: int) -> dict[str, object]:
    """What the family answers, as (kind, value) per question key: ('press'|'send', text)."""
    rng = random.Random(persona.seed * 31 + period_index)
    kind = persona.kind
    status = "berjalan"
    if kind == MAJU:
        revenue = rng.randrange(4_200_000, 5_600_000, 50_000)
        costs = rng.randrange(1_200_000, 1_600_000, 50_000)
    elif kind == KESULITAN:
        revenue = rng.randrange(300_000, 700_000, 50_000)
        costs = rng.randrange(250_000, 500_000, 50_000)
        if period_index >= 2:
            status = "berhenti_sementara"
    else:
        revenue = rng.randrange(1_300_000, 2_600_000, 50_000)
        costs = rng.randrange(500_000, 1_000_000, 50_000)
    births = rng.randrange(0, 2)
    plan: dict[str, object] = {
        "status": ("press", status),
        "status_reason": ("send", "Bahan baku mahal, sementara berhenti dulu"),
        # revenue and costs in one message, as the question asks ("1,5 jt / 750rb")
        "revenue": ("send", f"{_spoken(revenue, rng)} / {_spoken(costs, rng)}"),
        "costs": ("send", _spoken(costs, rng)),
        "profit_ok": ("press", "ya"),
        "tb_orders": ("send", f"{rng.randrange(15, 80)} dan {rng.randrange(3, 7)}"),
        "tb_days": ("press", str(rng.randrange(3, 7))),
        "mj_pieces": ("send", str(rng.randrange(5, 40))),
        "mj_machine": ("press", "ya"),
        # the package was 2 goats (the register's package text); the herd grew by births
        "tk_adult": ("send", f"{4 if kind == KESULITAN else 5 + (kind == MAJU)}"
                             f" dan {rng.randrange(0, 3)}"),
        "tk_kid": ("send", str(rng.randrange(0, 3))),
        "tk_moves": ("press", "ya" if kind == MAJU or births else "tidak"),
        "tk_births": ("send", str(births)),
        "tk_deaths": ("send", "0"),
        "tk_sold": ("send", "1" if kind == MAJU else "0"),
        "tk_sold_value": ("send", "2,5 juta"),
        "tk_feed": ("press", "tidak"),
        "equipment_buy": ("send", "0"),
        "tb_equipment": ("press", "ya"),
        # the household is said once, in the first month; nothing changes afterwards
        "changes": ("press", "anggota_keluarga" if period_index == 0 else "tidak_ada"),
        "other_income": ("send", "500rb" if kind == MAJU else _spoken(rng.randrange(0, 400_000, 50_000), rng)),
        "household": ("send", str(rng.randrange(3, 6))),
        "savings_books": ("press", "tabungan_buku" if kind in (MAJU, STABIL) else "belum_keduanya"),
        "savings_amount": ("send", "300rb" if kind == MAJU else "100rb"),
        "problem": ("press", "tidak_ada" if kind == MAJU else ("modal" if kind == KESULITAN else "pembeli")),
        "problem_text": ("press", "_skip"),
        "help": ("press", "ya" if kind == KESULITAN and period_index == 1 else "tidak"),
        "v_date": ("press", "today"),
        "v_running": ("press", "ya"),
        "v_bookkeeping": ("press", "4"),
        "v_quality": ("press", "4"),
        "v_market": ("press", "4"),
        "v_motivation": ("press", "5"),
        "v_notes": ("send", "Usaha ramai, catatan keuangan rapi"),
        "v_photo": ("press", "_skip"),
    }  # fmt: skip
    return plan


def _spoken(amount: int, rng: random.Random) -> str:
    """Write an amount the way people type it: '1,5 jt', '750rb', 'Rp1.250.000'."""
    style = rng.randrange(3)
    if amount == 0:
        return "0"
    if style == 0 and amount % 100_000 == 0 and amount >= 1_000_000:
        juta, rest = divmod(amount, 1_000_000)
        return f"{juta},{rest // 100_000} jt" if rest else f"{juta} juta"
    if style == 1 and amount % 1000 == 0 and amount < 1_000_000:
        return f"{amount // 1000}rb"
    return format_rupiah(amount)


def message_for(programme: str) -> str:
    """What a struggling family writes to its facilitator outside the report."""
    if programme == "ternak kambing":
        return "Bu, kambing saya sakit tidak mau makan, tolong dibantu"
    if programme == "menjahit":
        return "Bu, mesin jahit saya macet terus, ada tukang servis yang murah?"
    return "Bu, kompor saya rusak, pesanan kue besok bagaimana ya?"
