"""The dashboard's shapes: the colour scale of the province map (drawn by `map_svg` on the provinces' real
outlines; the tile grid below remains for the standalone CLI page), the bars of the units below a province, the
doses entered per month, and the cleaning progress over time, as server-rendered SVG (printable, no script,
readable offline).

Written by hand because a tile map is a grid of squares and a trend is a polyline: a plotting library would add a
dependency and a raster step for simple shapes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from tiemchung.health.reconciliation.appendix1 import Appendix1Report
from tiemchung.health.reconciliation.text import fmt
from tiemchung.health.reconciliation.verification_report import VerificationReport

TILE = 44
GAP = 3
NO_DATA = "#d9dce1"

# (column, row) of each province (GSO code) on a tile grid that keeps the country's shape: north at the top,
# the central coast as a narrow band, the Mekong delta at the bottom left.
GRID: dict[str, tuple[int, int]] = {
    "12": (1, 0), "10": (2, 0), "02": (3, 0), "04": (4, 0),
    "11": (0, 1), "15": (2, 1), "08": (3, 1), "06": (4, 1), "20": (5, 1),
    "14": (1, 2), "25": (2, 2), "19": (3, 2), "24": (4, 2), "22": (5, 2),
    "17": (1, 3), "26": (2, 3), "01": (3, 3), "27": (4, 3), "30": (5, 3), "31": (6, 3),
    "35": (3, 4), "33": (4, 4), "34": (5, 4),
    "38": (2, 5), "37": (3, 5), "36": (4, 5),
    "40": (2, 6),
    "42": (3, 7),
    "44": (3, 8),
    "45": (4, 9),
    "46": (4, 10), "48": (5, 10),
    "49": (5, 11),
    "62": (4, 12), "51": (5, 12),
    "64": (4, 13), "52": (5, 13),
    "66": (4, 14), "54": (5, 14),
    "67": (3, 15), "68": (4, 15), "56": (5, 15),
    "70": (3, 16), "58": (5, 16),
    "72": (2, 17), "74": (3, 17), "75": (4, 17), "60": (5, 17),
    "89": (0, 18), "87": (1, 18), "80": (2, 18), "79": (3, 18), "77": (4, 18),
    "91": (0, 19), "92": (1, 19), "86": (2, 19), "82": (3, 19), "83": (4, 19),
    "93": (1, 20), "94": (2, 20), "84": (3, 20),
    "96": (0, 21), "95": (1, 21),
}  # fmt: skip


def initials(name: str) -> str:
    """`Thừa Thiên Huế` → `TTH`, `Hồ Chí Minh` → `HCM`: a tile's label."""
    return "".join(word[0] for word in name.replace("-", " ").split()).upper()


# Colour steps of the rate scale (ColorBrewer's RdYlGn, colour-blind safer than a continuous red→green): a rate
# falls in the step of its lower bound. Light steps carry dark text, dark steps white text (WCAG contrast).
RATE_STEPS: tuple[tuple[float, str, str], ...] = (
    (0.0, "#a50026", "#fff"),
    (0.5, "#f46d43", "#1b1f24"),
    (0.7, "#fee08b", "#1b1f24"),
    (0.8, "#a6d96a", "#1b1f24"),
    (0.9, "#1a9850", "#fff"),
)
NO_DATA_TEXT = "#3d4552"
NEGATIVE_GAP = ("#2f6db5", "#fff")


def _step(rate: float) -> tuple[str, str]:
    fill, text = RATE_STEPS[0][1], RATE_STEPS[0][2]
    for bound, step_fill, step_text in RATE_STEPS:
        if rate >= bound:
            fill, text = step_fill, step_text
    return fill, text


def rate_colour(rate: float | None) -> str:
    """The fill of a rate (0 worst, 1 best) on the stepped scale; light grey without data."""
    return NO_DATA if rate is None else _step(min(max(rate, 0.0), 1.0))[0]


def text_colour(fill: str) -> str:
    """Dark or white text, whichever reads on `fill`."""
    for _, step_fill, text in RATE_STEPS:
        if step_fill == fill:
            return text
    return "#fff" if fill == NEGATIVE_GAP[0] else NO_DATA_TEXT


def gap_colour(gap_share: float | None) -> str:
    """Green for no gap, red at 10 % of the reported doses or more, blue when more was entered than reported."""
    if gap_share is None:
        return NO_DATA
    if gap_share < 0:
        return NEGATIVE_GAP[0]
    return rate_colour(1 - min(gap_share / 0.10, 1.0))


GAP_NOTE = "Xanh dương: số đã nhập nhiều hơn số báo cáo"


