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
}
