"""The area a report covers, by its code as the rest of the platform reads one: 2 digits a province, 3 a district,
5 a ward (commune), nothing the whole country.

A district's or ward's code does not start with its province's code (Bắc Từ Liêm, district 021, lies in Hà Nội, 01):
the province is looked up in the reference data, never cut from the code.
"""

from dataclasses import dataclass

from tiemchung.reference import admin

LEVELS = {0: "national", 2: "province", 3: "district", 5: "ward"}


@dataclass(frozen=True)
class Area:
    code: str = ""  # "" for the country

    @property
    def level(self) -> str:
        return LEVELS.get(len(self.code), "ward")

    @property
    def national(self) -> bool:
        return not self.code

    @property
    def province_code(self) -> str | None:
        """The province the area lies in (None for the country, "" for an unknown unit)."""
        if self.level == "national":
            return None
        if self.level == "province":
            return self.code
        unit = admin.district(self.code) if self.level == "district" else admin.ward(self.code)
        return unit.province_code if unit else ""

    @property
    def name(self) -> str:
        """ "Bắc Từ Liêm" for 021, "toàn quốc" for the country, the code when unknown."""
        if self.national:
            return "toàn quốc"
        lookup = {"province": admin.province, "district": admin.district, "ward": admin.ward}[self.level]
        unit = lookup(self.code)
        return unit.full_name if unit else self.code

    @property
    def codes(self) -> tuple[str | None, str | None, str | None]:
        """(province, district, ward) codes of the unit, as far as it goes down: the form `web.access.covers` takes."""
        if self.level == "ward":
            ward = admin.ward(self.code)
            return (ward.province_code, ward.district_code, self.code) if ward else ("", "", self.code)
        if self.level == "district":
            return self.province_code, self.code, None
        return (self.code or None), None, None

    def children(self) -> list["Area"]:
        """The units one level below (provinces of the country, districts of a province, wards of a district)."""
        if self.national:
            return [Area(p.code) for p in admin.provinces()]
        if self.level == "province":
            return [Area(d.code) for d in admin.districts(self.code)]
        if self.level == "district":
            return [Area(w.code) for w in admin.wards(self.code)]
        return []

    def parents(self) -> list["Area"]:
        """The country and every unit above this one, top first (for a breadcrumb)."""
        chain = [Area()]
        if self.level in ("district", "ward") and self.province_code:
            chain.append(Area(self.province_code))
        if self.level == "ward":
            ward = admin.ward(self.code)
            if ward:
                chain.append(Area(ward.district_code))
        return chain

    def contains(self, other: "Area") -> bool:
        """True when `other` lies inside this area (or is it)."""
        if self.national or other.code == self.code:
            return True
        if self.level == "province":
            return other.province_code == self.code
        if self.level == "district" and other.level == "ward":
            ward = admin.ward(other.code)
            return ward is not None and ward.district_code == self.code
        return False


def known(code: str) -> bool:
    """True for "" (the country) and the code of a province, district or ward of 2021–2023."""
    if code == "":
        return True
    lookup = {2: admin.province, 3: admin.district, 5: admin.ward}.get(len(code))
    return lookup is not None and code.isdigit() and lookup(code) is not None
