"""A small declarative form engine and the forms of the monthly reports (monthly report, visit, flag check).

A form is a tuple of `Question`s. A person's progress is just the `answers` dict (stored as
JSON in report_drafts): the next question is derived from it, never kept in memory.

- `next_question(form, answers)`: the first applicable question without an answer (None: done);
- `apply_answer(form, answers, key, raw, ...)`: a new answers dict, or `Invalid` (a template
  key saying why, nothing changed), or `Clarify` (an amount like "1,5": ask which one);
- `forget(form, answers, key)`: drop an answer and the answers computed from it (for "Ubah");
- `summary(form, answers)`: the applicable answered questions, in order, for the final check.

Question texts live in templates/<lang>/q_<key>.j2; button labels and short labels for the
summary in templates/<lang>/form_label.j2. Pure: no I/O, no telegram import.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from bot.domain.counts import CountError, parse_count
from bot.domain.money import (
    DEFAULT_CEILING,
    AmbiguousAmount,
    Amount,
    parse_amount,
    parse_signed_amount,
)

MAX_TEXT = 500  # characters kept for a free-text answer
# In the answers: the keys answered together with the question before them (a pair typed in
# one message), for the counter. Not a question; effective_answers and summary ignore it.
PAIRED = "_paired"
MAX_PHOTO_BYTES = 5_000_000
MORE = "_more"  # the "lebih" button under number buttons: type a larger number
SMALL_COUNT_BUTTONS = 10  # number buttons 0..10 (from the minimum) for counts up to SMALL_COUNT_MAX
SMALL_COUNT_MAX = 500


def count_unit(key: str) -> str:
    """The unit word shown in count refusals ("jumlah ekor harus bilangan bulat")."""
    return "ekor" if key.startswith("tk_") else ""


def number_buttons(q: Question) -> tuple[str, ...]:
    """Buttons for a count question: its own choices, else minimum..10 and "lebih" for small
    counts (maximum up to SMALL_COUNT_MAX); none for large ones (orders, pieces)."""
    if q.kind != Kind.INTEGER:
        return q.choices
    if q.choices:
        return q.choices
    if q.maximum > SMALL_COUNT_MAX:
        return ()
    top = min(q.maximum, SMALL_COUNT_BUTTONS)
    values = tuple(str(i) for i in range(q.minimum, top + 1))
    return values + ((MORE,) if q.maximum > top else ())


class Kind(StrEnum):
    CHOICE = "choice"  # buttons; the value is one of `choices`
    AMOUNT = "amount"  # rupiah, parsed by bot.domain.money
    INTEGER = "integer"  # a whole number in [minimum, maximum]; `choices` may offer buttons
    YESNO = "yesno"  # buttons ya / tidak -> True / False
    TEXT = "text"  # free text, at most MAX_TEXT characters
    PHOTO = "photo"  # one photo: {"file_id", "unique_id"}
    DATE = "date"  # a date: buttons "today"/"yesterday" or typed DD-MM-YYYY


Answers = Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    key: str
    kind: Kind
    choices: tuple[str, ...] = ()
    optional: bool = False  # a "Lewati" (skip) button; the answer is stored as None
    when: Callable[[Answers], bool] | None = None  # asked only if this holds for earlier answers
    depends: tuple[str, ...] = ()  # forgotten when one of these keys is changed
    minimum: int = 0
    maximum: int = 1_000_000
    signed: bool = False  # an AMOUNT that may be a loss ("rugi 200rb", "-200rb")
    # The key of the question right after this one that a single typed message may answer
    # too, the two values separated by "/", ";", " dan " or a new line ("1,5jt / 500rb",
    # "3 dan 2"); typed alone, the value answers this question only.
    pair: str | None = None
    # A follow-up (asked only after a particular answer to the question before it, e.g. the
    # amount after "ya, punya tabungan") shares that question's number in the "(n/N)" counter
    # and is not counted in N, so the counter shows the main questions only.
    follow_up: bool = False
    # Never asked on its own: a photo sent at any question of the form (or at its summary)
    # fills it (the monthly report's optional photo).
    attached: bool = False
    # A PHOTO question: typed text here is kept as (appended to) the answer of this TEXT key.
    text_to: str | None = None

    @property
    def template(self) -> str:
        return f"q_{self.key}"

    def applies(self, answers: Answers) -> bool:
        return self.when is None or bool(self.when(answers))


@dataclass(frozen=True)
class Form:
    name: str  # 'monthly' | 'visit' | 'flag'
    questions: tuple[Question, ...]
    programme: str | None = None

    def question(self, key: str) -> Question:
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)

    def key_list(self) -> list[str]:
        return [q.key for q in self.questions]

    def attachment(self) -> Question | None:
        """The question an unasked photo fills (`Question.attached`), if the form has one."""
        return next((q for q in self.questions if q.attached), None)


# --- raw inputs the handler passes in --------------------------------------------------------


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Pressed:
    """A button's value (the part of callback_data after the draft step)."""

    value: str


