"""Assemble the reports from a data source and the stored reported figures; used by the CLI and the web."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from tiemchung.reconciliation.appendix1 import Appendix1Report, StatedNational, build_appendix1
from tiemchung.reconciliation.dashboard import ProgressPoint
from tiemchung.reconciliation.quality import (
    DoseProblem,
    DropOut,
    Outlier,
    dose_problems,
    drop_outs,
    monthly_outliers,
    province_outliers,
)
from tiemchung.reconciliation.queries import answers_by_day
from tiemchung.reconciliation.reported import ReportedFigures, latest_as_of, load_reported
from tiemchung.reconciliation.sources import Source
from tiemchung.reconciliation.unit_report import (
    UnitReported,
    UnitReportTable,
    build_unit_report,
    facility_names,
    latest_unit_as_of,
    load_unit_reports,
)
from tiemchung.verification.results import Category


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


def appendix1(context: ReportContext, as_of: date | None = None, province_code: str | None = None) -> Appendix1Report:
    report_date = context.as_of(as_of)
    return build_appendix1(
        context.source,
        context.reported_figures(report_date),
        as_of=report_date,
        province_code=province_code,
        stated=context.stated,
    )


def unit_report(
    context: ReportContext, as_of: date | None = None, province_code: str | None = None, by_facility: bool = True
) -> UnitReportTable:
    report_date = as_of
    reported: dict[str, UnitReported] = context.unit_reports or {}
    names: dict[str, str] = {}
    if context.session_factory is not None:
        with context.session_factory() as session:
            report_date = report_date or latest_unit_as_of(session)
            if context.unit_reports is None and report_date is not None:
                reported = load_unit_reports(session, report_date)
            names = facility_names(session, province_code)
    return build_unit_report(
        context.source,
        reported,
        by_facility=by_facility,
        as_of=report_date,
        province_code=province_code,
        unit_names=names,
    )


@dataclass
class QualityReport:
    drop_outs: list[DropOut]
    outliers: list[Outlier]
    dose_problems: list[DoseProblem]

    @property
    def negative_drop_outs(self) -> list[DropOut]:
        return [d for d in self.drop_outs if d.negative]


def quality(context: ReportContext, as_of: date | None = None, province_code: str | None = None) -> QualityReport:
    report = appendix1(context, as_of, province_code)
    return QualityReport(
        drop_outs=drop_outs(report),
        outliers=province_outliers(report) + monthly_outliers(context.source, province_code),
        dose_problems=dose_problems(context.source, province_code),
    )


def cleaning_progress(context: ReportContext, province_code: str | None = None) -> list[ProgressPoint]:
    """Per day: the register's answers and how many of them verified the subject (with or without an ID)."""
    days: dict[date, list[int]] = {}
    for day, category, answers in context.source.rows(answers_by_day(province_code)):
        when = day if isinstance(day, date) else date.fromisoformat(str(day))
        counts = days.setdefault(when, [0, 0])
        counts[0] += int(answers)
        if category in (Category.VERIFIED, Category.NO_ID_VERIFIED):
            counts[1] += int(answers)
    return [ProgressPoint(day, counts[0], counts[1]) for day, counts in sorted(days.items())]
