"""Property tests: canonicalisation is idempotent, the fold is ASCII, TCVN3/VNI round-trip Vietnamese text,
and the DuckDB SQL forms equal the Python functions on generated and tricky names."""

import unicodedata
from datetime import date

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tiemchung.identity import (
    PartialDate,
    canonical_name,
    canonical_name_sql,
    check_id_number,
    decode_legacy,
    decode_tcvn3,
    decode_viqr,
    decode_vni,
    display_name,
    encode_tcvn3,
    encode_viqr,
    encode_vni,
    fold_name,
    fold_name_sql,
    parse_date,
)
from tiemchung.identity.letters import all_letters
from tiemchung.identity.names import APOSTROPHES, INVISIBLE_CHARACTERS, TONE_MOVES, WHITESPACE
from tiemchung.reference import provinces

VIETNAMESE_LETTERS = "".join(sorted(all_letters()))
LOWER_LETTERS = "".join(letter for letter in VIETNAMESE_LETTERS if letter.islower())
TCVN3_CAPITALS = "ĂÂÊÔƠƯĐABCDEFGHIJKLMNOPQRSTUVWXYZ"
NAME_PUNCTUATION = " -'.,0123456789"

vietnamese_text = st.text(alphabet=VIETNAMESE_LETTERS + NAME_PUNCTUATION, max_size=40)
# Names in the shape that matters for tone placement: words built from onsets and the affected rhymes.
ONSETS = ["", "h", "kh", "th", "qu", "gi", "ng", "t", "x", "l", "Q", "H"]
RHYMES = [*TONE_MOVES, *TONE_MOVES.values(), "oa", "uy", "ang", "oàng", "uyết", "ươ", "ơi", "ệ", "ư"]
syllables = st.builds(lambda onset, rhyme: onset + rhyme, st.sampled_from(ONSETS), st.sampled_from(RHYMES))
tricky_names = st.lists(syllables, min_size=1, max_size=5).map(" ".join)
# Everything the SQL forms must treat like Python: letters in NFC and NFD, every whitespace and invisible
# character, apostrophes, eth, Latin-1 leftovers and a few characters without an ASCII form.
SQL_ALPHABET = (
    VIETNAMESE_LETTERS
    + unicodedata.normalize("NFD", VIETNAMESE_LETTERS)
    + WHITESPACE
    + INVISIBLE_CHARACTERS
    + APOSTROPHES
    + "ÐðØøßÆæ©¨µ½Ω中-'.,0123456789"
)
sql_text = st.one_of(st.text(alphabet=SQL_ALPHABET, max_size=30), tricky_names, st.text(max_size=20))

TRICKY = [
    "", " ", "  Nguyễn   Văn  An ", "HOÀ", "Thuỷ", "KHOẺ", "quý", "Quỳnh", "QUỲ", "hoàng", "Ðặng", "ðinh",
    "H’Hen Niê", "Nguye\u0302\u0303n", "x\u200bhoà", "oà oà oà", "a\u00a0b\u3000c", "\tLê\nVăn\r",
    "Nguyễn Thị Ánh-Tuyết", "ÂU DƯƠNG", "Y Bluêh Ê Ban", "tuỵ", "khuỷu", "giữ", "già", "qoà", "uỷ", "oè",
    "İSTANBUL", "ΟΔΥΣΣΕΥΣ", "straße",
]  # fmt: skip


@given(st.text())
def test_canonical_name_is_idempotent(text):
    once = canonical_name(text)
    assert canonical_name(once) == once
    assert canonical_name(display_name(text)) == once
    assert unicodedata.is_normalized("NFC", once)
    assert once == once.strip() and "  " not in once


@given(tricky_names)
def test_canonical_name_is_idempotent_on_tone_shapes(text):
    once = canonical_name(text)
    assert canonical_name(once) == once
    assert not any(word[-2:] in TONE_MOVES and not word[:-2].endswith("q") for word in once.split())


@given(st.text())
def test_fold_is_ascii_and_ignores_canonicalisation(text):
    folded = fold_name(text)
    assert folded.isascii()
    assert folded == folded.lower() == folded.strip()
    assert "  " not in folded
    assert fold_name(canonical_name(text)) == folded


