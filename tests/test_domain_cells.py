"""Cell parsers of the registry import (pure, no fakes)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.cells import (
    CellError,
    clean_text,
    is_formula_like,
    normalise_programme,
    parse_date_cell,
    parse_gender,
    parse_household_size,
    parse_money_cell,
    parse_phone,
    parse_yes_no,
)
from bot.domain.headers import (
    FACILITATOR_COLUMNS,
    RECIPIENT_COLUMNS,
    RECIPIENT_REQUIRED,
    find_header,
    match_headers,
)
from bot.domain.nik import (
    NUMBER_CELL_HINT,
    NikError,
    clean_nik,
    mask_nik,
    parse_nik,
    parse_nik_cell,
)
from bot.domain.regions import desa_code, desa_name, match_kecamatan

KECAMATAN = {"33.28.06": "Lebaksiu", "33.28.07": "Jatinegara", "33.28.10": "Slawi"}
PROGRAMMES = ["tata boga", "menjahit", "ternak kambing"]


# ---- NIK ---------------------------------------------------------------------------------


def test_nik_cleaning_apostrophe_space_nbsp():
    assert parse_nik_cell("'3328066709910004") == "3328066709910004"
    assert parse_nik_cell("33280744 07710005") == "3328074407710005"
    assert parse_nik_cell("3328\u00a0074407710005") == "3328074407710005"


def test_nik_number_cell_is_refused_with_text_hint():
    with pytest.raises(NikError) as exc:
        parse_nik_cell(3328035506940000)
    assert str(exc.value) == NUMBER_CELL_HINT
    assert "Teks" in str(exc.value)
    with pytest.raises(NikError):
        parse_nik_cell("3.32804E+15")


@pytest.mark.parametrize(
    "raw",
    ["332806420171000", "33280642017100001", "3328064A01710001", "3328063202710001",
     "3328061313710001", "3328067201710001", "3328064101710000", ""],
)  # fmt: skip
def test_nik_invalid(raw):
    with pytest.raises(NikError):
        parse_nik_cell(raw)


def test_nik_women_day_plus_40():
    info = parse_nik("3328064211650004")
    assert info.female and info.birth_day == 2 and info.birth_month == 11


@given(
    prov=st.integers(10, 99),
    kab=st.integers(1, 99),
    kec=st.integers(1, 99),
    date=st.dates(dt.date(1930, 1, 1), dt.date(2009, 12, 31)),
    female=st.booleans(),
    seq=st.integers(1, 9999),
    lead=st.sampled_from(["", "'", " "]),
    noise=st.sampled_from(["", " ", "\u00a0"]),
)
def test_nik_valid_roundtrip(prov, kab, kec, date, female, seq, lead, noise):
    day = date.day + (40 if female else 0)
    nik = f"{prov:02d}{kab:02d}{kec:02d}{day:02d}{date.month:02d}{date.year % 100:02d}{seq:04d}"
    raw = lead + nik[:8] + noise + nik[8:] + noise
    assert parse_nik_cell(raw) == nik
    info = parse_nik(nik)
    assert info.female == female and info.birth_month == date.month
    masked = mask_nik(nik)
    assert masked.startswith(nik[:4]) and masked.endswith(nik[-4:]) and nik[4:12] not in masked


@given(st.text(max_size=30))
def test_nik_never_crashes(text):
    try:
        nik = parse_nik_cell(text)
    except NikError:
        return
    assert len(nik) == 16 and nik.isdigit() and clean_nik(text) == nik


# ---- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+62 812-3456-7890", "6281234567890"),
        ("081234567890", "6281234567890"),
        ("6281234567890", "6281234567890"),
        (81234567890, "6281234567890"),
        ("0812.3456.7890", "6281234567890"),
        (None, None),
        ("", None),
    ],
)
def test_phone(raw, expected):
    assert parse_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "0211234567", "abc", "+62 812"])
def test_phone_invalid(raw):
    with pytest.raises(CellError):
        parse_phone(raw)


@given(st.from_regex(r"8[1-9][0-9]{7,10}", fullmatch=True), st.sampled_from(["0", "62", "+62 "]))
def test_phone_forms_agree(national, prefix):
    assert parse_phone(prefix + national) == "62" + national


# ---- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Rp 2.500.000,-", 2500000),
        ("Rp2.500.000", 2500000),
        ("2.500.000,00", 2500000),
        ("2500000", 2500000),
        (2500000, 2500000),
        (2500000.0, 2500000),
        ("rp. 750.000", 750000),
        (None, None),
    ],
)
def test_money_cell(raw, expected):
    assert parse_money_cell(raw) == expected


@pytest.mark.parametrize("raw", ["dua juta", "2.50.000", "-5000", -1, 12.5, "Rp 2,5 juta"])
def test_money_cell_invalid(raw):
    with pytest.raises(CellError):
        parse_money_cell(raw)


@given(st.integers(0, 10**12))
def test_money_formatted_roundtrip(amount):
    dotted = f"{amount:,}".replace(",", ".")
    assert parse_money_cell(f"Rp {dotted},-") == amount
    assert parse_money_cell(str(amount)) == amount


# ---- dates -------------------------------------------------------------------------------


def test_dates():
    assert parse_date_cell("22-11-2023") == dt.date(2023, 11, 22)
    assert parse_date_cell("2023-11-22") == dt.date(2023, 11, 22)
    assert parse_date_cell("22/11/2023") == dt.date(2023, 11, 22)
    assert parse_date_cell(dt.datetime(2023, 11, 22)) == dt.date(2023, 11, 22)
    assert parse_date_cell(45252) == dt.date(2023, 11, 22)  # Excel serial
    assert parse_date_cell(None) is None


@pytest.mark.parametrize("raw", ["31-02-1980", "2023-13-01", "kemarin", "22-11-23", 1.5])
def test_dates_invalid(raw):
    with pytest.raises(CellError):
        parse_date_cell(raw)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)))
def test_date_forms_agree(date):
    assert parse_date_cell(date.strftime("%d-%m-%Y")) == date
    assert parse_date_cell(date.isoformat()) == date
    assert parse_date_cell((date - dt.date(1899, 12, 30)).days) == date


# ---- small values ------------------------------------------------------------------------


def test_household_size():
    assert parse_household_size(6) == 6
    assert parse_household_size("6") == 6
    assert parse_household_size(None) is None
    for bad in ("enam", 0, "6.5", 99):
        with pytest.raises(CellError):
            parse_household_size(bad)


def test_yes_no_gender():
    assert parse_yes_no("Ya", "pkh") is True and parse_yes_no("Tidak", "pkh") is False
    assert parse_gender("Perempuan") == "P" and parse_gender("Laki-laki") == "L"
    with pytest.raises(CellError):
        parse_yes_no("mungkin", "pkh")
    with pytest.raises(CellError):
        parse_gender("x")


def test_programme():
    assert normalise_programme("Tata Boga", PROGRAMMES) == "tata boga"
    assert normalise_programme("  TERNAK   kambing ", PROGRAMMES) == "ternak kambing"
    with pytest.raises(CellError):
        normalise_programme("budidaya lele", PROGRAMMES)
    assert normalise_programme("Budidaya Lele", ["budidaya lele"]) == "budidaya lele"


def test_formula_like_text_stays_text():
    assert clean_text('=HYPERLINK("x")') == '=HYPERLINK("x")'
    assert is_formula_like("=1+1") and is_formula_like("@SUM") and not is_formula_like("Budi")


@given(st.text(max_size=40))
def test_clean_text_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


# ---- regions -----------------------------------------------------------------------------


def test_kecamatan_matching():
    assert match_kecamatan("  jatinegara ", KECAMATAN) == "33.28.07"
    assert match_kecamatan("KEC. LEBAKSIU", KECAMATAN) == "33.28.06"
    with pytest.raises(CellError):
        match_kecamatan("SLAWI KOTA", KECAMATAN)
    with pytest.raises(CellError):
        match_kecamatan("", KECAMATAN)


@given(st.sampled_from(sorted(KECAMATAN.values())), st.sampled_from(["upper", "lower", "pad"]))
def test_kecamatan_any_case(name, how):
    raw = {"upper": name.upper(), "lower": name.lower(), "pad": f"  {name}  "}[how]
    assert KECAMATAN[match_kecamatan(raw, KECAMATAN)] == name


def test_desa():
    assert desa_name("LEBAKSIU  KIDUL") == "Lebaksiu Kidul"
    assert desa_code("3328062001", "33.28.06") == "3328062001"
    with pytest.raises(CellError):
        desa_code("3328072001", "33.28.06")


# ---- headers -----------------------------------------------------------------------------


def test_headers_case_space_synonyms():
    mapping = match_headers(["NIK", " Nama Penerima ", "Kecamatan", "Jenis_Pelatihan", "x"],
                            RECIPIENT_COLUMNS)  # fmt: skip
    assert mapping == {"nik": 0, "name": 1, "kecamatan": 2, "programme": 3}
    assert match_headers(["ID Pendamping", "NAMA"], FACILITATOR_COLUMNS) == {"code": 0, "name": 1}


def test_goats_received_column_and_register_welfare_columns():
    mapping = match_headers(
        ["NIK", "jumlah_ternak_diterima", "Penerima PKH", "Penerima Sembako", "Desil"],
        RECIPIENT_COLUMNS,
    )
    assert mapping == {"nik": 0, "livestock_received": 1, "receives_pkh": 2,
                       "receives_sembako": 3, "welfare_decile": 4}  # fmt: skip


def test_header_row_below_title_rows():
    rows = [
        (1, ["DAFTAR PENERIMA BANTUAN 2023", None]),
        (2, [None, None]),
        (3, ["nik", "kepala_keluarga", "kecamatan", "jenis pelatihan"]),
    ]
    assert find_header(rows, RECIPIENT_COLUMNS, RECIPIENT_REQUIRED) == (
        3,
        {"nik": 0, "name": 1, "kecamatan": 2, "programme": 3},
    )
    assert find_header(rows[:2], RECIPIENT_COLUMNS, RECIPIENT_REQUIRED) is None


@given(
    st.sampled_from(sorted((f, n) for f, names in RECIPIENT_COLUMNS.items() for n in names)),
    st.sampled_from(["upper", "title", "underscore", "padded"]),
)
def test_any_spelling_of_a_synonym_finds_its_field(pair, how):
    field_name, synonym = pair
    header = {
        "upper": synonym.upper(),
        "title": synonym.title(),
        "underscore": synonym.replace(" ", "_"),
        "padded": f"  {synonym}  ",
    }[how]
    found = match_headers(["x", header], RECIPIENT_COLUMNS)
    # a synonym shared by two fields belongs to the first one listed
    owner = next(f for f, names in RECIPIENT_COLUMNS.items() if synonym in names)
    assert found == {owner: 1}
    assert owner == field_name or synonym in RECIPIENT_COLUMNS[owner]
