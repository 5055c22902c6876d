"""Assemble the reports from a data source and the stored reported figures; used by the CLI and the web."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.reconciliation.appendix1 import Appendix1Report, StatedNational, build_appendix1
from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.dashboard import MonthPoint, ProgressPoint, UnitRate
from tiemchung.health.reconciliation.quality import (
    DoseProblem,
    DropOut,
    Outlier,
    dose_problems,
    drop_outs,
    monthly_outliers,
    province_outliers,
)
from tiemchung.health.reconciliation.queries import (
    answers_by_day,
    data_version,
    latest_answer_day,
    latest_dose_day,
    monthly_doses,
    reported_comparable,
    summarised_monthly_doses,
    summary_covers,
    verification_by_unit,
)
from tiemchung.health.reconciliation.reported import ReportedFigures, latest_as_of, load_reported
from tiemchung.health.reconciliation.sources import Source
from tiemchung.health.reconciliation.unit_report import (
    UnitReported,
    UnitReportTable,
    build_unit_report,
    facility_names,
    latest_unit_as_of,
    load_unit_reports,
)
from tiemchung.interchange.results import Category


@dataclass
class ReportContext:
    """Where the registry's doses are read (`source`) and where the reported figures are kept.

    `reported` / `unit_reports`, when given, replace the stored figures (e.g. a synthetic data set's
    aggregates read straight from Parquet).
    """

    source: Source
    session_factory: sessionmaker[Session] | None = None
    reported: ReportedFigures | None = None
    unit_reports: dict[str, UnitReported] | None = None
    stated: StatedNational = field(default_factory=StatedNational)

    def as_of(self, requested: date | None) -> date | None:
        if requested is not None or self.session_factory is None:
            return requested
        with self.session_factory() as session:
            return latest_as_of(session)

    def reported_figures(self, as_of: date | None) -> ReportedFigures:
        if self.reported is not None:
            return self.reported
        if self.session_factory is None or as_of is None:
            return ReportedFigures()
        with self.session_factory() as session:
            return load_reported(session, as_of)


# Why the reported columns are empty: the provinces' figures are cumulative and kept per province.
NOT_COMPARABLE = (
    "Số liệu địa phương báo cáo là số lũy kế của cả tỉnh nên chỉ đối chiếu được khi xem cả tỉnh (hoặc toàn quốc) "
    "và không chọn “từ ngày”; cột c–n để trống, cột o là số mũi đã nhập trong phạm vi đã chọn."
)


def appendix1(
    context: ReportContext, as_of: date | None = None, area: Area | None = None, since: date | None = None
) -> Appendix1Report:
    """Appendix 1 as of `as_of` (the latest reported figures', else the latest dose's, when None)."""
    report_date = context.as_of(as_of) or latest_dose(context, area)
    comparable = since is None and reported_comparable(area)
    report = build_appendix1(
        context.source,
        context.reported_figures(report_date) if comparable else ReportedFigures(),
        as_of=report_date,
        area=area,
        stated=context.stated,
        since=since,
    )
    if not comparable:
        report.import_findings.insert(0, NOT_COMPARABLE)
    return report


def latest_dose(context: ReportContext, area: Area | None, until: date | None = None) -> date | None:
    """The day of the latest dose entered in `area` (up to `until`): the date the figures are "as of"."""
    statement = latest_dose_day(area, until, summarised=context.source.summarised and summary_covers(area))
    return _as_date(context.source.rows(statement)[0][0])


def latest_answer(context: ReportContext, area: Area | None) -> date | None:
    """The day of the register's latest answer about a subject of `area`."""
    return _as_date(context.source.rows(latest_answer_day(area))[0][0])


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def unit_report(
    context: ReportContext,
    as_of: date | None = None,
    area: Area | None = None,
    by_facility: bool = True,
    since: date | None = None,
) -> UnitReportTable:
    report_date = as_of
    reported: dict[str, UnitReported] = context.unit_reports or {}
    names: dict[str, str] = {}
    if context.session_factory is not None:
        with context.session_factory() as session:
            report_date = report_date or latest_unit_as_of(session)
            if context.unit_reports is None and report_date is not None:
                reported = load_unit_reports(session, report_date)
            names = facility_names(session, area)
    return build_unit_report(
        context.source,
        reported,
        by_facility=by_facility,
        as_of=report_date or latest_dose(context, area),
        area=area,
        unit_names=names,
        since=since,
    )


