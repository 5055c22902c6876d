"""The demo's certificate stages, then the web exactly as the demo serves it (issue 15): the public /verify accepts
the certificates the demo issued, the ministry's issue button finds the key, a facility opens its key with the
passphrase the demo prints, and a person's page says why a dose has no certificate."""

import re
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import PASSWORD, add_user
from tiemchung.demo import pipeline
from tiemchung.demo.run import web_settings
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.registry.models import Dose, Facility, Role, Subject
from tiemchung.health.web.app import create_app


def _registry(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.add(Facility(code="TYT1", name="Trạm Y tế xã Thử", province_code="06", ward_code="01852"))
        people = [
            ("S1", "Hoàng Văn Lâm", "VERIFIED", "006085001234"),
            ("S2", "Nông Thị Mai", "MISMATCH", "006090004321"),
        ]
        for key, name, category, id_number in people:
            subject = Subject(subject_key=key, full_name_raw=name, full_name=name, name_canonical=name.lower(),
                              name_folded=name.lower(), birth_date="1985-02-03", birth_year=1985, sex="M",
                              id_number=id_number, verification_category=category, province_code="06",
                              ward_code="01852")  # fmt: skip
            session.add(subject)
            session.flush()
            session.add(Dose(record_id=f"R-{key}", subject_id=subject.id, vaccine="Janssen",
                             vaccination_date=date(2022, 3, 1), dose_kind="1", facility_code="TYT1"))  # fmt: skip
        # The facility's latest day: the demo leaves it for the facility to sign in the browser.
        session.add(Dose(record_id="R-new", subject_id=subject.id, vaccine="Janssen", vaccination_date=date(2022, 4, 1),
                         dose_kind="booster_1", facility_code="TYT1"))  # fmt: skip
        add_user(session, "coso", Role.FACILITY, "06", facility_code="TYT1")
        add_user(session, "boyte", Role.MINISTRY, "")
        session.commit()


def _client(app, username: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    data = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 303
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/verify").text)
    client.headers["X-CSRF-Token"] = found.group(1) if found else ""
    return client


def test_the_demos_certificates_verify_on_the_web_it_serves(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _registry(session_factory)
    keys_dir, state = tmp_path / "demo-keys", pipeline.DemoState(facility_passphrase="mat-khau-thu-nghiem")
    assert pipeline.sign_facility_days(session_factory, keys_dir, state) == 1
    pipeline.issue_certificates(session_factory, keys_dir, state)
    assert (state.certificates, state.refused_certificates) == (1, 1)  # the MISMATCH person is refused
    with session_factory() as session:
        hc1 = session.scalars(select(Certificate.hc1)).one()
        mismatch = session.scalars(select(Subject.id).where(Subject.subject_key == "S2")).one()

    app = create_app(web_settings("sqlite://", "", "", keys_dir), session_factory=session_factory)
    anonymous = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', anonymous.get("/verify").text)
    assert token is not None
    answer = anonymous.post("/verify", data={"csrf_token": token.group(1), "text": hc1})
    assert "✔ HỢP LỆ" in answer.text and "Hoàng Văn Lâm" in answer.text
    assert len(anonymous.get("/certificates/trust-list.json").json()) == 1

    ministry = _client(app, "boyte")
    page = ministry.get(f"/subjects/{mismatch}/certificates").text
    assert "Thông tin sai so với CSDL quốc gia về dân cư" in page  # the refusal, in words
    issued = ministry.post(f"/subjects/{mismatch}/certificates")
    assert "Chưa cấu hình khóa ký" not in ministry.get(issued.headers["location"]).text

    facility = _client(app, "coso")
    assert "01/04/2022 · 1 mũi" in facility.get("/certificates/sign").text
    signed = facility.post("/certificates/sign", data={"day": "2022-04-01", "passphrase": state.facility_passphrase})
    assert "Đã ký 1 mũi tiêm của ngày 01/04/2022." in facility.get(signed.headers["location"]).text
