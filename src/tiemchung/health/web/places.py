"""Province → district → commune choices from the real units (`tiemchung.reference`), limited to a user's area.

One cascade serves every form that asks for a place (the search's filter, the dose form's residence): choosing a
province lists its districts, a district its communes; a choice that no longer belongs (a district of the
province changed away from) is dropped. A level fixed by the user's area is shown, not asked.
"""

from dataclasses import dataclass

from tiemchung import reference
from tiemchung.health.registry.models import User
from tiemchung.health.web.access import area_level


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


@dataclass(frozen=True)
class Cascade:
    """The three levels: the chosen code, the choices offered (empty: nothing to choose yet), and the fixed ones."""

    province_code: str
    district_code: str
    ward_code: str
    provinces: list[Choice]
    districts: list[Choice]
    wards: list[Choice]
    fixed: frozenset[str]  # levels the user's area decides: "province", "district", "ward"


def cascade(user: User, province_code: str = "", district_code: str = "", ward_code: str = "") -> Cascade:
    area = user.area_code or ""
    level = area_level(area)
    fixed = {"national": frozenset(), "province": frozenset({"province"}),
             "district": frozenset({"province", "district"}),
             "ward": frozenset({"province", "district", "ward"})}[level]  # fmt: skip
    if level != "national":
        unit = {"province": reference.province, "district": reference.district, "ward": reference.ward}[level](area)
        province_code = getattr(unit, "province_code", area[:2]) if level != "province" else area
        if level in ("district", "ward"):
            district_code = area if level == "district" else getattr(unit, "district_code", "")
        if level == "ward":
            ward_code = area
    province = reference.province(province_code) if province_code else None
    district = reference.district(district_code) if district_code else None
    if district is None or province is None or district.province_code != province.code:
        district, district_code = None, ""
    ward = reference.ward(ward_code) if ward_code and district else None
    if ward is None or district is None or ward.district_code != district.code:
        ward_code = ""
    return Cascade(
        province_code=province.code if province else "",
        district_code=district_code,
        ward_code=ward_code,
        provinces=[Choice(item.code, item.full_name) for item in reference.provinces()],
        districts=[Choice(item.code, item.full_name) for item in reference.districts(province.code)]
        if province
        else [],
        wards=[Choice(item.code, item.full_name) for item in reference.wards(district.code)] if district else [],
        fixed=fixed,
    )


def place_label(province_code: str | None, district_code: str | None, ward_code: str | None) -> str:
    """ "Phường Phúc Xá, Quận Ba Đình, Thành phố Hà Nội" from the codes (a code not in the lists as it is)."""
    parts = []
    for code, find in ((ward_code, reference.ward), (district_code, reference.district),
                       (province_code, reference.province)):  # fmt: skip
        if code:
            unit = find(code)
            parts.append(unit.full_name if unit is not None else code)
    return ", ".join(parts)
