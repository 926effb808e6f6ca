"""The worked examples of docs/scoring.md as data (shared by unit and service tests)."""

from __future__ import annotations

from bot.domain.scoring import Baseline, CheckAnswer, Observation, Visit, shift_period

PERIOD = "2024-06"


def months(n: int, start: str = "2024-01") -> list[str]:
    return [shift_period(start, i) for i in range(n)]


def checklist(on: str = "2024-06-15", **answers: bool | None) -> list[CheckAnswer]:
    """Every item met on `on`, except those given (False not met, None unknown)."""
    items = ("pangan", "sekolah", "jamban_air", "rumah", "tabungan", "rentenir", "bpjs")
    return [CheckAnswer(item, answers.get(item, True), on) for item in items]


ALL_MET = checklist()

# A: a family just below the poverty line (Rp1.800.000 for 4 people = Rp450.000 per person).
A_BASELINE = Baseline(household_size=4, programme="tata boga", start_period="2024-01")
A_OBS = [
    Observation(p, "berjalan", profit=1_400_000, other_income=400_000, household_size=4,
                has_savings=False, keeps_books=True, income_sources=2, equipment_ok=True)
    for p in months(6)
]  # fmt: skip
A_VISITS = [Visit("2024-06-10", (3, 4, 3, 4))]
A_CHECKLIST = checklist(tabungan=False, bpjs=None)

# B: business profit above UMK 2024 (Rp2.400.000) for the last 4 months, stable, checklist met.
B_BASELINE = Baseline(household_size=4, programme="menjahit", start_period="2024-01")
B_OBS = [
    Observation(p, "berjalan", profit=2_400_000 if i >= 2 else 1_800_000, other_income=600_000,
                household_size=4, has_savings=True, keeps_books=True, income_sources=2,
                equipment_ok=True)
    for i, p in enumerate(months(6))
]  # fmt: skip
B_VISITS = [Visit("2024-06-15", (4, 4, 5, 5))]
B_CHECKLIST = ALL_MET

# C: goat rearing; the register's package says "2 ekor kambing betina" (2 received). The herd
# grows to 4 by births; one goat is sold in June for Rp2.500.000 (revenue of that month).
C_GOATS = [2, 2, 3, 4, 4, 3]
C_BORN = [0, 0, 1, 1, 0, 0]
C_SOLD = [0, 0, 0, 0, 0, 1]
C_BASELINE = Baseline(household_size=4, programme="ternak kambing", goats_received=2,
                      start_period="2024-01")  # fmt: skip
C_OBS = [
    Observation(p, "berjalan", profit=300_000 + (2_500_000 if C_SOLD[i] else 0),
                other_income=1_000_000, household_size=4, has_savings=True, keeps_books=False,
                income_sources=2, goats=C_GOATS[i], goats_born=C_BORN[i], goats_died=0,
                goats_sold=C_SOLD[i], goats_sold_value=2_500_000 if C_SOLD[i] else 0)
    for i, p in enumerate(months(6))
]  # fmt: skip
C_VISITS = [Visit("2024-05-20", (3, 3, 2, 3))]
C_CHECKLIST = checklist(rumah=False)

# D: reports with gaps: January, March and June only; no visit, no checklist yet.
D_BASELINE = Baseline(household_size=3, programme="tata boga", start_period="2024-01")
D_OBS = [
    Observation(p, "berjalan", profit=1_200_000, other_income=0, household_size=3,
                has_savings=False, keeps_books=False, income_sources=1, equipment_ok=True)
    for p in ("2024-01", "2024-03", "2024-06")
]  # fmt: skip
D_VISITS: list[Visit] = []
D_CHECKLIST: list[CheckAnswer] = []

# E: six people on Rp2.400.000 profit + Rp100.000 other income = Rp416.667 per person, below
# the poverty line; everything else excellent (the old model called it "Siap graduasi", 76).
E_BASELINE = Baseline(household_size=6, programme="menjahit", start_period="2024-01")
E_OBS = [
    Observation(p, "berjalan", profit=2_400_000, other_income=100_000, household_size=6,
                has_savings=True, keeps_books=True, income_sources=2, equipment_ok=True)
    for p in months(6)
]  # fmt: skip
E_VISITS = [Visit("2024-06-12", (5, 5, 5, 5))]
E_CHECKLIST = ALL_MET

# F: no profit at all, Rp300.000 other income for 4 people (Rp75.000 per person), savings,
# books, a good visit (the old model: 59, "Menuju graduasi", flat income earned stability).
F_BASELINE = Baseline(household_size=4, programme="tata boga", start_period="2024-01")
F_OBS = [
    Observation(p, "berjalan", profit=0, other_income=300_000, household_size=4,
                has_savings=True, keeps_books=True, income_sources=1, equipment_ok=True)
    for p in months(6)
]  # fmt: skip
F_VISITS = [Visit("2024-06-12", (4, 4, 4, 4))]
F_CHECKLIST = ALL_MET

# name -> (baseline, observations, visits, checklist, expected score, band, {component: points})
EXAMPLES = {
    "A_just_below_line": (A_BASELINE, A_OBS, A_VISITS, A_CHECKLIST, 61, "menuju",
        {"income": 16, "stability": 0, "continuity": 10, "assets": 10, "sources": 10,
         "savings_books": 5, "facilitator": 6, "checklist": 4}),
    "B_stable_above_umk": (B_BASELINE, B_OBS, B_VISITS, B_CHECKLIST, 94, "siap",
        {"income": 26, "stability": 14, "continuity": 10, "assets": 10, "sources": 10,
         "savings_books": 10, "facilitator": 9, "checklist": 5}),
    "C_goats_grown_and_sold": (C_BASELINE, C_OBS, C_VISITS, C_CHECKLIST, 52, "menuju",
        {"income": 9, "stability": 0, "continuity": 10, "assets": 10, "sources": 10,
         "savings_books": 5, "facilitator": 4, "checklist": 4}),
    "D_gaps": (D_BASELINE, D_OBS, D_VISITS, D_CHECKLIST, 38, "intensif",
        {"income": 13, "stability": 0, "continuity": 10, "assets": 10, "sources": 5,
         "savings_books": 0, "facilitator": 0, "checklist": 0}),
    "E_six_people_below_line": (E_BASELINE, E_OBS, E_VISITS, E_CHECKLIST, 73, "menuju",
        {"income": 18, "stability": 0, "continuity": 10, "assets": 10, "sources": 10,
         "savings_books": 10, "facilitator": 10, "checklist": 5}),
    "F_zero_profit": (F_BASELINE, F_OBS, F_VISITS, F_CHECKLIST, 49, "intensif",
        {"income": 1, "stability": 0, "continuity": 10, "assets": 10, "sources": 5,
         "savings_books": 10, "facilitator": 8, "checklist": 5}),
}  # fmt: skip
