"""Nationalities as facilities type them: CLDR's Vietnamese and English names, ISO codes, colloquial forms."""

import pytest

from tiemchung.reference.countries import choices, name_en, name_vi, parse_nationality


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "VN"),
        ("Việt Nam", "VN"),
        ("viet nam", "VN"),
        ("Ca-na-đa", "CA"),
        ("Ba Lan", "PL"),
        ("Pakistan", "PK"),
        ("New Zealand", "NZ"),
        ("Mỹ", "US"),
        ("MY", "MY"),
        ("Anh", "GB"),
        ("uk", "GB"),
        ("Ý", "IT"),
        ("Hàn Quốc", "KR"),
        ("Căm-pu-chia", "KH"),
        ("Campuchia", "KH"),
        ("Germany", "DE"),
        ("USA", "US"),
        ("kr", "KR"),
        ("Nhật Bản", "JP"),
    ],
)
def test_known_nationalities(typed: str, code: str) -> None:
    assert parse_nationality(typed).code == code


@pytest.mark.parametrize("typed", ["ZZ", "Canadaa", "Xứ Sở Thần Tiên"])
def test_unknown_nationality_is_refused_with_suggestions(typed: str) -> None:
    answer = parse_nationality(typed)
    assert answer.code is None
    assert "Quốc tịch không nhận ra được" in answer.message


def test_a_misspelt_name_suggests_the_country() -> None:
    assert "Canada" in parse_nationality("Canadaa").suggestions


def test_names_and_choices() -> None:
    assert name_vi("KR") == "Hàn Quốc"
    assert name_en("DE") == "Germany"
    listed = choices()
    assert listed[0] == ("VN", "Việt Nam")
    assert len(listed) == 249
    assert ("PL", "Ba Lan") in listed
