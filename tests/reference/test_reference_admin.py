"""Administrative units: counts, codes, names (with and without diacritics, seed short forms), 2025 mapping."""

import re
from pathlib import Path

import pytest

from tiemchung.health.reconciliation.seedfigures import packaged_seeds
from tiemchung.identity.ids import CCCD_PROVINCE_PREFIXES
from tiemchung.reference import (
    cccd_prefix_province,
    district,
    districts,
    find_district,
    find_province,
    find_ward,
    province,
    province_2025_for,
    provinces,
    provinces_2025,
    ward,
    wards,
)

IDENTITY_SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "identity.md"


def _spec_prefixes() -> dict[str, str]:
    """The 63 prefixes listed in docs/spec/identity.md: {"001": "Hà Nội", ...}."""
    text = IDENTITY_SPEC.read_text(encoding="utf-8")
    block = text.split("The 63 prefixes:")[1].split("- Births registered abroad")[0]
    return {code: name.strip() for code, name in re.findall(r"(\d{3}) ([^,.]+)", block)}


def test_the_63_provinces_of_2021_2023_are_sorted_zero_padded_gso_codes():
    units = provinces()
    assert len(units) == 63
    assert [unit.code for unit in units] == sorted(unit.code for unit in units)
    assert all(len(unit.code) == 2 and unit.code.isdigit() for unit in units)
    assert province("01").full_name == "Thành phố Hà Nội"
    assert province(1).name == "Hà Nội"


def test_every_spec_prefix_names_the_same_province():
    prefixes = _spec_prefixes()
    assert len(prefixes) == 63
    for prefix, name in prefixes.items():
        unit = cccd_prefix_province(prefix)
        assert unit is not None, prefix
        assert unit.name == name, (prefix, unit.name, name)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Hà Nội", "01"),
        ("ha noi", "01"),
        ("Thành phố Hà Nội", "01"),
        ("Tp. HCM", "79"),
        ("Hồ Chí Minh", "79"),
        ("TP Hồ Chí Minh", "79"),
        ("TT- Huế", "46"),
        ("Tỉnh Thừa Thiên Huế", "46"),
        ("BR-VT", "77"),
        ("Bà Rịa - Vũng Tàu", "77"),
        ("Tỉnh Hoà Bình", "17"),
        ("Đăk Lăk", "66"),
        ("THANH HOA", "38"),
    ],
)
def test_find_province_accepts_names_and_seed_short_forms(text, code):
    found = find_province(text)
    assert found is not None and found.code == code


@pytest.mark.parametrize("text", ["", "Atlantis", "Tỉnh", None])
def test_find_province_returns_none_for_unknown_names(text):
    assert find_province(text) is None


def test_the_id_rules_prefixes_are_the_provinces_of_2021_2023():
    """tiemchung.identity keeps the CCCD prefixes itself (it imports nothing above it): they must agree."""
    assert {"0" + unit.code for unit in provinces()} == CCCD_PROVINCE_PREFIXES == set(_spec_prefixes())


def test_every_seed_province_name_is_found():
    rows = [row.province_name for row in packaged_seeds().appendix1.rows]
    assert len(rows) == 63
    found = {find_province(name).code for name in rows}
    assert len(found) == 63


def test_every_province_of_the_verification_report_is_found():
    names = [row.province_name for row in packaged_seeds().verification_report.provinces]
    assert len(names) == 63
    assert len({find_province(name).code for name in names}) == 63


def test_districts_and_wards_nest_by_code():
    hanoi = districts("01")
    assert hanoi[0].code == "001" and hanoi[0].name == "Ba Đình" and hanoi[0].full_name == "Quận Ba Đình"
    assert all(unit.province_code == "01" for unit in hanoi)
    ba_dinh = wards("001")
    assert ba_dinh[0] == ward("00001") == ward(1)
    assert all(unit.district_code == "001" and unit.province_code == "01" for unit in ba_dinh)
    assert district(1) == hanoi[0]
    assert district("9999") is None and ward("abc") is None and province("99") is None


def test_find_district_and_ward_by_name_without_diacritics():
    assert find_district("01", "ba dinh").code == "001"
    assert find_district("01", "Quận Ba Đình").code == "001"
    assert find_ward("001", "phuc xa").code == "00001"
    assert find_ward("001", "Nowhere") is None


def test_2025_structure_and_mapping():
    assert len(provinces_2025()) == 34
    assert province_2025_for("01").name == "Hà Nội"
    assert province_2025_for("77").name == "Hồ Chí Minh"  # Bà Rịa - Vũng Tàu merged into Hồ Chí Minh city
    assert province_2025_for("74").code == "79"  # Bình Dương too
    assert province_2025_for("82").name == "Đồng Tháp"  # Tiền Giang: all but one ward
    assert province_2025_for("99") is None
    assert all(province_2025_for(unit.code) is not None for unit in provinces())


@pytest.mark.parametrize("prefix", ["1", "100", "099", "0011", "abc", ""])
def test_cccd_prefix_rejects_non_prefixes(prefix):
    assert cccd_prefix_province(prefix) is None
