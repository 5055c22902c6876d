"""Each report's aggregation, written once as SQLAlchemy Core over the registry tables.

The statements run unchanged on SQLite and PostgreSQL (the registry) and, compiled for PostgreSQL with
literal values, on DuckDB over Parquet (see `sources`). Grouping is always done on the columns of an inner
select, never on repeated expressions, so that PostgreSQL does not see two differently-bound copies of
one CASE expression. Only functions every engine has are used (substr, length, extract, coalesce, CASE);
the one engine difference, subtracting dates, is a compiled construct below.
"""

from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Integer,
    Select,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.models import (
    EnteredDoseCount,
    LocalDoseCount,
    ReportChange,
    ReportedAggregate,
    ReportedTotal,
    ReviewResult,
    UnitReport,
)
from tiemchung.health.registry.models import Dose, Facility, ImportBatch, Subject
from tiemchung.health.verification.models import VerificationRecord

# Any select statement, whatever its columns (SQLAlchemy 2.1 types a select by its column types).
Statement = Select[*tuple[Any, ...]]

UNDER_FIVE = "under_5"
UNKNOWN = "unknown"


class days_between(FunctionElement[int]):
    """Whole days from the second date to the first: `a - b` on PostgreSQL and DuckDB, julianday on SQLite."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"CAST(julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)}) AS INTEGER)"


class day_of(FunctionElement[date]):
    """The calendar day of a timestamp: CAST AS DATE, but SQLite's `date()` (its CAST would make a number)."""

    type = Date()
    inherit_cache = True


@compiles(day_of)
def _day_of_default(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(next(iter(element.clauses)), **kw)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(next(iter(element.clauses)), **kw)})"


class day_number(FunctionElement[int]):
    """A date as the integer YYYYMMDD (`dose_key`), cheaper on SQLite: its dates are ISO text, so digits are cut
    out instead of three `strftime` calls per dose (3 s → 0.5 s over 250,000 doses). Not used in the summary's
    triggers, whose text is fixed by migration 0002."""

    type = Integer()
    inherit_cache = True


@compiles(day_number)
def _day_number_default(element: day_number, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(dose_key(next(iter(element.clauses))), **kw))


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: Any, **kw: Any) -> str:
    day = compiler.process(next(iter(element.clauses)), **kw)
    return f"CAST(substr({day}, 1, 4) || substr({day}, 6, 2) || substr({day}, 9, 2) AS INTEGER)"


class is_iso_birth(FunctionElement[bool]):
    """True for a birth date in the registry's form, YYYY or YYYY-MM-DD: a damaged one must not abort a report.

    PostgreSQL and DuckDB raise on CAST('19x0' AS INTEGER) and SQLite would read 19, so the form is checked once
    per subject before any cast: a regular expression on PostgreSQL/DuckDB, GLOB on SQLite.
    """

    type = Boolean()
    inherit_cache = True


@compiles(is_iso_birth)
def _is_iso_birth_default(element: is_iso_birth, compiler: Any, **kw: Any) -> str:
    text = compiler.process(next(iter(element.clauses)), **kw)
    return f"({text} ~ '^[0-9]{{4}}(-[0-9]{{2}}-[0-9]{{2}})?$')"


@compiles(is_iso_birth, "sqlite")
def _is_iso_birth_sqlite(element: is_iso_birth, compiler: Any, **kw: Any) -> str:
    text = compiler.process(next(iter(element.clauses)), **kw)
    return f"({text} GLOB '[0-9][0-9][0-9][0-9]' OR {text} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')"


def _const(value: str) -> ColumnElement[Any]:
    """A text constant written into the SQL (not a bound parameter), safe to group by on PostgreSQL."""
    return literal_column("'" + value.replace("'", "''") + "'", String())


def _int(value: int) -> ColumnElement[Any]:
    return literal_column(str(int(value)), Integer())


def dose_province() -> ColumnElement[Any]:
    """Where a dose counts: its facility's province, or the subject's residence when the facility is unknown."""
    return func.coalesce(Facility.province_code, Subject.province_code)


def dose_place(level: str, subject_columns: Any = None) -> ColumnElement[Any]:
    """The unit of `level` (province, district, ward) where a dose counts: the facility's when the facility is
    known, else the subject's residence, so that a dose's district always lies in its province.
    `subject_columns` is where the subject's columns are read (the table, or a subquery of it)."""
    subject_column = getattr(subject_columns if subject_columns is not None else Subject.__table__.c, f"{level}_code")
    if level == "province":
        return func.coalesce(Facility.province_code, subject_column)
    return case((Facility.province_code.is_not(None), getattr(Facility, f"{level}_code")), else_=subject_column)


