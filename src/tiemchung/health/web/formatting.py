"""How every page writes dates, times, numbers and rates: Vietnamese conventions through Babel's `vi` locale.

Dates `dd/mm/yyyy`, times in Viet Nam's time zone (the database keeps UTC: SQLite hands back naive datetimes, which
are UTC, PostgreSQL aware ones), numbers `1.234.567`, rates `12,3 %`. Registered as Jinja filters in `deps.py`.
"""

from datetime import UTC, date, datetime

from babel.dates import format_datetime, get_timezone
from babel.numbers import format_decimal, format_percent

LOCALE = "vi"
VIET_NAM_TIME = get_timezone("Asia/Ho_Chi_Minh")


def local_time(value: datetime) -> datetime:
    """A stored timestamp in Viet Nam's time zone (naive ones are UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(VIET_NAM_TIME)


def vn_date(value: object) -> str:
    """A date as Vietnamese offices write it, "02/03/1985": from a date, a timestamp (Viet Nam's day) or ISO text.

    A bare year ("1985") or any other text is shown as it is; None is empty.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value).strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = str(value)
    return f"{text[8:10]}/{text[5:7]}/{text[:4]}" if len(text) == 10 and text[4] == "-" else text


def vn_datetime(value: datetime | None, *, seconds: bool = False) -> str:
    """A timestamp in Viet Nam's time zone, "02/03/2022 14:05"; None is empty."""
    if value is None:
        return ""
    pattern = "dd/MM/yyyy HH:mm:ss" if seconds else "dd/MM/yyyy HH:mm"
    return format_datetime(local_time(value), pattern, locale=LOCALE)


def vn_number(value: float | int | None, *, digits: int = 0) -> str:
    """1234567 as "1.234.567" (and 1234.5 as "1.234,5" with digits=1); None is empty."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def vn_percent(value: float | None, *, digits: int = 1) -> str:
    """A fraction as a percentage, 0.1234 as "12,3 %"; None (no denominator) is empty."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + " %"
    return format_percent(value, format=pattern, locale=LOCALE)


FILTERS = {"vn_date": vn_date, "vn_datetime": vn_datetime, "vn_number": vn_number, "vn_percent": vn_percent}
