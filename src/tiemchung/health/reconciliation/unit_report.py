"""Appendix 2 of seed 001: per unit, doses given, entered and not entered (by reason group), and the follow-up.

What a unit reports (doses not entered per reason group, with its reasons; doses verified but impossible
to enter) lives in `UnitReport`; everything else is computed from the registry by one SQL statement
(`queries.unit_counts`): doses entered, doses entered late per reason group (`Dose.reason_group`, or the
late-entry batch's `ImportBatch.reason_group`) split by the subject's verification result, duplicates and
doses needing correction. Doses given is entered + not entered, so it always adds up; a unit's own figure
for doses given, when it differs, is listed as an unexplained gap.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.models import UnitReport
from tiemchung.health.reconciliation.queries import unit_counts
from tiemchung.health.reconciliation.reported import cell_number
from tiemchung.health.reconciliation.sources import Source
from tiemchung.health.reconciliation.text import fmt
from tiemchung.health.registry.models import Facility
from tiemchung.interchange.results import Category
from tiemchung.reference import ReasonGroup, find_province, provinces

GROUPS: tuple[str, ...] = tuple(group.value for group in ReasonGroup)
VERIFIED_CATEGORIES = {Category.VERIFIED.value, Category.NO_ID_VERIFIED.value}


@dataclass
class UnitReported:
    """What one unit reported: doses not entered by group, verified but not enterable, reasons, its own total."""

    name: str = ""
    province_code: str | None = None
    not_entered: dict[str, int] = field(default_factory=dict)
    verified_not_enterable: int = 0
    reasons: list[str] = field(default_factory=list)
    stated_given: int | None = None


@dataclass(frozen=True)
class UnitRow:
    tt: int | None
    unit_code: str
    unit_name: str
    entered: int
    not_entered: tuple[int, ...]  # by GROUPS
    reasons: str
    stated_given: int | None
    verified_entered: tuple[int, ...]  # doses entered late and verified, by GROUPS
    verified_not_enterable: int
    not_verifiable: int
    duplicates: int
    needing_correction: int

    @property
    def not_entered_total(self) -> int:
        return sum(self.not_entered)

    @property
    def given(self) -> int:
        return self.entered + self.not_entered_total

    def findings(self) -> list[str]:
        if self.stated_given is None or self.stated_given == self.given:
            return []
        return [
            f"{self.unit_name}: báo cáo {fmt(self.stated_given)} mũi đã tiêm, nhưng đã nhập ({fmt(self.entered)}) "
            f"+ chưa nhập ({fmt(self.not_entered_total)}) = {fmt(self.given)}: "
            f"{fmt(self.stated_given - self.given)} mũi không được giải thích."
        ]


@dataclass
class UnitReportTable:
    as_of: date | None
    by_facility: bool
    rows: list[UnitRow]

    def total(self) -> UnitRow:
        def column(attribute: str) -> int:
            return sum(getattr(row, attribute) for row in self.rows)

        def columns(attribute: str) -> tuple[int, ...]:
            return tuple(sum(values) for values in zip(*(getattr(r, attribute) for r in self.rows), strict=True))

        stated = [row.stated_given for row in self.rows if row.stated_given is not None]
        return UnitRow(
            tt=None,
            unit_code="",
            unit_name="Tổng cộng",
            entered=column("entered"),
            not_entered=columns("not_entered") if self.rows else (0,) * len(GROUPS),
            reasons="",
            stated_given=sum(stated) if len(stated) == len(self.rows) and stated else None,
            verified_entered=columns("verified_entered") if self.rows else (0,) * len(GROUPS),
            verified_not_enterable=column("verified_not_enterable"),
            not_verifiable=column("not_verifiable"),
            duplicates=column("duplicates"),
            needing_correction=column("needing_correction"),
        )

    def findings(self) -> list[str]:
        return [finding for row in self.rows for finding in row.findings()]


@dataclass
class _Computed:
    province_code: str = ""
    entered: int = 0
    verified_entered: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    not_verifiable: int = 0
    duplicates: int = 0
    needing_correction: int = 0


def build_unit_report(
    source: Source,
    reported: dict[str, UnitReported],
    *,
    by_facility: bool,
    as_of: date | None = None,
    area: Area | None = None,
    unit_names: dict[str, str] | None = None,
    since: date | None = None,
) -> UnitReportTable:
    """One row per unit that has doses in the registry or a report; units are facilities or provinces.
    `unit_names` names the facilities of `area`; below a province, only their reports are shown."""
    computed = _computed(source, by_facility, as_of, area, since)
    names = dict(unit_names or {})
    if not by_facility:
        names.update({p.code: p.name for p in provinces()})
    in_scope = _reported_in_area(reported, area, set(unit_names or {}))
    codes = sorted(set(computed) | set(in_scope))
    rows = [
        _row(tt, code, names.get(code) or in_scope.get(code, UnitReported()).name or code, computed, in_scope)
        for tt, code in enumerate(codes, start=1)
    ]
    return UnitReportTable(as_of=as_of, by_facility=by_facility, rows=rows)


def _reported_in_area(
    reported: dict[str, UnitReported], area: Area | None, facilities: set[str]
) -> dict[str, UnitReported]:
    """The units' own reports that belong to `area`: a province's and its facilities' for a province; below a
    province only the facilities of the area (a province's report cannot be split among its districts)."""
    if area is None or area.national:
        return dict(reported)
    if area.level == "province":
        return {
            code: unit
            for code, unit in reported.items()
            if unit.province_code in (None, area.code) or code == area.code
        }
    return {code: unit for code, unit in reported.items() if code in facilities}


def _computed(
    source: Source, by_facility: bool, as_of: date | None, area: Area | None, since: date | None
) -> dict[str, _Computed]:
    units: dict[str, _Computed] = defaultdict(_Computed)
    for unit, province, group, category, is_duplicate, count in source.rows(
        unit_counts(by_facility, as_of, area, since)
    ):
        entry = units[unit or ""]
        entry.province_code = province or entry.province_code
        doses = int(count)
        if int(is_duplicate):
            entry.duplicates += doses
            continue
        entry.entered += doses
        if category == Category.NO_ID_UNVERIFIABLE:
            entry.not_verifiable += doses
        elif category == Category.MISMATCH:
            entry.needing_correction += doses
        if group and category in VERIFIED_CATEGORIES:
            entry.verified_entered[group if group in GROUPS else ReasonGroup.OTHER.value] += doses
    return units


def _row(tt: int, code: str, name: str, computed: dict[str, _Computed], reported: dict[str, UnitReported]) -> UnitRow:
    mine = computed.get(code, _Computed())
    theirs = reported.get(code, UnitReported())
    return UnitRow(
        tt=tt,
        unit_code=code,
        unit_name=name,
        entered=mine.entered,
        not_entered=tuple(theirs.not_entered.get(group, 0) for group in GROUPS),
        reasons="; ".join(dict.fromkeys(reason for reason in theirs.reasons if reason)),
        stated_given=theirs.stated_given,
        verified_entered=tuple(mine.verified_entered.get(group, 0) for group in GROUPS),
        verified_not_enterable=theirs.verified_not_enterable,
        not_verifiable=mine.not_verifiable,
        duplicates=mine.duplicates,
        needing_correction=mine.needing_correction,
    )


def load_unit_reports(session: Session, as_of: date) -> dict[str, UnitReported]:
    units: dict[str, UnitReported] = defaultdict(UnitReported)
    for row in session.scalars(select(UnitReport).where(UnitReport.as_of == as_of)):
        unit = units[row.unit_code]
        unit.name = unit.name or row.unit_name
        unit.province_code = unit.province_code or row.province_code
        unit.not_entered[row.reason_group] = unit.not_entered.get(row.reason_group, 0) + row.doses_not_entered
        unit.verified_not_enterable += row.verified_not_enterable
        unit.reasons.append(row.reasons)
        if row.stated_doses_given is not None:
            unit.stated_given = row.stated_doses_given
    return dict(units)


def latest_unit_as_of(session: Session) -> date | None:
    return session.scalars(select(UnitReport.as_of).order_by(UnitReport.as_of.desc()).limit(1)).first()


def store_unit_reports(session: Session, units: dict[str, UnitReported], as_of: date, source: str) -> int:
    """Replace the stored reports of these units for `as_of`; returns the number of (unit, group) rows."""
    session.execute(delete(UnitReport).where(UnitReport.as_of == as_of, UnitReport.unit_code.in_(list(units))))
    stored = 0
    for code, unit in units.items():
        groups = set(unit.not_entered) or {ReasonGroup.OTHER.value}
        for index, group in enumerate(sorted(groups, key=_group_order)):
            first = index == 0  # unit-wide figures are kept once, on the unit's first row
            session.add(
                UnitReport(
                    unit_code=code,
                    unit_name=unit.name,
                    province_code=unit.province_code,
                    reason_group=group,
                    doses_not_entered=unit.not_entered.get(group, 0),
                    verified_not_enterable=unit.verified_not_enterable if first else 0,
                    reasons="; ".join(unit.reasons) if first else "",
                    stated_doses_given=unit.stated_given if first else None,
                    as_of=as_of,
                    source=source,
                )
            )
            stored += 1
    return stored


def _group_order(group: str) -> int:
    return GROUPS.index(group) if group in GROUPS else len(GROUPS)


def read_synth_gaps(path: Path) -> dict[str, UnitReported]:
    """Doses not entered per province and reason group from the synthetic `gaps.parquet`
    (province_code, age_group, dose_kind, reason_group, doses_not_entered): one unit per province."""
    import pyarrow.parquet as pq

    units: dict[str, UnitReported] = defaultdict(UnitReported)
    for row in pq.read_table(path, columns=["province_code", "reason_group", "doses_not_entered"]).to_pylist():
        code = str(row["province_code"])
        unit = units[code]
        unit.province_code = code
        group = str(row["reason_group"])
        unit.not_entered[group] = unit.not_entered.get(group, 0) + int(row["doses_not_entered"] or 0)
    return dict(units)


def facility_names(session: Session, area: Area | None = None) -> dict[str, str]:
    query = select(Facility.code, Facility.name)
    if area is not None and not area.national:
        query = query.where(getattr(Facility, f"{area.level}_code") == area.code)
    return {code: name for code, name in session.execute(query)}


def read_unit_workbook(
    path: Path, facility_codes_by_name: dict[str, str] | None = None
) -> tuple[dict[str, UnitReported], list[str]]:
    """Units' answers from a workbook in the appendix-2 layout (section I): (units by code, findings).

    The header row is the one whose second cell reads "Tên đơn vị"; the seven columns after "đã nhập" are the
    reason groups 1–6 and other, then the reasons. A unit is a province when `find_province` knows its name,
    else a facility found by name in `facility_codes_by_name`; an unknown unit is kept under its name, with a
    finding. Numbers may be numeric cells or text such as `1.234`.
    """
    from openpyxl import load_workbook

    findings: list[str] = []
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged or non-xlsx file
        return {}, [f"Không đọc được tệp {path.name}: {type(error).__name__}."]
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    header = next((i for i, row in enumerate(rows) if len(row) > 1 and str(row[1] or "").strip() == "Tên đơn vị"), None)
    if header is None:
        return {}, ["Không tìm thấy dòng tiêu đề “Tên đơn vị” của Phụ lục 2."]
    units: dict[str, UnitReported] = {}
    for line, row in enumerate(rows[header + 2 :], start=header + 3):
        cells = [*row, *([None] * (5 + len(GROUPS)))]
        name = str(cells[1] or "").strip()
        if cell_number(cells[0]) is None or not name:
            if units:
                break  # the table of section I ends at its first non-numbered row (its total)
            continue
        province = find_province(name)
        code = province.code if province else (facility_codes_by_name or {}).get(name)
        if code is None:
            findings.append(f"Dòng {line}: không nhận ra đơn vị “{name}”, giữ theo tên.")
            code = name
        units[code] = UnitReported(
            name=name,
            province_code=province.code if province else None,
            not_entered={g: cell_number(cells[4 + i]) or 0 for i, g in enumerate(GROUPS)},
            reasons=[str(cells[4 + len(GROUPS)] or "").strip()],
            stated_given=cell_number(cells[2]),
        )
    return units, findings
