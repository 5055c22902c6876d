"""Reconciliation tables: what the provinces and units report outside the registry, their review results, and the
summary of entered doses the database maintains.

The registry holds the doses that were entered; these tables hold the figures that arrive as aggregate
report workbooks (appendix 1 and 2 of seed 001), so that every report can set the two side by side.
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from tiemchung.health.registry.db import Base


class ReportedAggregate(Base):
    """Doses a province reported to the institute for one age group and dose (appendix 1, columns c–m)."""

    __tablename__ = "reported_aggregates"
    __table_args__ = (
        UniqueConstraint("province_code", "age_group", "dose_kind", "as_of", "source"),
        Index("ix_reported_aggregates_as_of_source", "as_of", "source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    age_group: Mapped[str] = mapped_column(String(8))  # AgeGroup value
    dose_kind: Mapped[str] = mapped_column(String(16))  # DoseKind value
    reported: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(255))  # file name or "synth"
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReportedTotal(Base):
    """The total a province wrote itself (column n as typed), kept to flag totals that are not the sum of parts."""

    __tablename__ = "reported_totals"
    __table_args__ = (UniqueConstraint("province_code", "as_of", "source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    stated_total: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(255))


class UnitReport(Base):
    """One unit's answer to appendix 2: doses not entered in one reason group, and why.

    `unit_code` is a facility code, or a province code when a province answers as a whole.
    """

    __tablename__ = "unit_reports"
    __table_args__ = (UniqueConstraint("unit_code", "reason_group", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(32), index=True)
    unit_name: Mapped[str] = mapped_column(String(255), default="")
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    reason_group: Mapped[str] = mapped_column(String(16))  # ReasonGroup value
    doses_not_entered: Mapped[int] = mapped_column(Integer, default=0)
    # Doses of this group the unit verified but that cannot be entered (appendix 2, III.2).
    verified_not_enterable: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[str] = mapped_column(Text, default="")
    # The unit's own figure for all doses given (appendix 2, column "*"), when it states one.
    stated_doses_given: Mapped[int | None] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(255), default="")


class ReviewResult(Base):
    """A province's review result for its gap (appendix 1, column q)."""

    __tablename__ = "review_results"
    __table_args__ = (UniqueConstraint("province_code", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2))
    as_of: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(Text)
    # Doses of the gap the province has explained (found, entered late or shown to be a reporting error).
    explained_doses: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(64), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EnteredDoseCount(Base):
    """Entered doses per province, age group, dose kind and day (appendix 1's cells, by day): what appendix 1's
    column o and the monthly charts read instead of every dose.

    Kept by database triggers on doses, subjects and facilities (`tiemchung.health.reconciliation.summary`), so every
    path that writes them keeps it right. A cell may have several rows: on PostgreSQL each writing transaction
    adds its own (`transaction_id`), so that concurrent imports never wait for one another on a shared counter;
    readers add them up and `compact_summary` folds committed ones into row 0. Derived data: not backed up.
    """

    __tablename__ = "entered_dose_counts"
    __table_args__ = (
        PrimaryKeyConstraint("province_code", "age_group", "dose_kind", "day", "transaction_id"),
        {"info": {"derived": True}},
    )

    province_code: Mapped[str] = mapped_column(String(2))  # where the dose counts; "" when unknown
    age_group: Mapped[str] = mapped_column(String(8))  # AgeGroup value, "under_5" or "unknown"
    dose_kind: Mapped[str] = mapped_column(String(16))  # DoseKind value
    day: Mapped[date] = mapped_column(Date)  # the vaccination date
    transaction_id: Mapped[int] = mapped_column(BigInteger)  # 0: compacted (and always on SQLite)
    doses: Mapped[int] = mapped_column(Integer)


class LocalDoseCount(Base):
    """`entered_dose_counts` refined to the district and ward where a dose counts (the facility's, or the subject's
    residence when the facility is unknown: `queries.dose_place`): what appendix 1's column o, the monthly trend and
    the outlier check read below a province instead of every dose of the district or ward.

    Kept by its own triggers, in the same transactions and with the same rows per transaction as
    `entered_dose_counts` (`tiemchung.health.reconciliation.summary`). Derived data: not backed up.
    """

    __tablename__ = "entered_dose_counts_local"
    __table_args__ = (
        PrimaryKeyConstraint(
            "district_code", "ward_code", "province_code", "age_group", "dose_kind", "day", "transaction_id"
        ),
        Index("ix_entered_dose_counts_local_ward", "ward_code", "day"),
        {"info": {"derived": True}},
    )

    province_code: Mapped[str] = mapped_column(String(2))  # "" when unknown
    district_code: Mapped[str] = mapped_column(String(3))  # "" when unknown
    ward_code: Mapped[str] = mapped_column(String(5))  # "" when unknown
    age_group: Mapped[str] = mapped_column(String(8))
    dose_kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    doses: Mapped[int] = mapped_column(Integer)


class ReportChange(Base):
    """A counter of the changes that can alter a report without adding a row the reports' version already watches
    (a merge, a corrected identity, a duplicate marked, a facility moved, a figure replaced): its highest id is part
    of `queries.data_version`, so a cached report is rebuilt as soon as one commits. Written by triggers
    (`tiemchung.health.reconciliation.changes`); pruned to its last row by `summary.compact`. Not backed up."""

    __tablename__ = "report_changes"
    __table_args__ = ({"info": {"derived": True}},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
