"""Sample context for every template, so tests/test_templates.py can render each one.

One entry per template name; add yours when you add a template.
"""

from __future__ import annotations

import datetime as _dt
from types import SimpleNamespace as _NS


def _Page(filter_, page, pages, total, counts, waiting_visit):  # noqa: N802 - a sample ProposalPage
    return _NS(filter=filter_, page=page, pages=pages, total=total, counts=counts,
               waiting_visit=waiting_visit)  # fmt: skip


SAMPLES: dict[str, dict] = {
    "start_unlinked": {"first_name": "Siti", "kabupaten": "Kabupaten Tegal"},
    "start_linked": {"name": "Siti Aminah", "role": "staff", "kecamatan": "Lebaksiu"},
    "bantuan": {
        "role": "recipient",
        "commands": [("start", "mulai")],
        "facilitator": "Bu Rini",
        "phone": "081234567890",
    },  # fmt: skip
    "commands": {},
    "error_generic": {},
    "operator_error": {
        "error_type": "ValueError",
        "update_kind": "message",
        "time": "1 Februari 2024 08:00 WIB",
    },
    # registry and onboarding
    "onboarding_invalid": {},
    "onboarding_throttled": {},
    "onboarding_already_linked": {"name": "Siti Aminah"},
    "onboarding_record_taken": {},
    "onboarding_private_only": {},
    # the chat gate and the callback codec (privacy in chat)
    "group_private_only": {},
    "group_leave": {},
    "button_invalid": {},
    # invites bound to the person: the contact step and confirmations; revoked accounts
    "contact_request": {},
    "btn_share_contact": {},
    "contact_not_own": {},
    "contact_linked": {},
    "contact_pending": {},
    "contact_refused": {},
    "btn_confirm_yes": {},
    "btn_confirm_no": {},
    "account_confirm_ask": {
        "name": "Siti Aminah",
        "telegram_name": "Siti A",
        "phone": "6281234567890",
        "register_phone": True,
    },
    "account_confirm_done": {"status": "linked", "name": "Siti Aminah"},
    "account_confirmed": {},
    "account_not_confirmed": {},
    "account_revoked": {},
    "consent_notice": {"name": "Siti Aminah", "role": "recipient", "kabupaten": "Kabupaten Tegal"},
    "btn_consent": {},
    "consent_done": {"role": "recipient", "invited": True},
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
    # --- scoring and graduation ---
    "skor": {
        "name": "Siti Aminah",
        "nik": "3328064107850001",
        "period": "2024-06",
        "score": 94,
        "band": "siap",
        "open_case": 3,
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
        "flags": ["goats_lost", "goats_died", "goats_mismatch", "unreachable"],
        "notes": [
            {
                "text": "Butir penting kunjungan graduasi: jamban_air belum diketahui",
                "missing": [("jamban_air", "unknown"), ("sekolah", "not_met")],
            },
            {
                "text": "Laba usaha setara UMK 2 dari 4 bulan; bulan 2024-06: laba Rp1.000.000",
                "missing": None,
            },
            {"text": "Ambang: UMK 2027 belum ada, dipakai nilai 2026", "missing": None},
        ],
        "checklist": {"pangan": "met", "sekolah": "not_met", "bpjs": "unknown"},
        "pkh": True,
        "sembako": False,
        "desil": 1,
        "model_version": "2.0+75409fe8",
        "show_model": True,
        "can_confirm": True,
    },
    "skor_usage": {},
    "graduasi_error": {"key": "no_visit", "context": {"days": 60}},
    "graduasi_page": {
        "page": _Page("wait", 0, 3, 12, {"wait": 12, "obj": 1, "all": 20}, 4),
        "level": 1,
        "cards": [
            {
                "case_id": 17,
                "recipient_id": 4,
                "status": "confirmed",
                "name": "Siti Aminah",
                "desa": "Lebaksiu Kidul",
                "programme": "tata boga",
                "pkh": True,
                "sembako": None,
                "desil": 1,
                "score": 94,
                "period": "2024-06",
                "model_version": "2.0+75409fe8",
                "ready": False,
                "gates": [
                    {"key": "poverty_line", "met": True, "reason": "ok"},
                    {"key": "checklist", "met": False, "reason": "Butir penting: bpjs belum"},
                ],
                "checklist": {"pangan": "met", "sekolah": "not_met", "bpjs": "unknown"},
                "spark": "▁▃▅▇█·",
                "profits": [100_000, 300_000, -50_000, 700_000, 900_000, None],
                "visit": {"date": _dt.date(2024, 6, 20), "notes": "Usaha ramai", "photo": True},
                "facilitator": "Budi",
                "statement": "Usaha stabil",
                "family_answer": "object",
                "family_reason": "Belum siap",
                "family_voice": True,
                "linked": True,
                "unreachable": True,
                "decided_by": None,
                "decided_at": None,
                "decision_reason": None,
            },
            {
                **{
                    "case_id": 17,
                    "recipient_id": 4,
                    "status": "confirmed",
                    "name": "Siti Aminah",
                    "desa": "Lebaksiu Kidul",
                    "programme": "tata boga",
                    "pkh": True,
                    "sembako": None,
                    "desil": 1,
                    "score": 94,
                    "period": "2024-06",
                    "model_version": "2.0+75409fe8",
                    "ready": False,
                    "gates": [
                        {"key": "poverty_line", "met": True, "reason": "ok"},
                        {"key": "checklist", "met": False, "reason": "Butir penting: bpjs belum"},
                    ],
                    "checklist": {"pangan": "met", "sekolah": "not_met", "bpjs": "unknown"},
                    "spark": "▁▃▅▇█·",
                    "profits": [100_000, 300_000, -50_000, 700_000, 900_000, None],
                    "visit": {"date": _dt.date(2024, 6, 20), "notes": "Usaha ramai", "photo": True},
                    "facilitator": "Budi",
                    "statement": "Usaha stabil",
                    "family_answer": "object",
                    "family_reason": "Belum siap",
                    "family_voice": True,
                    "linked": True,
                    "unreachable": True,
                    "decided_by": None,
                    "decided_at": None,
                    "decision_reason": None,
                },
                "status": "approved",
                "family_answer": None,
                "decided_by": "Ani",
                "decided_at": "2024-07-03T02:00:00+00:00",
                "decision_reason": "Sesuai rekomendasi",
                "ready": None,
                "visit": None,
                "linked": False,
                "unreachable": False,
            },
        ],
    },
    "graduasi_decided": {
        "status": "approved",
        "name": "Siti",
        "nik": "3328064107850001",
        "score": 94,
        "model_version": "1.0+75409fe8",
        "reason": "-",
        "case_id": 3,
    },
    "graduasi_label": {"key": "approve", "n": 3},
    "graduasi_approve_ask": {
        "name": "Siti Aminah",
        "case_id": 3,
        "gaps": [
            {"key": "no_answer"},
            {"key": "objected", "reason": "Usaha masih baru", "voice": False},
            {"key": "not_ready", "score": 31},
        ],
        "min": 10,
        "confirm_label": "Ya, setujui 3",
    },
    "graduasi_ask": {
        "key": "statement",
        "name": "Siti Aminah",
        "ready": False,
        "score": 60,
        "band": "menuju",
        "unmet": ["Butir penting: tabungan belum"],
        "min": 10,
        "max": 500,
        "case_id": 3,
    },
    "graduasi_pick": {
        "count": 12,
        "shown": 8,
        "query": "siti",
        "action": "end",
        "kind": "moved",
        "reason": "Pindah ke Brebes",
    },
    "graduasi_family_ask": {"name": "Siti Aminah", "pkh": True, "sembako": True, "ready": True},
    "graduasi_family_done": {"key": "agreed", "name": "Siti Aminah"},
    "graduasi_notice_facilitator": {
        "approved": False,
        "name": "Siti Aminah",
        "desa": "Kajen",
        "case_id": 3,
        "reason": "Tunggu satu bulan lagi",
        "staff": "Ani",
    },
    "graduasi_notice_objection": {
        "name": "Siti Aminah",
        "desa": "Kajen",
        "case_id": 3,
        "reason": "Belum siap",
        "voice": True,
        "to": "facilitator",
    },
    "graduasi_notice_request": {"name": "Siti Aminah", "desa": "Kajen", "to": "facilitator"},
    "graduasi_lanjut": {"name": "Siti Aminah"},
    "graduasi_selamat": {"name": "Siti Aminah", "pkh": True, "sembako": False},
    "konfirmasi_done": {
        "name": "Siti Aminah",
        "nik": "3328064107850001",
        "case_id": 3,
        "ready": False,
        "family_asked": True,
    },
    # after graduation: check-ins, alerts, reopening
    "followup_checkin": {"name": "Siti Aminah", "months": 3},
    "followup_button": {"key": "tutup"},
    "followup_thanks": {"answer": "belum"},
    "followup_error": {"key": "reason_length", "context": {"min": 10, "max": 500}},
    "followup_alert": {
        "role": "staff",
        "case_id": 7,
        "name": "Siti Aminah",
        "nik": "3328064107850001",
        "desa": "Kalisapu",
        "answer": "tutup",
        "months": 3,
        "decided": "2024-07-03",
    },  # fmt: skip
    "followup_reopen_howto": {"name": "Siti Aminah", "nik": "3328064107850001", "case_id": 7},
    "followup_reopen_notice": {
        "to": "facilitator",
        "name": "Siti Aminah",
        "desa": "Kalisapu",
        "reason": "Usaha tutup sejak September",
        "staff": "Ani",
        "period": "2024-10",
        "invitation": _dt.date(2024, 11, 1),
    },
    "followup_found": {
        "query": "siti",
        "graduates": [
            {
                "name": "Siti Aminah",
                "nik": "3328064107850001",
                "desa": "Kalisapu",
                "decided": "2024-07-03",
                "case_id": 7,
                "last_answer": "tutup",
            }
        ],
    },  # fmt: skip
    "followup_reopened": {
        "name": "Siti Aminah",
        "nik": "3328064107850001",
        "reason": "Usaha tutup sejak September",
        "invitation": _dt.date(2024, 11, 1),
        "period": "2024-10",
    },  # fmt: skip
    "akhiri_done": {"name": "Siti", "nik": "3328064107850001", "kind": "moved", "reason": "Pindah"},
    "kemajuan": {
        "name": "Siti",
        "profits": [("2024-05", 2_400_000), ("2024-06", 2_500_000)],
        "trend": "up",
        "going_well": ["running", "savings", "books", "sources", "goats", "reporting"],
        "next_step": "savings",
        "compared_to": "2024-05",
        "missing": ["2024-04"],
    },
    # --- cycle, outbox, broadcasts ---
    "cycle_open": {"person": "Siti", "period": "2024-01", "close_date": "2024-02-20"},
    "cycle_reminder": {
        "person": "Siti",
        "period": "2024-01",
        "close_date": "2024-02-20",
        "last": True,
    },  # fmt: skip
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
    "notice_chat_unreachable": {"chat_id": -1001234, "reason": "bot dikeluarkan dari grup"},
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

# --- reports, visits, flags ---------------------------------------------------------------
_Q = {
    "recipient_name": "Siti",
    "programme": "tata boga",
    "period": "2024-01",
    "on_behalf": False,
    "profit": 1_000_000,
    "revenue": 1_500_000,
    "costs": 500_000,
    "limit_mb": 5,
}
for _key in [
    "status",
    "status_reason",
    "revenue",
    "costs",
    "profit_ok",
    "profit",
    "tb_orders",
    "tb_days",
    "mj_pieces",
    "mj_machine",
    "tk_adult",
    "tk_kid",
    "tk_births",
    "tk_deaths",
    "tk_sold",
    "tk_sold_value",
    "tk_feed",
    "other_income",
    "household",
    "savings_books",
    "savings_amount",
    "problem",
    "problem_text",
    "help",
    "photo",
    "v_date",
    "v_running",
    "v_bookkeeping",
    "v_quality",
    "v_market",
    "v_motivation",
    "v_notes",
    "v_photo",
    "verified",
    "verified_count",
    # graduation readiness: new monthly questions and the kunjungan graduasi
    "equipment_buy",
    "tb_equipment",
    "changes",
    "tk_moves",
    "g_pangan",
    "g_sekolah",
    "g_jamban_air",
    "g_rumah",
    "g_tabungan",
    "g_tabungan_amount",
    "g_rentenir",
    "g_bpjs",
]:
    SAMPLES[f"q_{_key}"] = _Q
SAMPLES["form_label"] = {"name": "berjalan"}
SAMPLES["form_error"] = {"error": "amount_letters", "p": {"example": "1.500.000"}}
SAMPLES["report_question"] = {"number": 3, "total": 20, "text": "Berapa omzet?"}
SAMPLES["report_summary"] = {
    "form_name": "monthly",
    "period": "2024-01",
    "on_behalf": True,
    "recipient_name": "Siti",
    "rows": [("Omzet", "Rp1.500.000")],
    "late": True,
    "correction": True,
}
SAMPLES["report_saved"] = {
    "kind": "monthly",
    "period": "2024-01",
    "on_behalf": True,
    "recipient_name": "Siti",
    "revision": 2,
    "late": True,
    "help": True,
    "flags": ["jump"],
    "help_closed": 0,
    "date": None,
    "value": None,
    "field": None,
}
SAMPLES["report_clarify"] = {"choices": (1_500_000, 1_500)}
SAMPLES["report_edit_pick"] = {}
SAMPLES["report_cancel_confirm"] = {}
SAMPLES["report_cancelled"] = {}
SAMPLES["report_no_draft"] = {}
SAMPLES["report_stale"] = {}
SAMPLES["report_resumed"] = {"form_name": "monthly", "on_behalf": True, "recipient_name": "Siti"}
SAMPLES["report_pick_period"] = {}
SAMPLES["report_idle"] = {"role": "facilitator"}
SAMPLES["report_pick_recipient"] = {"mode": "report", "page": 0, "pages": 2, "period": "2024-01"}
SAMPLES["report_error"] = {"key": "not_allowed"}
SAMPLES["report_pick_closed"] = {}
SAMPLES["daftar"] = {
    "period": "2024-01",
    "filter": "all",
    "rows": [{"name": "Aminah", "desa": "Kajen", "programme": "menjahit", "state": "draft",
              "late": False, "help_open": True, "flags_open": 1, "candidate": True,
              "linked": False},
             {"name": "Siti", "desa": "Lebaksiu Kidul", "programme": "tata boga",
              "state": "reported", "late": True, "help_open": False, "flags_open": 0,
              "candidate": False, "linked": True}],
    "page": 0,
    "pages": 1,
    "total": 2,
    "offset": 0,
    "close_date": _dt.date(2024, 2, 20),
    "close_near": True,
    "flags": [1],
}  # fmt: skip
SAMPLES["caseload_button"] = {"name": "help", "count": 2}
SAMPLES["caseload_note"] = {"key": "search_found", "count": 2, "query": "sit", "name": "Siti"}
SAMPLES["family_card"] = {
    "name": "Siti", "desa": "Lebaksiu Kidul", "programme": "tata boga", "phone": "+6281211110001",
    "linked": True, "help_open": True, "flags": ["Untung beda: Siti Januari 2024"],
    "figures": [{"period": "2024-01", "reported": True, "revenue": 1_500_000, "profit": 900_000},
                {"period": "2023-12", "reported": False, "revenue": None, "profit": None}],
    "last_visit": {"date": _dt.date(2024, 1, 20), "notes": "Dagangan laris"},
}  # fmt: skip
SAMPLES["flag_button"] = {"kind": "jump", "recipient_name": "Siti", "period": "2024-01"}
SAMPLES["flag_detail"] = {
    "kind": "mismatch_income",
    "recipient_name": "Siti",
    "period": "2024-01",
    "details": {"recipient": 1_000_000, "facilitator": 2_000_000},
}
SAMPLES["flag_resolved"] = {"recipient_name": "Siti", "value": 2_000_000, "field": "profit"}
SAMPLES["notice_help_request"] = {
    "recipient_name": "Siti",
    "period": "2024-01",
    "problem": "modal",
    "problem_text": "harga bahan naik",
}
SAMPLES["notice_flags"] = {"recipient_name": "Siti", "period": "2024-01", "kinds": ["jump"]}
SAMPLES["form_help"] = {
    "number": 3,
    "total": 20,
    "kind": "amount",
    "choices": False,
    "optional": False,
    "text": "Berapa omzet?",
}
# --- digests ---
from pathlib import Path  # noqa: E402

from bot.domain.digest import (  # noqa: E402
    facilitator_digest as _facilitator_digest,
)
from bot.domain.digest import monthly_report as _monthly_report  # noqa: E402
from bot.domain.digest import staff_digest as _staff_digest  # noqa: E402
from bot.services.digest_data import PeriodIssue as _PeriodIssue  # noqa: E402
from bot.services.digests import ExportFile as _ExportFile  # noqa: E402
from tests.digest_fixtures import PERIOD as _P  # noqa: E402
from tests.digest_fixtures import SINCE as _S  # noqa: E402
from tests.digest_fixtures import SNAPSHOTS as _SNAPS  # noqa: E402

SAMPLES["digest_staff"] = {
    "d": _staff_digest(_SNAPS, _P, _S),
    "scope": "Kabupaten Tegal",
    "now": "5 Februari 2024 08:00 WIB",
    "attached": True,
}
SAMPLES["digest_monthly"] = {
    "r": _monthly_report(_SNAPS, _P, _S, programmes=("tata boga", "menjahit", "ternak kambing")),
    "scope": "Kabupaten Tegal",
    "charts": 3,
}
SAMPLES["digest_facilitator"] = {"d": _facilitator_digest(_SNAPS, _P, 2), "limit": 10}
SAMPLES["digest_no_reports"] = {"period": _P}
SAMPLES["digest_denied"] = {"what": "ekspor_group"}
SAMPLES["digest_period_unavailable"] = {
    "issue": _PeriodIssue("before_handover", "2023-05", "2023-09-01")
}
SAMPLES["ekspor_caption"] = {"f": _ExportFile(Path("x.xlsx"), "2024-01", "Kec. Slawi")}

# --- wiring (operator alerts from the minute job) ---
SAMPLES["operator_alert"] = {
    "name": "outbox backlog",
    "message": "12 of 40 pending messages overdue by 30+ min",
    "action": "is the bot running and reaching Telegram?",
    "time": "1 Februari 2024 08:00 WIB",
}

# --- the family's side of the chat ---
from bot.services.history import Month as _Month  # noqa: E402

SAMPLES["family_label"] = {"name": "reply"}
SAMPLES["family_message_error"] = {"key": "too_long", "p": {"limit": 4000, "caption": False}}
SAMPLES["family_message_forward"] = {
    "name": "Warsini", "desa": "Lebaksiu Kidul", "programme": "ternak kambing", "kind": "text",
    "body": "Bu, kambing saya sakit tidak mau makan, tolong dibantu",
}  # fmt: skip
SAMPLES["family_message_reply"] = {
    "facilitator": "Bu Rini",
    "body": "Besok saya datang",
    "kind": "text",
}
SAMPLES["family_message_sent"] = {"to": "facilitator", "name": "Bu Rini", "draft_open": True}
SAMPLES["family_reply_prompt"] = {"name": "Warsini"}
SAMPLES["report_echo"] = {"name": "Untung", "value": -200_000, "key": "profit"}
SAMPLES["report_note"] = {"note": "photo_attached"}
SAMPLES["riwayat"] = {
    "months": [_Month("2024-01", True, "berjalan", -150_000, 2, False), _Month("2023-12", False)]
}
SAMPLES["stranger"] = {"first_name": "Tamu", "kabupaten": "Kabupaten Tegal"}
SAMPLES["unknown_command"] = {"command": "/xyz", "role": "recipient"}
SAMPLES["cycle_draft_reminder"] = {
    "person": "Siti", "period": "2024-01", "close_date": "2024-02-20", "last": False, "closed": False,
}  # fmt: skip
