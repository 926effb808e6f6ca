"""Ten hand-made recipients for the digest tests; expected numbers are counted by hand in the
tests themselves (see the table below).

id kecamatan fasilitator programme       status   profit 2024-01 / others    band     flags
1  Lebaksiu  Ani         tata boga       reported 800.000 / 2023-12 700.000  siap*    -
2  Lebaksiu  Ani         tata boga       reported 1.200.000                  menuju   -
3  Lebaksiu  Ani         menjahit        draft    - / 2023-12 500.000        intensif help (new)
4  Lebaksiu  Budi        menjahit        silent   -                          -        jump (old), unreachable
5  Slawi     Budi        ternak kambing  reported -100.000                   intensif -
6  Slawi     Budi        tata boga       reported 400.000                    siap+    -
7  Slawi     Budi        menjahit        silent   -                          -        unlinked
8  Slawi     (none)      tata boga       silent   -                          -        unreachable
9  Pangkah   Ani         ternak kambing  draft    -                          -        mismatch (new), photo (new), unlinked
10 Pangkah   Ani         ternak kambing  reported 300.000 / 2023-09 100.000  menuju   -
                                                   / 2023-07 999 (outside the 6-month window)
(* proposed by the facilitator, awaiting staff's decision; + siap, awaiting the facilitator's visit)
Reach: unlinked 7, 9; unreachable 4, 8; linked, reachable and not reported: 3.
"""

from __future__ import annotations

from bot.domain.digest import RecipientSnapshot, RiskFlag

PERIOD = "2024-01"
SINCE = "2024-02-01T00:00:00+00:00"
LEB, SLA, PAN = "33.28.06", "33.28.10", "33.28.09"
ANI, BUDI = 1, 2


def snap(
    id: int, kec: str, fac: int | None, programme: str, status: str, **kw
) -> RecipientSnapshot:
    kec_name = {LEB: "Lebaksiu", SLA: "Slawi", PAN: "Pangkah"}[kec]
    fac_name = {ANI: "Ani", BUDI: "Budi", None: None}[fac]
    return RecipientSnapshot(
        id=id,
        name=f"Penerima {id:02d}",
        kecamatan_code=kec,
        kecamatan=kec_name,
        desa=f"Desa {kec_name}",
        facilitator_id=fac,
        facilitator=fac_name,
        programme=programme,
        status=status,
        **kw,
    )


SNAPSHOTS = [
    snap(1, LEB, ANI, "tata boga", "reported",
         profits={"2024-01": 800_000, "2023-12": 700_000}, band="siap", candidate=True),
    snap(2, LEB, ANI, "tata boga", "reported", profits={"2024-01": 1_200_000}, band="menuju"),
    snap(3, LEB, ANI, "menjahit", "draft", profits={"2023-12": 500_000}, band="intensif",
         flags=(RiskFlag("help_request", "2024-01", "2024-02-03T02:00:00+00:00"),)),
    snap(4, LEB, BUDI, "menjahit", "silent", reachable=False,
         flags=(RiskFlag("jump", "2023-12", "2024-01-20T02:00:00+00:00"),)),
    snap(5, SLA, BUDI, "ternak kambing", "reported", profits={"2024-01": -100_000},
         band="intensif"),
    snap(6, SLA, BUDI, "tata boga", "reported", profits={"2024-01": 400_000}, band="siap",
         ready=True),
    snap(7, SLA, BUDI, "menjahit", "silent", linked=False),
    snap(8, SLA, None, "tata boga", "silent", reachable=False),
    snap(9, PAN, ANI, "ternak kambing", "draft", linked=False,
         flags=(RiskFlag("mismatch_income", "2024-01", "2024-02-05T02:00:00+00:00"),
                RiskFlag("photo_reused", "2024-01", "2024-02-01T09:00:00+00:00"))),
    snap(10, PAN, ANI, "ternak kambing", "reported",
         profits={"2024-01": 300_000, "2023-09": 100_000, "2023-07": 999}, band="menuju"),
]  # fmt: skip
