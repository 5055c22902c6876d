"""Step 4 against the real register service (in-process): a corrected line is re-verified online at once."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.support.cleaning_factories import add_subject, add_user, add_village
from tiemchung.health.cleaning import workflow
from tiemchung.health.registry.models import Role
from tiemchung.health.verification.client import Backoff, RegisterClient
from tiemchung.health.verification.models import VerificationRecord
from tiemchung.health.web.verifier import RegisterVerifier
from tiemchung.identity import IdentityInput
from tiemchung.register.keys import KeyStore
from tiemchung.register.sample import write_sample
from tiemchung.register.service import ServiceConfig, create_app


@pytest.fixture(scope="module")
def register_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegisterClient]:
    root = tmp_path_factory.mktemp("register")
    register, _ = write_sample(root / "sample")
    config = ServiceConfig(register=register, workdir=root / "workdir", keys=root / "workdir" / "keys.json")
    with TestClient(create_app(config), base_url="http://register") as service:
        key = KeyStore(config.keys).add(f"cleaning-{uuid.uuid4().hex[:6]}", rate_per_second=1000, burst=1000)
        yield RegisterClient("http://register", key, http=service, backoff=Backoff(0, 1, 0))


def test_a_corrected_line_is_verified_when_applied(
    session: Session, register_client: RegisterClient, tmp_path: Path
) -> None:
    village = add_village(session)
    station = add_user(session, "tram", Role.HEALTH_STATION, "00001")
    team = add_user(session, "thon", Role.VILLAGE_TEAM, "00001", village_id=village.id)
    police = add_user(session, "congan", Role.COMMUNE_POLICE, "00001")
    # In the sample register as 001085012345, born 1985-03-02; the registry lacks the ID and has the wrong date.
    subject = add_subject(session, "R-1", birth_date="1985-03-20", birth_date_raw="20/03/1985", birth_year=1985)
    _outcome, worklist = workflow.build_worklist(session, station)
    assert worklist is not None
    line = worklist.lines[0]
    assert workflow.assign(session, station, worklist, [line.id], village.id).ok
    answer = IdentityInput(id_number="001085012345")
    assert workflow.record_family_answer(session, team, line, "corrected", answer, "CCCD của gia đình").ok
    assert workflow.send_to_police(session, station, worklist).ok
    # The police read the register: the birth date was wrong too.
    fix = IdentityInput(birth_date="02/03/1985")
    assert workflow.police_decide(session, police, line, "corrected", fix).ok
    assert workflow.sign_worklist(session, police, worklist, tmp_path).ok
    outcome = workflow.apply_worklist(session, station, worklist, RegisterVerifier(register_client))
    session.commit()
    assert outcome.ok, outcome.message
    session.refresh(subject)
    assert line.result_category == "VERIFIED", line.result_message
    assert subject.verification_category == "VERIFIED" and subject.birth_date == "1985-03-02"
    assert session.query(VerificationRecord).filter_by(subject_id=subject.id).count() == 1
