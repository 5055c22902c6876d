"""Dates as they arrive: dd/mm/yyyy, ISO, year only, Excel serial numbers and openpyxl date objects.

A year-only date stays a partial date (never invented into 1 January). Placeholders are flagged: 01/01/1900 means
"unknown" (no value), 01/01/YYYY usually means "only the year is known" and is kept as that year. Impossible dates
(nonexistent, future, before a lower bound such as the birth date) are invalid with a Vietnamese reason.
"""

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from tiemchung.identity.findings import Finding, error, warning
from tiemchung.identity.names import fold_name

EARLIEST_YEAR = 1900
# Excel's day 0 is 1899-12-30 once its fictitious 29/02/1900 is skipped (serials from 61 on, all real dates here).
EXCEL_EPOCH = date(1899, 12, 30)
UNKNOWN_PLACEHOLDER = date(1900, 1, 1)
_LAST_SERIAL = 2958465  # 31/12/9999, Excel's last date


@dataclass(frozen=True)
class PartialDate:
    """A date known to the year, the month or the day."""

    year: int
    month: int | None = None
    day: int | None = None

    def iso(self) -> str:
        """ "1990-05-17", "1990-05" or "1990"."""
        parts = [f"{self.year:04d}"]
        if self.month is not None:
            parts.append(f"{self.month:02d}")
            if self.day is not None:
                parts.append(f"{self.day:02d}")
        return "-".join(parts)

    def to_date(self) -> date | None:
        """The full date, or None when month or day is unknown."""
        if self.month is None or self.day is None:
            return None
        return _safe_date(self.year, self.month, self.day)

    @property
    def is_full(self) -> bool:
        return self.month is not None and self.day is not None

    def agrees_with(self, other: "PartialDate") -> bool:
        """The spec's rule: equal; when either side holds only a year, the years must be equal."""
        if self.month is None or other.month is None:
            return self.year == other.year
        return self == other

    def earliest(self) -> date:
        """The first day this partial date may be (for comparisons)."""
        return _safe_date(self.year, self.month or 1, self.day or 1) or date(self.year, 1, 1)

    def latest(self) -> date:
        """The last day this partial date may be."""
        if self.month is None:
            return date(self.year, 12, 31)
        if self.day is None:
            next_month = date(self.year + self.month // 12, self.month % 12 + 1, 1)
            return next_month - timedelta(days=1)
        return self.earliest()

    @classmethod
    def from_date(cls, value: date) -> "PartialDate":
        return cls(value.year, value.month, value.day)

    @classmethod
    def from_iso(cls, text: str) -> "PartialDate | None":
        """Parse "YYYY", "YYYY-MM" or "YYYY-MM-DD"; None for anything else or an impossible date."""
        if not isinstance(text, str):
            return None
        match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", text.strip())
        if match is None:
            return None
        year, month, day = (int(group) if group else None for group in match.groups())
        assert year is not None  # the pattern requires it
        if month is not None and not 1 <= month <= 12:
            return None
        if month is not None and day is not None and _safe_date(year, month, day) is None:
            return None
        return cls(year, month, day)


class DateStatus(StrEnum):
    VALID = "valid"
    REPAIRED = "repaired"
    PLACEHOLDER = "placeholder"
    INVALID = "invalid"
    MISSING = "missing"


@dataclass(frozen=True)
class DateCheck:
    raw: str
    value: PartialDate | None
    status: DateStatus
    findings: tuple[Finding, ...]

    @property
    def usable(self) -> bool:
        """A value that may be compared: VALID, REPAIRED, or a year kept from a 01/01/YYYY placeholder."""
        return self.value is not None and self.status != DateStatus.INVALID


def parse_date(
    raw: object,
    *,
    today: date | None = None,
    not_before: PartialDate | None = None,
    year_placeholder: bool = True,
) -> DateCheck:
    """Read a date cell (str, date, datetime, Excel serial number). Never raises.

    `today` bounds future dates (default: the system date); `not_before` is a lower bound such as the birth date
    for a vaccination date, compared at the precision both sides have. `year_placeholder`: 01/01/YYYY is the
    "only the year is known" placeholder of birth dates, kept as the year; pass False for event dates such as
    vaccination dates, where 1 January is an ordinary day.
    """
    checked = _parse(raw)
    if checked.value is None or checked.status == DateStatus.INVALID:
        return checked
    if year_placeholder:
        checked = _first_of_january_to_year(checked)
    return _check_bounds(checked, today or date.today(), not_before)


def _first_of_january_to_year(checked: DateCheck) -> DateCheck:
    value = checked.value
    if value is None or (value.month, value.day) != (1, 1):
        return checked
    year_only = warning(
        "date.placeholder_first_of_january",
        f"Ngày 01/01/{value.year} thường được điền khi chỉ biết năm: chỉ giữ năm {value.year}.",
    )
    return DateCheck(checked.raw, PartialDate(value.year), DateStatus.PLACEHOLDER, (*checked.findings, year_only))


def _parse(raw: object) -> DateCheck:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return DateCheck("", None, DateStatus.MISSING, (_MISSING,))
    if isinstance(raw, datetime):
        return _from_full_date(str(raw), raw.date(), ())
    if isinstance(raw, date):
        return _from_full_date(str(raw), raw, ())
    if isinstance(raw, bool):
        return _invalid(str(raw))
    if isinstance(raw, int | float):
        return _from_number(raw)
    text = str(raw)
    if not text.strip():
        return DateCheck(text, None, DateStatus.MISSING, (_MISSING,))
    return _parse_text(text)


_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
# "ngày 17 tháng 5 năm 1990", as typed in letters (matched on the ASCII fold).
_WORDED = re.compile(r"(?:ngay\s*)?(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})")
_DAY_FIRST = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4}|\d{2})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?")
_MONTH_YEAR = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{4})")
_YEAR = re.compile(r"\d{4}")
_SERIAL = re.compile(r"\d{3,5}(?:\.\d+)?")