@given(st.text(alphabet=LOWER_LETTERS + TCVN3_CAPITALS + NAME_PUNCTUATION))
def test_tcvn3_round_trip(text):
    assert decode_tcvn3(encode_tcvn3(text)) == text


@given(vietnamese_text)
def test_tcvn3_capital_accented_letters_decode_lower_or_with_a_capital_font(text):
    encoded = encode_tcvn3(text)
    assert canonical_name(decode_tcvn3(encoded)) == canonical_name(text)
    assert decode_tcvn3(encode_tcvn3(text.upper()), capital_font=True) == text.upper()


@given(vietnamese_text)
def test_vni_round_trip(text):
    assert decode_vni(encode_vni(text)) == text


@given(st.text(alphabet=VIETNAMESE_LETTERS + " 0123456789-", max_size=40))
def test_viqr_round_trip(text):
    assume("dd" not in text.lower())  # a literal "dd" reads as đ in VIQR (RFC 1456 would escape it)
    encoded = encode_viqr(text)
    assert encoded.isascii()
    assert decode_viqr(encoded) == text


@given(vietnamese_text)
def test_legacy_text_is_latin_1(text):
    assert all(ord(char) <= 0xFF for char in encode_tcvn3(text) + encode_vni(text))


@given(tricky_names)
def test_decoding_with_the_font_inverts_encoding(text):
    assert decode_legacy(encode_vni(text), "VNI-Times").text == text
    assert canonical_name(decode_legacy(encode_tcvn3(text), ".VnTime").text) == canonical_name(text)


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _sql_forms(duck: duckdb.DuckDBPyConnection, names: list[str]) -> list[tuple[str, str, str]]:
    duck.execute("create or replace temp table names (i integer, full_name varchar)")
    duck.executemany("insert into names values (?, ?)", list(enumerate(names)))
    query = f"select full_name, {canonical_name_sql('full_name')}, {fold_name_sql('full_name')} from names order by i"
    return duck.execute(query).fetchall()


def _assert_sql_equals_python(duck: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    for name, canonical, folded in _sql_forms(duck, names):
        assert canonical == canonical_name(name), repr(name)
        assert folded == fold_name(name), repr(name)


def test_sql_equals_python_on_tricky_names(duck):
    _assert_sql_equals_python(duck, TRICKY)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(sql_text, min_size=150, max_size=300))
def test_sql_equals_python_on_generated_names(duck, names):
    _assert_sql_equals_python(duck, names)


def test_sql_keeps_null(duck):
    row = duck.execute(f"select {canonical_name_sql('NULL::varchar')}, {fold_name_sql('NULL::varchar')}").fetchone()
    assert row == (None, None)


PREFIXES = sorted("0" + province.code for province in provinces())
cccd_numbers = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(PREFIXES),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)


@given(cccd_numbers)
def test_every_spreadsheet_form_of_a_cccd_reads_back_to_it(number):
    forms = [number, number.lstrip("0"), int(number), float(number), f"{float(number):.11E}",
             f"{number[:3]} {number[3:6]} {number[6:]}", f"{number[:3]}.{number[3:6]}.{number[6:]}",
             f"{int(number)}.0"]  # fmt: skip
    for form in forms:
        check = check_id_number(form)
        assert check.value == number, form
        assert check.valid_format and check.kind == "cccd", form


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(2023, 1, 31)))
def test_every_layout_of_a_date_reads_back_to_it(day):
    forms: list[object] = [
        day,
        f"{day:%d/%m/%Y}",
        f"{day.day}/{day.month}/{day.year}",
        day.isoformat(),
        f"{day:%d.%m.%Y}",
    ]
    serial = (day - date(1899, 12, 30)).days
    if not 1900 <= serial <= 2100:  # those integers are read as birth years (documented): dates in 1905
        forms.append(serial)
    for form in forms:
        checked = parse_date(form, today=date(2023, 1, 31), year_placeholder=False)
        assert checked.value == PartialDate.from_date(day), form
