"""The subject search shared by the page and the API: by ID number, or by any words of the name, filtered and paged.

Everything typed is optional and nothing typed is an error of the request: a birth year that is not a year is
said next to its box, and the rest of the search still runs. Every query is answered from an index (the ID
columns, the name's full-text index of `tiemchung.health.registry.name_search`, the area columns), so a district of
50,000 people or a registry of a million answers as fast as a commune.
"""

import math
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from tiemchung import identity, reference
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Subject, User
from tiemchung.health.registry.name_search import registration_order, search_words, with_name_words
from tiemchung.health.web.access import area_clause, area_level, covers
from tiemchung.interchange.results import Category

PAGE_SIZE = 50
# Counting stops here: "more than 1,000" says enough, and counting a common family name among millions does not.
COUNT_CAP = 1_000
NOT_YET = "NOT_YET"
STATES = {**{item.value: item.label_vi for item in Category}, NOT_YET: "Chưa xác minh"}


@dataclass(frozen=True)
class SearchQuery:
    """What the user typed and chose; every field may be empty."""

    text: str = ""
    birth_year: str = ""
    province_code: str = ""
    district_code: str = ""
    ward_code: str = ""
    state: str = ""
    page: int = 1

    def empty_for(self, user: User) -> bool:
        """Nothing typed and no place chosen narrower than the user's own area (which the form sends as fixed)."""
        area = len(user.area_code or "")
        places = (self.province_code, self.district_code, self.ward_code)
        return not self.text.strip() and not any(len(code) > area for code in places if code)


@dataclass
class SearchResult:
    subjects: list[Subject] = field(default_factory=list)
    total: int = 0
    page: int = 1
    message: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field name -> what is wrong with it
    entry_order: bool = False  # listed in the order they entered the registry, not by name (too many to sort)

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP

    @property
    def pages(self) -> int:
        return max(1, math.ceil(min(self.total, COUNT_CAP) / PAGE_SIZE))


@dataclass
class _Filter:
    """The search as SQL: conditions on `subjects`, and the name words the full-text index answers."""

    conditions: list[ColumnElement[bool]]
    words: list[str] = field(default_factory=list)
    in_commune: bool = False  # a commune's people only: its index is read first (name_search.with_name_words)

    def applied[*Ts](self, statement: Select[*Ts], dialect: str) -> Select[*Ts]:
        statement = statement.where(*self.conditions)
        if not self.words:
            return statement
        return with_name_words(statement, self.words, dialect, small_place=self.in_commune)


def search(session: Session, user: User, query: SearchQuery) -> SearchResult:
    """The page of subjects of the user's area matching `query` (the read is audited)."""
    result = SearchResult(page=max(1, query.page))
    found = _filter(user, query, result)
    if found is None:
        return result
    dialect = session.get_bind().dialect.name
    counted = found.applied(select(Subject.id), dialect).limit(COUNT_CAP + 1).subquery()
    result.total = session.scalar(select(func.count()).select_from(counted)) or 0
    result.page = min(result.page, result.pages)
    # Name order, except for name words matching beyond the cap (a common family name in a province): then
    # registration order, which the full-text index gives without sorting hundreds of thousands of rows per page.
    # A place filter alone keeps name order: the indexes (district_code, name_folded) and (verification_category,
    # district_code, name_folded) give it unsorted.
    result.entry_order = result.capped and bool(found.words)
    order = (
        (registration_order(dialect, small_place=found.in_commune),)
        if result.entry_order
        else (Subject.name_folded, Subject.id)
    )
    page = found.applied(select(Subject), dialect).order_by(*order)
    result.subjects = list(session.scalars(page.limit(PAGE_SIZE).offset((result.page - 1) * PAGE_SIZE)))
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="search",
        entity="subject",
        reason="Tra cứu đối tượng",
        detail={"results": [subject.id for subject in result.subjects]},
    )
    if not result.subjects:
        result.message = "Không tìm thấy đối tượng nào trên địa bàn của bạn."
    return result


