"""The health side's verification tables: the outbox of requests to the register, and the history of its answers.

The outbox (`VerificationRequest`) is what makes a register outage harmless: a request is written in the same
transaction as the change that needs it, and leaves the queue only when its answer is stored. Each request carries
an idempotency key that the register service honours, so a request re-sent after a timeout or a crash is answered
from the service's memory and counted once. `VerificationRecord` keeps every answer ever received; the latest one
is also copied onto `Subject` (see `store.apply_result`).
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from tiemchung.health.registry.db import Base


class RequestStatus(StrEnum):
    QUEUED = "queued"  # waiting to be sent (or to be re-sent after a failure)
    SENT = "sent"  # handed to the register, answer not stored yet (a crash here is re-sent with the same key)
    DONE = "done"  # answer stored
    FAILED = "failed"  # the register refused it for good (bad request); kept for review, never retried
    # The register refused the health side's API key: the request is fine and waits for the key to be fixed; sent
    # again by the next drain (a state of its own so that the operator sees why nothing moves).
    HELD = "held"


class ResultSource(StrEnum):
    ONLINE = "online"
    BATCH = "batch"


class VerificationRequest(Base):
    """One subject waiting for (or having got) an answer from the population register."""

    __tablename__ = "verification_requests"
    __table_args__ = (Index("ix_verification_requests_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class VerificationRecord(Base):
    """One answer of the register about one subject (the history; the latest is copied onto the subject).

    `request_id` (online answers) and (`subject_id`, `batch_job_id`) (batch answers) are unique, so an answer can
    never be applied twice, whatever crashes and retries happen in between.
    """

    __tablename__ = "verification_results"
    __table_args__ = (UniqueConstraint("subject_id", "batch_job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("verification_requests.id"), unique=True)
    batch_job_id: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[str] = mapped_column(String(64), default="")
    matched_person_id: Mapped[str | None] = mapped_column(String(12))
    match_probability: Mapped[float | None] = mapped_column(Float)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    source: Mapped[str] = mapped_column(String(16))
