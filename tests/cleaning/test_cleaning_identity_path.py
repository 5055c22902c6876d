"""The cleaning steps read a corrected identity by the import's rules and apply it through the one editing path
(issue 19, item 2): each case below was wrong while `cleaning/identity_input.py` re-parsed identities itself."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.support.cleaning_factories import HOME_WARD, add_subject, add_user, add_village
from tiemchung.health.cleaning import workflow
from tiemchung.health.registry.models import AuditEvent, Role, Subject
from tiemchung.health.web.verifier import QueueOnlyVerifier
from tiemchung.identity import IdentityInput

WARD = HOME_WARD[2]


@pytest.fixture
def team(session: Session):  # type: ignore[no-untyped-def]
    village = add_village(session)
    users = {
        "station": add_user(session, "tram", Role.HEALTH_STATION, WARD),
        "team": add_user(session, "thon", Role.VILLAGE_TEAM, WARD, village_id=village.id),
        "police": add_user(session, "congan", Role.COMMUNE_POLICE, WARD),
    }
    subject = add_subject(
        session, "S-mismatch", id_number="001080000123", id_status="valid", id_kind="cccd",
        verification_category="MISMATCH", verification_reasons="NAME",
    )  # fmt: skip
    session.commit()
    _outcome, worklist = workflow.build_worklist(session, users["station"])
    assert worklist is not None
    [line] = worklist.lines
    assert workflow.assign(session, users["station"], worklist, [line.id], village.id).ok
    return users, worklist, line, subject


def answer(session: Session, team, identity: IdentityInput) -> workflow.Outcome:  # type: ignore[no-untyped-def]
    users, _worklist, line, _subject = team
    return workflow.record_family_answer(session, users["team"], line, "corrected", identity)


def apply(session: Session, team, tmp_path: Path) -> workflow.Outcome:  # type: ignore[no-untyped-def]
    users, worklist, line, _subject = team
    assert workflow.send_to_police(session, users["station"], worklist).ok
    assert workflow.police_decide(session, users["police"], line, "confirmed", IdentityInput()).ok
    assert workflow.sign_worklist(session, users["police"], worklist, tmp_path).ok
    return workflow.apply_worklist(session, users["station"], worklist, QueueOnlyVerifier())


def test_an_id_with_a_province_prefix_that_does_not_exist_is_refused(session: Session, team) -> None:  # type: ignore[no-untyped-def]
    refused = answer(session, team, IdentityInput(id_number="099 089 012 345"))
    assert not refused.ok and "099 không phải mã tỉnh" in refused.message


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (IdentityInput(id_number="1080000456"), {"id_number": "001080000456", "id_kind": "cccd"}),
        (IdentityInput(birth_date="02.05.1980"), {"birth_date": "1980-05-02", "birth_year": 1980}),
        (IdentityInput(sex="female"), {"sex": "F"}),
        (IdentityInput(full_name="NGUYỄN  văn  ân"), {"full_name": "Nguyễn Văn Ân", "name_folded": "nguyen van an"}),
    ],
    ids=["id-lost-zeros", "dotted-date", "english-sex", "name-spacing"],
)
def test_what_the_import_reads_the_cleaning_steps_read_and_store_alike(  # type: ignore[no-untyped-def]
    session: Session, team, tmp_path: Path, typed: IdentityInput, stored: dict[str, object]
) -> None:
    accepted = answer(session, team, typed)
    assert accepted.ok, accepted.message
    assert apply(session, team, tmp_path).ok
    subject = session.get(Subject, team[3].id)
    assert subject is not None
    assert {key: getattr(subject, key) for key in stored} == stored


def test_a_corrected_subject_loses_its_old_verdict_until_the_register_answers(  # type: ignore[no-untyped-def]
    session: Session, team, tmp_path: Path
) -> None:
    assert answer(session, team, IdentityInput(full_name="Nguyễn Văn Bình", id_number="001080000456")).ok
    assert apply(session, team, tmp_path).ok
    subject = session.get(Subject, team[3].id)
    assert subject is not None and subject.id_number == "001080000456"
    # Queued only (no register configured): the MISMATCH of the old identity must not stay on the new one.
    assert subject.verification_category is None and subject.verification_reasons == ""
    edits = session.scalars(select(AuditEvent).where(AuditEvent.action == "edit_identity")).all()
    assert [event.subject_id for event in edits] == [subject.id]
    assert edits[0].detail["changes"]["id_number"] == ["001080000123", "001080000456"]
