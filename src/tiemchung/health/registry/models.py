"""The registry's tables: facilities, villages, users, subjects, doses (and their entry keys), import batches,
findings, the audit log.

Identity fields are stored twice: as typed (what the facility sent, for the audit trail and the error workbook) and
in canonical form (what agreement and search use), so that a correction never loses what was there before.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tiemchung.health.registry.db import Base


class Role(StrEnum):
    FACILITY = "facility"
    HEALTH_STATION = "health_station"
    VILLAGE_TEAM = "village_team"
    COMMUNE_POLICE = "commune_police"
    PROVINCE = "province"
    MINISTRY = "ministry"
    ADMIN = "admin"

    @property
    def label_vi(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.FACILITY: "Cơ sở tiêm chủng",
    Role.HEALTH_STATION: "Trạm Y tế xã/phường",
    Role.VILLAGE_TEAM: "Tổ công tác Đề án 06 cấp thôn",
    Role.COMMUNE_POLICE: "Công an xã/phường",
    Role.PROVINCE: "Sở Y tế",
    Role.MINISTRY: "Bộ Y tế",
    Role.ADMIN: "Quản trị hệ thống",
}


class Facility(Base):
    __tablename__ = "facilities"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    province_code: Mapped[str] = mapped_column(String(2), index=True)
    district_code: Mapped[str | None] = mapped_column(String(3))
    ward_code: Mapped[str | None] = mapped_column(String(5))
    # PEM of the facility's public key for the daily dose signatures (the private key stays with the facility).
    public_key_pem: Mapped[str | None] = mapped_column(Text)


class Village(Base):
    """A village (thôn/ấp): the unit of a village working team. Not in the GSO codes, so kept here."""

    __tablename__ = "villages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ward_code: Mapped[str] = mapped_column(String(5), index=True)
    name: Mapped[str] = mapped_column(String(255))


class User(Base):
    """A person who logs in. The area is the administrative unit the role acts on:
    a ward code for the commune roles, a province code for a department, empty for the ministry and admins."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    area_code: Mapped[str] = mapped_column(String(5), default="")
    facility_code: Mapped[str | None] = mapped_column(ForeignKey("facilities.code"))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Subject(Base):
    """A vaccinated person as the registry knows them (đối tượng tiêm)."""

    __tablename__ = "subjects"
    __table_args__ = (
        Index("ix_subjects_name_folded_birth_year", "name_folded", "birth_year"),
        # A commune's people (of one result) with their folded names at hand (migration 0010): a commune's name search
        # checks each name in the index without reading the rows (name_search.with_name_words).
        Index("ix_subjects_ward_category_name", "ward_code", "verification_category", "name_folded"),
        # The search of a district's people in name order (migration 0009): pages without sorting 50,000 rows.
        Index("ix_subjects_district_name", "district_code", "name_folded"),
        # A district's people of one verification result in name order (migration 0010), and every query on the
        # result alone (the column's own index until 0010): pages and counts without reading the district's rows.
        Index("ix_subjects_category_district_name", "verification_category", "district_code", "name_folded"),
        # A district's people counted by verification result, mismatch reasons, province and ward (migration 0013):
        # the verification report and the dashboard's bars read the index alone, not the district's rows.
        Index(
            "ix_subjects_district_category_reasons",
            "district_code",
            "verification_category",
            "verification_reasons",
            "province_code",
            "ward_code",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The submitting facility's key for the person (`subject_id` of the interchange format).
    subject_key: Mapped[str] = mapped_column(String(64), unique=True)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    full_name_raw: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    name_canonical: Mapped[str] = mapped_column(String(255))
    name_folded: Mapped[str] = mapped_column(String(255))
    birth_date_raw: Mapped[str] = mapped_column(String(64), default="")
    birth_date: Mapped[str | None] = mapped_column(String(10))  # "YYYY-MM-DD" or "YYYY"
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))  # "M" / "F"
    # Indexed (migration 0009) for the search by an ID number stored as typed because it is invalid.
    id_number_raw: Mapped[str] = mapped_column(String(64), default="", index=True)
    id_number: Mapped[str | None] = mapped_column(String(12), index=True)
    id_kind: Mapped[str] = mapped_column(String(16), default="none")
    id_status: Mapped[str] = mapped_column(String(16), default="missing")
    identity_findings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    passport_number: Mapped[str | None] = mapped_column(String(32))
    nationality: Mapped[str] = mapped_column(String(2), default="VN")
    phone: Mapped[str | None] = mapped_column(String(32))
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    district_code: Mapped[str | None] = mapped_column(String(3))
    ward_code: Mapped[str | None] = mapped_column(String(5))
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    address: Mapped[str | None] = mapped_column(String(512))
    # The latest answer of the population register (its history is in verification_results).
    verification_category: Mapped[str | None] = mapped_column(String(32))
    verification_reasons: Mapped[str] = mapped_column(String(64), default="")
    matched_person_id: Mapped[str | None] = mapped_column(String(12))
    match_probability: Mapped[float | None] = mapped_column(Float)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    doses: Mapped[list["Dose"]] = relationship(back_populates="subject", order_by="Dose.vaccination_date")


