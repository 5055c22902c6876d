"""ID numbers: the personal ID (CCCD, 12 digits), the old ID card (CMND, 9 digits) and passports.

The format rule is the interchange spec's: 12 digits with one of the 63 province prefixes, or 9 digits. A value
that is all digits apart from spaces and dots and has 11 or 10 digits (resp. 8) lost its leading zeros in a
spreadsheet: it is padded, with a warning. Excel floats (1.23456789012E+11) are exact and recovered. Nothing here
raises on user data: every outcome carries its reasons, in Vietnamese.
"""

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tiemchung.identity.findings import Finding, error, warning

CCCD_LENGTH = 12
CMND_LENGTH = 9
_LONGEST_NUMBER = 10**40  # beyond this a number cell is certainly not an ID (and too long to print safely)


class IdKind(StrEnum):
    CCCD = "cccd"  # any 12-digit number, including the 12-digit CMND (same layout)
    CMND = "cmnd"  # 9 digits
    PASSPORT = "passport"
    NONE = "none"


class IdStatus(StrEnum):
    VALID = "valid"
    REPAIRED = "repaired"
    INVALID = "invalid"
    MISSING = "missing"


@dataclass(frozen=True)
class IdCheck:
    raw: str
    value: str | None
    kind: IdKind
    status: IdStatus
    findings: tuple[Finding, ...]

    @property
    def valid_format(self) -> bool:
        """VALID or REPAIRED: the number may be sent to the register as an ID."""
        return self.status in (IdStatus.VALID, IdStatus.REPAIRED)


# The 63 birth-registration prefixes (Circular 07/2016/TT-BCA; docs/spec/identity.md): "0" + the GSO code of a
# province of 2021–2023. Numbers are lifelong, so the 2025 merger changes none of them: this is a fact of the ID
# format, not a look-up in the administrative units (a test checks both agree).
CCCD_PROVINCE_PREFIXES = frozenset(
    {
        "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022", "024", "025",
        "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042", "044", "045", "046", "048",
        "049", "051", "052", "054", "056", "058", "060", "062", "064", "066", "067", "068", "070", "072", "074", "075",
        "077", "079", "080", "082", "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
    }
)  # fmt: skip


_SCIENTIFIC = re.compile(r"[0-9](?:[.,][0-9]+)?[eE][+]?[0-9]+")
_SEPARATORS = re.compile(r"[\s.]+")
_FLOAT_TEXT = re.compile(r"[0-9]{8,12}\.0")  # one zero: "079.203.001.000" is digit grouping


def check_id_number(raw: object) -> IdCheck:
    """Check a CCCD/CMND cell as typed: text, int, float or None. Never raises."""
    if type(raw) is str:  # the common case first: called per row on millions of rows
        return _check_text(raw)
    text = _raw_text(raw)
    if raw is None or _is_nan(raw):
        return IdCheck(text, None, IdKind.NONE, IdStatus.MISSING, (_MISSING,))
    if isinstance(raw, bool):
        return _invalid(text, error("id.not_a_number", "Giá trị không phải là số CCCD/CMND."))
    if isinstance(raw, int | float):
        return _check_number(text, raw)
    return _check_text(text)


def _check_text(text: str) -> IdCheck:
    stripped = text.strip()
    if stripped.isdigit() and stripped.isascii():
        return _check_digits(text, stripped, ())
    if not stripped:
        return IdCheck(text, None, IdKind.NONE, IdStatus.MISSING, (_MISSING,))
    if _SCIENTIFIC.fullmatch(stripped):
        return _check_scientific(text, stripped)
    if _FLOAT_TEXT.fullmatch(stripped):  # "79203001234.0": a number cell exported as text by a spreadsheet tool
        return _check_digits(text, stripped.split(".")[0], (_NUMERIC_CELL,))
    digits = _SEPARATORS.sub("", stripped)
    if not digits.isdigit() or not digits.isascii():
        return _invalid(text, _not_digits(stripped))
    separators = warning("id.separators_removed", "Đã bỏ dấu cách/dấu chấm trong số CCCD/CMND.")
    return _check_digits(text, digits, (separators,))


