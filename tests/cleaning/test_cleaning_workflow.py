"""The four steps of seed 000 on a real database (SQLite and PostgreSQL), including send-backs and tampering."""

from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.support.cleaning_factories import HOME_WARD, OTHER_WARD, add_subject, add_user, add_village
from tiemchung.health.cleaning import signing, workflow
from tiemchung.health.cleaning.models import CleaningLine, CleaningLineEvent, LineState, Problem, WorklistState
from tiemchung.health.registry.models import Role
from tiemchung.health.web.verifier import QueueOnlyVerifier
from tiemchung.identity import IdentityInput

WARD = HOME_WARD[2]


@pytest.fixture
def people(session: Session):  # type: ignore[no-untyped-def]
    village = add_village(session)
    users = {
        "station": add_user(session, "tram", Role.HEALTH_STATION, WARD),
        "team": add_user(session, "thon", Role.VILLAGE_TEAM, WARD, village_id=village.id),
        "police": add_user(session, "congan", Role.COMMUNE_POLICE, WARD),
        "other_police": add_user(session, "congan2", Role.COMMUNE_POLICE, OTHER_WARD[2]),
    }
    no_id = add_subject(session, "S1")
    bad_id = add_subject(session, "S2", id_number_raw="12345", id_status="invalid", full_name="Trần Thị Bình")
    mismatch = add_subject(
        session,
        "S3",
        id_number="001080000123",
        id_status="valid",
        verification_category="MISMATCH",
        verification_reasons="NAME",
        matched_person_id="001080000123",
        match_probability=0.97,
    )
    add_subject(session, "S4", verification_category="VERIFIED")
    add_subject(session, "S5", ward=OTHER_WARD)
    session.commit()
    return users, village, (no_id, bad_id, mismatch)


