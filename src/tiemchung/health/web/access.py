"""Who may see what: areas of the administrative hierarchy, role groups, ID-number masking.

A user's `area_code` is read by its length: 5 digits a ward (commune), 3 a district, 2 a province, empty the
whole country. A user sees a person only when the person's residence lies inside that area.
"""

from typing import Any

from sqlalchemy import ColumnElement, true

from tiemchung.health.registry.models import Role, User

# Roles that act on people's records in their commune (and so need the full ID number to do it).
COMMUNE_ROLES = frozenset({Role.HEALTH_STATION, Role.VILLAGE_TEAM, Role.COMMUNE_POLICE})
# Roles that supervise: they see progress and records of their area, ID numbers masked.
SUPERVISOR_ROLES = frozenset({Role.PROVINCE, Role.MINISTRY})
ROLES_SEEING_FULL_ID = frozenset({Role.FACILITY, *COMMUNE_ROLES})
# Everyone who may look a person up (the administrator manages accounts, not citizens' data).
PERSON_READERS = frozenset({Role.FACILITY, *COMMUNE_ROLES, *SUPERVISOR_ROLES})
ALL_ROLES = frozenset(Role)
# Who may correct a person's identity directly ("chỉnh sửa trực tiếp", seed 000 step 4): the commune's health station,
# and a facility (it enters people); each only inside its own area.
IDENTITY_EDITORS = frozenset({Role.HEALTH_STATION, Role.FACILITY})


def area_level(area_code: str) -> str:
    """'national', 'province', 'district' or 'ward' from the length of the code."""
    return {0: "national", 2: "province", 3: "district", 5: "ward"}.get(len(area_code or ""), "ward")


def covers(
    user: User, *, province_code: str | None = None, district_code: str | None = None, ward_code: str | None = None
) -> bool:
    """True when the place (any of its codes may be missing) lies inside the user's area.

    A place whose code at the user's level is unknown is outside every area except the national one: a record
    without an address must not leak into every commune's lists.
    """
    area = user.area_code or ""
    expected = {"national": None, "province": province_code, "district": district_code, "ward": ward_code}[
        area_level(area)
    ]
    return area == "" or expected == area


def mask_id_number(id_number: str | None, user: User) -> str:
    """The ID number as the user may see it: whole for roles that correct records, else only its last 3 digits."""
    if not id_number:
        return ""
    if user.role in ROLES_SEEING_FULL_ID:
        return id_number
    return "•" * max(len(id_number) - 3, 0) + id_number[-3:]


def area_clause(user: User, province_column: Any, district_column: Any, ward_column: Any) -> ColumnElement[bool]:
    """The SQL condition "inside the user's area" over the given columns (all rows for a national user)."""
    column = {"national": None, "province": province_column, "district": district_column, "ward": ward_column}[
        area_level(user.area_code or "")
    ]
    return true() if column is None else column == user.area_code
