"""The dashboard's map: the 63 provinces' real outlines (`tiemchung.reference.province_map`) filled on the tile
grid's stepped colour scale, each a keyboard-focusable link named on hover (`<title>`), with an HTML legend that
stays readable on a phone and the same figures as a table (for screen readers, printing and small provinces).

Server-rendered SVG, no script: the CSP forbids inline scripts, and the map must print and read offline.
"""

from collections.abc import Sequence
from html import escape

from tiemchung.health.reconciliation.dashboard import NO_DATA, RATE_LABELS, RATE_STEPS, Tile
from tiemchung.reference.province_map import province_map

NO_DATA_TEXT = "chưa có số liệu"
ISLAND_DOTS = ((0, 0), (9, 5), (-7, 8), (4, -7), (13, -3), (-3, 15))  # a cluster of islets: the archipelagos' mark


def province_map_html(
    tiles: Sequence[Tile],
    title: str,
    *,
    key: str,
    measure: str,
    note: str = "",
    scale: Sequence[str] = RATE_LABELS,
) -> str:
    """A `<figure>`: the title, the map, the legend, then the figures as a table (folded). `key` makes the ids
    unique on the page; `measure` heads the table's value column."""
    caption_id = f"map-{key}"
    return (
        f'<figure class="province-map" aria-labelledby="{caption_id}">'
        f'<figcaption id="{caption_id}">{escape(title)}</figcaption>'
        f"{_map_svg(tiles, caption_id)}{_legend_html(note, scale)}{_table_html(tiles, measure)}</figure>"
    )


def _map_svg(tiles: Sequence[Tile], caption_id: str) -> str:
    geography = province_map()
    left, top, width, height = geography.view_box
    parts = [
        f'<svg class="province-map" viewBox="{left} {top} {width} {height}" role="group" '
        f'aria-labelledby="{caption_id}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="DejaVu Sans, Arial, sans-serif">'
    ]
    for tile in tiles:
        path = geography.paths.get(tile.code)
        if path is None:
            continue
        label = escape(f"{tile.name}: {tile.value_text or NO_DATA_TEXT}")
        shape = f'<path d="{path}" fill="{tile.colour}"/>'
        if tile.href:
            parts.append(
                f'<a class="province" href="{escape(tile.href)}" aria-label="{label}" data-code="{tile.code}">'
                f"<title>{label}</title>{shape}</a>"
            )
        else:
            parts.append(f'<g class="province" data-code="{tile.code}"><title>{label}</title>{shape}</g>')
    for archipelago in geography.archipelagos:
        parts.append(_archipelago_svg(archipelago.name, archipelago.x, archipelago.y))
    parts.append("</svg>")
    return "".join(parts)


def _archipelago_svg(name: str, x: int, y: int) -> str:
    """A cluster of dots and the archipelago's name (and its province) under it."""
    place, _, province = name.partition(" (")
    dots = "".join(f'<circle cx="{x + dx}" cy="{y + dy}" r="2"/>' for dx, dy in ISLAND_DOTS)
    return (
        f'<g class="archipelago" fill="#5b6575"><title>{escape(name)}</title>{dots}'
        f'<text x="{x}" y="{y + 34}" font-size="13" text-anchor="middle" fill="#1b1f24">{escape(place)}</text>'
        f'<text x="{x}" y="{y + 50}" font-size="12" text-anchor="middle" fill="#3d4552">({escape(province)}</text>'
        "</g>"
    )


def _swatch(fill: str, dashed: bool = False) -> str:
    border = ' stroke="#8a93a0" stroke-dasharray="3 2"' if dashed else ""
    return (
        '<svg class="swatch" width="18" height="14" viewBox="0 0 18 14" aria-hidden="true">'
        f'<rect x="0.5" y="0.5" width="17" height="13" fill="{fill}"{border}/></svg>'
    )


def _legend_html(note: str, scale: Sequence[str]) -> str:
    items = [
        f"<li>{_swatch(fill)} {escape(label)}</li>"
        for (_bound, fill, _ink), label in zip(RATE_STEPS, scale, strict=True)
    ]
    items.append(f"<li>{_swatch(NO_DATA, dashed=True)} {NO_DATA_TEXT}</li>")
    note_html = f'<p class="small muted">{escape(note)}</p>' if note else ""
    return f'<ul class="map-legend" aria-label="Chú giải thang màu">{"".join(items)}</ul>{note_html}'


def _table_html(tiles: Sequence[Tile], measure: str) -> str:
    rows = []
    for tile in tiles:  # in GSO code order, north to south, as the ministry's tables list provinces
        name = f'<a href="{escape(tile.href)}">{escape(tile.name)}</a>' if tile.href else escape(tile.name)
        rows.append(f'<tr><td>{name}</td><td class="num">{escape(tile.value_text or NO_DATA_TEXT)}</td></tr>')
    return (
        '<details class="map-table"><summary>Xem số liệu dạng bảng</summary><div class="table-scroll">'
        f'<table class="report"><thead><tr><th>Tỉnh/thành phố</th><th>{escape(measure)}</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details>"
    )
