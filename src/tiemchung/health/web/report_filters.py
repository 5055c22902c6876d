"""The filters every report takes (area, period, unit) and the area rule the lists use, applied to reports.

The area is chosen from cascading lists (province → district → commune): the deepest choice consistent with the one
above it (a district left over from another province is ignored). A user may choose their own area, anything inside
it, or a unit above it (which changes nothing: a district's account keeps its district). A unit outside their area is
refused (403) by `deps.ensure_in_area`, the check the subject pages use; the district of an account is never cut from
its code (021 is in Hà Nội, not in province 02).
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException

from tiemchung.health.reconciliation.area import Area, known
from tiemchung.health.registry.models import User
from tiemchung.health.web.deps import ensure_in_area
from tiemchung.reference import admin

LEVEL_PARAMETERS = (("province", 2, "Tỉnh/thành phố"), ("district", 3, "Quận/huyện"), ("ward", 5, "Xã/phường"))
UNITS = (("facility", "Theo cơ sở tiêm"), ("province", "Theo tỉnh"))


@dataclass(frozen=True)
class Filters:
    province: str = ""
    district: str = ""
    ward: str = ""
    since: date | None = None  # doses given from this day
    as_of: date | None = None  # ... up to this day (the reported figures' date in appendix 1)
    by: str = "facility"  # appendix 2's unit: facility or province

    def codes(self) -> list[tuple[str, str]]:
        return [(name, getattr(self, name)) for name, _, _ in LEVEL_PARAMETERS if getattr(self, name)]


def _date(text: str | None, label: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        day, month, year = (int(part) for part in text.split("/"))
        return date(year, month, day)
    except ValueError:
        raise HTTPException(
            status_code=422, detail=f"{label} “{text}” không đúng dạng ngày (dd/mm/yyyy hoặc yyyy-mm-dd)."
        ) from None


def report_filters(
    province: str | None = None,
    district: str | None = None,
    ward: str | None = None,
    since: str | None = None,
    as_of: str | None = None,
    by: str = "facility",
) -> Filters:
    """The query parameters of every report, checked: codes of the right length that exist, dates, the unit."""
    codes = {"province": province or "", "district": district or "", "ward": ward or ""}
    for name, length, label in LEVEL_PARAMETERS:
        code = codes[name].strip()
        codes[name] = code
        if code and (len(code) != length or not known(code)):
            raise HTTPException(status_code=422, detail=f"{label}: không có đơn vị hành chính nào mã “{code}”.")
    if by not in dict(UNITS):
        raise HTTPException(status_code=422, detail="Đơn vị tổng hợp phải là “facility” hoặc “province”.")
    start, end = _date(since, "Từ ngày"), _date(as_of, "Đến ngày")
    if start and end and start > end:
        raise HTTPException(status_code=422, detail="“Từ ngày” phải trước hoặc bằng “đến ngày”.")
    return Filters(codes["province"], codes["district"], codes["ward"], start, end, by)


ReportFilters = Annotated[Filters, Depends(report_filters)]


def chosen_area(user: User, filters: Filters) -> Area:
    """The area the report covers: the user's own, narrowed by the lists' choices (403 outside the user's area)."""
    own = Area(user.area_code or "")
    area = own
    for _name, code in filters.codes():
        candidate = Area(code)
        if candidate.contains(own):
            continue  # the user's own unit or one above it: nothing narrower
        province_code, district_code, ward_code = candidate.codes
        ensure_in_area(user, province_code=province_code, district_code=district_code, ward_code=ward_code)
        if not area.contains(candidate):
            break  # left over from an earlier choice in another unit
        area = candidate
    return area


@dataclass(frozen=True)
class Choice:
    parameter: str
    label: str
    options: list[tuple[str, str]]  # (code, name)
    selected: str
    fixed: bool  # the user's own unit or one above it: shown, not changeable


def area_choices(user: User, area: Area) -> list[Choice]:
    """The three lists (province, district, ward) for a user and the area shown: at and above the user's own level
    one fixed unit; below it the units of the level above, the shown one selected."""
    own = Area(user.area_code or "")
    chain = {len(unit.code): unit.code for unit in [*area.parents(), area] if unit.code}
    choices = []
    parent = ""
    for parameter, length, label in LEVEL_PARAMETERS:
        selected = chain.get(length, "")
        fixed = bool(selected) and Area(selected).contains(own) and not own.national
        if fixed:
            options = [(selected, Area(selected).name)]
        elif length == 2:
            options = [(p.code, p.name) for p in admin.provinces()]
        elif parent:
            options = [(child.code, child.name) for child in Area(parent).children()]
        else:
            options = []
        choices.append(Choice(parameter, label, options, selected, fixed))
        parent = selected
        if not selected:
            parent = ""
    return choices