def dose_in_area(area: Area | None, subject_columns: Any = None) -> list[ColumnElement[bool]]:
    """The condition "this dose counts inside `area`" (nothing for the country)."""
    if area is None or area.national:
        return []
    return [dose_place(area.level, subject_columns) == area.code]


def subject_in_area(area: Area | None) -> list[ColumnElement[bool]]:
    """The condition "this subject lives inside `area`", as the lists read it (`web.access.area_clause`)."""
    if area is None or area.national:
        return []
    return [getattr(Subject, f"{area.level}_code") == area.code]


def birth_key(birth: SQLColumnExpression[Any] = Subject.birth_date) -> ColumnElement[Any]:
    """The birth date as the integer YYYYMMDD; a year-only birth date counts as born on 1 January (YYYY0101)."""
    year = cast(func.substr(birth, _int(1), _int(4)), Integer)
    month_day = case(
        (
            func.length(birth) == _int(10),
            cast(func.substr(birth, _int(6), _int(2)), Integer) * _int(100)
            + cast(func.substr(birth, _int(9), _int(2)), Integer),
        ),
        else_=_int(101),
    )
    return case((is_iso_birth(birth), year * _int(10000) + month_day), else_=None)


def dose_key(day: SQLColumnExpression[Any] = Dose.vaccination_date) -> ColumnElement[Any]:
    """The vaccination date as the integer YYYYMMDD."""
    return (
        cast(extract("year", day), Integer) * _int(10000)
        + cast(extract("month", day), Integer) * _int(100)
        + cast(extract("day", day), Integer)
    )


def age_group_of(age_key: ColumnElement[Any]) -> ColumnElement[Any]:
    """The report age group from `dose_key − birth_key`: a person is N or older on the dose's day exactly when
    that difference is at least N·10000 (YYYYMMDD arithmetic; a 29 February birthday counts from 1 March, as
    `reference.age_in_years` does). No birth date, or a dose before birth, gives "unknown"."""
    return case(
        (age_key >= _int(180000), _const("18+")),
        (age_key >= _int(120000), _const("12-17")),
        (age_key >= _int(50000), _const("5-11")),
        (age_key >= _int(0), _const(UNDER_FIVE)),
        else_=_const(UNKNOWN),
    )


def _counted_doses(as_of: date | None, area: Area | None, since: date | None = None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Dose.duplicate_of_id.is_(None), *_period(since, as_of)]
    return conditions + dose_in_area(area)


def _period(since: date | None, until: date | None, day: Any = Dose.vaccination_date) -> list[ColumnElement[bool]]:
    """Doses given from `since` to `until` (either end open)."""
    return [*([] if since is None else [day >= since]), *([] if until is None else [day <= until])]


def _doses_with_subject_and_facility() -> Any:
    return Dose.__table__.join(Subject.__table__, Subject.id == Dose.subject_id).outerjoin(
        Facility.__table__, Facility.code == Dose.facility_code
    )


def _dose_ages(as_of: date | None, area: Area | None, since: date | None = None) -> Any:
    """Counted doses with where they count, the age key and the dose's kind and day (a subquery)."""
    # The birth key is computed once per subject, the age once per dose, the CASE over it in an outer select.
    subjects = select(
        Subject.id.label("id"),
        Subject.province_code.label("province_code"),
        Subject.district_code.label("district_code"),
        Subject.ward_code.label("ward_code"),
        birth_key().label("birth_key"),
    ).subquery("subject_births")
    province = func.coalesce(Facility.province_code, subjects.c.province_code)
    return (
        select(
            province.label("province_code"),
            dose_place("district", subjects.c).label("district_code"),
            dose_place("ward", subjects.c).label("ward_code"),
            (day_number(Dose.vaccination_date) - subjects.c.birth_key).label("age_key"),
            Dose.dose_kind.label("dose_kind"),
            Dose.vaccination_date.label("day"),
        )
        .select_from(
            Dose.__table__.join(subjects, subjects.c.id == Dose.subject_id).outerjoin(
                Facility.__table__, Facility.code == Dose.facility_code
            )
        )
        .where(*_counted_doses(as_of, None, since))
        .where(*dose_in_area(area, subjects.c))
        .subquery("dose_ages")
    )


def entered_cells(as_of: date | None = None, area: Area | None = None, since: date | None = None) -> Statement:
    """Doses entered, by (province, age group, dose kind): rows of (province_code, age_group, dose_kind, doses).

    Duplicates (doses with `duplicate_of_id`) are not counted: they are the same event entered twice.
    """
    with_age = _dose_ages(as_of, area, since)
    inner = select(
        with_age.c.province_code, age_group_of(with_age.c.age_key).label("age_group"), with_age.c.dose_kind
    ).subquery("cells")
    return select(inner.c.province_code, inner.c.age_group, inner.c.dose_kind, func.count()).group_by(
        inner.c.province_code, inner.c.age_group, inner.c.dose_kind
    )