def _check_number(text: str, number: int | float) -> IdCheck:
    if isinstance(number, float) and (not math.isfinite(number) or not number.is_integer()):
        return _invalid(text, error("id.not_a_number", "Giá trị không phải là số CCCD/CMND (có phần thập phân)."))
    if number < 0:
        return _invalid(text, error("id.not_a_number", "Số CCCD/CMND không thể là số âm."))
    if number > _LONGEST_NUMBER:
        return _invalid(text, error("id.wrong_length", "Số quá dài: số CCCD có 12 chữ số, số CMND có 9 chữ số."))
    return _check_digits(text, str(int(number)), (_NUMERIC_CELL,))


def _check_scientific(text: str, stripped: str) -> IdCheck:
    """ "1.23456789012E+11": exact only if the mantissa kept every digit (Excel shows 1.23457E+11 when rounded)."""
    try:
        number = Decimal(stripped.replace(",", "."))
    except InvalidOperation:
        return _invalid(text, _not_digits(stripped))
    mantissa_digits = len(re.sub(r"[^0-9]", "", stripped.lower().split("e")[0]).lstrip("0"))
    if number != number.to_integral_value() or mantissa_digits < len(str(int(number))):
        return _invalid(
            text,
            error(
                "id.rounded_by_excel",
                "Số CCCD/CMND đã bị Excel làm tròn (hiển thị dạng số mũ), không khôi phục được: cần nhập lại.",
            ),
        )
    found = warning("id.scientific_notation", "Số CCCD/CMND ở dạng số mũ của Excel; đã khôi phục đủ chữ số.")
    return _check_digits(text, str(int(number)), (found,))


def _check_digits(text: str, digits: str, findings: tuple[Finding, ...]) -> IdCheck:
    length = len(digits)
    if length in (CCCD_LENGTH, CMND_LENGTH):
        return _check_full_length(text, digits, findings)
    target = _padded_length(length)
    if target is None or digits.startswith("0"):
        return _invalid(text, *findings, _wrong_length(length))
    padded = digits.zfill(target)
    lost = target - length
    restored = warning(
        "id.leading_zeros_restored",
        f"Số có {length} chữ số: Excel đã làm mất {lost} số 0 ở đầu; đã bổ sung thành {padded}.",
    )
    return _check_full_length(text, padded, (*findings, restored))


def _padded_length(length: int) -> int | None:
    if length in (CCCD_LENGTH - 1, CCCD_LENGTH - 2):
        return CCCD_LENGTH
    if length == CMND_LENGTH - 1:
        return CMND_LENGTH
    return None


def _check_full_length(text: str, digits: str, findings: tuple[Finding, ...]) -> IdCheck:
    status = IdStatus.REPAIRED if findings else IdStatus.VALID
    if len(digits) == CMND_LENGTH:
        return IdCheck(text, digits, IdKind.CMND, status, findings)
    prefix = digits[:3]
    if prefix not in CCCD_PROVINCE_PREFIXES:
        unknown = error(
            "id.unknown_province_prefix",
            f"Ba chữ số đầu {prefix} không phải mã tỉnh, thành phố nơi đăng ký khai sinh: số CCCD sai định dạng.",
        )
        return IdCheck(text, digits, IdKind.CCCD, IdStatus.INVALID, (*findings, unknown))
    return IdCheck(text, digits, IdKind.CCCD, status, findings)


