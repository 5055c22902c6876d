"""Figures for the dashboards, always restricted to the user's area and broken down one level below it."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tiemchung.health.registry.models import Subject, User
from tiemchung.health.web.access import area_clause, area_level
from tiemchung.interchange.results import Category
from tiemchung.reference import admin

NOT_YET = "NOT_YET"
CATEGORY_ORDER: tuple[str, ...] = (*(category.value for category in Category), NOT_YET)
CATEGORY_LABELS: dict[str, str] = {
    **{category.value: category.label_vi for category in Category},
    NOT_YET: "Chưa xác minh",
}


@dataclass(frozen=True)
class StatusTable:
    """Subjects per unit (rows) and verification category (columns, in `CATEGORY_ORDER`)."""

    level_label: str
    rows: list[tuple[str, list[int]]]

    @property
    def totals(self) -> list[int]:
        return [sum(values[index] for _, values in self.rows) for index in range(len(CATEGORY_ORDER))]

    @property
    def series(self) -> list[str]:
        return [CATEGORY_LABELS[category] for category in CATEGORY_ORDER]

    @property
    def named_rows(self) -> list[tuple[str, list[int]]]:
        return [(unit_name(code), values) for code, values in self.rows]


def breakdown_column(user: User) -> tuple[Any, str]:
    """The column one level below the user's area: provinces for the ministry, districts for a province..."""
    level = area_level(user.area_code or "")
    return {
        "national": (Subject.province_code, "Tỉnh/thành phố"),
        "province": (Subject.district_code, "Quận/huyện"),
        "district": (Subject.ward_code, "Xã/phường"),
        "ward": (Subject.ward_code, "Xã/phường"),
    }[level]


def verification_status(session: Session, user: User) -> StatusTable:
    column, label = breakdown_column(user)
    category = func.coalesce(Subject.verification_category, NOT_YET)
    query = (
        select(column, category, func.count())
        .where(area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code))
        .group_by(column, category)
    )
    counts: dict[str, list[int]] = {}
    for unit, category_value, count in session.execute(query):
        values = counts.setdefault(unit or "?", [0] * len(CATEGORY_ORDER))
        if category_value in CATEGORY_ORDER:
            values[CATEGORY_ORDER.index(category_value)] += count
    return StatusTable(label, sorted(counts.items()))


def area_name(code: str) -> str:
    """ "Phường Phúc Xá" for an account's area: the unit's full name, as people say it; the code when unknown."""

    lookup = {2: admin.province, 3: admin.district, 5: admin.ward}.get(len(code or ""))
    unit = lookup(code) if lookup else None
    return unit.full_name if unit else code


def unit_name(code: str) -> str:
    """ "Ba Đình (001)" for a province, district or ward code of 2021–2023; the code alone when unknown."""

    lookup = {2: admin.province, 3: admin.district, 5: admin.ward}.get(len(code or ""))
    unit = lookup(code) if lookup else None
    return f"{unit.name} ({code})" if unit else (code or "?")