@dataclass(frozen=True)
class Photo:
    file_id: str
    unique_id: str
    size: int | None = None


@dataclass(frozen=True)
class Media:
    """Anything else a person can send: 'sticker', 'voice', 'location', 'document', ..."""

    kind: str


@dataclass(frozen=True)
class Skip:
    pass


Raw = Text | Pressed | Photo | Media | Skip


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invalid:
    """Why an answer was refused: `error` names a part of templates/<lang>/form_error.j2."""

    error: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Clarify:
    """The amount could mean several values: offer them as buttons."""

    choices: tuple[int, ...]


@dataclass(frozen=True)
class SummaryRow:
    key: str
    kind: Kind
    value: Any


# --- engine ----------------------------------------------------------------------------------


def applicable(form: Form, answers: Answers) -> list[Question]:
    """Questions that apply given the answers so far (skip rules evaluated in order)."""
    return [q for q in form.questions if q.applies(answers)]


def next_question(form: Form, answers: Answers) -> Question | None:
    """The first applicable question not answered yet; None when the form is complete.
    Attached questions (the optional photo) are never asked on their own."""
    for q in form.questions:
        if q.key not in answers and not q.attached and q.applies(answers):
            return q
    return None


def _may_apply(q: Question, answers: Answers) -> bool:
    """Applies now, or may apply once an answer it depends on is given."""
    return q.applies(answers) or any(d not in answers for d in q.depends)


def paired(answers: Answers) -> set[str]:
    """Keys answered together with the question before them in one typed message (a pair,
    `Question.pair`): they were never asked on their own."""
    return set(answers.get(PAIRED, ()))


def in_correction(form: Form, answers: Answers) -> bool:
    """A question asked again after "Ubah" on the summary (or Kembali from there): a later
    question was answered already. A pair's second value answered with the first does not
    count (Kembali to the first of a pair is no correction)."""
    current = next_question(form, answers)
    if current is None:
        return False
    order = form.key_list()
    at, done = order.index(current.key), paired(answers)
    return any(
        order.index(q.key) > at and q.key in answers and q.key not in done
        for q in applicable(form, answers)
        if not q.attached
    )


def progress(form: Form, answers: Answers) -> tuple[int, int]:
    """(number of the current question, total) for the "(n/N)" counter; number 0 while a
    question is asked again from the summary (`in_correction`: shown as "(Ubah)").

    Only main questions count: a follow-up shares the number of the question it follows, the
    attached photo is never asked, and the second value of a pair typed in one message with
    the first was never asked on its own (it leaves the count). So the numbers follow the
    questions actually asked, one by one, never skipping. The total counts the main
    questions answered plus those still to come that apply or may apply once an answer they
    depend on is given, so answering never makes it grow (it only shrinks when an answer
    rules questions out or a pair is answered at once)."""
    done = paired(answers)
    main = [q for q in form.questions if not q.follow_up and not q.attached and q.key not in done]
    answered = sum(1 for q in main if q.key in answers and q.applies(answers))
    to_come = sum(1 for q in main if q.key not in answers and _may_apply(q, answers))
    total = answered + to_come
    current = next_question(form, answers)
    if current is not None and in_correction(form, answers):
        return 0, total
    if current is not None and current.follow_up:
        return max(1, min(answered, total)), total
    return min(answered + 1, total), total


