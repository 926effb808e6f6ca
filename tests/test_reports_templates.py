"""Every refusal and every flag kind of the monthly reports renders in both languages."""

from __future__ import annotations

import pytest

from bot.render import render

ERRORS = {
    "use_buttons": {}, "not_optional": {}, "need_photo": {"got": "text"},
    "need_text": {"got": "sticker"}, "photo_not_expected": {}, "photo_too_large": {"limit_mb": 5},
    "too_long": {"limit": 500}, "need_words": {}, "amount_empty": {"example": "1 juta"},
    "amount_nonsense": {"example": "1 juta"}, "amount_letters": {"example": "1 juta"},
    "amount_negative": {}, "amount_too_large": {"ceiling": 100_000_000},
    "amount_fraction": {"example": "1 juta"}, "need_number": {"minimum": 0, "maximum": 9},
    "negative_number": {}, "out_of_range": {"minimum": 1, "maximum": 5}, "need_date": {},
    "date_out_of_range": {}, "use_summary_buttons": {},
    "amount_no_digits": {"example": "1 juta"}, "amount_loss_here": {"example": "1 juta"},
    "date_not_exist": {},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("error", sorted(ERRORS))
def test_form_errors_render(lang: str, error: str) -> None:
    text = render("form_error", lang, error=error, p=ERRORS[error])
    assert text.strip()


@pytest.mark.parametrize("lang", ["id", "en"])
def test_each_error_has_its_own_text(lang: str) -> None:
    texts = {e: render("form_error", lang, error=e, p=p) for e, p in ERRORS.items()}
    fallback = render("form_error", lang, error="?", p={})
    assert all(t != fallback for t in texts.values())


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(
    ("kind", "details"),
    [
        ("mismatch_income", {"recipient": 1, "facilitator": 2}),
        ("mismatch_goats", {"recipient": 1, "facilitator": 2}),
        ("jump", {"previous": 1, "current": 5}),
        ("photo_reused", {"other_recipient_id": 2, "other_period": "2023-12"}),
    ],
)
def test_flag_texts(lang: str, kind: str, details: dict) -> None:
    text = render("flag_detail", lang, kind=kind, recipient_name="Siti", period="2024-01",
                  details=details)  # fmt: skip
    assert "Siti" in text


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize(
    "key",
    ["not_allowed", "not_found", "facilitator_only", "period_not_open", "flag_closed",
     "draft_open", "not_linked", "empty_caseload", "stale"],
)  # fmt: skip
def test_report_errors(lang: str, key: str) -> None:
    assert render("report_error", lang, key=key)


@pytest.mark.parametrize("name", ["cycle_reminder", "cycle_draft_reminder"])
def test_a_reminder_read_after_the_close_does_not_say_press_report_now(name: str) -> None:
    """ "laporan Januari 2024 ditutup 20 Februari 2024. Tekan Lapor sekarang." read as closed
    and open at once: before the close it names the deadline, after it says what is left."""
    ctx = {"person": "Siti", "period": "2024-01", "close_date": "2024-02-20", "last": True}
    before = render(name, "id", **ctx, closed=False)
    assert "Tekan Lapor sekarang" in before and "batas akhir" in before.lower()
    assert "ditutup" not in before
    after = render(name, "id", **ctx, closed=True)
    assert "Lapor sekarang" not in after and "sudah lewat" in after
    assert "pendamping" in after and "terlambat" in after
    assert "Report now" not in render(name, "en", **ctx, closed=True)
