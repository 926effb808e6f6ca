"""The access matrix: every bot command and the roles that get a useful answer from it.

A command registered in the Application without a row here fails tests/test_access_matrix.py
and the end-to-end walk in tests/test_onboarding_e2e.py. Roles not listed get a refusal or a
general text, and nobody (but admin) may ever see someone else's record.
"""

from __future__ import annotations

ALL = {"recipient", "facilitator", "staff", "admin", "unlinked"}
LINKED = {"recipient", "facilitator", "staff", "admin"}

MATRIX: dict[str, set[str]] = {
    "start": ALL,
    "bantuan": ALL,
    "help": ALL,
    "profil": LINKED,
    "undang": {"facilitator"},
    "ringkasan": {"facilitator", "staff", "admin"},
    "ekspor": {"staff", "admin"},
    # monthly reports, visits, flags
    "lapor": {"recipient", "facilitator"},
    "lanjut": {"recipient", "facilitator"},
    "batal": {"recipient", "facilitator"},
    "kembali": {"recipient", "facilitator"},
    "riwayat": {"recipient"},
    "daftar": {"facilitator"},
    "cari": {"facilitator"},
    "kunjungan": {"facilitator"},
    "kunjungan_graduasi": {"facilitator"},
    # scoring and graduation
    "skor": {"facilitator", "staff", "admin"},
    "kemajuan": {"recipient"},
    "graduasi": {"staff", "admin"},
    "konfirmasi": {"facilitator"},
    "setujui": {"staff", "admin"},
    "tolak": {"staff", "admin"},
    "akhiri": {"staff", "admin"},
    "buka_kembali": {"staff", "admin"},
    # cycle, outbox, broadcasts
    "berhenti": {"recipient"},
    "mulai": {"recipient"},
    "siaran": {"staff", "admin"},
}


def registered_commands(app) -> set[str]:
    """Every command of every CommandHandler registered in the Application."""
    from telegram.ext import CommandHandler

    names: set[str] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                names |= set(handler.commands)
    return names
