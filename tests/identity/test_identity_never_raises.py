"""Nothing in the identity and reference layers raises on user data: every cell value gets an answer."""

from datetime import date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tiemchung.identity import (
    canonical_name,
    check_id_number,
    check_passport,
    decode_legacy,
    detect_encoding,
    display_name,
    fold_name,
    icao_name,
    icao_primary_secondary,
    parse_date,
    parse_sex,
    split_name,
)
from tiemchung.reference import (
    cccd_prefix_province,
    district,
    districts,
    find_province,
    parse_dose_kind,
    province,
    province_2025_for,
    vaccine_by_name,
    ward,
    wards,
)

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**5000), max_value=10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet="0123456789 .,eE+-/:"),
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
)

TODAY = date(2023, 1, 31)


# No deadline: the first call loads the province table, and CI machines are shared.
@settings(deadline=None)
@given(cells)
def test_checks_answer_every_cell(cell):
    for check in (check_id_number(cell), check_passport(cell)):
        assert check.status in ("valid", "repaired", "invalid", "missing")
        assert check.valid_format == (check.value is not None and check.status in ("valid", "repaired"))
        assert all(finding.message for finding in check.findings)
    dated = parse_date(cell, today=TODAY)
    assert dated.status in ("valid", "repaired", "placeholder", "invalid", "missing")
    assert (dated.status in ("invalid", "missing")) <= (dated.value is None)
    if dated.status != "valid":
        assert dated.findings
    assert parse_sex(cell) in ("M", "F", None)
    parse_dose_kind(cell)
    vaccine_by_name(cell)
    find_province(cell)
    for look_up in (province, district, ward, districts, wards, province_2025_for, cccd_prefix_province):
        look_up(cell)
    detect_encoding(cell)


@settings(deadline=None)
@given(st.one_of(st.text(), st.none(), st.integers(), st.datetimes(), st.lists(st.text(), max_size=2)))
def test_name_functions_answer_anything(value):
    for function in (canonical_name, fold_name, display_name, icao_name):
        assert isinstance(function(value), str)
    assert len(icao_primary_secondary(value)) == 2
    assert len(split_name(value)) == 3
    assert isinstance(decode_legacy(value).text, str)


@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2023, 1, 30)))
def test_datetimes_read_back_to_their_day(moment):
    checked = parse_date(moment, today=TODAY, year_placeholder=False)
    assert checked.value is not None and checked.value.to_date() == moment.date()
