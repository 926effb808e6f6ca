"""Hostile input for every parser: random text, unicode, huge strings, odd cell types.

Properties: a parser returns a value within its contract or refuses with its own error type
(never another exception), and what it accepts is well-formed. Counts go to the terminal
summary (tests/suite_counts.py).
"""

from __future__ import annotations

import datetime as dt
import math

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import cells
from bot.domain.forms import (
    FLAG_FORM,
    FLAG_FORM_COUNT,
    MAX_TEXT,
    VISIT_FORM,
    Clarify,
    Invalid,
    Kind,
    Media,
    Photo,
    Pressed,
    Skip,
    Text,
    apply_answer,
    monthly_form,
)
from bot.domain.headers import (
    FACILITATOR_COLUMNS,
    RECIPIENT_COLUMNS,
    RECIPIENT_REQUIRED,
    find_header,
    match_headers,
)
from bot.domain.money import DEFAULT_CEILING, AmbiguousAmount, Amount, AmountError, parse_amount
from bot.domain.nik import NikError, mask_nik, parse_nik, parse_nik_cell
from bot.domain.periods import is_period
from tests.suite_counts import COUNTS

# Text a person (or a hostile client) can type: any unicode plus the awkward families.
AWKWARD = st.sampled_from(
    ["\u200b", "\u200d", "\u200e", "\u202e", "\ufeff", "\u0660", "\u06f5", "\uff11", "\u2212",
     "\u00a0", "\u2009", "Rp", "rb", "jt", "juta", "ribu", ",", ".", "-", "e+15", "1", "0",
     "\U0001f600", "\u05d0", "\u0627\u0644", "\x00", "\n", "\t", "\u0301", "ـ", "½", "²"]
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(AWKWARD, st.text(max_size=3)), max_size=20).map("".join),
    st.from_regex(r"[Rr]?[Pp]?\s?-?[0-9.,]{0,20}\s?(rb|ribu|jt|juta|k|m)?", fullmatch=True),
    st.integers(min_value=1, max_value=5000).map(lambda n: ("9" * n)[:5000]),
)
CELL = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.datetimes(),
    TEXT,
)


def count(name: str) -> None:
    COUNTS[f"hostile: {name}"] += 1


@given(TEXT, st.integers(min_value=0, max_value=10**12))
def test_parse_amount(text, ceiling):
    count("money.parse_amount")
    result = parse_amount(text, ceiling=ceiling)
    assert isinstance(result, Amount | AmbiguousAmount | AmountError)
    if isinstance(result, Amount):
        assert isinstance(result.value, int) and 0 <= result.value <= ceiling
    if isinstance(result, AmbiguousAmount):
        assert result.choices and all(isinstance(c, int) and c >= 0 for c in result.choices)


@given(TEXT)
def test_parse_nik(text):
    count("nik.parse_nik")
    try:
        info = parse_nik(text)
    except NikError:
        return
    assert len(info.nik) == 16 and info.nik.isdigit() and info.nik.isascii()
    masked = mask_nik(info.nik)
    assert info.nik not in masked and masked.count("*") == 8


@given(CELL)
def test_parse_nik_cell(value):
    count("nik.parse_nik_cell")
    try:
        nik = parse_nik_cell(value)
    except NikError:
        return
    assert isinstance(value, str) and len(nik) == 16 and nik.isdigit() and nik.isascii()


@given(CELL)
def test_cell_parsers(value):
    count("cells.* (phone, money, dates, household, yes/no, gender, text)")
    today = dt.date(2024, 2, 1)
    checks = [
        (cells.parse_phone, lambda v: v is None or (v.isdigit() and v.isascii())),
        (cells.parse_money_cell, lambda v: v is None or (isinstance(v, int) and v >= 0)),
        (cells.parse_date_cell, lambda v: v is None or isinstance(v, dt.date)),
        (lambda v: cells.parse_birth_date(v, today), lambda v: v is None or v <= today),
        (cells.parse_household_size, lambda v: v is None or (isinstance(v, int) and v >= 1)),
        (lambda v: cells.parse_yes_no(v, "pkh"), lambda v: v in (None, True, False)),
        (cells.parse_gender, lambda v: v is None or isinstance(v, str)),
        (lambda v: cells.parse_required_text(v, "nama"), lambda v: isinstance(v, str) and v),
        (lambda v: cells.parse_small_int(v, "desil", 1, 10), lambda v: v is None or 1 <= v <= 10),
        (lambda v: cells.normalise_programme(v, ["tata boga", "menjahit"]), lambda v: v),
    ]
    for parse, ok in checks:
        try:
            parsed = parse(value)
        except cells.CellError:
            continue
        assert ok(parsed), (parse, value, parsed)
    assert isinstance(cells.clean_text(value), str)
    assert isinstance(cells.name_key(value), str)