def entered_cells_by_day(local: bool = False) -> Statement:
    """Every counted dose aggregated as the summary holds it: rows of (province_code, age_group, dose_kind, day,
    doses), an unknown province as ''; with `local`, as the district and ward summary holds it: rows of
    (province_code, district_code, ward_code, age_group, dose_kind, day, doses). What `summary` rebuilds from and
    checks against."""
    with_age = _dose_ages(None, None)
    places = ("province_code", "district_code", "ward_code") if local else ("province_code",)
    inner = select(
        *(func.coalesce(with_age.c[place], _const("")).label(place) for place in places),
        age_group_of(with_age.c.age_key).label("age_group"),
        with_age.c.dose_kind,
        with_age.c.day,
    ).subquery("day_cells")
    keys = (*(inner.c[place] for place in places), inner.c.age_group, inner.c.dose_kind, inner.c.day)
    return select(*keys, func.count().label("doses")).group_by(*keys)


def summary_table(area: Area | None) -> type[EnteredDoseCount] | type[LocalDoseCount]:
    """The summary that answers for `area`: per province for the country and a province, per district and ward
    below (`entered_dose_counts_local`), so that no report below a province counts the doses one by one."""
    return EnteredDoseCount if area is None or area.level in ("national", "province") else LocalDoseCount


def _summary_in_area(area: Area | None) -> list[ColumnElement[bool]]:
    if area is None or area.national:
        return []
    return [getattr(summary_table(area), f"{area.level}_code") == area.code]


def summarised_cells(as_of: date | None = None, area: Area | None = None, since: date | None = None) -> Statement:
    """`entered_cells` read from the maintained summary (`entered_dose_counts`, or `entered_dose_counts_local`
    below a province) instead of every dose: the same rows, an unknown province as ''. A cell's rows of several
    writing transactions are added up here."""
    counts = summary_table(area)
    conditions = [*_period(since, as_of, counts.day), *_summary_in_area(area)]
    keys = (counts.province_code, counts.age_group, counts.dose_kind)
    total = func.sum(counts.doses)
    return select(*keys, total).where(*conditions).group_by(*keys).having(total != _int(0))


def summary_covers(area: Area | None) -> bool:
    """True when a summary of entered doses answers for `area`: every area, since the summary is also kept per
    district and ward."""
    return area is None or area.level in ("national", "province", "district", "ward")


def reported_comparable(area: Area | None) -> bool:
    """True when the provinces' reported figures (cumulative, per province) can be set beside `area`'s."""
    return area is None or area.level in ("national", "province")


def verification_counts(area: Area | None = None) -> Statement:
    """Subjects and their doses by (category, mismatch reasons, province): rows of
    (verification_category, verification_reasons, province_code, subjects, doses)."""
    counted = select(Dose.subject_id.label("subject_id"), func.count().label("doses")).where(
        Dose.duplicate_of_id.is_(None)
    )
    if area is not None and not area.national:  # only the area's subjects' doses, not the whole registry's
        counted = counted.join(Subject.__table__, Subject.id == Dose.subject_id).where(*subject_in_area(area))
    doses_per_subject = counted.group_by(Dose.subject_id).subquery("doses_per_subject")
    # A record merged into another (the same person, tiemchung.health.duplicates) is not a person of its own: its doses
    # now count on the survivor, and the person is counted once.
    merged_away = select(SubjectMerge.merged_id).where(SubjectMerge.unmerged_at.is_(None))
    conditions = [*subject_in_area(area), Subject.id.not_in(merged_away)]
    inner = (
        select(
            Subject.verification_category.label("category"),
            func.coalesce(Subject.verification_reasons, _const("")).label("reasons"),
            Subject.province_code.label("province_code"),
            func.coalesce(doses_per_subject.c.doses, _int(0)).label("doses"),
        )
        .select_from(Subject.__table__.outerjoin(doses_per_subject, doses_per_subject.c.subject_id == Subject.id))
        .where(*conditions)
        .subquery("subject_doses")
    )
    return select(
        inner.c.category, inner.c.reasons, inner.c.province_code, func.count(), func.sum(inner.c.doses)
    ).group_by(inner.c.category, inner.c.reasons, inner.c.province_code)


