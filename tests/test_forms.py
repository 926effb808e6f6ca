"""bot.domain.forms: the declarative engine and the monthly/visit forms."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain import forms as F
from bot.domain.forms import Clarify, Invalid, Media, Photo, Pressed, Skip, Text

TODAY = dt.date(2024, 2, 1)


def run(form: F.Form, inputs: dict) -> dict:
    answers: dict = {}
    while (q := F.next_question(form, answers)) is not None:
        result = F.apply_answer(form, answers, q.key, inputs[q.key], today=TODAY)
        assert isinstance(result, dict), (q.key, result)
        answers = result
    return answers


COMMON = {
    "status": Pressed("berjalan"),
    "status_reason": Text("sakit"),
    "revenue": Text("2 juta"),
    "costs": Text("750rb"),
    "profit_ok": Pressed("ya"),
    "profit": Text("1 juta"),
    "equipment_buy": Text("0"),
    "tb_equipment": Pressed("ya"),
    "changes": Pressed("tidak_ada"),
    "other_income": Text("0"),
    "household": Text("5"),
    "savings_books": Text("buku saja"),
    "savings_amount": Skip(),
    "problem": Pressed("tidak_ada"),
    "problem_text": Skip(),
    "help": Pressed("tidak"),
    "photo": Skip(),
    "tb_orders": Text("30"),
    "tb_days": Pressed("6"),
    "mj_pieces": Text("10"),
    "mj_machine": Pressed("ya"),
    "tk_adult": Text("4"),
    "tk_kid": Text("1"),
    "tk_moves": Pressed("ya"),
    "tk_births": Text("1"),
    "tk_deaths": Text("0"),
    "tk_sold": Text("0"),
    "tk_sold_value": Text("0"),
    "tk_feed": Pressed("ya"),
}


@pytest.mark.parametrize(
    ("programme", "specific"),
    [
        ("tata boga", {"tb_orders", "tb_days"}),
        ("menjahit", {"mj_pieces"}),
        (
            "ternak kambing",
            {"tk_adult", "tk_kid", "tk_moves", "tk_births", "tk_deaths", "tk_sold", "tk_feed"},
        ),
    ],
)
def test_each_programme_asks_its_own_questions(programme: str, specific: set) -> None:
    answers = run(F.monthly_form(programme), COMMON)
    asked = set(answers)
    assert specific <= asked
    others = {"tb_orders", "mj_pieces", "tk_adult"} - specific
    assert not (others & asked)
    # skip rules: status berjalan -> no reason; profit confirmed -> no typed profit
    assert "status_reason" not in asked and "profit" not in asked
    assert "savings_amount" not in asked and "problem_text" not in asked
    # nothing changed: no household or equipment question; no problem: no help question
    assert not {"household", "tb_equipment", "mj_machine", "equipment_buy", "help"} & asked
    assert "photo" not in asked  # the photo is never asked on its own
    assert F.profit_of(answers) == 1_250_000


def test_closed_business_skips_sales_but_asks_goats() -> None:
    answers = run(F.monthly_form("ternak kambing"), {**COMMON, "status": Pressed("tutup")})
    assert answers["status_reason"] == "sakit"
    assert "revenue" not in answers and "tk_adult" in answers
    assert F.profit_of(answers) == 0


def test_forget_drops_dependents() -> None:
    form = F.monthly_form("tata boga")
    answers = run(form, {**COMMON, "profit_ok": Pressed("tidak")})
    assert answers["profit"] == 1_000_000
    after = F.forget(form, answers, "revenue")
    assert "revenue" not in after and "profit_ok" not in after and "profit" not in after
    assert F.next_question(form, after).key == "revenue"


def test_effective_answers_hide_stale_branch() -> None:
    form = F.monthly_form("tata boga")
    answers = run(form, COMMON)
    changed = {**F.forget(form, answers, "status"), "status": "tutup"}
    eff = F.effective_answers(form, changed)
    assert "revenue" not in eff and "tb_orders" not in eff
    assert F.next_question(form, changed).key == "status_reason"


def test_summary_in_form_order() -> None:
    form = F.monthly_form("menjahit")
    answers = run(form, COMMON)
    keys = [r.key for r in F.summary(form, answers)]
    assert keys[:3] == ["status", "revenue", "costs"]
    assert keys[-1] == "problem"
    with_photo = F.apply_answer(form, answers, "problem", Photo("f", "u", 100))
    assert isinstance(with_photo, dict)
    assert [r.key for r in F.summary(form, with_photo)][-1] == "photo"


@pytest.mark.parametrize(
    ("key", "raw", "error"),
    [
        ("household", Text("empat orang banyak"), "need_number"),
        ("household", Text("1.5"), "count_fraction"),
        ("household", Text("2,5"), "count_fraction"),
        ("household", Text("1.2.3"), "count_fraction"),
        ("household", Text("3 4"), "count_two_numbers"),
        ("household", Text("-3"), "negative_number"),
        ("household", Text("0"), "out_of_range"),
        ("household", Text("🙂🙂"), "need_number"),
        ("revenue", Text("12abc"), "amount_letters"),
        ("revenue", Text("-1000"), "amount_negative"),
        ("revenue", Media("sticker"), "need_text"),
        ("status", Text("lancar"), "use_buttons"),
        ("status_reason", Text("x" * 10_000), "too_long"),
        ("status_reason", Text("🙂🙂🙂"), "need_words"),
        ("photo", Media("document"), "need_photo"),
        ("photo", Text("ini fotonya"), "need_photo"),
        ("photo", Photo("f", "u", 20_000_000), "photo_too_large"),
        ("revenue", Photo("f", "u", 20_000_000), "photo_too_large"),
        ("revenue", Skip(), "not_optional"),
    ],
)
def test_bad_inputs_are_refused(key: str, raw, error: str) -> None:
    form = F.monthly_form("tata boga")
    result = F.apply_answer(form, {"status": "tutup"}, key, raw, today=TODAY)
    assert isinstance(result, Invalid) and result.error == error


def test_ambiguous_amount_asks() -> None:
    form = F.monthly_form("tata boga")
    result = F.apply_answer(form, {}, "revenue", Text("1,5"))
    assert result == Clarify((1_500_000, 1_500))
    assert F.apply_answer(form, {}, "revenue", Pressed("1500")) == {"revenue": 1500}


def test_visit_form() -> None:
    answers = run(
        F.VISIT_FORM,
        {
            "v_date": Text("30-01-2024"),
            "v_running": Pressed("ya"),
            "v_bookkeeping": Pressed("1"),
            "v_quality": Text("5"),
            "v_market": Pressed("3"),
            "v_motivation": Pressed("4"),
            "v_notes": Skip(),
            "v_photo": Photo("file", "uniq", 1000),
        },
    )
    assert answers["v_date"] == "2024-01-30"
    assert answers["v_photo"] == {"file_id": "file", "unique_id": "uniq"}
    bad = F.apply_answer(F.VISIT_FORM, {}, "v_date", Text("01-03-2024"), today=TODAY)
    assert bad == Invalid("date_out_of_range")
    bad = F.apply_answer(F.VISIT_FORM, {}, "v_bookkeeping", Text("6"), today=TODAY)
    assert isinstance(bad, Invalid) and bad.error == "out_of_range"
    yesterday = F.apply_answer(F.VISIT_FORM, {}, "v_date", Pressed("yesterday"), today=TODAY)
    assert yesterday == {"v_date": "2024-01-31"}


def test_household_and_equipment_asked_only_when_changed() -> None:
    form = F.form_for("monthly", "menjahit", "2024-05")
    assert form == F.form_for("monthly", "menjahit", "2024-04")  # every month the same
    unchanged = run(form, COMMON)
    assert not {"household", "mj_machine", "equipment_buy"} & set(unchanged)
    assert F.monthly_facts(unchanged)["equipment_buy"] == 0
    family = run(form, {**COMMON, "changes": Pressed("anggota_keluarga")})
    assert family["household"] == 5 and "mj_machine" not in family
    assert F.monthly_facts(family)["equipment_buy"] == 0
    both = run(form, {**COMMON, "changes": Text("keduanya"), "mj_machine": Pressed("tidak"),
                      "equipment_buy": Text("300rb")})  # fmt: skip
    assert both["household"] == 5 and both["mj_machine"] is False
    assert both["equipment_buy"] == 300_000


def test_combined_answers_give_each_fact() -> None:
    facts = F.monthly_facts({"savings_books": "tabungan_saja", "problem": "tidak_ada",
                             "tk_moves": False})  # fmt: skip
    assert (facts["savings"], facts["books"], facts["help"]) == (True, False, False)
    assert (facts["tk_births"], facts["tk_deaths"], facts["tk_sold"]) == (0, 0, 0)
    facts = F.monthly_facts({"savings_books": "buku_saja", "problem": "modal", "help": True})
    assert (facts["savings"], facts["books"], facts["help"]) == (False, True, True)
    assert facts["tk_births"] is None and facts["equipment_buy"] is None  # not asked: unknown
    # answers of the earlier form (separate questions) read as they were
    old = F.monthly_facts({"savings": True, "books": False, "help": False, "tk_births": 2})
    assert (old["savings"], old["books"], old["help"], old["tk_births"]) == (True, False, False, 2)


def test_revenue_and_costs_in_one_message() -> None:
    form = F.monthly_form("tata boga")
    base = {"status": "berjalan"}
    for text in ("1,5jt / 500rb", "1,5jt dan 500rb", "1,5jt 500rb", "1500000 500000"):
        assert F.apply_answer(form, base, "revenue", Text(text)) == {
            **base, "revenue": 1_500_000, "costs": 500_000, F.PAIRED: ["costs"]}, text  # fmt: skip
    # the question asks for two amounts: each with its unit is one of them
    assert F.apply_answer(form, base, "revenue", Text("2jt 800rb")) == {
        **base, "revenue": 2_000_000, "costs": 800_000, F.PAIRED: ["costs"]}  # fmt: skip
    # a bare number under the first's scale is its last digits: one amount, costs asked next
    one = F.apply_answer(form, base, "revenue", Text("1 jt 500"))
    assert one == {**base, "revenue": 1_500_000}
    # at an "Ubah: Omzet" both may be typed again: costs are replaced, the profit asked again
    full = run(form, COMMON)
    edited = F.apply_answer(form, F.forget(form, full, "revenue"), "revenue", Text("3jt / 1jt"))
    assert isinstance(edited, dict)
    assert (edited["revenue"], edited["costs"]) == (3_000_000, 1_000_000)
    assert F.next_question(form, edited).key == "profit_ok"
    unclear = F.apply_answer(form, base, "revenue", Text("1,5 dan 500rb"))
    assert unclear == Invalid("pair_unclear", {"count": False})
    done = {**base, "revenue": 1, "costs": 1, "profit_ok": True}
    orders = F.apply_answer(form, done, "tb_orders", Text("40 dan 5"))
    assert orders == {**done, "tb_orders": 40, "tb_days": 5, F.PAIRED: ["tb_days"]}


def _paths(form: F.Form, answers: dict, seen: list) -> None:
    """Walk every path through a form (one value per kind of answer), checking the counter."""
    q = F.next_question(form, answers)
    number, total = F.progress(form, answers)
    seen.append((number, total))
    if q is None:
        return
    if q.kind in (F.Kind.CHOICE, F.Kind.YESNO):
        values: list = list(q.choices) if q.kind == F.Kind.CHOICE else [True, False]
        if q.key == "problem":
            values = ["tidak_ada", "modal"]
    elif q.kind == F.Kind.INTEGER:
        values = [max(q.minimum, 1)] if q.key != "tk_sold" else [0, 1]
    elif q.kind == F.Kind.AMOUNT:
        values = [500_000]
    else:
        values = ["teks"]
    for value in values:
        after = {**answers, q.key: value}
        k_after, n_after = F.progress(form, after)
        assert n_after <= total, (q.key, value, total, n_after)
        assert 1 <= number <= total
        if F.next_question(form, after) is not None:
            # never skips: the next question has the same number (a follow-up) or the next
            want = {number} if F.next_question(form, after).follow_up else {number + 1}
            assert k_after in want, (q.key, value, number, k_after)
        _paths(form, after, [])
        # a pair answered at once, and one step back: the total does not grow either, and
        # the question after the pair has the next number (the second value was not asked)
        if q.pair:
            typed = "1,5jt dan 500rb" if q.kind == F.Kind.AMOUNT else "1 dan 1"
            both = F.apply_answer(form, answers, q.key, Text(typed))
            assert isinstance(both, dict), both
            k_both, n_both = F.progress(form, both)
            assert n_both <= total and k_both == number + 1, (q.key, number, k_both)
            back = F.previous_key(form, both)
            assert back == q.key  # Kembali goes to the question typed, not the second value
            again = F.forget(form, both, back)
            assert F.progress(form, again) <= (number, n_both)
        back = F.previous_key(form, after)
        if back is not None:
            assert F.progress(form, F.forget(form, after, back))[1] <= total


@pytest.mark.parametrize("programme", ["tata boga", "menjahit", "ternak kambing", "lain"])
def test_counter_never_grows_on_any_path(programme: str) -> None:
    form = F.monthly_form(programme)
    first = F.progress(form, {})
    _paths(form, {}, [])
    # the counter shows main questions only: 10 / 9 / 12 for the three programmes
    assert first[1] == {"tata boga": 10, "menjahit": 9, "ternak kambing": 12}.get(programme, 8)


def test_counter_follows_the_questions_asked_and_says_ubah_in_a_correction() -> None:
    """A normal tata boga month typed with both pairs: 1, 2, 3, 4, 5, ... (it jumped 2->4 and
    5->7); asked again from the summary (Ubah): no number (0, shown as "(Ubah)")."""
    form = F.monthly_form("tata boga")
    typed = {"revenue": Text("1,5jt 500rb"), "tb_orders": Text("40 dan 5")}
    answers: dict = {}
    shown = []
    while (q := F.next_question(form, answers)) is not None:
        shown.append(F.progress(form, answers))
        result = F.apply_answer(form, answers, q.key, typed.get(q.key, COMMON[q.key]), today=TODAY)
        assert isinstance(result, dict), (q.key, result)
        answers = result
    assert [k for k, _ in shown] == list(range(1, len(shown) + 1)), shown
    assert [n for _, n in shown] == [10, 10, 9, 9, 8, 8, 8, 8], shown
    for key in ("revenue", "costs", "profit_ok", "status"):
        again = F.forget(form, answers, key)
        assert F.in_correction(form, again) and F.progress(form, again)[0] == 0, key
    # a correction answered: the summary again, every answer back
    fixed = F.apply_answer(form, F.forget(form, answers, "costs"), "costs", Text("600rb"))
    assert isinstance(fixed, dict) and F.next_question(form, fixed).key == "profit_ok"
    assert F.progress(form, fixed)[0] == 0


def test_free_text_at_a_question_is_a_message_not_a_typo() -> None:
    form = F.monthly_form("ternak kambing")
    status, amount, count = (form.question(k) for k in ("status", "revenue", "tk_adult"))
    assert F.not_an_answer(status, "kambing saya sakit")
    assert F.not_an_answer(form.question("tk_moves"), "kambing saya sakit")
    assert not F.not_an_answer(status, "berjalan") and not F.not_an_answer(status, "🙂")
    assert not F.not_an_answer(status, "lancar jaya")  # a try at the answer: buttons again
    assert not F.not_an_answer(form.question("tk_moves"), "betul")  # read as "ya"
    # number questions: a typo is refused, only a wordy message without digits goes on
    for typo in ("banyak", "1,5jtt", "rugi 200rb", "tiga ekor", "ada 4 ekor yang sakit"):
        assert not F.not_an_answer(amount, typo) and not F.not_an_answer(count, typo), typo
    assert F.not_an_answer(amount, "bu kambing saya sakit")
    assert F.not_an_answer(count, "kambing saya sakit tidak mau makan")
    assert not F.not_an_answer(form.question("status_reason"), "kambing saya sakit")


@pytest.mark.parametrize(
    ("key", "answers", "raw", "error", "params"),
    [
        ("revenue", {}, Text("banyak"), "amount_no_digits", {"key": "revenue"}),
        ("costs", {}, Text("rugi 200rb"), "amount_loss_here", {"key": "costs"}),
        ("tb_orders", {"status": "berjalan"}, Text("40 dan 9"), "out_of_range",
         {"key": "tb_days", "pair": True, "maximum": 7}),
    ],
)  # fmt: skip
def test_unclear_inputs_say_what_is_expected(key, answers, raw, error, params) -> None:
    result = F.apply_answer(F.monthly_form("tata boga"), answers, key, raw, today=TODAY)
    assert isinstance(result, Invalid) and result.error == error, result
    assert params.items() <= result.params.items(), result.params


def test_visit_date_typed_as_the_buttons_say_and_impossible_dates() -> None:
    form = F.VISIT_FORM
    for typed, day in (("Kemarin", "2024-01-31"), ("hari ini", "2024-02-01"),
                       ("Hari  Ini", "2024-02-01")):  # fmt: skip
        assert F.apply_answer(form, {}, "v_date", Text(typed), today=TODAY) == {"v_date": day}
    assert F.apply_answer(form, {}, "v_date", Text("31-02-2024"), today=TODAY) == Invalid(
        "date_not_exist")  # fmt: skip
    assert F.apply_answer(form, {}, "v_date", Text("besok"), today=TODAY) == Invalid("need_date")


def test_graduation_checklist_answers() -> None:
    answers = {"g_pangan": "ya", "g_sekolah": "tidak_ada_anak", "g_jamban_air": "tidak",
               "g_rumah": "tidak_tahu", "g_tabungan": "ya", "g_tabungan_amount": 0,
               "g_rentenir": "ya", "g_bpjs": "ya"}  # fmt: skip
    met = {item: m for item, m, _ in F.checklist_answers(answers)}
    assert met == {
        "pangan": True, "sekolah": True, "jamban_air": False, "rumah": None,
        "tabungan": False,  # savings must be seen with an amount above 0
        "rentenir": False,  # a moneylender debt: not met
        "bpjs": True,
    }  # fmt: skip
    form = F.GRADUATION_FORM
    assert F.apply_answer(form, {}, "g_pangan", Pressed("tidak_tahu")) == {"g_pangan": "tidak_tahu"}
    assert isinstance(F.apply_answer(form, {}, "g_pangan", Text("mungkin")), F.Invalid)
