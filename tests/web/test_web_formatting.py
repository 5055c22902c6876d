"""Dates, times, numbers and rates as every page writes them (Babel's `vi` locale, Viet Nam's time zone)."""

from datetime import UTC, date, datetime

from tiemchung.health.web.formatting import vn_date, vn_datetime, vn_number, vn_percent


def test_dates_day_first() -> None:
    assert vn_date(date(1985, 3, 2)) == "02/03/1985"
    assert vn_date("1985-03-02") == "02/03/1985"
    assert vn_date("1985") == "1985"
    assert vn_date(None) == ""


def test_timestamps_in_viet_nam_time() -> None:
    # 20:30 UTC is 03:30 the next day in Viet Nam (UTC+7): the day shown is Viet Nam's.
    late = datetime(2022, 3, 1, 20, 30, tzinfo=UTC)
    assert vn_datetime(late) == "02/03/2022 03:30"
    assert vn_date(late) == "02/03/2022"
    assert vn_datetime(datetime(2022, 3, 1, 20, 30)) == "02/03/2022 03:30"  # naive means UTC (SQLite)
    assert vn_datetime(late, seconds=True) == "02/03/2022 03:30:00"
    assert vn_datetime(None) == ""


def test_numbers_and_rates() -> None:
    assert vn_number(1234567) == "1.234.567"
    assert vn_number(1234.5, digits=1) == "1.234,5"
    assert vn_number(None) == ""
    assert vn_percent(0.1234) == "12,3 %"
    assert vn_percent(None) == ""
