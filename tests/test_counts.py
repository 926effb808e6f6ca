"""Counts as people write them (bot/domain/counts.py) and their use in the report form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import forms as F
from bot.domain.counts import Count, CountError, parse_count, to_words
from bot.domain.forms import Invalid, Pressed, Text

GOATS = F.Question("tk_adult", F.Kind.INTEGER, maximum=500)


@pytest.mark.parametrize(
    ("text", "value"),
    [("5", 5), ("5 ekor", 5), ("lima", 5), ("lima ekor", 5), ("dua puluh tiga", 23),
     ("seratus", 100), ("sebelas", 11), ("dua belas", 12), ("seratus dua puluh lima ekor", 125),
     ("Tiga Puluh", 30), ("0", 0), ("nol", 0), ("1.000", 1000), ("seribu dua ratus", 1200)],
)  # fmt: skip
def test_counts_people_write(text: str, value: int) -> None:
    assert parse_count(text) == Count(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("1.5", "fraction"), ("2,5", "fraction"), ("1.2.3", "fraction"), ("3 4", "two_numbers"),
     ("-3", "negative"), ("", "empty"), ("banyak", "not_number"), ("puluh", "not_number"),
     ("lima lima", "not_number"), ("dua ratus seratus", "not_number")],
)  # fmt: skip
def test_counts_refused(text: str, reason: str) -> None:
    assert parse_count(text) == CountError(reason)


@given(st.integers(min_value=0, max_value=999_999), st.sampled_from(["", " ekor", " orang"]))
def test_words_and_digits_round_trip(n: int, unit: str) -> None:
    assert parse_count(to_words(n) + unit) == Count(n)
    assert parse_count(f"{n}{unit}") == Count(n)


@given(st.integers(min_value=0, max_value=999), st.integers(min_value=1, max_value=99))
def test_decimals_are_never_read_as_whole_numbers(whole: int, frac: int) -> None:
    for sep in (".", ","):
        assert parse_count(f"{whole}{sep}{frac}") == CountError("fraction")


@given(st.integers(min_value=0, max_value=99), st.integers(min_value=0, max_value=99))
def test_two_numbers_are_never_glued(a: int, b: int) -> None:
    assert parse_count(f"{a} {b}") == CountError("two_numbers")


def test_form_refuses_fraction_with_unit_reason() -> None:
    form = F.monthly_form("ternak kambing")
    result = F.apply_answer(form, {}, "tk_adult", Text("2.5"))
    assert isinstance(result, Invalid) and result.error == "count_fraction"
    assert result.params["unit"] == "ekor"
    assert F.apply_answer(form, {}, "tk_adult", Text("lima ekor")) == {"tk_adult": 5}


def test_small_counts_get_number_buttons_and_more() -> None:
    assert F.number_buttons(GOATS) == tuple(str(i) for i in range(11)) + (F.MORE,)
    big = F.Question("tb_orders", F.Kind.INTEGER, maximum=10_000)
    assert F.number_buttons(big) == ()
    household = F.Question("household", F.Kind.INTEGER, minimum=1, maximum=30)
    assert F.number_buttons(household)[0] == "1"
    more = F.apply_answer(F.monthly_form("ternak kambing"), {}, "tk_adult", Pressed(F.MORE))
    assert isinstance(more, Invalid) and more.error == "type_number"


@pytest.mark.parametrize("programme", ["tata boga", "menjahit", "ternak kambing"])
@given(data=st.data())
def test_counter_never_grows(programme: str, data: st.DataObject) -> None:
    """Whatever is answered, the total of "(n/N)" never grows and n never passes N."""
    form = F.monthly_form(programme)
    answers: dict = {}
    last_total = F.progress(form, answers)[1]
    for _ in range(40):
        q = F.next_question(form, answers)
        if q is None:
            break
        if q.kind == F.Kind.CHOICE:
            value = data.draw(st.sampled_from(q.choices))
        elif q.kind == F.Kind.YESNO:
            value = data.draw(st.booleans())
        elif q.kind in (F.Kind.AMOUNT, F.Kind.INTEGER):
            value = data.draw(st.integers(min_value=q.minimum, max_value=min(q.maximum, 50)))
        else:
            value = None if q.optional else "x"
        answers[q.key] = value
        number, total = F.progress(form, answers)
        assert total <= last_total and number <= total
        last_total = total


# --- one message answering a pair of questions ---------------------------------------------

PAIRED = F.Form(
    "monthly",
    (
        F.Question("revenue", F.Kind.AMOUNT, pair="costs"),
        F.Question("costs", F.Kind.AMOUNT),
        F.Question("tk_adult", F.Kind.INTEGER, maximum=500, pair="tk_kid"),
        F.Question("tk_kid", F.Kind.INTEGER, maximum=500),
    ),
)


@pytest.mark.parametrize("text", ["1,5jt / 500rb", "1,5 jt dan 500 ribu", "1.500.000\n500.000"])
def test_one_message_answers_a_declared_pair(text: str) -> None:
    result = F.apply_answer(PAIRED, {}, "revenue", Text(text))
    assert result == {"revenue": 1_500_000, "costs": 500_000, F.PAIRED: ["costs"]}


def test_pair_of_counts_and_single_values() -> None:
    answers = {"revenue": 1, "costs": 1}
    assert F.apply_answer(PAIRED, answers, "tk_adult", Text("3 dan 2")) == {
        **answers, "tk_adult": 3, "tk_kid": 2, F.PAIRED: ["tk_kid"],
    }  # fmt: skip
    assert F.apply_answer(PAIRED, answers, "tk_adult", Text("3")) == {**answers, "tk_adult": 3}
    # "3 4" is still two numbers glued, not a pair; a bad second part keeps nothing
    bad = F.apply_answer(PAIRED, answers, "tk_adult", Text("3 4"))
    assert isinstance(bad, Invalid) and bad.error == "count_two_numbers"
    bad = F.apply_answer(PAIRED, answers, "tk_adult", Text("3 / 2.5"))
    assert isinstance(bad, Invalid) and bad.error == "count_fraction"
    assert isinstance(F.apply_answer(PAIRED, {}, "revenue", Text("1,5 / 2")), Invalid)
