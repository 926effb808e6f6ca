"""The worked examples of docs/scoring.md as data (shared by unit and service tests)."""

from __future__ import annotations

from bot.domain.scoring import Baseline, Observation, Visit, shift_period

PERIOD = "2024-06"


def months(n: int, start: str = "2024-01") -> list[str]:
    return [shift_period(start, i) for i in range(n)]


# A: a family just below the poverty line (Rp1.800.000 for 4 people = Rp450.000 per person).
A_BASELINE = Baseline(household_size=4, programme="tata boga", start_period="2024-01")
A_OBS = [
    Observation(p, "berjalan", profit=1_400_000, other_income=400_000, household_size=4,
                has_savings=False, keeps_books=True, income_sources=2, equipment_ok=True)
    for p in months(6)
]  # fmt: skip
A_VISITS = [Visit("2024-06-10", (3, 4, 3, 4))]

# B: business profit above UMK (Rp2.400.000) for the last 4 months, stable.
B_BASELINE = Baseline(household_size=4, programme="menjahit", start_period="2024-01")
B_OBS = [
    Observation(p, "berjalan", profit=2_400_000 if i >= 2 else 1_800_000, other_income=600_000,
                household_size=4, has_savings=True, keeps_books=True, income_sources=2,
                equipment_ok=True)
    for i, p in enumerate(months(6))
]  # fmt: skip
B_VISITS = [Visit("2024-06-15", (4, 4, 5, 5))]

# C: goat rearing, 5 goats received (package), 3 died: 2 left.
C_GOATS = [5, 5, 4, 3, 2, 2]
C_BASELINE = Baseline(household_size=5, programme="ternak kambing", start_period="2024-01")
C_OBS = [
    Observation(p, "berjalan", profit=700_000, other_income=500_000, household_size=5,
                has_savings=True, keeps_books=False, income_sources=2, goats=C_GOATS[i])
    for i, p in enumerate(months(6))
]  # fmt: skip
C_VISITS = [Visit("2024-05-20", (3, 3, 2, 3))]

# D: reports with gaps: January, March and June only; no visit yet.
D_BASELINE = Baseline(household_size=3, programme="tata boga", start_period="2024-01")
D_OBS = [
    Observation(p, "berjalan", profit=1_200_000, other_income=0, household_size=3,
                has_savings=False, keeps_books=False, income_sources=1, equipment_ok=True)
    for p in ("2024-01", "2024-03", "2024-06")
]  # fmt: skip
D_VISITS: list[Visit] = []

# name -> (baseline, observations, visits, expected score, band, {component: points})
EXAMPLES = {
    "A_just_below_line": (A_BASELINE, A_OBS, A_VISITS, 65, "menuju",
        {"income": 16, "stability": 8, "continuity": 15, "sources": 10, "savings_books": 5,
         "facilitator": 6, "reporting": 5}),
    "B_stable_above_umk": (B_BASELINE, B_OBS, B_VISITS, 94, "siap",
        {"income": 26, "stability": 19, "continuity": 15, "sources": 10, "savings_books": 10,
         "facilitator": 9, "reporting": 5}),
    "C_goats_died": (C_BASELINE, C_OBS, C_VISITS, 50, "menuju",
        {"income": 7, "stability": 8, "continuity": 11, "sources": 10, "savings_books": 5,
         "facilitator": 4, "reporting": 5}),
    "D_gaps": (D_BASELINE, D_OBS, D_VISITS, 44, "intensif",
        {"income": 13, "stability": 8, "continuity": 15, "sources": 5, "savings_books": 0,
         "facilitator": 0, "reporting": 3}),
}  # fmt: skip