@lru_cache(maxsize=1 << 16)
def _parse_text(text: str) -> DateCheck:
    stripped = text.strip()
    if match := _ISO.fullmatch(stripped):
        year, month, day = (int(group) for group in match.groups())
        return _from_parts(text, year, month, day, ())
    if match := _DAY_FIRST.fullmatch(stripped):
        return _from_day_first(text, *match.groups())
    if match := _MONTH_YEAR.fullmatch(stripped):
        month, year = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            return _invalid(text, error("date.impossible", f"Tháng {month} không tồn tại."))
        return _from_year(text, year, month)
    if _YEAR.fullmatch(stripped):
        return _from_year(text, int(stripped), None)
    if _SERIAL.fullmatch(stripped):
        return _from_number(float(stripped), text)
    if match := _WORDED.fullmatch(fold_name(stripped)):
        day, month, year = (int(group) for group in match.groups())
        return _from_parts(text, year, month, day, ())
    return _invalid(text)


def _from_day_first(text: str, day_text: str, month_text: str, year_text: str) -> DateCheck:
    findings: tuple[Finding, ...] = ()
    day, month, year = int(day_text), int(month_text), int(year_text)
    if len(year_text) == 2:
        year = _expand_two_digit_year(year)
        findings = (
            warning("date.two_digit_year", f"Năm chỉ có 2 chữ số ({year_text}); đã hiểu là năm {year}, cần kiểm tra."),
        )
    if month > 12 >= day:
        day, month = month, day
        swapped = warning(
            "date.day_month_swapped",
            f"Ngày/tháng bị đảo (tháng {day} không tồn tại); đã hiểu là ngày {day:02d}/{month:02d}/{year}.",
        )
        findings = (*findings, swapped)
    return _from_parts(text, year, month, day, findings)


def _expand_two_digit_year(two_digits: int) -> int:
    this_year = date.today().year
    century = this_year - this_year % 100
    return century + two_digits if century + two_digits <= this_year else century - 100 + two_digits