def unit_counts(
    by_facility: bool, as_of: date | None = None, area: Area | None = None, since: date | None = None
) -> Statement:
    """Entered doses per unit by (reason group, subject's verification category, duplicate or not):
    rows of (unit, province_code, reason_group, category, is_duplicate, doses).

    The reason group is the dose's own or, for a dose that came in a late-entry batch, the batch's.
    """
    conditions = _period(since, as_of) + dose_in_area(area)
    unit = Dose.facility_code if by_facility else dose_province()
    inner = (
        select(
            func.coalesce(unit, _const("")).label("unit"),
            dose_province().label("province_code"),
            func.coalesce(Dose.reason_group, ImportBatch.reason_group).label("reason_group"),
            Subject.verification_category.label("category"),
            case((Dose.duplicate_of_id.is_(None), _int(0)), else_=_int(1)).label("is_duplicate"),
        )
        .select_from(
            _doses_with_subject_and_facility().outerjoin(ImportBatch.__table__, ImportBatch.id == Dose.import_batch_id)
        )
        .where(*conditions)
        .subquery("unit_doses")
    )
    keys = (inner.c.unit, inner.c.province_code, inner.c.reason_group, inner.c.category, inner.c.is_duplicate)
    return select(*keys, func.count()).group_by(*keys)


def monthly_doses(area: Area | None = None, since: date | None = None, until: date | None = None) -> Statement:
    """Entered doses by (province, year, month): rows of (province_code, year, month, doses)."""
    inner = (
        select(
            dose_province().label("province_code"),
            day_number(Dose.vaccination_date).label("day"),
        )
        .select_from(_doses_with_subject_and_facility())
        .where(*_counted_doses(until, area, since))
        .subquery("months")
    )
    # Grouped by the day first (one integer per dose), then the days of a month added up: no date function per dose.
    days = (
        select(inner.c.province_code, inner.c.day, func.count().label("doses"))
        .group_by(inner.c.province_code, inner.c.day)
        .subquery("days")
    )
    year = cast(func.substr(cast(days.c.day, String), _int(1), _int(4)), Integer)
    month = cast(func.substr(cast(days.c.day, String), _int(5), _int(2)), Integer)
    by_month = select(days.c.province_code, year.label("year"), month.label("month"), days.c.doses).subquery("m")
    return select(by_month.c.province_code, by_month.c.year, by_month.c.month, func.sum(by_month.c.doses)).group_by(
        by_month.c.province_code, by_month.c.year, by_month.c.month
    )


def summarised_monthly_doses(
    area: Area | None = None, since: date | None = None, until: date | None = None
) -> Statement:
    """`monthly_doses` read from the maintained summary: rows of (province_code, year, month, doses)."""
    counts = summary_table(area)
    conditions = [*_period(since, until, counts.day), *_summary_in_area(area)]
    inner = (
        select(
            counts.province_code.label("province_code"),
            cast(extract("year", counts.day), Integer).label("year"),
            cast(extract("month", counts.day), Integer).label("month"),
            counts.doses.label("doses"),
        )
        .where(*conditions)
        .subquery("summary_months")
    )
    keys = (inner.c.province_code, inner.c.year, inner.c.month)
    total = func.sum(inner.c.doses)
    return select(*keys, total).group_by(*keys).having(total != _int(0))


def doses_before_birth(
    area: Area | None = None, limit: int = 1000, since: date | None = None, until: date | None = None
) -> Statement:
    """Doses dated before the subject's birth: rows of (dose_id, subject_key, birth_date, vaccination_date)."""
    dose_day = cast(Dose.vaccination_date, String(10))
    before_birth = or_(
        and_(func.length(Subject.birth_date) == _int(10), dose_day < Subject.birth_date),
        and_(func.length(Subject.birth_date) == _int(4), func.substr(dose_day, _int(1), _int(4)) < Subject.birth_date),
    )
    statement: Statement = (
        select(Dose.id, Subject.subject_key, Subject.birth_date, Dose.vaccination_date)
        .select_from(_doses_with_subject_and_facility())
        .where(before_birth, *_counted_doses(until, area, since))
        .order_by(Dose.id)
        .limit(limit)
    )
    return statement


