"""Direct identity editing: the identity rules, the audit log with old -> new, re-verification."""

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.health.registry.editing import IdentityChanges, edit_subject_identity
from tiemchung.health.registry.importer import import_records
from tiemchung.health.registry.models import AuditEvent, Subject


def imported_subject(session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]) -> int:
    report = import_records(session_factory, make_xlsx([record()]), actor="cs01", today=date(2023, 6, 1))
    assert report.ok
    with session_factory.begin() as session:
        subject = session.scalars(select(Subject)).one()
        subject.verification_category = "MISMATCH"
        subject.verification_reasons = "BIRTH_DATE"
        return subject.id


def test_an_edit_is_validated_audited_and_sent_for_reverification(
    session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]
) -> None:
    subject_id = imported_subject(session_factory, make_xlsx)
    changes = IdentityChanges(full_name="nguyễn  văn   AN", birth_date="16/03/1985", id_number="0010 8501 2345")
    with session_factory.begin() as session:
        result = edit_subject_identity(
            session, subject_id, changes, actor="tram01", actor_role="health_station", reason="Theo CSDL dân cư"
        )
    assert result.ok and result.reverify and not result.errors
    assert result.changes["birth_date"] == ("1985-03-15", "1985-03-16")
    assert "full_name" not in result.changes  # the same name once canonical: no change
    with session_factory() as session:
        subject = session.get(Subject, subject_id)
        assert subject is not None
        assert (subject.birth_date, subject.verification_category, subject.verification_reasons) == (
            "1985-03-16", None, "")  # fmt: skip
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "edit_identity")).one()
        assert (event.actor, event.actor_role, event.subject_id, event.reason) == (
            "tram01", "health_station", subject_id, "Theo CSDL dân cư")  # fmt: skip
        assert event.detail["changes"]["birth_date"] == ["1985-03-15", "1985-03-16"]


def test_an_invalid_edit_changes_nothing(
    session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path]
) -> None:
    subject_id = imported_subject(session_factory, make_xlsx)
    changes = IdentityChanges(birth_date="32/13/1985", sex="không rõ", id_number="12345")
    with session_factory.begin() as session:
        result = edit_subject_identity(session, subject_id, changes, actor="tram01", actor_role="x", reason="")
    assert not result.ok and len(result.errors) == 4  # date, sex, ID number, missing reason
    assert any("lý do" in error for error in result.errors)
    with session_factory() as session:
        subject = session.get(Subject, subject_id)
        assert subject is not None and subject.birth_date == "1985-03-15" and subject.verification_category
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "edit_identity")).all() == []


def test_editing_an_unknown_subject_says_so(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        result = edit_subject_identity(session, 999, IdentityChanges(sex="Nữ"), actor="a", actor_role="b", reason="c")
    assert not result.ok and "Không tìm thấy" in result.errors[0]