@dataclass(frozen=True)
class Tile:
    code: str
    name: str
    colour: str
    value_text: str
    href: str | None = None  # where a click (or Enter on the focused tile) drills down


RATE_LABELS = ("dưới 50%", "50–70%", "70–80%", "80–90%", "từ 90%")
# The gap map colours 1 − gap/10 % on the same steps: its labels are the gaps those steps stand for.
GAP_LABELS = ("từ 5%", "3–5%", "2–3%", "1–2%", "dưới 1%")


def tile_grid_svg(tiles: Sequence[Tile], title: str, legend: str, scale: Sequence[str] = RATE_LABELS) -> str:
    """The 63 provinces as tiles placed like the country, each named on hover and focus (`<title>`), a link when
    the tile has `href`; the colour scale drawn as a legend beneath."""
    columns = 1 + max(column for column, _ in GRID.values())
    rows = 1 + max(row for _, row in GRID.values())
    width = max(columns * (TILE + GAP) + 8, 330)
    grid_bottom = 26 + rows * (TILE + GAP)
    height = grid_bottom + 70
    parts = [
        f'<svg class="tile-grid" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="DejaVu Sans, Arial, sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="16" font-size="13" font-weight="bold" fill="#1b1f24">{escape(title)}</text>'
    ]
    for tile in tiles:
        if tile.code not in GRID:
            continue
        column, row = GRID[tile.code]
        x, y = 4 + column * (TILE + GAP), 26 + row * (TILE + GAP)
        ink = text_colour(tile.colour)
        border = ' stroke="#8a93a0" stroke-dasharray="3 2"' if tile.colour == NO_DATA else ""
        label = f"{tile.name}: {tile.value_text or 'chưa có số liệu'}"
        body = (
            f"<title>{escape(label)}</title>"
            f'<rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="4" fill="{tile.colour}"{border}/>'
            f'<text x="{x + TILE / 2}" y="{y + 18}" font-size="11" font-weight="bold" text-anchor="middle" '
            f'fill="{ink}">{escape(initials(tile.name))}</text>'
            f'<text x="{x + TILE / 2}" y="{y + 34}" font-size="9.5" text-anchor="middle" fill="{ink}">'
            f"{escape(tile.value_text)}</text>"
        )
        if tile.href:
            parts.append(f'<a class="tile" href="{escape(tile.href)}" aria-label="{escape(label)}">{body}</a>')
        else:
            parts.append(f"<g>{body}</g>")
    parts.append(_legend_svg(grid_bottom + 6, legend, scale))
    parts.append("</svg>")
    return "".join(parts)


def _legend_svg(top: int, note: str, scale: Sequence[str] = RATE_LABELS) -> str:
    """The stepped scale as labelled swatches, then grey for no data and the chart's own note."""
    items = []
    x = 4
    for (_bound, fill, ink), label in zip(RATE_STEPS, scale, strict=True):
        items.append(
            f'<rect x="{x}" y="{top}" width="58" height="18" fill="{fill}"/>'
            f'<text x="{x + 29}" y="{top + 13}" font-size="10" text-anchor="middle" fill="{ink}">{label}</text>'
        )
        x += 60
    items.append(
        f'<rect x="4" y="{top + 24}" width="18" height="14" fill="{NO_DATA}" stroke="#8a93a0" stroke-dasharray="3 2"/>'
        f'<text x="26" y="{top + 35}" font-size="10" fill="#1b1f24">chưa có số liệu</text>'
    )
    if note:
        items.append(f'<text x="4" y="{top + 54}" font-size="10" fill="#1b1f24">{escape(note)}</text>')
    return "".join(items)


def verification_tiles(
    report: VerificationReport, link: Callable[[str], str | None] = lambda _code: None
) -> list[Tile]:
    tiles = []
    for row in report.provinces:
        rate = row.verification_rate
        text = "" if rate is None else f"{100 * rate:.0f}%".replace(".", ",")
        tiles.append(Tile(row.province_code, row.province_name, rate_colour(rate), text, link(row.province_code)))
    return tiles


def gap_tiles(report: Appendix1Report, link: Callable[[str], str | None] = lambda _code: None) -> list[Tile]:
    tiles = []
    for row in report.rows:
        share = row.gap / row.reported_total if row.has_report and row.reported_total else None
        text = "" if share is None else f"{100 * share:.1f}%".replace(".", ",")
        tiles.append(Tile(row.province_code, row.province_name, gap_colour(share), text, link(row.province_code)))
    return tiles