@dataclass
class QualityReport:
    drop_outs: list[DropOut]
    outliers: list[Outlier]
    dose_problems: list[DoseProblem]
    as_of: date | None = None

    @property
    def negative_drop_outs(self) -> list[DropOut]:
        return [d for d in self.drop_outs if d.negative]


def quality(
    context: ReportContext, as_of: date | None = None, area: Area | None = None, since: date | None = None
) -> QualityReport:
    report = appendix1(context, as_of, area, since)
    until = report.as_of
    return QualityReport(
        drop_outs=drop_outs(report),
        outliers=province_outliers(report) + monthly_outliers(context.source, area, since=since, until=until),
        dose_problems=dose_problems(context.source, area, since=since, until=until),
        as_of=until,
    )


def cleaning_progress(context: ReportContext, area: Area | None = None) -> list[ProgressPoint]:
    """Per day: the register's answers and how many of them verified the subject (with or without an ID)."""
    days: dict[date, list[int]] = {}
    for day, category, answers in context.source.rows(answers_by_day(area)):
        when = day if isinstance(day, date) else date.fromisoformat(str(day))
        counts = days.setdefault(when, [0, 0])
        counts[0] += int(answers)
        if category in (Category.VERIFIED, Category.NO_ID_VERIFIED):
            counts[1] += int(answers)
    return [ProgressPoint(day, counts[0], counts[1]) for day, counts in sorted(days.items())]


def monthly_trend(
    context: ReportContext, area: Area | None = None, since: date | None = None, until: date | None = None
) -> list[MonthPoint]:
    """Doses entered per month in `area` (all provinces added up), from the summary where it covers the area."""
    summarised = context.source.summarised and summary_covers(area)
    statement = (summarised_monthly_doses if summarised else monthly_doses)(area, since, until)
    months: dict[tuple[int, int], int] = {}
    for _province, year, month, doses in context.source.rows(statement):
        key = (int(year), int(month))
        months[key] = months.get(key, 0) + int(doses)
    return [MonthPoint(year, month, doses) for (year, month), doses in sorted(months.items())]


def verification_rates_below(context: ReportContext, area: Area) -> list[UnitRate]:
    """Each unit one level below `area` (its districts, its wards): subjects sent to the register and the share
    verified, in the reference data's order; a unit without subjects is listed with no rate."""
    sent_categories = {c.value for c in (Category.VERIFIED, Category.MISMATCH, Category.NO_ID_VERIFIED,
                                         Category.NO_ID_UNVERIFIABLE)}  # fmt: skip
    verified_categories = {Category.VERIFIED.value, Category.NO_ID_VERIFIED.value}
    counts: dict[str, list[int]] = {}
    for unit, category, subjects in context.source.rows(verification_by_unit(area)):
        pair = counts.setdefault(unit or "", [0, 0])
        if category in sent_categories:
            pair[0] += int(subjects)
        if category in verified_categories:
            pair[1] += int(subjects)
    units = [UnitRate(child.code, child.name, *counts.get(child.code, [0, 0])) for child in area.children()]
    # Units with subjects first, the lowest rate on top (what needs attention), then the others in the usual order.
    return sorted(units, key=lambda unit: (unit.rate is None, unit.rate or 0.0))


def version(context: ReportContext) -> tuple[object, ...]:
    """What changes when a dose, an answer, an import or a reported figure is added: for caching built reports."""
    return tuple(context.source.rows(data_version())[0])