def test_listing_takes_the_communes_unverified_subjects_with_their_problem(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    users, _village, (no_id, bad_id, mismatch) = people
    outcome, worklist = workflow.build_worklist(session, users["station"])
    assert outcome.ok and worklist is not None
    problems = {line.subject_id: line.problem for line in worklist.lines}
    assert problems == {no_id.id: Problem.NO_ID, bad_id.id: Problem.INVALID_ID, mismatch.id: Problem.WRONG_INFO}
    line = next(line for line in worklist.lines if line.subject_id == mismatch.id)
    assert (line.register_reasons, line.candidate_person_id) == ("NAME", "001080000123")
    again, none = workflow.build_worklist(session, users["station"])
    assert not again.ok and none is None, "subjects on an open list are not listed twice"


def walk_to_police(session: Session, users, village) -> workflow.CleaningWorklist:  # type: ignore[no-untyped-def]
    _outcome, worklist = workflow.build_worklist(session, users["station"])
    assert worklist is not None
    assert workflow.assign(session, users["station"], worklist, [line.id for line in worklist.lines], village.id).ok
    for line in worklist.lines:
        answer = IdentityInput(id_number="001 080 000 456", birth_date="01/05/1980")
        assert workflow.record_family_answer(session, users["team"], line, "corrected", answer).ok
    assert workflow.send_to_police(session, users["station"], worklist).ok
    return worklist


def test_a_line_goes_back_and_forth_without_losing_anything(session: Session, people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    users, village, _subjects = people
    worklist = walk_to_police(session, users, village)
    line = worklist.lines[0]
    assert not workflow.police_decide(session, users["other_police"], line, "confirmed", IdentityInput()).ok
    assert workflow.send_back(session, users["police"], line, "Sai số CCCD, hỏi lại gia đình").ok
    assert line.state == LineState.ASSIGNED and line.family["id_number"] == "001080000456"
    assert not workflow.sign_worklist(session, users["police"], worklist, tmp_path).ok
    assert workflow.record_family_answer(
        session, users["team"], line, "corrected", IdentityInput(id_number="001080000789")
    ).ok
    assert workflow.send_to_police(session, users["station"], worklist).ok
    session.commit()
    actions = session.scalars(
        select(CleaningLineEvent.action).where(CleaningLineEvent.line_id == line.id).order_by(CleaningLineEvent.id)
    ).all()
    assert actions == [
        "list",
        "assign",
        "family_answer",
        "send_to_police",
        "send_back",
        "family_answer",
        "send_to_police",
    ]
    first_answer = session.scalars(
        select(CleaningLineEvent).where(
            CleaningLineEvent.line_id == line.id, CleaningLineEvent.action == "family_answer"
        )
    ).first()
    assert first_answer is not None and first_answer.detail["family"]["id_number"] == "001080000456"


def test_signature_detects_any_later_change(session: Session, people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    users, village, _subjects = people
    worklist = walk_to_police(session, users, village)
    for line in worklist.lines:
        assert workflow.police_decide(session, users["police"], line, "confirmed", IdentityInput()).ok
    assert workflow.sign_worklist(session, users["police"], worklist, tmp_path).ok
    session.commit()
    assert worklist.state == WorklistState.SIGNED
    assert signing.check(session, worklist).valid
    assert (tmp_path / "cleaning" / "congan.pem").stat().st_mode & 0o077 == 0, "private key readable by others"
    session.execute(
        update(CleaningLine).where(CleaningLine.id == worklist.lines[0].id).values(police={"id_number": "079099999999"})
    )
    session.commit()
    session.expire_all()
    verdict = signing.check(session, worklist)
    assert not verdict.valid and verdict.message == signing.TAMPERED
    refused = workflow.apply_worklist(session, users["station"], worklist, QueueOnlyVerifier())
    assert not refused.ok and "sửa đổi" in refused.message


def test_applying_a_signed_list_corrects_the_subjects(session: Session, people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    users, village, (no_id, _bad_id, _mismatch) = people
    worklist = walk_to_police(session, users, village)
    for line in worklist.lines:
        assert workflow.police_decide(session, users["police"], line, "corrected", IdentityInput(sex="Nữ")).ok
    assert workflow.sign_worklist(session, users["police"], worklist, tmp_path).ok
    outcome = workflow.apply_worklist(session, users["station"], worklist, QueueOnlyVerifier())
    session.commit()
    assert outcome.ok and worklist.state == WorklistState.APPLIED
    session.refresh(no_id)
    assert (no_id.id_number, no_id.sex, no_id.birth_date) == ("001080000456", "F", "1980-05-01")
    assert all(line.state == LineState.APPLIED for line in worklist.lines)


def test_bad_entries_are_refused_with_a_reason(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    users, village, _subjects = people
    _outcome, worklist = workflow.build_worklist(session, users["station"])
    assert worklist is not None
    line = worklist.lines[0]
    refused = workflow.record_family_answer(session, users["team"], line, "corrected", IdentityInput(id_number="12"))
    assert not refused.ok, "a line not yet assigned to the team cannot be answered by it"
    workflow.assign(session, users["station"], worklist, [line.id], village.id)
    bad = IdentityInput(id_number="12", birth_date="31/02/1980", sex="x")
    refused = workflow.record_family_answer(session, users["team"], line, "corrected", bad)
    assert not refused.ok
    assert "12 chữ số" in refused.message and "31/02/1980" in refused.message and "Giới tính" in refused.message


def test_the_command_line_checks_a_signature(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tiemchung.cli import app
    from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    with make_session_factory(engine)() as session:
        village = add_village(session)
        users = {
            "station": add_user(session, "tram", Role.HEALTH_STATION, WARD),
            "team": add_user(session, "thon", Role.VILLAGE_TEAM, WARD, village_id=village.id),
            "police": add_user(session, "congan", Role.COMMUNE_POLICE, WARD),
        }
        add_subject(session, "C1")
        worklist = walk_to_police(session, users, village)
        workflow.police_decide(session, users["police"], worklist.lines[0], "confirmed", IdentityInput())
        assert workflow.sign_worklist(session, users["police"], worklist, tmp_path / "keys").ok
        session.commit()
    runner = CliRunner()
    good = runner.invoke(app, ["cleaning", "verify", "--worklist", "1", "--database", url])
    assert good.exit_code == 0 and "Chữ ký hợp lệ" in good.output
    with make_session_factory(engine)() as session:
        session.execute(update(CleaningLine).values(family_note="sửa sau khi ký", police={"sex": "F"}))
        session.commit()
    bad = runner.invoke(app, ["cleaning", "verify", "--worklist", "1", "--database", url])
    assert bad.exit_code == 1 and "sửa đổi sau khi ký" in bad.output
    listing = runner.invoke(app, ["cleaning", "worklists", "--database", url], env={"COLUMNS": "300"})
    assert listing.exit_code == 0 and "Công an đã ký" in listing.output


def test_a_prefilled_form_records_only_what_was_changed(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    """The pages pre-fill the forms with what is known: sending it back unchanged is no correction."""
    users, village, (no_id, _bad_id, _mismatch) = people
    _outcome, worklist = workflow.build_worklist(session, users["station"])
    assert worklist is not None
    line = next(line for line in worklist.lines if line.subject_id == no_id.id)
    assert workflow.assign(session, users["station"], worklist, [line.id], village.id).ok
    as_shown = IdentityInput(full_name="Nguyễn Văn An", birth_date="01/05/1980", sex="Nam")
    refused = workflow.record_family_answer(session, users["team"], line, "corrected", as_shown)
    assert not refused.ok and "khác với thông tin đang có" in refused.message
    with_id = IdentityInput(full_name="Nguyễn Văn An", birth_date="01/05/1980", sex="Nam", id_number="001080000456")
    assert workflow.record_family_answer(session, users["team"], line, "corrected", with_id).ok
    assert line.family == {"id_number": "001080000456"}
