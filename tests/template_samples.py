"""Sample context for every template, so tests/test_templates.py can render each one.

One entry per template name; add yours when you add a template.
"""

from __future__ import annotations

SAMPLES: dict[str, dict] = {
    "start_unlinked": {"first_name": "Siti"},
    "start_linked": {"name": "Siti Aminah", "role": "staff", "kecamatan": "Lebaksiu"},
    "bantuan": {"role": None, "commands": [("start", "mulai"), ("bantuan", "bantuan")]},
    "commands": {},
    "error_generic": {},
    "operator_error": {
        "error_type": "ValueError",
        "update_kind": "message",
        "time": "1 Februari 2024 08:00 WIB",
    },
    # --- scoring and graduation (issue 7) ---
    "skor": {
        "name": "Siti Aminah",
        "nik": "3328064107850001",
        "period": "2024-06",
        "score": 94,
        "band": "siap",
        "gate_months": 4,
        "confidence": 100,
        "components": [
            {
                "key": "income",
                "points": 26,
                "max_points": 30,
                "reason": "Pendapatan per orang Rp750.000/bulan",
            },
            {"key": "reporting", "points": 5, "max_points": 5, "reason": "Melapor 6 dari 6 bulan"},
        ],
        "flags": ["goats_lost", "unreachable"],
        "model_version": "1.0+75409fe8",
        "can_confirm": True,
    },
    "skor_usage": {},
    "graduasi_error": {"key": "no_visit", "context": {"days": 60}},
    "graduasi_list": {
        "candidates": [
            {
                "name": "Siti Aminah",
                "nik": "3328064107850001",
                "desa": "Lebaksiu Kidul",
                "score": 94,
                "period": "2024-06",
                "model_version": "1.0+75409fe8",
                "case_id": 3,
                "statement": "Usaha stabil",
            },
            {
                "name": "Rina",
                "nik": "3328064107850002",
                "desa": None,
                "score": 80,
                "period": "2024-06",
                "model_version": "1.0+75409fe8",
                "case_id": None,
                "statement": None,
            },
        ]
    },
    "graduasi_empty": {},
    "graduasi_decided": {
        "status": "approved",
        "name": "Siti",
        "nik": "3328064107850001",
        "score": 94,
        "model_version": "1.0+75409fe8",
        "reason": "-",
    },
    "graduasi_tolak_howto": {"case_id": 3},
    "graduasi_selamat": {"name": "Siti Aminah"},
    "konfirmasi_done": {"name": "Siti Aminah", "nik": "3328064107850001", "case_id": 3},
    "akhiri_done": {"name": "Siti", "nik": "3328064107850001", "kind": "moved", "reason": "Pindah"},
    "kemajuan": {
        "name": "Siti",
        "profits": [("2024-05", 2_400_000), ("2024-06", 2_500_000)],
        "trend": "up",
        "going_well": ["running", "savings", "books", "sources", "goats", "reporting"],
        "next_step": "savings",
    },
}
