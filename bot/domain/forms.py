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
    """The first applicable question not answered yet; None when the form is complete."""
    for q in form.questions:
        if q.key not in answers and q.applies(answers):
            return q
    return None


def _may_apply(q: Question, answers: Answers) -> bool:
    """Applies now, or may apply once an answer it depends on is given."""
    return q.applies(answers) or any(d not in answers for d in q.depends)


def progress(form: Form, answers: Answers) -> tuple[int, int]:
    """(number of the current question, total) for the "(n/N)" counter.

    The total counts the questions answered plus those still to come that apply or may
    apply once an answer they depend on is given, so answering never makes it grow (it only
    shrinks when an answer rules questions out)."""
    answered = sum(1 for q in form.questions if q.key in answers and q.applies(answers))
    to_come = sum(1 for q in form.questions if q.key not in answers and _may_apply(q, answers))
    return min(answered + 1, answered + to_come), answered + to_come


def previous_key(form: Form, answers: Answers) -> str | None:
    """The answer given just before the current question (for "Kembali"); None at the first."""
    current = next_question(form, answers)
    keys = [q.key for q in applicable(form, answers) if q.key in answers]
    if current is not None:
        order = form.key_list()
        keys = [k for k in keys if order.index(k) < order.index(current.key)]
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


def _meaningful(text: str) -> bool:
    """At least one letter or digit (an emoji-only or punctuation-only text is not an answer)."""
    return any(unicodedata.category(c)[0] in ("L", "N") for c in text)


