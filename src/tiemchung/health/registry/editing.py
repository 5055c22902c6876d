"""Direct editing of a subject's identity ("chỉnh sửa trực tiếp", seed 000 step 4).

The same identity rules as the import; every change is written to the audit log with its old and new values, who
made it, in which role and why; an identity change clears the subject's verification so that it is verified again.
The edit joins the caller's transaction (nothing is committed here), so the change and its audit event commit or
roll back together.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tiemchung import identity
from tiemchung.health.registry.audit import record as audit_record
from tiemchung.health.registry.models import Subject
from tiemchung.reference.countries import parse_nationality

# Changing any of these means the register's earlier answer no longer applies.
IDENTITY_FIELDS = frozenset({"name_canonical", "birth_date", "sex", "id_number", "passport_number", "nationality"})
MAX_REASON_CHARS = 255


@dataclass(frozen=True, slots=True)
class IdentityChanges:
    """New values as a person types them; None leaves a field unchanged, "" clears an optional one."""

    full_name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    id_number: str | None = None
    passport_number: str | None = None
    nationality: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass(slots=True)
class EditResult:
    ok: bool
    subject_id: int
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reverify: bool = False


def edit_subject_identity(
    session: Session,
    subject_id: int,
    changes: IdentityChanges,
    *,
    actor: str,
    actor_role: str,
    reason: str,
) -> EditResult:
    """Validate and apply `changes` to one subject; on any error nothing is changed and the errors say why."""
    result = EditResult(ok=False, subject_id=subject_id)
    subject = session.get(Subject, subject_id)
    if subject is None:
        result.errors.append(f"Không tìm thấy đối tượng số {subject_id}.")
        return result
    if not reason.strip():
        result.errors.append("Cần ghi lý do chỉnh sửa (được lưu vào nhật ký truy cập).")
    new_values = _validated(changes, subject, result)
    if result.errors:
        return result
    result.changes = {
        name: (getattr(subject, name), value) for name, value in new_values.items() if getattr(subject, name) != value
    }
    result.ok = True
    if result.changes:
        _apply(session, subject, result, actor=actor, actor_role=actor_role, reason=reason.strip()[:MAX_REASON_CHARS])
    return result


def _apply(session: Session, subject: Subject, result: EditResult, *, actor: str, actor_role: str, reason: str) -> None:
    for name, (_, value) in result.changes.items():
        setattr(subject, name, value)
    result.reverify = bool(IDENTITY_FIELDS & result.changes.keys())
    if result.reverify:
        subject.verification_category = None
        subject.verification_reasons = ""
        subject.matched_person_id = None
        subject.match_probability = None
        subject.verified_at = None
    audit_record(
        session,
        actor=actor,
        actor_role=actor_role,
        action="edit_identity",
        entity="subject",
        entity_id=subject.id,
        subject_id=subject.id,
        reason=reason,
        detail={
            "changes": {name: [old, new] for name, (old, new) in result.changes.items()},
            "reverify": result.reverify,
        },
    )
    session.flush()


def _validated(changes: IdentityChanges, subject: Subject, result: EditResult) -> dict[str, Any]:
    """The new columns, read by the same rules as the import (`tiemchung.identity.typed`); a form refuses what the
    import would keep for cleaning (an invalid ID or passport number)."""
    values: dict[str, Any] = {}
    reads: list[identity.FieldRead] = []
    if changes.full_name is not None:
        reads.append(identity.read_name(changes.full_name))
    if changes.birth_date is not None:
        reads.append(identity.read_birth_date(changes.birth_date))
    if changes.sex is not None:
        reads.append(identity.read_sex(changes.sex))
    for read in reads:
        values.update(read.values)
    if changes.id_number is not None:
        sex = values.get("sex", subject.sex)
        year = values.get("birth_year", subject.birth_year) if "birth_date" in values else subject.birth_year
        reads.append(read := identity.read_id_number(changes.id_number, sex=sex, birth_year=year))
        values.update(read.values)
    if changes.passport_number is not None:
        reads.append(read := identity.read_passport(changes.passport_number))
        values.update(read.values)
    for read in reads:
        if read.error:
            result.errors.append(read.error)
        result.warnings.extend(read.warnings)
    if changes.nationality is not None:
        nationality = parse_nationality(changes.nationality)
        if nationality.code is None:
            result.errors.append(nationality.message)
        values["nationality"] = nationality.code
    if changes.phone is not None:
        values["phone"] = changes.phone.strip() or None
    if changes.address is not None:
        values["address"] = changes.address.strip() or None
    return values