def province_grid_svg(verification: VerificationReport, appendix1: Appendix1Report) -> str:
    """Both maps side by side in one SVG document."""
    left = tile_grid_svg(verification_tiles(verification), "Tỷ lệ đối tượng đã xác minh đúng", "")
    right = tile_grid_svg(
        gap_tiles(appendix1),
        "Chênh lệch báo cáo − đã nhập (p/n)",
        "Thang màu: 0% chênh lệch xanh, ≥10% đỏ; âm: xanh dương",
    )
    width = 2 * 340 + 20
    height = 22 * (TILE + GAP) + 100
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<svg x="0" y="0">{left}</svg><svg x="{width // 2 + 10}" y="0">{right}</svg></svg>'
    )


@dataclass(frozen=True)
class UnitRate:
    code: str
    name: str
    sent: int
    verified: int

    @property
    def rate(self) -> float | None:
        return self.verified / self.sent if self.sent else None


def rate_bars_svg(units: Sequence[UnitRate], title: str, link: Callable[[str], str | None]) -> str:
    """One bar per unit (a district, a ward) coloured on the map's scale, its rate and count beside it; a bar is a
    link to the unit (drill-down) and names it on hover and focus."""
    row, label_width, bar_width = 24, 230, 360
    width, height = label_width + bar_width + 170, 30 + row * max(len(units), 1) + 64
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" style="max-width:100%;height:auto" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">'
        f'<title>{escape(title)}</title><text x="4" y="16" font-weight="bold" font-size="13">{escape(title)}</text>'
    ]
    for index, unit in enumerate(units):
        y = 26 + index * row
        rate = unit.rate
        share = f"{100 * rate:.1f}%".replace(".", ",") if rate is not None else "chưa có số liệu"
        label = f"{unit.name}: {share} ({fmt(unit.verified)}/{fmt(unit.sent)} đối tượng)"
        body = (
            f"<title>{escape(label)}</title>"
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(unit.name)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{bar_width}" height="{row - 7}" fill="#f1f3f5"/>'
            f'<rect x="{label_width}" y="{y + 3}" width="{bar_width * (rate or 0):.1f}" height="{row - 7}" '
            f'fill="{rate_colour(rate)}"/>'
            f'<text x="{label_width + bar_width + 6}" y="{y + 15}">{escape(share)}'
            f"{f' · {fmt(unit.sent)} đối tượng' if unit.sent else ''}</text>"
        )
        href = link(unit.code)
        parts.append(f'<a class="tile" href="{escape(href)}">{body}</a>' if href else f"<g>{body}</g>")
    parts.append(_legend_svg(30 + row * max(len(units), 1) + 4, ""))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class MonthPoint:
    year: int
    month: int
    doses: int


