"""Dates: layouts, partial dates, Excel serials, placeholders and impossible dates."""

from datetime import date, datetime

import pytest

from tiemchung.identity import DateStatus, PartialDate, parse_date

TODAY = date(2023, 1, 31)


@pytest.mark.parametrize(
    ("raw", "iso", "status"),
    [
        ("17/05/1990", "1990-05-17", DateStatus.VALID),
        ("7/5/1990", "1990-05-07", DateStatus.VALID),
        ("17-05-1990", "1990-05-17", DateStatus.VALID),
        ("17.05.1990", "1990-05-17", DateStatus.VALID),
        ("1990-05-17", "1990-05-17", DateStatus.VALID),
        ("1990-05-17 00:00:00", "1990-05-17", DateStatus.VALID),
        ("1990/05/17", "1990-05-17", DateStatus.VALID),
        ("ngày 17 tháng 5 năm 1990", "1990-05-17", DateStatus.VALID),
        ("1990", "1990", DateStatus.VALID),
        ("05/1990", "1990-05", DateStatus.VALID),
        (1990, "1990", DateStatus.VALID),
        (date(1990, 5, 17), "1990-05-17", DateStatus.VALID),
        (datetime(1990, 5, 17, 0, 0), "1990-05-17", DateStatus.VALID),
        ("12/25/1990", "1990-12-25", DateStatus.REPAIRED),
        (33010, "1990-05-17", DateStatus.REPAIRED),
        ("33010", "1990-05-17", DateStatus.REPAIRED),
        (33010.5, "1990-05-17", DateStatus.REPAIRED),
        ("17/05/90", "1990-05-17", DateStatus.REPAIRED),
        ("01/01/1990", "1990", DateStatus.PLACEHOLDER),
        (date(1990, 1, 1), "1990", DateStatus.PLACEHOLDER),
    ],
)
def test_readable_dates(raw, iso, status):
    check = parse_date(raw, today=TODAY)
    assert check.value is not None and check.value.iso() == iso
    assert check.status is status
    assert check.usable
    assert (status is DateStatus.VALID) == (not check.findings)


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("01/01/1900", DateStatus.PLACEHOLDER, "date.placeholder_unknown"),
        ("1900-01-01", DateStatus.PLACEHOLDER, "date.placeholder_unknown"),
        ("31/02/1990", DateStatus.INVALID, "date.impossible"),
        ("13/13/1990", DateStatus.INVALID, "date.impossible"),
        ("2024-05-01", DateStatus.INVALID, "date.future"),
        ("2024", DateStatus.INVALID, "date.future"),
        ("1850", DateStatus.INVALID, "date.too_early"),
        ("hôm qua", DateStatus.INVALID, "date.unreadable"),
        (None, DateStatus.MISSING, "date.missing"),
        ("  ", DateStatus.MISSING, "date.missing"),
        (float("nan"), DateStatus.MISSING, "date.missing"),
        (-5, DateStatus.INVALID, "date.unreadable"),
        (True, DateStatus.INVALID, "date.unreadable"),
    ],
)
def test_placeholders_and_impossible_dates(raw, status, code):
    check = parse_date(raw, today=TODAY)
    assert check.status is status
    assert code in [finding.code for finding in check.findings]
    assert not check.usable or status is DateStatus.PLACEHOLDER


def test_vaccination_dates_keep_first_of_january_and_respect_the_birth_date():
    birth = PartialDate(1990, 5, 17)
    assert parse_date("01/01/2022", today=TODAY, year_placeholder=False).value == PartialDate(2022, 1, 1)
    before = parse_date("10/05/1990", today=TODAY, not_before=birth, year_placeholder=False)
    assert before.status is DateStatus.INVALID
    assert before.findings[-1].code == "date.before_lower_bound"
    same_year = parse_date("1990", today=TODAY, not_before=birth)
    assert same_year.status is DateStatus.VALID  # a year-only date may still be after the birth


def test_partial_dates_compare_by_their_bounds_not_by_ordering():
    assert PartialDate(1990).earliest() == date(1990, 1, 1)
    assert PartialDate(1990).latest() == date(1990, 12, 31)
    assert PartialDate(1992, 2).latest() == date(1992, 2, 29)
    assert PartialDate(1990, 12).latest() == date(1990, 12, 31)
    with pytest.raises(TypeError):
        assert PartialDate(1990) < PartialDate(1990, 5)  # no ordering: a year-only date is not "before" May


def test_partial_date_agreement_rule():
    full = PartialDate(1990, 5, 17)
    assert full.agrees_with(PartialDate(1990, 5, 17))
    assert not full.agrees_with(PartialDate(1990, 5, 18))
    assert full.agrees_with(PartialDate(1990))
    assert PartialDate(1990).agrees_with(full)
    assert not PartialDate(1991).agrees_with(full)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990-05-17", PartialDate(1990, 5, 17)),
        ("1990-05", PartialDate(1990, 5)),
        ("1990", PartialDate(1990)),
        ("1990-02-30", None),
        ("1990-13", None),
        ("17/05/1990", None),
        ("", None),
    ],
)
def test_partial_date_from_iso(text, expected):
    assert PartialDate.from_iso(text) == expected
    if expected is not None:
        assert expected.iso() == text
        assert (expected.to_date() is not None) == expected.is_full
