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
    # registry and onboarding (issue 4)
    "onboarding_invalid": {},
    "onboarding_throttled": {},
    "onboarding_already_linked": {"name": "Siti Aminah"},
    "onboarding_record_taken": {},
    "onboarding_private_only": {},
    "consent_notice": {"name": "Siti Aminah", "role": "recipient"},
    "btn_consent": {},
    "consent_done": {},
    "consent_needed": {},
    "not_linked": {},
    "profil": {
        "role": "recipient",
        "name": "Siti Aminah",
        "nik": "3328********0004",
        "desa": "Kajen",
        "kecamatan": "Lebaksiu",
        "facilitator": "Calista Suwarno",
        "phone": "6281234567890",
        "programme": "tata boga",
        "consent_at": "2024-02-01T08:00:00+00:00",
        "caseload": None,
    },
    "btn_unlink": {},
    "unlink_confirm": {},
    "btn_unlink_yes": {},
    "btn_cancel": {},
    "unlink_done": {},
    "unlink_cancelled": {},
    "undang_pick": {"count": 40, "shown": 30, "more": True},
    "undang_none": {},
    "undang_link": {
        "name": "Siti Aminah",
        "desa": "Kajen",
        "link": "https://t.me/PendampingTegalBot?start=abc",
        "expires_at": "2024-03-02T08:00:00+00:00",
    },
    "undang_denied": {},
    "undang_already": {},
}
