"""Direct editing of a subject's identity ("chỉnh sửa trực tiếp", seed 000 step 4).

The same identity rules as the import; every change is written to the audit log with its old and new values, who
made it, in which role and why; an identity change clears the subject's verification so that it is verified again.
The edit joins the caller's transaction (nothing is committed here), so the change and its audit event commit or
roll back together.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tiemchung.reference.countries import parse_nationality
from tiemchung.registry.audit import record as audit_record
from tiemchung.registry.models import Subject

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
    values: dict[str, Any] = {}
    if changes.full_name is not None:
        values.update(_name_values(changes.full_name, result))
    if changes.birth_date is not None:
        values.update(_birth_values(changes.birth_date, result))
    if changes.sex is not None:
        values.update(_sex_values(changes.sex, result))
    if changes.id_number is not None:
        values.update(_id_values(changes.id_number, values.get("sex", subject.sex), subject, result))
    if changes.passport_number is not None:
        values.update(_passport_values(changes.passport_number, result))
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


def _name_values(text: str, result: EditResult) -> dict[str, Any]:
    from tiemchung import identity

    decoded = identity.decode_legacy(text.strip())
    display = identity.display_name(decoded.text)
    if not display:
        result.errors.append("Họ tên không được để trống.")
        return {}
    if decoded.encoding != "unicode":
        result.warnings.append(f"Họ tên được giải mã từ bảng mã {decoded.encoding}.")
    return {
        "full_name_raw": text.strip(),
        "full_name": display,
        "name_canonical": identity.canonical_name(decoded.text),
        "name_folded": identity.fold_name(decoded.text),
    }


def _birth_values(text: str, result: EditResult) -> dict[str, Any]:
    from tiemchung import identity

    check = identity.parse_date(text.strip())
    if check.value is None:
        result.errors.extend(finding.message for finding in check.findings if finding.severity == "error")
        return {}
    result.warnings.extend(finding.message for finding in check.findings)
    return {"birth_date_raw": text.strip(), "birth_date": check.value.iso(), "birth_year": check.value.year}


def _sex_values(text: str, result: EditResult) -> dict[str, Any]:
    from tiemchung import identity

    sex = identity.parse_sex(text)
    if sex is None:
        result.errors.append("Giới tính không hợp lệ (dùng Nam/Nữ hoặc M/F).")
        return {}
    return {"sex": sex}


def _id_values(text: str, sex: str | None, subject: Subject, result: EditResult) -> dict[str, Any]:
    from tiemchung import identity

    if not text.strip():
        return {"id_number_raw": "", "id_number": None, "id_kind": "none", "id_status": "missing",
                "identity_findings": []}  # fmt: skip
    check = identity.check_id_number(text.strip())
    if not check.valid_format or check.value is None:
        # A person correcting a record must type a valid number; the import keeps invalid ones for cleaning.
        result.errors.extend(finding.message for finding in check.findings if finding.severity == "error")
        return {}
    findings = (*check.findings, *identity.cross_check_cccd(check.value, sex, subject.birth_year))
    result.warnings.extend(finding.message for finding in findings)
    return {
        "id_number_raw": text.strip(),
        "id_number": check.value,
        "id_kind": str(check.kind),
        "id_status": str(check.status),
        "identity_findings": [
            {"code": finding.code, "message": finding.message, "severity": finding.severity} for finding in findings
        ],
    }


def _passport_values(text: str, result: EditResult) -> dict[str, Any]:
    from tiemchung import identity

    if not text.strip():
        return {"passport_number": None}
    check = identity.check_passport(text)
    if not check.valid_format:
        result.errors.extend(finding.message for finding in check.findings if finding.severity == "error")
        return {}
    return {"passport_number": check.value}