def short_intervals(
    earlier_kind: str,
    later_kind: str,
    minimum_days: int,
    area: Area | None = None,
    limit: int = 1000,
    since: date | None = None,
    until: date | None = None,
) -> Statement:
    """Pairs of one subject's doses where `later_kind` came less than `minimum_days` after `earlier_kind`
    (or before it): rows of (later dose id, subject_key, earlier date, later date, days)."""
    earlier = Dose.__table__.alias("earlier")
    gap = days_between(Dose.vaccination_date, earlier.c.vaccination_date)
    return (
        select(Dose.id, Subject.subject_key, earlier.c.vaccination_date, Dose.vaccination_date, gap)
        .select_from(
            _doses_with_subject_and_facility().join(
                earlier,
                and_(
                    earlier.c.subject_id == Dose.subject_id,
                    earlier.c.dose_kind == earlier_kind,
                    earlier.c.duplicate_of_id.is_(None),
                ),
            )
        )
        .where(Dose.dose_kind == later_kind, gap < minimum_days, *_counted_doses(until, area, since))
        .order_by(Dose.id)
        .limit(limit)
    )


def same_day_pairs(area: Area | None = None, limit: int = 10_000) -> Statement:
    """Pairs of one subject's doses on the same day (neither already marked a duplicate): rows of
    (first id, second id, subject_key, date, first facility, second facility, first vaccine, second vaccine,
    first dose kind, second dose kind, first lot, second lot)."""
    second = Dose.__table__.alias("second")
    return (
        select(
            Dose.id,
            second.c.id,
            Subject.subject_key,
            Dose.vaccination_date,
            Dose.facility_code,
            second.c.facility_code,
            Dose.vaccine,
            second.c.vaccine,
            Dose.dose_kind,
            second.c.dose_kind,
            Dose.lot_number,
            second.c.lot_number,
        )
        .select_from(
            _doses_with_subject_and_facility().join(
                second,
                and_(
                    second.c.subject_id == Dose.subject_id,
                    second.c.vaccination_date == Dose.vaccination_date,
                    second.c.id > Dose.id,
                    second.c.duplicate_of_id.is_(None),
                ),
            )
        )
        .where(*_counted_doses(None, area))
        .order_by(Dose.id, second.c.id)
        .limit(limit)
    )


def answers_by_day(area: Area | None = None) -> Statement:
    """The register's answers per day (the history, not only the latest): rows of (day, category, answers)."""
    conditions = subject_in_area(area)
    inner = (
        select(day_of(VerificationRecord.answered_at).label("day"), VerificationRecord.category.label("category"))
        .select_from(VerificationRecord.__table__.join(Subject.__table__, Subject.id == VerificationRecord.subject_id))
        .where(*conditions)
        .subquery("answers")
    )
    return (
        select(inner.c.day, inner.c.category, func.count())
        .group_by(inner.c.day, inner.c.category)
        .order_by(inner.c.day)
    )


def latest_dose_day(area: Area | None = None, until: date | None = None, *, summarised: bool = False) -> Statement:
    """One row: the day of the latest counted dose in `area` (up to `until`), from the summary when `summarised`."""
    if summarised:
        # A day counts when its rows add up to doses: on PostgreSQL a cell has a row per writing transaction, and a
        # dose entered by one and deleted by another leaves a +1 and a −1 until compaction.
        counts = summary_table(area)
        conditions = [*_period(None, until, counts.day), *_summary_in_area(area)]
        days = select(counts.day).where(*conditions).group_by(counts.day).having(func.sum(counts.doses) != _int(0))
        return select(func.max(days.subquery("summary_days").c.day))
    return (
        select(func.max(Dose.vaccination_date))
        .select_from(_doses_with_subject_and_facility())
        .where(*_counted_doses(until, area))
    )


def latest_answer_day(area: Area | None = None) -> Statement:
    """One row: the time of the register's latest answer about a subject living in `area`."""
    return (
        select(func.max(VerificationRecord.answered_at))
        .select_from(VerificationRecord.__table__.join(Subject.__table__, Subject.id == VerificationRecord.subject_id))
        .where(*subject_in_area(area))
    )


def verification_by_unit(area: Area) -> Statement:
    """Subjects living in `area` by (the unit one level below, verification category): rows of (unit code,
    category, subjects); the dashboard's drill-down below a province."""
    level = {"national": "province", "province": "district"}.get(area.level, "ward")
    unit = getattr(Subject, f"{level}_code")
    inner = (
        select(unit.label("unit"), Subject.verification_category.label("category"))
        .where(*subject_in_area(area))
        .subquery("subject_units")
    )
    return select(inner.c.unit, inner.c.category, func.count()).group_by(inner.c.unit, inner.c.category)


def data_version() -> Statement:
    """One row: the highest id of each table whose new rows change a report, and of `report_changes`, which every
    other change adds to (`changes`): an index look-up each."""
    tables = (Dose, VerificationRecord, ImportBatch, ReportedAggregate, ReportedTotal, UnitReport, ReviewResult,
              ReportChange)  # fmt: skip
    return select(*(select(func.max(table.id)).scalar_subquery() for table in tables))
