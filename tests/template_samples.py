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
    # --- cycle, outbox, broadcasts (issue 6) ---
    "cycle_open": {"person": "Siti", "period": "2024-01", "close_date": "2024-02-20"},
    "cycle_reminder": {"person": "Siti", "period": "2024-01", "close_date": "2024-02-20"},
    "cycle_escalate_facilitator": {
        "person": "Budi",
        "period": "2024-01",
        "families": [
            {"name": "Siti", "desa": "Kalisapu", "linked": True},
            {"name": "Rina", "desa": None, "linked": False},
        ],
    },
    "cycle_escalate_staff": {
        "period": "2024-01",
        "kecamatan": "Slawi",
        "rows": [{"facilitator": "Budi", "reported": 3, "silent": 2}],
        "reported": 3,
        "total": 5,
    },
    "cycle_close": {"period": "2024-01", "kecamatan": None, "reported": 3, "total": 5},
    "notice_unreachable": {"person": "Siti", "desa": "Kalisapu", "reason": "memblokir bot"},
    "broadcast_report": {"id": 4, "sent": 10, "failed": 1, "unreachable": 2, "total": 13},
    "berhenti": {},
    "mulai": {},
    "mute_not_recipient": {},
    "siaran_labels": {},
    "siaran_choose": {
        "running": [{"broadcast_id": 3, "sent": 120, "total": 500, "pending": 380}],
    },
    "siaran_choose_value": {"audience": "desa"},
    "siaran_ask_text": {"label": "Kec. Slawi", "count": 12},
    "siaran_preview": {"label": "Kec. Slawi", "count": 12, "text": "Pelatihan hari Senin"},
    "siaran_queued": {"id": 4, "count": 12},
    "siaran_cancelled": {},
    "siaran_error": {"reason": "outside_region", "detail": "Lebaksiu"},
    # --- end cycle ---
}