def previous_key(form: Form, answers: Answers) -> str | None:
    """The answer given just before the current question (for "Kembali"); None at the first."""
    current = next_question(form, answers)
    keys = [q.key for q in applicable(form, answers) if q.key in answers and not q.attached]
    if current is not None:
        order = form.key_list()
        keys = [k for k in keys if order.index(k) < order.index(current.key)]
    if keys and keys[-1] in paired(answers):
        # typed together with the question before it: back to that question (asked alone,
        # its second value would make the counter grow)
        return next(q.key for q in form.questions if q.pair == keys[-1])
    return keys[-1] if keys else None


def forget(form: Form, answers: Answers, key: str) -> dict[str, Any]:
    """Answers without `key` and without anything depending on it (transitively)."""
    out = dict(answers)
    gone = {key}
    changed = True
    while changed:
        changed = False
        for q in form.questions:
            if q.key not in gone and any(d in gone for d in q.depends):
                gone.add(q.key)
                changed = True
    for k in gone:
        out.pop(k, None)
    if PAIRED in out:
        kept = [k for k in out[PAIRED] if k not in gone]
        if kept:
            out[PAIRED] = kept
        else:
            del out[PAIRED]
    return out


def effective_answers(form: Form, answers: Answers) -> dict[str, Any]:
    """Only the answers of questions that still apply (a changed status hides old ones)."""
    keys = {q.key for q in applicable(form, answers)}
    return {k: v for k, v in answers.items() if k in keys}


def summary(form: Form, answers: Answers) -> list[SummaryRow]:
    """Applicable answered questions in form order, with their stored values."""
    return [
        SummaryRow(q.key, q.kind, answers[q.key])
        for q in applicable(form, answers)
        if q.key in answers
    ]


FORWARD_MIN_WORDS = 4  # a message with no digit at a number question: more than 3 words
FORWARD_MIN_WORDS_AT_BUTTONS = 3  # a message at a button question: 3 words or more


def not_an_answer(q: Question, text: str) -> bool:
    """Typed text that is a message rather than an attempt at this question's answer (a
    family's "kambing saya sakit" at a button question): passed on to the facilitator.

    At a button question (choice, ya/tidak) a text of 3 words or more that is not one of its
    answers (one or two words are a try at the answer and get the buttons again).
    At a number or amount question only a text without any digit and of more than 3 words:
    "banyak" or "1,5jtt" is a typo and is refused with an example instead."""
    if not _meaningful(text):
        return False
    if q.kind in (Kind.CHOICE, Kind.YESNO):
        # one or two words ("lancar", "tidak tahu") are a try at the answer: the buttons again
        wordy = len(text.split()) >= FORWARD_MIN_WORDS_AT_BUTTONS
        return wordy and isinstance(_parse_value(q, text, False, None, DEFAULT_CEILING), Invalid)
    if q.kind in (Kind.AMOUNT, Kind.INTEGER):
        return not any(c.isdigit() for c in text) and len(text.split()) >= FORWARD_MIN_WORDS
    return False


def _meaningful(text: str) -> bool:
    """At least one letter or digit (an emoji-only or punctuation-only text is not an answer)."""
    return any(unicodedata.category(c)[0] in ("L", "N") for c in text)


_DATE = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})$")


# Typed words for the date buttons (days before today).
_DATE_WORDS = {"hari ini": 0, "today": 0, "kemarin": 1, "yesterday": 1}