def cross_check_cccd(value: str, sex: str | None, birth_year: int | None) -> tuple[Finding, ...]:
    """Warnings when the CCCD's century/sex digit or birth-year digits contradict the holder's data.

    Only warnings: live numbers sometimes contradict the holder's real data (spec), so this is for review.
    """
    if not isinstance(value, str) or len(value) != CCCD_LENGTH or not value.isdigit():
        return ()
    gender_digit = int(value[3])
    findings: list[Finding] = []
    if birth_year is not None:
        if gender_digit // 2 != (birth_year // 100) - 19:
            findings.append(
                warning(
                    "id.cccd_century_mismatch",
                    f"Chữ số thứ 4 của CCCD ({gender_digit}) không khớp thế kỷ của năm sinh {birth_year}.",
                )
            )
        if value[4:6] != f"{birth_year % 100:02d}":
            findings.append(
                warning(
                    "id.cccd_birth_year_mismatch",
                    f"Chữ số thứ 5-6 của CCCD ({value[4:6]}) không khớp năm sinh {birth_year}.",
                )
            )
    if sex in ("M", "F") and gender_digit % 2 != (0 if sex == "M" else 1):
        findings.append(
            warning(
                "id.cccd_sex_mismatch",
                f"Chữ số thứ 4 của CCCD ({gender_digit}) là của {'nữ' if gender_digit % 2 else 'nam'}, "
                f"nhưng giới tính ghi là {'nam' if sex == 'M' else 'nữ'}.",
            )
        )
    return tuple(findings)


_PASSPORT = re.compile(r"[A-Z0-9]{6,12}")


def check_passport(raw: object) -> IdCheck:
    """A passport number: 6 to 12 letters and digits with at least one digit (ICAO 9303 allows 9, some issuers
    more). Spaces and hyphens are removed and letters upper-cased, with a warning."""
    text = _raw_text(raw)
    if raw is None or _is_nan(raw) or not text.strip():
        return IdCheck(text, None, IdKind.NONE, IdStatus.MISSING, (_MISSING_PASSPORT,))
    cleaned = re.sub(r"[\s\-]+", "", text).upper()
    if not _PASSPORT.fullmatch(cleaned) or not any(char.isdigit() for char in cleaned):
        found = error(
            "passport.invalid_format",
            "Số hộ chiếu phải gồm 6 đến 12 chữ cái và chữ số (có ít nhất một chữ số).",
        )
        return IdCheck(text, None, IdKind.PASSPORT, IdStatus.INVALID, (found,))
    if cleaned != text.strip():
        repaired = warning("passport.normalized", f"Đã chuẩn hóa số hộ chiếu thành {cleaned}.")
        return IdCheck(text, cleaned, IdKind.PASSPORT, IdStatus.REPAIRED, (repaired,))
    return IdCheck(text, cleaned, IdKind.PASSPORT, IdStatus.VALID, ())


_MISSING = Finding("id.missing", "Không có số CCCD/CMND.", "error")
_NUMERIC_CELL = Finding(
    "id.numeric_cell",
    "Ô số CCCD/CMND được lưu dạng số trong Excel; đã đọc lại thành chuỗi chữ số.",
    "warning",
)
_MISSING_PASSPORT = Finding("passport.missing", "Không có số hộ chiếu.", "error")


def _invalid(text: str, *findings: Finding) -> IdCheck:
    return IdCheck(text, None, IdKind.NONE, IdStatus.INVALID, findings)


def _wrong_length(length: int) -> Finding:
    return error(
        "id.wrong_length",
        f"Số CCCD phải có 12 chữ số, số CMND có 9 chữ số; giá trị này có {length} chữ số.",
    )


def _not_digits(text: str) -> Finding:
    return error(
        "id.not_digits",
        f"Số CCCD/CMND chỉ gồm chữ số; giá trị '{text}' có ký tự khác. "
        "Nếu đây là số hộ chiếu, hãy nhập vào cột Số hộ chiếu.",
    )


def _raw_text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return repr(raw)
    if isinstance(raw, int) and abs(raw) > _LONGEST_NUMBER:
        return "(số quá dài)"  # str() of a huge int raises; no ID is this long anyway
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return str(raw)


def _is_nan(raw: object) -> bool:
    return isinstance(raw, float) and math.isnan(raw)
