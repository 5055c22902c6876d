"""A merge of one subject into another: the record that keeps the pointer and what was moved, so it can be undone."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, func
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
