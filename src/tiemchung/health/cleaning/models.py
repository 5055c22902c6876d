"""The cleaning workflow's tables (seed 000): worklists per commune, their lines, each line's history, signatures.

A line keeps what the registry held when it was listed (`listed`), what the family said (`family_*`), what the
police decided (`police_*`) and what the re-verification answered (`result_*`): later steps never overwrite
earlier ones, and every change also leaves a `CleaningLineEvent`, so that nothing is lost when a step is sent back.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tiemchung.health.registry.db import Base
from tiemchung.health.registry.models import Subject


class Problem(StrEnum):
    """Why a subject is on the list (seed 000, step 1)."""

    NO_ID = "NO_ID"
    INVALID_ID = "INVALID_ID"
    WRONG_INFO = "WRONG_INFO"

    @property
    def label_vi(self) -> str:
        return {
            Problem.NO_ID: "Không có số CCCD/CMND",
            Problem.INVALID_ID: "Sai định dạng số CCCD/CMND",
            Problem.WRONG_INFO: "Sai thông tin cá nhân cơ bản",
        }[self]


class LineState(StrEnum):
    LISTED = "listed"  # on the station's list, not yet given to a village team
    ASSIGNED = "assigned"  # with a village team
    REVIEWED = "reviewed"  # the team recorded what the family said
    WITH_POLICE = "with_police"  # sent to the commune police
    CONFIRMED = "confirmed"  # the police confirmed (or corrected) the line
    SIGNED = "signed"  # on a list the police signed and handed back
    APPLIED = "applied"  # the station applied it to the registry and re-verified

    @property
    def label_vi(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    LineState.LISTED: "Đã lập danh sách",
    LineState.ASSIGNED: "Đã giao tổ thôn",
    LineState.REVIEWED: "Tổ thôn đã rà soát",
    LineState.WITH_POLICE: "Chờ công an đối chiếu",
    LineState.CONFIRMED: "Công an đã xác thực",
    LineState.SIGNED: "Công an đã ký",
    LineState.APPLIED: "Đã cập nhật và xác minh lại",
}


class FamilyOutcome(StrEnum):
    """What the village team learned from the family (seed 000, step 2)."""

    CORRECTED = "corrected"
    CONFIRMED_AS_IS = "confirmed_as_is"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    NOT_RESIDENT = "not_resident"

    @property
    def label_vi(self) -> str:
        return {
            FamilyOutcome.CORRECTED: "Bổ sung/điều chỉnh thông tin",
            FamilyOutcome.CONFIRMED_AS_IS: "Thông tin đang có là đúng",
            FamilyOutcome.MOVED_AWAY: "Đã chuyển đi nơi khác",
            FamilyOutcome.DECEASED: "Đã mất",
            FamilyOutcome.NOT_RESIDENT: "Không cư trú tại địa phương",
        }[self]


class PoliceDecision(StrEnum):
    CONFIRMED = "confirmed"  # the team's information agrees with the register
    CORRECTED = "corrected"  # the police corrected it from the register

    @property
    def label_vi(self) -> str:
        return {PoliceDecision.CONFIRMED: "Xác thực đúng", PoliceDecision.CORRECTED: "Công an điều chỉnh"}[self]


class WorklistState(StrEnum):
    OPEN = "open"  # the station and the village teams are working on it
    WITH_POLICE = "with_police"
    SIGNED = "signed"
    APPLIED = "applied"

    @property
    def label_vi(self) -> str:
        return {
            WorklistState.OPEN: "Trạm Y tế và tổ thôn đang rà soát",
            WorklistState.WITH_POLICE: "Đã chuyển Công an xã",
            WorklistState.SIGNED: "Công an đã ký, chờ Trạm Y tế cập nhật",
            WorklistState.APPLIED: "Đã cập nhật",
        }[self]


class CleaningWorklist(Base):
    __tablename__ = "cleaning_worklists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    province_code: Mapped[str] = mapped_column(String(2), index=True)
    district_code: Mapped[str] = mapped_column(String(3), index=True)
    ward_code: Mapped[str] = mapped_column(String(5), index=True)
    title: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=WorklistState.OPEN.value)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_to_police_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list["CleaningLine"]] = relationship(back_populates="worklist", order_by="CleaningLine.id")


class CleaningLine(Base):
    __tablename__ = "cleaning_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worklist_id: Mapped[int] = mapped_column(ForeignKey("cleaning_worklists.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    problem: Mapped[str] = mapped_column(String(16))
    register_reasons: Mapped[str] = mapped_column(String(64), default="")
    # The subject's identity when listed: {"full_name", "birth_date", "sex", "id_number", "id_number_raw"}.
    listed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    candidate_person_id: Mapped[str | None] = mapped_column(String(12))
    candidate_probability: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default=LineState.LISTED.value, index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    family_outcome: Mapped[str | None] = mapped_column(String(16))
    # What the family said, same keys as `listed` (only the items they gave).
    family: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    family_note: Mapped[str] = mapped_column(Text, default="")
    police_decision: Mapped[str | None] = mapped_column(String(16))
    # The identity the police confirmed (what the station will apply), same keys as `listed`.
    police: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    police_note: Mapped[str] = mapped_column(Text, default="")
    # The note of the last "send back" (why the line went back a step); earlier ones are in the events.
    returned_note: Mapped[str] = mapped_column(Text, default="")
    result_category: Mapped[str | None] = mapped_column(String(32))
    result_reasons: Mapped[str] = mapped_column(String(64), default="")
    result_message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    worklist: Mapped[CleaningWorklist] = relationship(back_populates="lines")
    subject: Mapped[Subject] = relationship()
    events: Mapped[list["CleaningLineEvent"]] = relationship(order_by="CleaningLineEvent.id")


class CleaningLineEvent(Base):
    """One step of a line's history: who did what, from which state to which, with what data."""

    __tablename__ = "cleaning_line_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("cleaning_lines.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SigningKey(Base):
    """A commune police user's public key; the private key stays in the keys directory, never in the database."""

    __tablename__ = "cleaning_signing_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="Ed25519")
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WorklistSignature(Base):
    """The police's signature over a worklist's canonical content. A later send-back supersedes it (kept)."""

    __tablename__ = "cleaning_signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worklist_id: Mapped[int] = mapped_column(ForeignKey("cleaning_worklists.id"), index=True)
    signing_key_id: Mapped[int] = mapped_column(ForeignKey("cleaning_signing_keys.id"))
    signer: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)  # base64
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
