"""bot.domain.money: how Indonesians write amounts, and format -> parse round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import (
    DEFAULT_CEILING,
    AmbiguousAmount,
    Amount,
    AmountError,
    format_rupiah,
    parse_amount,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Rp 1.500.000", 1_500_000),
        ("Rp1.500.000,-", 1_500_000),
        ("Rp1.500.000,00", 1_500_000),
        ("rp. 20.000", 20_000),
        ("1,5 jt", 1_500_000),
        ("1.5jt", 1_500_000),
        ("1,5 juta", 1_500_000),
        ("750rb", 750_000),
        ("750 ribu", 750_000),
        ("50k", 50_000),
        ("50 rebu", 50_000),
        ("sejuta", 1_000_000),
        ("seribu", 1_000),
        ("satu juta lima ratus ribu", 1_500_000),
        ("setengah juta", 500_000),
        ("satu setengah juta", 1_500_000),
        ("seratus lima puluh ribu", 150_000),
        ("dua belas ribu", 12_000),
        ("1 juta 250 ribu", 1_250_000),
        ("1jt500rb", 1_500_000),
        ("1500000", 1_500_000),
        ("1 500 000", 1_500_000),
        ("1.000", 1_000),
        ("0", 0),
        ("  Rp500  ", 500),
        ("2,5 JUTA", 2_500_000),
    ],
)
def test_accepted_forms(text: str, value: int) -> None:
    assert parse_amount(text) == Amount(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5000", "negative"),
        ("Rp -5.000", "negative"),
        ("minus 5 ribu", "negative"),
        ("abc", "letters"),
        ("15OO", "letters"),
        ("seratus ribuan", "letters"),
        ("😀", "nonsense"),
        ("1,5 😀", "nonsense"),
        ("juta juta", "nonsense"),
        ("", "empty"),
        ("   ", "empty"),
        ("999.999.999.999", "too_large"),
        ("1.2.3", "nonsense"),
        ("1,2345 rb", "fraction"),
    ],
)
def test_rejected_with_reason_and_example(text: str, reason: str) -> None:
    result = parse_amount(text)
    assert isinstance(result, AmountError)
    assert result.reason == reason
    assert "juta" in result.example


def test_ceiling_is_configurable() -> None:
    assert parse_amount("2 juta", ceiling=1_000_000) == AmountError("too_large", ceiling=1_000_000)
    assert parse_amount("2 juta", ceiling=5_000_000) == Amount(2_000_000)


def test_ambiguous_decimal_without_unit_offers_two_choices() -> None:
    assert parse_amount("1,5") == AmbiguousAmount("1,5", (1_500_000, 1_500))
    assert parse_amount("2.5") == AmbiguousAmount("2.5", (2_500_000, 2_500))
    # A choice above the ceiling is not offered.
    assert parse_amount("1,5", ceiling=100_000) == AmbiguousAmount("1,5", (1_500,))


def test_format_rupiah() -> None:
    assert format_rupiah(1_500_000) == "Rp1.500.000"
    assert format_rupiah(0) == "Rp0"
    assert format_rupiah(None) == "-"


@given(st.integers(min_value=0, max_value=DEFAULT_CEILING))
def test_format_then_parse_round_trips(amount: int) -> None:
    assert parse_amount(format_rupiah(amount)) == Amount(amount)


@given(st.integers(min_value=0, max_value=DEFAULT_CEILING))
def test_plain_digits_and_dash_suffix_round_trip(amount: int) -> None:
    assert parse_amount(str(amount)) == Amount(amount)
    assert parse_amount(format_rupiah(amount) + ",-") == Amount(amount)


@given(st.integers(min_value=1, max_value=99), st.sampled_from(["juta", "jt", "ribu", "rb"]))
def test_whole_units(number: int, unit: str) -> None:
    scale = 1_000_000 if unit.startswith("j") else 1_000
    assert parse_amount(f"{number} {unit}") == Amount(number * scale)


@given(st.text(max_size=40))
def test_never_raises(text: str) -> None:
    result = parse_amount(text)
    assert isinstance(result, Amount | AmbiguousAmount | AmountError)
    if isinstance(result, Amount):
        assert 0 <= result.value <= DEFAULT_CEILING


# --- money the way people say it: "1jt500", losses, echo ------------------------------------

from bot.domain.money import format_signed, looks_different, parse_signed_amount  # noqa: E402


@pytest.mark.parametrize("text", ["1jt500", "1 jt 500", "1juta500ribu", "1jt5", "1 juta 500"])
def test_million_then_bare_digits_is_the_next_group(text: str) -> None:
    assert parse_amount(text) == Amount(1_500_000)


def test_million_then_two_digits() -> None:
    assert parse_amount("2jt250") == Amount(2_250_000)
    assert parse_amount("2jt05") == Amount(2_050_000)
    assert parse_amount("1rb500") == Amount(1_500)


@pytest.mark.parametrize("text", ["rugi 200rb", "-200rb", "Rugi Rp200.000", "minus 200 ribu"])
def test_losses_at_the_profit(text: str) -> None:
    assert parse_signed_amount(text) == Amount(-200_000)
    assert parse_signed_amount("200rb") == Amount(200_000)


def test_loss_is_written_rugi() -> None:
    assert format_signed(-150_000) == "rugi Rp150.000"
    assert format_signed(150_000) == "Rp150.000"


def test_different_looking_amounts_are_echoed() -> None:
    assert looks_different("1jt500", 1_500_000)
    assert looks_different("sejuta dua ratus ribu", 1_200_000)
    assert looks_different("1 juta 250 ribu", 1_250_000)
    for plain, value in (("1.500.000", 1_500_000), ("Rp 750000", 750_000), ("750rb", 750_000),
                         ("1,5 jt", 1_500_000), ("Rp1.500.000,-", 1_500_000)):  # fmt: skip
        assert not looks_different(plain, value), plain