def _parse_date(text: str, today: dt.date) -> dt.date | None:
    m = _DATE.match(text.strip())
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    if year < 100:
        year += 2000
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def apply_answer(
    form: Form,
    answers: Answers,
    key: str,
    raw: Raw,
    *,
    today: dt.date | None = None,
    ceiling: int = DEFAULT_CEILING,
    max_photo_bytes: int = MAX_PHOTO_BYTES,
) -> dict[str, Any] | Invalid | Clarify:
    """Validate `raw` for question `key`; return new answers (a copy) or why not."""
    q = form.question(key)
    value: Any
    if isinstance(raw, Skip) or (isinstance(raw, Pressed) and raw.value == "_skip"):
        if not q.optional:
            return Invalid("not_optional")
        value = None
    elif isinstance(raw, Media):
        return Invalid("need_photo" if q.kind == Kind.PHOTO else "need_text", {"got": raw.kind})
    elif isinstance(raw, Photo):
        target = q if q.kind == Kind.PHOTO else form.attachment()
        if target is None:
            return Invalid("photo_not_expected")
        if raw.size is not None and raw.size > max_photo_bytes:
            return Invalid("photo_too_large", {"limit_mb": max_photo_bytes // 1_000_000})
        key, value = target.key, {"file_id": raw.file_id, "unique_id": raw.unique_id}
    elif isinstance(raw, Text) and q.kind == Kind.PHOTO and q.text_to:
        # Text typed where a photo is asked is a note, not a refusal: kept under `text_to`
        # (appended to a note given before); the photo is still asked.
        note = _parse_value(form.question(q.text_to), raw.text, False, today, ceiling)
        if isinstance(note, Invalid | Clarify):
            return note if isinstance(note, Invalid) else Invalid("need_words")
        before = answers.get(q.text_to)
        joined = f"{before}\n{note}" if before else note
        if len(joined) > MAX_TEXT:
            return Invalid("too_long", {"limit": MAX_TEXT})
        return {**answers, q.text_to: joined}
    elif isinstance(raw, Text) and q.pair and len(parts := pair_parts(q, raw.text)) == 2:
        return _apply_pair(form, answers, q, parts, today, ceiling, max_photo_bytes)
    else:
        text = raw.text if isinstance(raw, Text) else raw.value
        pressed = isinstance(raw, Pressed)
        if len(text) > MAX_TEXT * 4 and q.kind != Kind.TEXT:
            return Invalid("too_long", {"limit": MAX_TEXT})
        result = _parse_value(q, text, pressed, today, ceiling)
        if isinstance(result, Invalid | Clarify):
            return result
        value = result
    out = dict(answers)
    out[key] = value
    return out


_PAIR_SEPARATOR = re.compile(r"\s*(?:/|;|\n|\bdan\b)\s*", re.IGNORECASE)


def split_pair(text: str) -> list[str]:
    """'1,5jt / 500rb' -> ['1,5jt', '500rb']; one part when there is no separator."""
    return [p for p in _PAIR_SEPARATOR.split(text.strip()) if p]


def _scale(value: int) -> int:
    """The largest power of 1000 not above value (1 for values below 1000)."""
    scale = 1
    while scale * 1000 <= value:
        scale *= 1000
    return scale


def pair_parts(q: Question, text: str) -> list[str]:
    """The two values of a paired question's answer, or one part.

    Separators first ("/", ";", " dan ", a new line). Else, for money, two amounts separated
    by a space when exactly one split reads as two amounts: the question asks for two, so
    "1,5jt 500rb", "2jt 800rb" and "1500000 500000" are two; only a bare number fitting under
    the first part's scale stays one amount ("1 jt 500" = Rp1.500.000, as when typed alone).
    Counts need a separator: "3 4" stays two numbers glued (refused)."""
    parts = split_pair(text)
    if len(parts) == 2 or q.kind != Kind.AMOUNT:
        return parts
    tokens = text.split()
    found: list[tuple[str, str, int, int]] = []
    for i in range(1, len(tokens)):
        left, right = " ".join(tokens[:i]), " ".join(tokens[i:])
        values = [_plain_amount(part) for part in (left, right)]
        if values[0] is not None and values[1] is not None:
            found.append((left, right, values[0], values[1]))
    if len(found) != 1:
        return parts
    left, right, first, second = found[0]
    if _plain_amount(text) is not None:
        scale = _scale(first)
        if first % scale == 0 and second < scale and not any(c.isalpha() for c in right):
            return parts  # "1 jt 500": one amount, its last digits after the scale
    return [left, right]


def _plain_amount(text: str) -> int | None:
    parsed = parse_amount(text)
    return parsed.value if isinstance(parsed, Amount) else None


def _apply_pair(
    form: Form, answers: Answers, q: Question, parts: list[str], today: dt.date | None,
    ceiling: int, max_photo_bytes: int,
) -> dict[str, Any] | Invalid | Clarify:  # fmt: skip
    """Both values of a paired question, or the first refusal (nothing half is kept).

    The second value replaces an earlier answer to the paired question (an "Ubah" of the
    first one typed with both values) and forgets what depended on it."""
    example = {"count": q.kind == Kind.INTEGER}
    first = apply_answer(form, answers, q.key, Text(parts[0]), today=today, ceiling=ceiling,
                         max_photo_bytes=max_photo_bytes)  # fmt: skip
    if isinstance(first, Clarify):
        return Invalid("pair_unclear", example)
    if not isinstance(first, dict):
        return first
    assert q.pair is not None, "only a paired question has two values"
    second_q = form.question(q.pair)
    if not second_q.applies(first):
        return Invalid("pair_not_here", example)
    second = apply_answer(form, forget(form, first, q.pair), second_q.key, Text(parts[1]),
                          today=today, ceiling=ceiling, max_photo_bytes=max_photo_bytes)  # fmt: skip
    if isinstance(second, Clarify):
        return Invalid("pair_unclear", example)
    if isinstance(second, Invalid):
        return Invalid(second.error, {**second.params, "pair": True})
    done = [k for k in second.get(PAIRED, ()) if k != q.pair]
    return {**second, PAIRED: [*done, q.pair]}


def _parse_value(q: Question, text: str, pressed: bool, today: dt.date | None, ceiling: int) -> Any:
    stripped = text.strip()
    if q.kind == Kind.PHOTO:
        return Invalid("need_photo", {"got": "text"})
    if q.kind == Kind.CHOICE:
        lowered = "_".join(stripped.lower().split())
        if lowered in q.choices:
            return lowered
        return Invalid("use_buttons")
    if q.kind == Kind.YESNO:
        lowered = stripped.lower()
        if lowered in ("ya", "y", "iya", "yes", "ada", "sudah", "benar", "betul", "ok", "oke"):
            return True
        if lowered in ("tidak", "t", "tdk", "no", "nggak", "gak", "belum", "tidak ada"):
            return False
        return Invalid("use_buttons")
    if q.kind == Kind.AMOUNT:
        if pressed and stripped.isdigit():
            value = int(stripped)
            return value if value <= ceiling else Invalid("amount_too_large", {"ceiling": ceiling})
        parse = parse_signed_amount if q.signed else parse_amount
        parsed = parse(stripped, ceiling=ceiling)
        if isinstance(parsed, Amount):
            return parsed.value
        if isinstance(parsed, AmbiguousAmount):
            return Clarify(parsed.choices)
        params = {"example": parsed.example, "ceiling": ceiling, "key": q.key}
        if not q.signed and re.search(r"\b(rugi|minus|defisit)\b", stripped.lower()):
            return Invalid("amount_loss_here", params)  # "rugi 200rb" where costs are asked
        if _meaningful(stripped) and not any(c.isdigit() for c in stripped):
            return Invalid("amount_no_digits", params)  # "banyak": an amount is asked
        return Invalid(f"amount_{parsed.reason}", params)
    if q.kind == Kind.INTEGER:
        params = {"minimum": q.minimum, "maximum": q.maximum, "unit": count_unit(q.key),
                  "key": q.key}  # fmt: skip
        if pressed and stripped == MORE:
            return Invalid("type_number", params)
        if not _meaningful(stripped):
            return Invalid("need_number", params)
        count = parse_count(stripped)
        if isinstance(count, CountError):
            reason = {"negative": "negative_number", "fraction": "count_fraction",
                      "two_numbers": "count_two_numbers"}.get(count.reason, "need_number")  # fmt: skip
            return Invalid(reason, params)
        if not q.minimum <= count.value <= q.maximum:
            return Invalid("out_of_range", params)
        return count.value
    if q.kind == Kind.DATE:
        if today is None:
            raise ValueError("a DATE question needs today")
        word = " ".join(stripped.lower().split())
        if word in _DATE_WORDS or (pressed and stripped in ("today", "yesterday")):
            # the buttons' labels typed ("Kemarin", "hari ini") mean the same
            back = _DATE_WORDS.get(word, 0 if stripped == "today" else 1)
            return (today - dt.timedelta(days=back)).isoformat()
        if _DATE.match(stripped) and _parse_date(stripped, today) is None:
            return Invalid("date_not_exist")  # "31-02-2024"
        typed_day = _parse_date(stripped, today)
        if typed_day is None:
            return Invalid("need_date")
        if typed_day > today or typed_day < today - dt.timedelta(days=366):
            return Invalid("date_out_of_range")
        return typed_day.isoformat()
    # TEXT
    if len(stripped) > MAX_TEXT:
        return Invalid("too_long", {"limit": MAX_TEXT})
    if not _meaningful(stripped):
        return Invalid("need_words")
    return stripped


# --- the monthly report's forms ----------------------------------------------------------------

STATUSES = ("berjalan", "berhenti_sementara", "tutup")
PROBLEMS = ("tidak_ada", "modal", "pembeli", "bahan", "alat", "kesehatan", "waktu", "lainnya")
# "Ada perubahan?" (one question instead of the rarely changing facts every month): the
# household size and the business equipment are asked only when the family says they changed.
CHANGES = ("tidak_ada", "anggota_keluarga", "peralatan", "keduanya")
# Savings and book-keeping in one question (its four possible answers).
SAVINGS_BOOKS = ("tabungan_buku", "tabungan_saja", "buku_saja", "belum_keduanya")
PROGRAMME_TATA_BOGA = "tata boga"
PROGRAMME_MENJAHIT = "menjahit"
PROGRAMME_TERNAK = "ternak kambing"
# The equipment question of a programme ("still there and usable?"), asked on a change.
EQUIPMENT_KEYS = {PROGRAMME_TATA_BOGA: "tb_equipment", PROGRAMME_MENJAHIT: "mj_machine"}


def _running(a: Answers) -> bool:
    return a.get("status") != "tutup"


def _changed(what: str) -> Callable[[Answers], bool]:
    return lambda a: a.get("changes") in (what, "keduanya")


def _common_head() -> tuple[Question, ...]:
    return (
        Question("status", Kind.CHOICE, STATUSES),
        Question("status_reason", Kind.TEXT,
                 when=lambda a: a.get("status") in ("berhenti_sementara", "tutup"),
                 depends=("status",), follow_up=True),
        # Revenue and costs in one typed message ("1,5jt / 500rb"); typed alone, costs follow.
        Question("revenue", Kind.AMOUNT, when=_running, depends=("status",), pair="costs"),
        Question("costs", Kind.AMOUNT, when=_running, depends=("status",)),
        # The profit is computed (revenue - costs) and shown for confirmation.
        Question("profit_ok", Kind.YESNO, when=_running, depends=("status", "revenue", "costs")),
        Question("profit", Kind.AMOUNT, signed=True,
                 when=lambda a: _running(a) and a.get("profit_ok") is False,
                 depends=("profit_ok",), follow_up=True),
    )  # fmt: skip


def _moved(a: Answers) -> bool:
    return a.get("tk_moves") is True


def _programme_questions(programme: str) -> tuple[Question, ...]:
    if programme == PROGRAMME_TATA_BOGA:
        return (
            Question("tb_orders", Kind.INTEGER, when=_running, depends=("status",),
                     maximum=10_000, pair="tb_days"),
            Question("tb_days", Kind.INTEGER, when=_running, depends=("status",), maximum=7,
                     choices=tuple(str(i) for i in range(8))),
        )  # fmt: skip
    if programme == PROGRAMME_MENJAHIT:
        return (Question("mj_pieces", Kind.INTEGER, when=_running, depends=("status",),
                         maximum=10_000),)  # fmt: skip
    if programme == PROGRAMME_TERNAK:
        return (
            Question("tk_adult", Kind.INTEGER, maximum=500, pair="tk_kid"),
            Question("tk_kid", Kind.INTEGER, maximum=500),
            # "Any goat born, died or sold?": a quiet month is one press (all three are 0).
            Question("tk_moves", Kind.YESNO),
            Question("tk_births", Kind.INTEGER, maximum=500, when=_moved, depends=("tk_moves",),
                     follow_up=True),
            Question("tk_deaths", Kind.INTEGER, maximum=500, when=_moved, depends=("tk_moves",),
                     follow_up=True),
            Question("tk_sold", Kind.INTEGER, maximum=500, when=_moved, depends=("tk_moves",),
                     follow_up=True),
            Question("tk_sold_value", Kind.AMOUNT,
                     when=lambda a: _moved(a) and (a.get("tk_sold") or 0) > 0,
                     depends=("tk_moves", "tk_sold"), follow_up=True),
            Question("tk_feed", Kind.YESNO),
        )  # fmt: skip
    return ()


def _common_tail(programme: str) -> tuple[Question, ...]:
    equipment: tuple[Question, ...] = ()
    if programme in EQUIPMENT_KEYS:
        equipment = (Question(EQUIPMENT_KEYS[programme], Kind.YESNO, when=_changed("peralatan"),
                              depends=("changes",), follow_up=True),)  # fmt: skip
    has_problem = lambda a: a.get("problem") not in (None, "tidak_ada")  # noqa: E731
    return (
        Question("other_income", Kind.AMOUNT),
        Question("changes", Kind.CHOICE, CHANGES),
        Question("household", Kind.INTEGER, minimum=1, maximum=30, when=_changed("anggota_keluarga"),
                 depends=("changes",), follow_up=True),
        *equipment,
        # Equipment bought is an investment, asked apart so it does not lower the profit.
        Question("equipment_buy", Kind.AMOUNT, when=lambda a: _running(a) and _changed("peralatan")(a),
                 depends=("status", "changes"), follow_up=True),
        Question("savings_books", Kind.CHOICE, SAVINGS_BOOKS),
        Question("savings_amount", Kind.AMOUNT, optional=True,
                 when=lambda a: a.get("savings_books") in ("tabungan_buku", "tabungan_saja"),
                 depends=("savings_books",), follow_up=True),
        # "Need help?" is asked only after a problem was named; "tidak ada" means no.
        Question("problem", Kind.CHOICE, PROBLEMS),
        Question("problem_text", Kind.TEXT, optional=True, when=has_problem,
                 depends=("problem",), follow_up=True),
        Question("help", Kind.YESNO, when=has_problem, depends=("problem",), follow_up=True),
        Question("photo", Kind.PHOTO, optional=True, attached=True),
    )  # fmt: skip


@lru_cache(maxsize=64)
def monthly_form(programme: str) -> Form:
    """The monthly report for one programme (unknown programmes get the common questions)."""
    return Form(
        "monthly",
        _common_head() + _programme_questions(programme) + _common_tail(programme),
        programme=programme,
    )


def monthly_facts(answers: Answers) -> dict[str, Any]:
    """The facts the reports columns need, from a monthly form's (effective) answers, with
    the combined questions taken apart: savings and books from `savings_books`, help (False
    when no problem was named), goats born/died/sold (0 when none moved), equipment bought
    (0 when the equipment did not change). Older answers (separate `savings`, `books`
    questions) are read as they were. None: not known."""
    a = answers
    sb = a.get("savings_books")
    savings = a.get("savings") if sb is None else sb in ("tabungan_buku", "tabungan_saja")
    books = a.get("books") if sb is None else sb in ("tabungan_buku", "buku_saja")
    problem = a.get("problem")
    help_wanted = a.get("help")
    if help_wanted is None and problem == "tidak_ada":
        help_wanted = False
    moves = a.get("tk_moves")
    herd: dict[str, Any] = {}
    for key in ("tk_births", "tk_deaths", "tk_sold"):
        herd[key] = a.get(key, 0 if moves is False else None)
    equipment_buy = a.get("equipment_buy")
    if equipment_buy is None and a.get("changes") in ("tidak_ada", "anggota_keluarga"):
        equipment_buy = 0
    return {"savings": savings, "books": books, "help": help_wanted, **herd,
            "equipment_buy": equipment_buy}  # fmt: skip


SCALE = ("1", "2", "3", "4", "5")

VISIT_FORM = Form(
    "visit",
    (
        Question("v_date", Kind.DATE, choices=("today", "yesterday")),
        Question("v_running", Kind.YESNO),
        Question("v_bookkeeping", Kind.INTEGER, SCALE, minimum=1, maximum=5),
        Question("v_quality", Kind.INTEGER, SCALE, minimum=1, maximum=5),
        Question("v_market", Kind.INTEGER, SCALE, minimum=1, maximum=5),
        Question("v_motivation", Kind.INTEGER, SCALE, minimum=1, maximum=5),
        Question("v_notes", Kind.TEXT, optional=True),
        Question("v_photo", Kind.PHOTO, optional=True, text_to="v_notes"),
    ),
)

# The kunjungan graduasi: the non-income checklist (BRAC graduation criteria; PKH education
# and health). Every item can be answered "tidak tahu" (unknown: shown as unknown, never met).
CHECK = ("ya", "tidak", "tidak_tahu")
GRADUATION_FORM = Form(
    "graduation",
    (
        Question("v_date", Kind.DATE, choices=("today", "yesterday")),
        Question("g_pangan", Kind.CHOICE, CHECK),
        Question("g_sekolah", Kind.CHOICE, ("ya", "tidak", "tidak_ada_anak", "tidak_tahu")),
        Question("g_jamban_air", Kind.CHOICE, CHECK),
        Question("g_rumah", Kind.CHOICE, CHECK),
        Question("g_tabungan", Kind.CHOICE, CHECK),
        Question("g_tabungan_amount", Kind.AMOUNT, when=lambda a: a.get("g_tabungan") == "ya",
                 depends=("g_tabungan",)),
        Question("g_rentenir", Kind.CHOICE, CHECK),
        Question("g_bpjs", Kind.CHOICE, CHECK),
        Question("v_notes", Kind.TEXT, optional=True),
    ),
)  # fmt: skip


def checklist_answers(answers: Answers) -> list[tuple[str, bool | None, int | None]]:
    """(item, met, amount) from a complete graduation form: 'rentenir' asks about a debt, so
    'ya' there is not met; 'tidak_ada_anak' (no school-age children) counts as met."""
    out: list[tuple[str, bool | None, int | None]] = []
    for item in ("pangan", "sekolah", "jamban_air", "rumah", "tabungan", "rentenir", "bpjs"):
        value = answers.get(f"g_{item}")
        met: bool | None
        if value in (None, "tidak_tahu"):
            met = None
        elif value == "tidak_ada_anak":
            met = True
        else:
            met = (value == "ya") != (item == "rentenir")
        amount = answers.get("g_tabungan_amount") if item == "tabungan" else None
        if item == "tabungan" and met and not amount:
            met = False  # savings must be seen, and be more than nothing
        out.append((item, met, amount))
    return out


# A facilitator typing the verified value of a flagged number (see services.reports).
FLAG_FORM = Form("flag", (Question("verified", Kind.AMOUNT),))
FLAG_FORM_COUNT = Form("flag_count", (Question("verified_count", Kind.INTEGER, maximum=500),))


def form_for(name: str, programme: str | None, period: str | None = None) -> Form:
    """The form of a draft by its name and programme (`period` is accepted for callers that
    name it; every month asks the same questions)."""
    if name == "monthly":
        return monthly_form(programme or "")
    if name == "visit":
        return VISIT_FORM
    if name == "graduation":
        return GRADUATION_FORM
    if name == "flag":
        return FLAG_FORM
    if name == "flag_count":
        return FLAG_FORM_COUNT
    raise KeyError(name)


def computed_profit(answers: Answers) -> int | None:
    """revenue - costs when both are known (shown for confirmation)."""
    revenue, costs = answers.get("revenue"), answers.get("costs")
    if revenue is None or costs is None:
        return None
    return int(revenue) - int(costs)


def profit_of(answers: Answers) -> int | None:
    """The profit that counts: confirmed computed profit, else the one typed, 0 if closed."""
    if answers.get("status") == "tutup":
        return 0
    if answers.get("profit_ok") is False:
        return answers.get("profit")
    return computed_profit(answers)
