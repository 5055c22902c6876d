"""The national dashboard: a tile grid of the 63 provinces coloured by verification rate and by gap, and the
cleaning progress over time, as server-rendered SVG (printable, no script, readable offline).

Written by hand because a tile map is a grid of squares and a line is a polyline: a plotting library would
add a dependency and a raster step for two simple shapes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from tiemchung.reconciliation.appendix1 import Appendix1Report
from tiemchung.reconciliation.text import fmt
from tiemchung.reconciliation.verification_report import VerificationReport

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


def rate_colour(rate: float | None) -> str:
    """Red (0) through amber to green (1); grey without data."""
    if rate is None:
        return NO_DATA
    rate = min(max(rate, 0.0), 1.0)
    red = (179, 38, 30)
    amber = (230, 160, 30)
    green = (31, 122, 58)
    low, high, t = (red, amber, rate * 2) if rate < 0.5 else (amber, green, (rate - 0.5) * 2)
    r, g, b = (round(a + (z - a) * t) for a, z in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def gap_colour(gap_share: float | None) -> str:
    """Green for no gap, red at 10 % of the reported doses or more, blue when more was entered than reported."""
    if gap_share is None:
        return NO_DATA
    if gap_share < 0:
        return "#2f6db5"
    return rate_colour(1 - min(gap_share / 0.10, 1.0))


@dataclass(frozen=True)
class Tile:
    code: str
    name: str
    colour: str
    value_text: str


def tile_grid_svg(tiles: Sequence[Tile], title: str, legend: str) -> str:
    columns = 1 + max(column for column, _ in GRID.values())
    rows = 1 + max(row for _, row in GRID.values())
    width = columns * (TILE + GAP) + 8
    height = rows * (TILE + GAP) + 48
    parts = [
        f'<svg class="tile-grid" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="DejaVu Sans, Arial, sans-serif">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
    ]
    for tile in tiles:
        if tile.code not in GRID:
            continue
        column, row = GRID[tile.code]
        x, y = 4 + column * (TILE + GAP), 26 + row * (TILE + GAP)
        parts.append(
            f"<g><title>{escape(tile.name)}: {escape(tile.value_text)}</title>"
            f'<rect x="{x}" y="{y}" width="{TILE}" height="{TILE}" rx="4" fill="{tile.colour}"/>'
            f'<text x="{x + TILE / 2}" y="{y + 18}" font-size="11" text-anchor="middle" fill="#fff">'
            f"{escape(initials(tile.name))}</text>"
            f'<text x="{x + TILE / 2}" y="{y + 34}" font-size="9" text-anchor="middle" fill="#fff">'
            f"{escape(tile.value_text)}</text></g>"
        )
    parts.append(f'<text x="4" y="{height - 6}" font-size="10">{escape(legend)}</text></svg>')
    return "".join(parts)


def verification_tiles(report: VerificationReport) -> list[Tile]:
    tiles = []
    for row in report.provinces:
        rate = row.verification_rate
        text = "" if rate is None else f"{100 * rate:.0f}%"
        tiles.append(Tile(row.province_code, row.province_name, rate_colour(rate), text))
    return tiles


def gap_tiles(report: Appendix1Report) -> list[Tile]:
    tiles = []
    for row in report.rows:
        share = row.gap / row.reported_total if row.has_report and row.reported_total else None
        text = "" if share is None else f"{100 * share:.1f}%"
        tiles.append(Tile(row.province_code, row.province_name, gap_colour(share), text))
    return tiles


def province_grid_svg(verification: VerificationReport, appendix1: Appendix1Report) -> str:
    """Both maps side by side in one SVG document."""
    left = tile_grid_svg(
        verification_tiles(verification), "Tỷ lệ đối tượng đã xác minh đúng", "Đỏ: thấp · Xanh: cao · Xám: chưa gửi"
    )
    right = tile_grid_svg(
        gap_tiles(appendix1), "Chênh lệch báo cáo − đã nhập (p/n)", "Xanh lá: 0 · Đỏ: ≥10% · Xanh dương: âm"
    )
    width = 2 * (7 * (TILE + GAP) + 8) + 20
    height = 22 * (TILE + GAP) + 48
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<svg x="0" y="0">{left}</svg><svg x="{width // 2 + 10}" y="0">{right}</svg></svg>'
    )


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
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text x="4" y="14" font-weight="bold">{escape(title)}</text>'
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
