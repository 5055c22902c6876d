"""Server-rendered SVG charts: no JavaScript library, printable, readable without a network.

Written by hand because the charts needed are two simple shapes (horizontal bars and stacked bars); a charting
library would add a client-side dependency for no gain. Available in templates as `bar_chart` and `stacked_bars`.
"""

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1f7a3a", "#b3261e", "#2f6db5", "#a15c00", "#7b4fa0", "#5b6575", "#0f8a8a", "#c2185b")
ROW_HEIGHT = 26
LABEL_WIDTH = 220
BAR_WIDTH = 360
VALUE_WIDTH = 90


def _number(value: float) -> str:
    """Vietnamese thousands separator (a dot), as the seed reports print numbers."""
    return f"{value:,.0f}".replace(",", ".")


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, color: str = PALETTE[2]) -> Markup:
    """One horizontal bar per (label, value), scaled to the largest value."""
    largest = max((value for _, value in rows), default=0) or 1
    height = ROW_HEIGHT * max(len(rows), 1) + 8
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    parts = [_svg_open(width, height, title)]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * ROW_HEIGHT
        bar = BAR_WIDTH * value / largest
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" height="{ROW_HEIGHT - 8}" fill="{color}">'
            f"<title>{escape(label)}: {_number(value)}</title></rect>"
            f'<text x="{LABEL_WIDTH + bar + 6:.1f}" y="{y + 16}">{_number(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[float]]], *, series: Sequence[str], title: str, percent: bool = True
) -> Markup:
    """One bar per row split into the series' shares (as percentages of the row when `percent`), with a legend."""
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    legend, legend_height = _legend(series, 4 + len(rows) * ROW_HEIGHT + 6, width)
    height = ROW_HEIGHT * max(len(rows), 1) + 16 + legend_height
    largest = max((sum(values) for _, values in rows), default=0) or 1
    parts = [_svg_open(width, height, title)]
    for index, (label, values) in enumerate(rows):
        y = 4 + index * ROW_HEIGHT
        total = sum(values) or 1
        scale = BAR_WIDTH / total if percent else BAR_WIDTH / largest
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        x = float(LABEL_WIDTH)
        for series_index, value in enumerate(values):
            share = value * scale
            name = series[series_index]
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{share:.1f}" height="{ROW_HEIGHT - 8}" '
                f'fill="{PALETTE[series_index % len(PALETTE)]}"><title>{escape(label)} · {escape(name)}: '
                f"{_number(value)} ({100 * value / total:.1f}%)</title></rect>"
            )
            x += share
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 16}">{_number(sum(values))}</text>')
    parts.append(legend)
    parts.append("</svg>")
    return Markup("".join(parts))


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )


def _legend(series: Sequence[str], top: int, width: int) -> tuple[str, int]:
    """Legend entries left to right, wrapping to a new row at the chart's width; returns (svg, height)."""
    items = []
    x, y = 8, top
    for index, name in enumerate(series):
        item_width = 24 + 7 * len(name)
        if x + item_width > width and x > 8:
            x, y = 8, y + 18
        items.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="{y + 11}">{escape(name)}</text>'
        )
        x += item_width
    return "".join(items), y - top + 18
