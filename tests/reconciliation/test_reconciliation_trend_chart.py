"""The dashboard's monthly trend: labelled months that stay inside the chart, Vietnamese number format."""

import re
from datetime import date
from itertools import pairwise

from tiemchung.health.reconciliation.dashboard import MonthPoint, ProgressPoint, progress_chart_svg, trend_chart_svg


def test_month_labels_name_the_full_year_and_stay_inside_the_chart() -> None:
    points = [MonthPoint(2021 + (month - 1) // 12, (month - 1) % 12 + 1, 1000 * month) for month in range(3, 26)]
    svg = trend_chart_svg(points)
    width = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))  # type: ignore[union-attr]
    labels = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">(\d\d/\d{4})</text>', svg)
    assert labels[0][1] == "03/2021" and labels[-1][1] == "01/2023"  # month/year, as Vietnamese dates are written
    last_x, last_text = labels[-1]
    assert float(last_x) + 3.7 * len(last_text) <= width  # half the label (12-unit DejaVu Sans digits) fits
    assert ">25.000<" in svg and "Tổng: 322.000 mũi" in svg  # round ticks and the total with a dot per thousand
    assert "Tháng 01/2023: 25.000 mũi" in svg  # each point named with its figure on hover


def test_the_progress_chart_scales_to_its_card_and_its_title_clears_the_axis() -> None:
    """It had a fixed 640-px width without viewBox (cut off on a phone) and its title overlapped the top tick."""
    svg = progress_chart_svg([ProgressPoint(date(2022, 9, day), 100, 80) for day in range(1, 11)])
    assert 'viewBox="0 0 640 260" width="100%"' in svg
    title_x = float(re.search(r'<text x="([\d.]+)" y="14" font-weight="bold">', svg).group(1))  # type: ignore[union-attr]
    assert title_x > 70  # right of the y axis' labels (anchored at its end, x = 66)
    assert "Đã xác minh đúng: 800" in svg


def test_month_labels_never_overlap_the_last_one() -> None:
    """The last month was always labelled, even right beside the previous label: "12/202201/2023" on the dashboard."""
    points = [MonthPoint(2021 + (month - 1) // 12, (month - 1) % 12 + 1, 1000) for month in range(3, 26)]
    svg = trend_chart_svg(points)
    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">\d\d/\d{4}</text>', svg)]
    gaps = [right - left for left, right in pairwise(xs)]
    assert min(gaps) >= 56, gaps  # a label is ~45 units wide (7 characters of 12-unit digits)