def _from_parts(text: str, year: int, month: int, day: int, findings: tuple[Finding, ...]) -> DateCheck:
    value = _safe_date(year, month, day)
    if value is None:
        impossible = error("date.impossible", f"Ngày {day:02d}/{month:02d}/{year} không tồn tại.")
        return _invalid(text, *findings, impossible)
    return _from_full_date(text, value, findings)


def _from_full_date(text: str, value: date, findings: tuple[Finding, ...]) -> DateCheck:
    if value == UNKNOWN_PLACEHOLDER:
        unknown = warning(
            "date.placeholder_unknown",
            "Ngày 01/01/1900 là giá trị điền thay khi không biết ngày: coi như không có thông tin.",
        )
        return DateCheck(text, None, DateStatus.PLACEHOLDER, (*findings, unknown))
    if value.year < EARLIEST_YEAR:
        return _invalid(text, *findings, _too_early(value.year))
    status = DateStatus.REPAIRED if findings else DateStatus.VALID
    return DateCheck(text, PartialDate.from_date(value), status, findings)


def _from_year(text: str, year: int, month: int | None) -> DateCheck:
    if year < EARLIEST_YEAR:
        return _invalid(text, _too_early(year))
    return DateCheck(text, PartialDate(year, month), DateStatus.VALID, ())


def _from_number(number: int | float, text: str | None = None) -> DateCheck:
    """An integer 1900..2100 is a year (a birth-year cell); other numbers are Excel serial dates."""
    if isinstance(number, int) and not 0 < number < _LAST_SERIAL:
        return _invalid(text if text is not None else "(số ngoài khoảng ngày)")
    shown = text if text is not None else str(number)
    if not math.isfinite(number) or number < 1:
        return _invalid(shown)
    if float(number).is_integer() and EARLIEST_YEAR <= number <= 2100:
        return _from_year(shown, int(number), None)
    if number < 61 or number > _LAST_SERIAL:  # before 01/03/1900 (Excel's leap-year bug) or after 9999
        return _invalid(shown)
    value = EXCEL_EPOCH + timedelta(days=int(number))
    converted = warning(
        "date.excel_serial",
        f"Ô ngày ở dạng số của Excel ({shown.strip()}); đã đọc là {value:%d/%m/%Y}, cần kiểm tra định dạng ô.",
    )
    return _from_full_date(shown, value, (converted,))


def _check_bounds(checked: DateCheck, today: date, not_before: PartialDate | None) -> DateCheck:
    value = checked.value
    assert value is not None
    if value.earliest() > today:
        future = error("date.future", f"Ngày {_shown(value)} ở tương lai (sau ngày {today:%d/%m/%Y}).")
        return DateCheck(checked.raw, None, DateStatus.INVALID, (*checked.findings, future))
    if not_before is not None and value.latest() < not_before.earliest():
        early = error("date.before_lower_bound", f"Ngày {_shown(value)} trước ngày sinh ({_shown(not_before)}).")
        return DateCheck(checked.raw, None, DateStatus.INVALID, (*checked.findings, early))
    return checked


def _shown(value: PartialDate) -> str:
    if value.month is None:
        return str(value.year)
    if value.day is None:
        return f"{value.month:02d}/{value.year}"
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


_MISSING = Finding("date.missing", "Không có ngày.", "error")


def _too_early(year: int) -> Finding:
    return error("date.too_early", f"Năm {year} không hợp lý (trước năm {EARLIEST_YEAR}).")


def _invalid(text: str, *findings: Finding) -> DateCheck:
    if not findings:
        findings = (
            error(
                "date.unreadable",
                f"Không đọc được ngày '{text.strip()}': cần dạng ngày/tháng/năm (dd/mm/yyyy), yyyy-mm-dd hoặc năm.",
            ),
        )
    return DateCheck(text, None, DateStatus.INVALID, findings)
