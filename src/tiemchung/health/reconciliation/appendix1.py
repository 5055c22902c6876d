"""Appendix 1 of seed 001: per province, doses reported to the institute (c–m, n), entered (o), gap (p), review (q).

Reported figures come from `ReportedFigures`; entered doses come from the registry through one SQL
statement run on whichever engine holds the data: on the registry database, the sum of the summary its triggers
maintain (`queries.summarised_cells`: a row per province, age group, dose kind and day, however many doses); on
DuckDB over Parquet, a count of every dose (`queries.entered_cells`). Every total is the sum of the rows, and
every inconsistency (a typed total that is not the sum of its cells, an entered count above the
reported one, a province that did not report, doses whose province is unknown) is listed as a finding.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.queries import entered_cells, summarised_cells, summary_covers
from tiemchung.health.reconciliation.reported import ReportedFigures
from tiemchung.health.reconciliation.sources import Source
from tiemchung.health.reconciliation.text import fmt
from tiemchung.reference import DoseKind, provinces

UNKNOWN_PROVINCE = ""
UNKNOWN_PROVINCE_NAME = "Không rõ tỉnh/thành phố"


@dataclass(frozen=True)
class Appendix1Row:
    tt: int | None  # None for the unknown-province row
    province_code: str
    province_name: str
    reported: tuple[int, ...]  # columns c–m
    has_report: bool
    stated_total: int | None  # column n as the province typed it
    entered_cells: tuple[int, ...]  # the registry's doses in the c–m cells
    entered_outside: int  # entered doses of other ages or doses (counted in o, shown apart)
    review: str = ""

    @property
    def reported_total(self) -> int:  # n = c+…+m
        return sum(self.reported)

    @property
    def entered(self) -> int:  # o
        return sum(self.entered_cells) + self.entered_outside

    @property
    def gap(self) -> int:  # p = n − o
        return self.reported_total - self.entered

    def findings(self, expect_report: bool = True) -> list[str]:
        name = self.province_name
        found = []
        if self.stated_total is not None and self.stated_total != self.reported_total:
            found.append(
                f"{name}: tổng ghi trong báo cáo (n) là {fmt(self.stated_total)} nhưng c+…+m = "
                f"{fmt(self.reported_total)} (lệch {fmt(self.stated_total - self.reported_total)})."
            )
        if expect_report and not self.has_report and self.tt is not None:
            found.append(f"{name}: chưa có báo cáo tổng hợp; {fmt(self.entered)} mũi đã nhập chưa được đối chiếu.")
        elif self.has_report and self.gap < 0:
            found.append(f"{name}: số mũi đã nhập vượt số báo cáo {fmt(-self.gap)} mũi (chênh lệch âm).")
        for (age_group, dose_kind), reported, entered in zip(CELL_KEYS, self.reported, self.entered_cells, strict=True):
            if self.has_report and entered > reported:
                found.append(
                    f"{name}: nhóm {age_group} tuổi, {DoseKind(dose_kind).label_vi}: đã nhập {fmt(entered)} > "
                    f"báo cáo {fmt(reported)}."
                )
        if self.tt is None and self.entered:
            found.append(f"{fmt(self.entered)} mũi đã nhập không xác định được tỉnh/thành phố (dòng riêng).")
        return found


@dataclass(frozen=True)
class StatedNational:
    """National figures a letter states in its text (seed 001: given, entered, not entered)."""

    doses_given: int | None = None
    doses_entered: int | None = None
    doses_not_entered: int | None = None


@dataclass
class Appendix1Report:
    as_of: date | None
    rows: list[Appendix1Row]
    stated: StatedNational = field(default_factory=StatedNational)
    import_findings: list[str] = field(default_factory=list)

    def total(self) -> Appendix1Row:
        """The national line: the sum of the rows, column by column."""
        return Appendix1Row(
            tt=None,
            province_code="",
            province_name="Tổng cộng",
            reported=tuple(sum(column) for column in zip(*(r.reported for r in self.rows), strict=True)),
            has_report=any(r.has_report for r in self.rows),
            stated_total=None,
            entered_cells=tuple(sum(column) for column in zip(*(r.entered_cells for r in self.rows), strict=True)),
            entered_outside=sum(r.entered_outside for r in self.rows),
        )

    def findings(self) -> list[str]:
        found = list(self.import_findings)
        any_report = any(row.has_report for row in self.rows)
        if not any_report:
            found.append("Chưa có số liệu báo cáo tổng hợp của tỉnh nào cho kỳ này: cột n để trống.")
        for row in self.rows:
            found.extend(row.findings(expect_report=any_report))
        found.extend(self._national_findings())
        return found

    def _national_findings(self) -> list[str]:
        total = self.total()
        found = []
        given, entered, not_entered = self.stated.doses_given, self.stated.doses_entered, self.stated.doses_not_entered
        if given is not None and given != total.reported_total:
            found.append(
                f"Tổng số mũi đã tiêm nêu trong văn bản ({fmt(given)}) khác tổng cột n của các tỉnh "
                f"({fmt(total.reported_total)}): lệch {fmt(given - total.reported_total)}."
            )
        if given is not None and entered is not None and not_entered is not None and given != entered + not_entered:
            found.append(
                f"Số mũi đã tiêm ({fmt(given)}) khác số đã nhập ({fmt(entered)}) cộng số chưa nhập "
                f"({fmt(not_entered)}): {fmt(given - entered - not_entered)} mũi không được giải thích."
            )
        return found


def build_appendix1(
    source: Source,
    reported: ReportedFigures,
    *,
    as_of: date | None = None,
    area: Area | None = None,
    stated: StatedNational | None = None,
    since: date | None = None,
) -> Appendix1Report:
    """The report for every province (or the one `area` lies in, counting the doses inside `area` only), with a
    row for doses whose province is unknown."""
    entered = entered_by_province(source, as_of, area, since)
    province_code = area.province_code if area is not None else None
    return assemble_appendix1(reported, entered, as_of=as_of, province_code=province_code, stated=stated)


def assemble_appendix1(
    reported: ReportedFigures,
    entered: dict[str, dict[tuple[str, str], int]],
    *,
    as_of: date | None = None,
    province_code: str | None = None,
    stated: StatedNational | None = None,
) -> Appendix1Report:
    """The report from reported figures and entered doses by province and (age group, dose kind)."""
    remaining = dict(entered)
    known = {p.code: p.name for p in provinces()}
    codes = [code for code in known if province_code is None or code == province_code]
    rows = [_row(tt, code, known[code], reported, remaining.pop(code, {})) for tt, code in enumerate(codes, start=1)]
    unknown: dict[tuple[str, str], int] = defaultdict(int)
    for cells in remaining.values():  # provinces outside the 63 codes, and doses with no province at all
        for key, count in cells.items():
            unknown[key] += count
    rows.append(_row(None, UNKNOWN_PROVINCE, UNKNOWN_PROVINCE_NAME, reported, unknown))
    findings = list(reported.findings)
    for code in sorted(reported.provinces() - set(known)):
        findings.append(f"Mã tỉnh “{code}” trong số liệu báo cáo không thuộc 63 tỉnh/thành phố.")
    return Appendix1Report(as_of=as_of, rows=rows, stated=stated or StatedNational(), import_findings=findings)


def entered_by_province(
    source: Source, as_of: date | None, area: Area | None, since: date | None = None
) -> dict[str, dict[tuple[str, str], int]]:
    entered: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    cells = summarised_cells if source.summarised and summary_covers(area) else entered_cells
    for code, age_group, dose_kind, count in source.rows(cells(as_of, area, since)):
        entered[code or UNKNOWN_PROVINCE][(age_group, dose_kind)] = int(count)
    return entered


def _row(
    tt: int | None,
    code: str,
    name: str,
    reported: ReportedFigures,
    entered: dict[tuple[str, str], int],
) -> Appendix1Row:
    cells = reported.cells.get(code, {})
    return Appendix1Row(
        tt=tt,
        province_code=code,
        province_name=name,
        reported=tuple(cells.get(key, 0) for key in CELL_KEYS),
        has_report=code in reported.cells,
        stated_total=reported.stated_totals.get(code),
        entered_cells=tuple(entered.get(key, 0) for key in CELL_KEYS),
        entered_outside=sum(count for key, count in entered.items() if key not in CELL_KEYS),
        review=reported.reviews.get(code, ""),
    )