@given(st.lists(CELL, max_size=30))
def test_match_headers(row):
    count("headers.match_headers")
    for columns in (RECIPIENT_COLUMNS, FACILITATOR_COLUMNS):
        found = match_headers(row, columns)
        assert set(found) <= set(columns)
        assert all(0 <= i < len(row) for i in found.values())
        assert len(set(found.values())) == len(found)


@given(st.lists(st.lists(st.one_of(CELL, st.sampled_from(["NIK", "Nama", "Kecamatan",
                                                          "Jenis Pelatihan", "kec"])),
                         max_size=12), max_size=25))  # fmt: skip
def test_find_header(rows):
    count("headers.find_header")
    found = find_header(enumerate(rows, start=1), RECIPIENT_COLUMNS, RECIPIENT_REQUIRED)
    if found is not None:
        row_number, mapping = found
        assert 1 <= row_number <= len(rows) and set(RECIPIENT_REQUIRED) <= set(mapping)


FORMS = [monthly_form(p) for p in ("tata boga", "menjahit", "ternak kambing", "lain")] + [
    VISIT_FORM, FLAG_FORM, FLAG_FORM_COUNT,
]  # fmt: skip
QUESTIONS = [(form, q) for form in FORMS for q in form.questions]
RAW = st.one_of(
    TEXT.map(Text),
    TEXT.map(Pressed),
    st.sampled_from(["today", "yesterday", "_skip", "ya", "tidak", "modal", "berjalan"]).map(
        Pressed
    ),
    st.builds(
        Photo,
        st.text(max_size=10),
        st.text(max_size=10),
        st.one_of(st.none(), st.integers(min_value=0, max_value=10**8)),
    ),  # fmt: skip
    st.sampled_from(["sticker", "voice", "location", "document", "video", "contact"]).map(Media),
    st.just(Skip()),
    st.text(min_size=MAX_TEXT - 2, max_size=MAX_TEXT * 5).map(Text),
)


def well_formed(q, value) -> bool:
    """What a stored answer of this kind must look like (the form's own parsers' contract)."""
    if value is None:
        return q.optional
    if q.kind == Kind.CHOICE:
        return value in q.choices
    if q.kind == Kind.AMOUNT:
        return type(value) is int and 0 <= value <= DEFAULT_CEILING
    if q.kind == Kind.INTEGER:
        return type(value) is int and q.minimum <= value <= q.maximum
    if q.kind == Kind.YESNO:
        return type(value) is bool
    if q.kind == Kind.TEXT:
        return isinstance(value, str) and 0 < len(value) <= MAX_TEXT and value.strip() == value
    if q.kind == Kind.PHOTO:
        return isinstance(value, dict) and set(value) == {"file_id", "unique_id"}
    if q.kind == Kind.DATE:
        day = dt.date.fromisoformat(value)
        return dt.date(2023, 2, 1) <= day <= dt.date(2024, 2, 1)
    return False


@given(st.sampled_from(QUESTIONS), RAW)
def test_apply_answer_every_question_kind(pair, raw):
    count("forms.apply_answer")
    form, q = pair
    before = {"status": "berjalan"}
    result = apply_answer(form, before, q.key, raw, today=dt.date(2024, 2, 1))
    assert before == {"status": "berjalan"}  # never changed in place
    if isinstance(result, Invalid):
        assert isinstance(result.error, str) and result.error
    elif isinstance(result, Clarify):
        assert q.kind == Kind.AMOUNT and result.choices
    else:
        # a photo sent at any question of the monthly report fills its attached photo
        key = q.key
        if isinstance(raw, Photo) and q.kind != Kind.PHOTO:
            attachment = form.attachment()
            assert attachment is not None
            key = attachment.key
        # text typed where a photo is asked is kept as a note under the question's text_to
        if isinstance(raw, Text) and q.kind == Kind.PHOTO and q.text_to:
            key = q.text_to
        assert set(result) == {"status", key}
        assert well_formed(form.question(key), result[key]), (q.key, raw, result[key])


@given(TEXT)
def test_is_period(text):
    count("periods.is_period")
    if is_period(text):
        year, month = int(text[:4]), int(text[5:7])
        assert 1 <= month <= 12 and year > 0 and not math.isnan(year)