_DATE = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})$")


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
        if q.kind != Kind.PHOTO:
            return Invalid("photo_not_expected")
        if raw.size is not None and raw.size > max_photo_bytes:
            return Invalid("photo_too_large", {"limit_mb": max_photo_bytes // 1_000_000})
        value = {"file_id": raw.file_id, "unique_id": raw.unique_id}
    elif isinstance(raw, Text) and q.pair and len(parts := split_pair(raw.text)) == 2:
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


def _apply_pair(
    form: Form, answers: Answers, q: Question, parts: list[str], today: dt.date | None,
    ceiling: int, max_photo_bytes: int,
) -> dict[str, Any] | Invalid | Clarify:  # fmt: skip
    """Both values of a paired question, or the first refusal (nothing half is kept)."""
    first = apply_answer(form, answers, q.key, Text(parts[0]), today=today, ceiling=ceiling,
                         max_photo_bytes=max_photo_bytes)  # fmt: skip
    if isinstance(first, Clarify):
        return Invalid("pair_unclear")
    if not isinstance(first, dict):
        return first
    second_q = next_question(form, first)
    if second_q is None or second_q.key != q.pair:
        return Invalid("pair_not_here")
    second = apply_answer(form, first, second_q.key, Text(parts[1]), today=today,
                          ceiling=ceiling, max_photo_bytes=max_photo_bytes)  # fmt: skip
    if isinstance(second, Clarify):
        return Invalid("pair_unclear")
    return second


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
        if lowered in ("ya", "y", "iya", "yes", "ada", "sudah"):
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
        return Invalid(f"amount_{parsed.reason}", {"example": parsed.example, "ceiling": ceiling})
    if q.kind == Kind.INTEGER:
        params = {"minimum": q.minimum, "maximum": q.maximum, "unit": count_unit(q.key)}
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
        if pressed and stripped in ("today", "yesterday"):
            day = today if stripped == "today" else today - dt.timedelta(days=1)
            return day.isoformat()
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
PROGRAMME_TATA_BOGA = "tata boga"
PROGRAMME_MENJAHIT = "menjahit"
PROGRAMME_TERNAK = "ternak kambing"


def _running(a: Answers) -> bool:
    return a.get("status") != "tutup"


def _common_head() -> tuple[Question, ...]:
    return (
        Question("status", Kind.CHOICE, STATUSES),
        Question("status_reason", Kind.TEXT,
                 when=lambda a: a.get("status") in ("berhenti_sementara", "tutup"),
                 depends=("status",)),
        Question("revenue", Kind.AMOUNT, when=_running, depends=("status",)),
        Question("costs", Kind.AMOUNT, when=_running, depends=("status",)),
        # Equipment bought is an investment, asked apart so it does not lower the profit.
        Question("equipment_buy", Kind.AMOUNT, when=_running, depends=("status",)),
        # The profit is computed (revenue - costs) and shown for confirmation.
        Question("profit_ok", Kind.YESNO, when=_running, depends=("revenue", "costs")),
        Question("profit", Kind.AMOUNT, signed=True,
                 when=lambda a: _running(a) and a.get("profit_ok") is False,
                 depends=("profit_ok",)),
    )  # fmt: skip


def _programme_questions(programme: str) -> tuple[Question, ...]:
    if programme == PROGRAMME_TATA_BOGA:
        return (
            Question("tb_orders", Kind.INTEGER, when=_running, maximum=10_000),
            Question("tb_days", Kind.INTEGER, when=_running, maximum=7,
                     choices=tuple(str(i) for i in range(8))),
            Question("tb_equipment", Kind.YESNO),
        )  # fmt: skip
    if programme == PROGRAMME_MENJAHIT:
        return (
            Question("mj_pieces", Kind.INTEGER, when=_running, maximum=10_000),
            Question("mj_machine", Kind.YESNO),
        )
    if programme == PROGRAMME_TERNAK:
        return (
            Question("tk_adult", Kind.INTEGER, maximum=500),
            Question("tk_kid", Kind.INTEGER, maximum=500),
            Question("tk_births", Kind.INTEGER, maximum=500),
            Question("tk_deaths", Kind.INTEGER, maximum=500),
            Question("tk_sold", Kind.INTEGER, maximum=500),
            Question("tk_sold_value", Kind.AMOUNT, when=lambda a: (a.get("tk_sold") or 0) > 0,
                     depends=("tk_sold",)),
            Question("tk_feed", Kind.YESNO),
        )  # fmt: skip
    return ()


# Household size is asked in the first month of each quarter, or when the family says it changed.
HOUSEHOLD_MONTHS = (1, 4, 7, 10)


def _household_asked(a: Answers) -> bool:
    return a.get("household_changed") is not False


def _common_tail(household_month: bool) -> tuple[Question, ...]:
    household: tuple[Question, ...]
    if household_month:
        household = (Question("household", Kind.INTEGER, minimum=1, maximum=30),)
    else:
        household = (
            Question("household_changed", Kind.YESNO),
            Question("household", Kind.INTEGER, minimum=1, maximum=30, when=_household_asked,
                     depends=("household_changed",)),
        )  # fmt: skip
    return (
        Question("other_income", Kind.AMOUNT),
        *household,
        Question("savings", Kind.YESNO),
        Question("savings_amount", Kind.AMOUNT, optional=True,
                 when=lambda a: a.get("savings") is True, depends=("savings",)),
        Question("books", Kind.YESNO),
        Question("problem", Kind.CHOICE, PROBLEMS),
        Question("problem_text", Kind.TEXT, optional=True,
                 when=lambda a: a.get("problem") not in (None, "tidak_ada"), depends=("problem",)),
        Question("help", Kind.YESNO),
        Question("photo", Kind.PHOTO, optional=True),
    )  # fmt: skip


@lru_cache(maxsize=64)
def monthly_form(programme: str, household_month: bool = True) -> Form:
    """The monthly report for one programme (unknown programmes get the common questions).

    household_month: ask the household size outright (quarter months, see
    HOUSEHOLD_MONTHS); otherwise ask first whether it changed."""
    return Form(
        "monthly",
        _common_head() + _programme_questions(programme) + _common_tail(household_month),
        programme=programme,
    )


def is_household_month(period: str | None) -> bool:
    """True when the household size is asked outright in this period ('YYYY-MM')."""
    return period is None or int(period[5:7]) in HOUSEHOLD_MONTHS


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
        Question("v_photo", Kind.PHOTO, optional=True),
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
    """The form of a draft by its name, programme and period."""
    if name == "monthly":
        return monthly_form(programme or "", is_household_month(period))
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
