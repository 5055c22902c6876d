"""Whose records an import may touch: the uploader's facility and area.

A facility's or a station's upload reuses keys that the whole country shares (`subject_id`, `record_id`), so a row
could otherwise rename, move or re-attribute anybody's person or dose. The importer asks this scope, for every row,
whether the subject and dose it would write (and the ones already stored under its keys) are the uploader's.
"""

from dataclasses import dataclass

from tiemchung import reference

# Lengths of an area code: 2 digits a province, 3 a district, 5 a ward (commune); empty the whole country.
_AREA_LEVEL = {0: None, 2: 0, 3: 1, 5: 2}


@dataclass(frozen=True, slots=True)
class ImportScope:
    """`facility_code`: only this facility's doses and subjects (None: any facility). `area_code`: only people
    living in this area (2, 3 or 5 digits; "" for the whole country). The command line's import without
    `--facility` is unscoped; the web always scopes by the logged-in account."""

    facility_code: str | None = None
    area_code: str = ""

    @property
    def unscoped(self) -> bool:
        return self.facility_code is None and not self.area_code

    def covers(self, province_code: str | None, district_code: str | None, ward_code: str | None) -> bool:
        """True when a residence lies in the area. A residence without the code of the area's level is outside
        every area but the whole country's."""
        level = _AREA_LEVEL.get(len(self.area_code))
        if level is None:
            return True
        return (province_code, district_code, ward_code)[level] == self.area_code

    def owns(self, facility_code: str | None, province_code: str | None, district_code: str | None,
             ward_code: str | None) -> bool:  # fmt: skip
        """True when a stored subject or dose (its facility, its person's residence) is the uploader's."""
        if self.facility_code is not None and facility_code != self.facility_code:
            return False
        return self.covers(province_code, district_code, ward_code)

    def area_label(self) -> str:

        unit = {2: reference.province, 3: reference.district, 5: reference.ward}.get(len(self.area_code))
        found = unit(self.area_code) if unit else None
        name = getattr(found, "full_name", None) or getattr(found, "name", None)
        return f"{name} ({self.area_code})" if name else self.area_code