def trend_chart_svg(points: Sequence[MonthPoint], title: str = "Số mũi tiêm đã nhập theo tháng") -> str:
    """Doses entered per month as an area under a line, months without doses drawn as zero, each month named with
    its figure on hover; y axis with round ticks."""
    width, height, left, bottom, top = 720, 280, 64, 42, 30
    if not points:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" role="img" '
            f'aria-label="{escape(title)}"><text x="4" y="24">Chưa có mũi tiêm nào trong phạm vi đã chọn.</text></svg>'
        )
    months = _every_month(points)
    largest = max(doses for _, _, doses in months) or 1
    ceiling = _round_up(largest)
    plot_width, plot_height = width - left - 40, height - top - bottom  # room for the last month's label
    step = plot_width / max(len(months) - 1, 1)

    def xy(index: int, doses: int) -> tuple[float, float]:
        return left + index * step, top + plot_height * (1 - doses / ceiling)

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, d) for i, (_, _, d) in enumerate(months)))
    base = top + plot_height
    parts = [
        f'<svg class="chart trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="16" font-weight="bold" font-size="14">{escape(title)}</text>'
    ]
    for tick in range(5):
        value = ceiling * tick / 4
        y = top + plot_height * (1 - tick / 4)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_width}" y2="{y:.1f}" stroke="#e1e5ea"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(round(value))}</text>'
        )
    right = xy(len(months) - 1, 0)[0]
    parts.append(f'<polygon fill="#2f6db5" fill-opacity="0.18" points="{left},{base} {line} {right:.1f},{base}"/>')
    parts.append(f'<polyline fill="none" stroke="#2f6db5" stroke-width="2.5" points="{line}"/>')
    labelled = _labelled_months(len(months), step)
    for index, (year, month, doses) in enumerate(months):
        x, y = xy(index, doses)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#2f6db5"><title>Tháng {month:02d}/{year}: '
            f"{fmt(doses)} mũi</title></circle>"
        )
        if index in labelled:
            parts.append(f'<text x="{x:.1f}" y="{base + 17}" text-anchor="middle">{month:02d}/{year}</text>')
    parts.append(
        f'<text x="{left}" y="{height - 4}" fill="#5b6575">Tổng: {fmt(sum(d for _, _, d in months))} mũi</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _labelled_months(count: int, step: float) -> set[int]:
    """Which months get a label ("03/2021"): one every ~72 px from the first, and always the last month — in
    place of the one before it when the two would overlap."""
    every = max(1, -(-72 // max(int(step), 1)))
    labelled = set(range(0, count, every))
    last, previous = count - 1, max(labelled)
    if last != previous:
        if (last - previous) * step < 60 and previous != 0:
            labelled.discard(previous)
        labelled.add(last)
    return labelled


def _every_month(points: Sequence[MonthPoint]) -> list[tuple[int, int, int]]:
    """The months from the first to the last point, zeros where no dose was entered (a gap is a real zero)."""
    doses = {(p.year, p.month): p.doses for p in points}
    first, last = min(doses), max(doses)
    months, (year, month) = [], first
    while (year, month) <= last:
        months.append((year, month, doses.get((year, month), 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _round_up(value: int) -> int:
    """The next "round" number at or above value (1, 2, 2.5 or 5 times a power of ten), for the axis' top."""
    magnitude = 10 ** max(len(str(value)) - 1, 0)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude:
            return int(factor * magnitude)
    return 10 * magnitude


@dataclass(frozen=True)
class ProgressPoint:
    day: date
    answered: int  # answers received that day
    verified: int  # of which verified (with or without an ID)


def progress_chart_svg(points: Sequence[ProgressPoint], title: str = "Tiến độ xác minh, làm sạch (lũy kế)") -> str:
    """Cumulative answers and cumulative verified subjects per day, as two polylines."""
    width, height, left, bottom = 640, 260, 70, 30
    if not points:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" role="img" '
            f'aria-label="{escape(title)}"><text x="4" y="24">Chưa có kết quả xác minh.</text></svg>'
        )
    answered, verified = _cumulative(points)
    top = max(answered) or 1
    step = (width - left - 10) / max(len(points) - 1, 1)

    def polyline(values: list[int], colour: str) -> str:
        coordinates = " ".join(
            f"{left + index * step:.1f},{height - bottom - (height - bottom - 24) * value / top:.1f}"
            for index, value in enumerate(values)
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}"/>'

    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text x="{left + 10}" y="14" font-weight="bold">{escape(title)}</text>'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#888"/>'
        f'<text x="{left - 4}" y="28" text-anchor="end">{fmt(top)}</text>'
        f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 10}">{points[0].day:%d/%m/%Y}</text>'
        f'<text x="{width - 10}" y="{height - 10}" text-anchor="end">{points[-1].day:%d/%m/%Y}</text>'
        f"{polyline(answered, '#5b6575')}{polyline(verified, '#1f7a3a')}"
        f'<text x="{left + 10}" y="44" fill="#5b6575">Đã có kết quả: {fmt(answered[-1])}</text>'
        f'<text x="{left + 10}" y="60" fill="#1f7a3a">Đã xác minh đúng: {fmt(verified[-1])}</text></svg>'
    )


def _cumulative(points: Sequence[ProgressPoint]) -> tuple[list[int], list[int]]:
    answered, verified, total_answered, total_verified = [], [], 0, 0
    for point in points:
        total_answered += point.answered
        total_verified += point.verified
        answered.append(total_answered)
        verified.append(total_verified)
    return answered, verified


def dashboard_html(
    verification: VerificationReport, appendix1: Appendix1Report, progress: Sequence[ProgressPoint]
) -> str:
    """A standalone page (for the CLI); the web shows the same SVGs inside its layout."""
    sent = verification.sent
    total = appendix1.total()
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Bảng điều khiển toàn quốc</title>'
        "<style>body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px}"
        ".maps{display:flex;gap:24px;flex-wrap:wrap}</style></head><body>"
        "<h1>Bảng điều khiển toàn quốc</h1>"
        f"<p>Đã gửi xác minh {fmt(sent.subjects)} đối tượng ({fmt(sent.doses)} mũi); "
        f"báo cáo {fmt(total.reported_total)} mũi, đã nhập {fmt(total.entered)}, chênh lệch {fmt(total.gap)}.</p>"
        f'<div class="maps">{tile_grid_svg(verification_tiles(verification), "Tỷ lệ đã xác minh đúng", "")}'
        f"{tile_grid_svg(gap_tiles(appendix1), 'Chênh lệch p/n', '')}</div>"
        f"{progress_chart_svg(progress)}</body></html>"
    )