class ImportBatch(Base):
    """One uploaded file: what came in, who sent it, what became of its rows."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    # For doses entered late: why they were not entered on time (seed 001, appendix 2 groups).
    reason_group: Mapped[str | None] = mapped_column(String(16))
    # queued -> reading (rows parsed into import_rows) -> applying (staged rows written in chunks) -> done;
    # or failed (the file was unusable: nothing of it was applied). See registry/importer.py.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # The uploader's area when the import is scoped to it ("" for an unscoped import from the command line).
    area_code: Mapped[str] = mapped_column(String(5), default="")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)  # rows read so far, then in the file
    rows_expected: Mapped[int | None] = mapped_column(Integer)  # from the sheet's dimension (progress bar)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_applied: Mapped[int] = mapped_column(Integer, default=0)  # staged rows already written to the registry
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str] = mapped_column(Text, default="")  # why the file as a whole was refused
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRow(Base):
    """An accepted row of an import, parsed, waiting to be applied (staging; deleted when the import ends).

    Reading a file stages its rows in short transactions and applying them writes the registry in short chunks, so
    that a long import never holds the database's write lock for long (SQLite has one for the whole database).
    """

    __tablename__ = "import_rows"
    __table_args__ = (
        Index("ix_import_rows_batch_row", "import_batch_id", "row"),
        Index("ix_import_rows_batch_subject", "import_batch_id", "subject_key"),
        Index("ix_import_rows_batch_record", "import_batch_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"))
    row: Mapped[int] = mapped_column(Integer)
    subject_key: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    compared: Mapped[str] = mapped_column(Text)  # JSON of SubjectIdentity.compared(): rows of one subject agree?
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the parsed identity and dose
    state: Mapped[str] = mapped_column(String(16), default="staged")  # staged, duplicate, refused, applied


class ImportRowError(Base):
    """Why a row of an import was rejected (kept with the batch: the result page and the error workbook)."""

    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_batch_row", "import_batch_id", "row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"))
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(32), default="")
    value: Mapped[str] = mapped_column(String(128), default="")
    message: Mapped[str] = mapped_column(Text)


class Dose(Base):
    """One vaccination event (mũi tiêm)."""

    __tablename__ = "doses"
    __table_args__ = (
        Index("ix_doses_facility_date", "facility_code", "vaccination_date"),
        # A person's doses, with whether each is a duplicate at hand (migration 0013, in place of the index on
        # subject_id alone): the verification report counts the doses of a district's people from the index.
        Index("ix_doses_subject_duplicate", "subject_id", "duplicate_of_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))  # indexed by ix_doses_subject_duplicate
    vaccine: Mapped[str] = mapped_column(String(32))  # Vaccine.key
    lot_number: Mapped[str | None] = mapped_column(String(64))
    vaccination_date: Mapped[date] = mapped_column(Date)
    dose_kind: Mapped[str] = mapped_column(String(16))  # DoseKind value
    facility_code: Mapped[str] = mapped_column(String(32))
    entered_by: Mapped[str] = mapped_column(String(64), default="")
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    # Set when the dose was entered after the fact; which reason group it belonged to (appendix 2).
    reason_group: Mapped[str | None] = mapped_column(String(16))
    # The facility's daily signature ("ký số trong ngày").
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    signed_by: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)
    # A dose found to be the same event as another one (same person, vaccine family and date).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("doses.id"))

    subject: Mapped[Subject] = relationship(back_populates="doses")


class DoseEntryKey(Base):
    """The idempotency key a client sent with a dose entry (`Idempotency-Key`, or the dose form's hidden token).

    Written in the same transaction as the dose, so that the key exists exactly when the dose does: when the answer
    to an entry is lost (the database crashed during its COMMIT, the connection dropped), the user sends the same
    request again and gets the dose already stored instead of a second one. The unique (user, key) decides between
    two requests racing with one key: the second INSERT waits for the first transaction and fails once it commits.
    Keys are per user, so two users choosing the same key never meet.

    A table of its own rather than columns on `doses`: the key belongs to a web request, not to the vaccination
    event; `doses` (tens of millions of rows, bulk-loaded, exported, watched by the summary's triggers) keeps its
    layout, and old keys are pruned without touching a dose (`tiemchung db prune-entry-keys`, `entry_keys.py`).
    """

    __tablename__ = "dose_entry_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the request the key came with (endpoint, subject, dose fields): the same key with another
    # request is refused rather than answered with a dose the user did not ask for.
    request_sha256: Mapped[str] = mapped_column(String(64))
    dose_id: Mapped[int] = mapped_column(ForeignKey("doses.id"), index=True)
    # Indexed (migration 0004) so that pruning finds the old keys without reading the whole table.
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)


class Finding(Base):
    """A data-quality finding: something wrong or doubtful, kept for review instead of silently fixed."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    dose_id: Mapped[int | None] = mapped_column(ForeignKey("doses.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Who read or changed which person's data, when and why. Append-only (enforced by database triggers)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32), default="")
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    subject_id: Mapped[int | None] = mapped_column(Integer, index=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LoginThrottle(Base):
    """Failed log-ins counted for what has no account row: a user name that does not exist ("name:…", so that it
    locks exactly like a real account and the answers do not tell which names exist) and a client address
    ("addr:…", the per-address throttle). Same columns as the account's own counter on `users`, so that one
    conditional UPDATE (web/security.py) serves both."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last failure: an address's count starts again after a quiet lock-out period (web/security.py).
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditChainLink(Base):
    """One link of the audit log's hash chain (registry/audit.py): the event it seals and the hash over the previous
    link and the event's content. Append-only like the events."""

    __tablename__ = "audit_chain"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), unique=True)
    hash: Mapped[str] = mapped_column(String(64))
