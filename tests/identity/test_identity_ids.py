"""ID numbers per the interchange spec's format rule and identity.md's spreadsheet damage."""

import pytest

from tiemchung.identity import IdKind, IdStatus, check_id_number, check_passport, cross_check_cccd


@pytest.mark.parametrize(
    ("raw", "value", "kind", "status", "codes"),
    [
        ("001089012345", "001089012345", IdKind.CCCD, IdStatus.VALID, []),
        ("079203001234", "079203001234", IdKind.CCCD, IdStatus.VALID, []),
        ("  079203001234 ", "079203001234", IdKind.CCCD, IdStatus.VALID, []),
        ("123456789", "123456789", IdKind.CMND, IdStatus.VALID, []),
        ("1089012345", "001089012345", IdKind.CCCD, IdStatus.REPAIRED, ["id.leading_zeros_restored"]),
        ("79203001234", "079203001234", IdKind.CCCD, IdStatus.REPAIRED, ["id.leading_zeros_restored"]),
        ("23456789", "023456789", IdKind.CMND, IdStatus.REPAIRED, ["id.leading_zeros_restored"]),
        ("079 203 001 234", "079203001234", IdKind.CCCD, IdStatus.REPAIRED, ["id.separators_removed"]),
        ("079.203.001.234", "079203001234", IdKind.CCCD, IdStatus.REPAIRED, ["id.separators_removed"]),
        (79203001234, "079203001234", IdKind.CCCD, IdStatus.REPAIRED, ["id.numeric_cell", "id.leading_zeros_restored"]),
        (7.9203001234e10, "079203001234", IdKind.CCCD, IdStatus.REPAIRED,
         ["id.numeric_cell", "id.leading_zeros_restored"]),
        ("7.9203001234E+10", "079203001234", IdKind.CCCD, IdStatus.REPAIRED,
         ["id.scientific_notation", "id.leading_zeros_restored"]),
        ("79203001234.0", "079203001234", IdKind.CCCD, IdStatus.REPAIRED,
         ["id.numeric_cell", "id.leading_zeros_restored"]),
        ("079203001.000", "079203001000", IdKind.CCCD, IdStatus.REPAIRED, ["id.separators_removed"]),
        ("1.089012345E+09", "001089012345", IdKind.CCCD, IdStatus.REPAIRED,
         ["id.scientific_notation", "id.leading_zeros_restored"]),
    ],
)  # fmt: skip
def test_valid_and_repaired_numbers(raw, value, kind, status, codes):
    check = check_id_number(raw)
    assert (check.value, check.kind, check.status) == (value, kind, status)
    assert [finding.code for finding in check.findings] == codes
    assert check.valid_format
    assert all(finding.severity == "warning" for finding in check.findings)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("099089012345", "id.unknown_province_prefix"),  # 099 is not one of the 63
        ("003089012345", "id.unknown_province_prefix"),
        ("01089012345", "id.wrong_length"),  # 11 digits typed as text with its zero: a digit is missing
        ("1234567", "id.wrong_length"),
        ("0012345678901", "id.wrong_length"),
        ("B1234567", "id.not_digits"),
        ("079-203-001-234", "id.not_digits"),  # only spaces and dots are separators (spec)
        ("7.92030E+10", "id.rounded_by_excel"),
        (12.5, "id.not_a_number"),
        (-123456789, "id.not_a_number"),
        (True, "id.not_a_number"),
        ("０７９２０３００１２３４", "id.not_digits"),  # full-width digits are not ASCII digits
    ],
)
def test_invalid_numbers_explain_why_in_vietnamese(raw, code):
    check = check_id_number(raw)
    assert check.status is IdStatus.INVALID
    assert not check.valid_format
    assert code in [finding.code for finding in check.findings]
    assert all(finding.message for finding in check.findings)


@pytest.mark.parametrize("raw", [None, "", "   ", float("nan")])
def test_missing(raw):
    check = check_id_number(raw)
    assert check.status is IdStatus.MISSING and check.kind is IdKind.NONE and check.value is None


def test_cross_check_warns_on_sex_century_and_year():
    assert cross_check_cccd("001089012345", "M", 1989) == ()
    assert cross_check_cccd("001189012345", "F", 1989) == ()
    assert cross_check_cccd("001305012345", "F", 2005) == ()
    codes = {finding.code for finding in cross_check_cccd("001089012345", "F", 2090)}
    assert codes == {"id.cccd_sex_mismatch", "id.cccd_century_mismatch", "id.cccd_birth_year_mismatch"}
    assert all(finding.severity == "warning" for finding in cross_check_cccd("001089012345", "F", 1990))
    assert cross_check_cccd("001089012345", None, None) == ()
    assert cross_check_cccd("123456789", "M", 1989) == ()


@pytest.mark.parametrize(
    ("raw", "value", "status"),
    [
        ("B1234567", "B1234567", IdStatus.VALID),
        ("c 123 4567", "C1234567", IdStatus.REPAIRED),
        ("533380006", "533380006", IdStatus.VALID),
        ("AB-123", None, IdStatus.INVALID),
        ("ABCDEFGH", None, IdStatus.INVALID),
        ("", None, IdStatus.MISSING),
        (None, None, IdStatus.MISSING),
    ],
)
def test_passports(raw, value, status):
    check = check_passport(raw)
    assert (check.value, check.status) == (value, status)
