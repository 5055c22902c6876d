"""A merge of one subject into another (what was moved, so it can be undone), and the pairs of records waiting for
a person's decision or already decided ("không phải cùng một người" is remembered)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from tiemchung.health.registry.db import Base


class SubjectMerge(Base):
    """`merged_id` was found to be the same person as `survivor_id`: its doses now belong to the survivor.

    The merged subject's row stays as it was (its identity as typed, its verification history); only its doses move,
    and their ids are kept here so that an unmerge puts back exactly those. While a merge is active (`unmerged_at` is
    empty) the merged subject points to its survivor; a subject is merged at most once at a time.
    """

    __tablename__ = "subject_merges"
    __table_args__ = (Index("ix_subject_merges_merged_active", "merged_id", "unmerged_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    merged_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    evidence: Mapped[str] = mapped_column(String(64))  # Evidence value
    moved_dose_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    merged_by: Mapped[str] = mapped_column(String(64))
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    unmerged_by: Mapped[str | None] = mapped_column(String(64))
    unmerged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PairState(StrEnum):
    """Where a pair of records stands with the people who decide (the station, the province)."""

    OPEN = "open"  # in the queue, waiting for a decision
    DISTINCT = "distinct"  # "không phải cùng một người": remembered, never proposed again
    MERGED = "merged"  # merged (the merge itself is a SubjectMerge)

    @property
    def label_vi(self) -> str:
        return {"open": "Chờ xem xét", "distinct": "Không phải cùng một người", "merged": "Đã gộp"}[self.value]


class PairSource(StrEnum):
    DETECTED = "detected"  # found by `detect.find_pairs`
    REQUESTED = "requested"  # a citizen showed both records at the station ("gộp mũi tiêm")

    @property
    def label_vi(self) -> str:
        return {"detected": "Hệ thống phát hiện", "requested": "Người dân đề nghị gộp mũi tiêm"}[self.value]


class DuplicatePair(Base):
    """Two records that may be one person, and what a person decided about them (`first_id` < `second_id`).

    The detection writes the pairs it finds (`review.store_pairs`); the queue reads the open ones, so a page of the
    queue never runs the detection. A decision stays with the pair: a pair found "not the same person" keeps that
    state when the detection finds it again, so it never comes back to the queue.
    """

    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        UniqueConstraint("first_id", "second_id"),
        Index("ix_duplicate_pairs_state_first", "state", "first_id"),
        Index("ix_duplicate_pairs_second_id", "second_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    second_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    evidence: Mapped[str] = mapped_column(String(64))  # Evidence value (the strongest found)
    source: Mapped[str] = mapped_column(String(16), default=PairSource.DETECTED.value)
    state: Mapped[str] = mapped_column(String(16), default=PairState.OPEN.value)
    note: Mapped[str] = mapped_column(String(255), default="")
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    requested_by: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