def _filter(user: User, query: SearchQuery, result: SearchResult) -> _Filter | None:
    found = _Filter([_area_or_place(user, query)], in_commune=_in_commune(user, query))
    birth_year = _birth_year(query.birth_year, result)
    text = query.text.strip()
    if text:
        typed = _typed(text)
        if typed is None:
            result.message = "Nhập số CCCD/CMND (9 hoặc 12 chữ số), hoặc ít nhất 2 chữ cái của họ tên."
            return None
        if isinstance(typed, list):
            found.words = typed
            birth_year = birth_year or _year_among(text)
        else:
            found.conditions.append(typed)
    elif query.empty_for(user):
        result.message = "Nhập số CCCD/CMND hoặc họ tên (có thể gõ không dấu), hoặc chọn một địa bàn."
        return None
    if birth_year is not None:
        found.conditions.append(Subject.birth_year == birth_year)
    if query.state == NOT_YET:
        found.conditions.append(Subject.verification_category.is_(None))
    elif query.state in STATES:
        found.conditions.append(Subject.verification_category == query.state)
    return found


def _in_commune(user: User, query: SearchQuery) -> bool:
    """Whether the search is kept to one commune: the user's area, or a commune chosen in the form."""
    return area_level(user.area_code or "") == "ward" or bool(query.ward_code and reference.ward(query.ward_code))


def _area_or_place(user: User, query: SearchQuery) -> ColumnElement[bool]:
    """The chosen place when it lies inside the user's area, else the area (a place outside it finds no one).

    The place alone, not the place and the area: next to `province_code = ?`, SQLite's planner (without ANALYZE
    statistics) walked the province's index — a million rows — instead of the district's (benchmarks/bench_pages.py).
    """
    area = area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code)
    for code, find, column in ((query.ward_code, reference.ward, Subject.ward_code),
                               (query.district_code, reference.district, Subject.district_code),
                               (query.province_code, reference.province, Subject.province_code)):  # fmt: skip
        unit = find(code) if code else None
        if unit is None:
            continue
        place = {"province_code": getattr(unit, "province_code", unit.code),
                 "district_code": getattr(unit, "district_code", code if column is Subject.district_code else None),
                 "ward_code": code if column is Subject.ward_code else None}  # fmt: skip
        return column == unit.code if covers(user, **place) else and_(area, column == unit.code)
    return area


def _typed(text: str) -> ColumnElement[bool] | list[str] | None:
    """What was typed in the one box: an ID number (its condition), or name words (a 4-digit year among them is
    read as the birth year: "nguyen thoai 1980"); None when it is neither."""
    digits = text.replace(" ", "").replace(".", "")
    if digits.isdigit() and 8 <= len(digits) <= 12:
        check = identity.check_id_number(digits)
        typed = [Subject.id_number_raw == text, Subject.id_number_raw == digits]
        if check.value:
            typed.append(Subject.id_number == check.value)
        # As a subquery: next to the area's equality, SQLite's planner (without ANALYZE statistics) would walk the
        # province's index — a million rows — instead of the ID indexes (measured: benchmarks/bench_pages.py).
        return Subject.id.in_(select(Subject.id).where(or_(*typed)))
    words = [word for word in search_words(identity.fold_name(text)) if not word.isdigit()]
    if not words or sum(len(word) for word in words) < 2:
        return None
    return words


def _year_among(text: str) -> int | None:
    years = [int(word) for word in search_words(identity.fold_name(text)) if word.isdigit() and len(word) == 4]
    return next((year for year in years if 1900 <= year <= 2100), None)


def _birth_year(text: str, result: SearchResult) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit() and 1900 <= int(text) <= 2100:
        return int(text)
    result.errors["birth_year"] = "Năm sinh gồm 4 chữ số, ví dụ 1980 (có thể để trống)."
    return None
