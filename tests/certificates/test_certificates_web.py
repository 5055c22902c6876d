"""The certificate pages: issue from the subject's page, print and PDF, the public verifier with an uploaded QR."""

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.web_world import World, build_world
from tiemchung.certificates import hcert
from tiemchung.certificates.keys import init_keys
from tiemchung.certificates.signing import new_facility_key, public_key_pem, sign_facility_day
from tiemchung.registry.models import Dose, Facility, Subject

PASSPHRASE = "mat-khau-khoa-web"


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("TIEMCHUNG_KEY_PASSPHRASE", PASSPHRASE)
    keys_dir = tmp_path / "keys"
    init_keys(keys_dir, PASSPHRASE.encode())
    world = build_world(session_factory, keys_dir)
    facility_key = new_facility_key()
    with session_factory() as session:
        subject = session.get(Subject, world.ids["home"]["subject_id"])
        facility = session.get(Facility, "F-home")
        assert subject is not None and facility is not None
        subject.verification_category, subject.id_number = "VERIFIED", "001080000123"
        facility.public_key_pem = public_key_pem(facility_key)
        session.add(Dose(record_id="W1", subject_id=subject.id, vaccine="Janssen", vaccination_date=date(2022, 3, 1),
                         dose_kind="1", facility_code="F-home"))  # fmt: skip
        session.add(Dose(record_id="W2", subject_id=subject.id, vaccine="Janssen", vaccination_date=date(2022, 3, 2),
                         dose_kind="booster_1", facility_code="F-home"))  # fmt: skip
        session.flush()
        assert sign_facility_day(session, "F-home", date(2022, 3, 1), facility_key).ok
        session.commit()
    return world


def _uvcis(html: str) -> list[str]:
    return sorted(set(re.findall(r"URN:UVCI:01:VN:[A-Z0-9/]+#[A-Z0-9/:]", html)))


def test_the_ministry_issues_and_everyone_can_verify(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    ministry = world.client("ministry")
    assert "Đủ điều kiện" in ministry.get(f"/subjects/{subject_id}/certificates").text
    issued = ministry.post(f"/subjects/{subject_id}/certificates")
    assert issued.status_code == 303
    page = ministry.get(f"/subjects/{subject_id}/certificates").text
    [uvci] = _uvcis(page)
    assert "••••••••0123" in page and "001080000123" not in page
    printed = ministry.get(f"/subjects/{subject_id}/certificates/print", params={"uvci": uvci})
    assert printed.status_code == 200 and "<svg" in printed.text and "Mã số của chứng nhận" in printed.text
    pdf = ministry.get(f"/subjects/{subject_id}/certificates/pdf", params={"uvci": uvci})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    with world.app.state.session_factory() as session:
        from sqlalchemy import select

        from tiemchung.certificates.models import Certificate

        hc1 = session.scalars(select(Certificate.hc1)).one()
    anonymous = TestClient(world.app, follow_redirects=False)
    form = anonymous.get("/verify").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = anonymous.post("/verify", data={"csrf_token": token.group(1)},
                            files={"image": ("qr.png", hcert.qr_png(hc1), "image/png")})  # fmt: skip
    assert answer.status_code == 200 and "✔ HỢP LỆ" in answer.text and "NGUYEN" in answer.text
    assert anonymous.get("/certificates/trust-list.json").json()[0]["country"] == "VN"

    revoked = ministry.post(f"/subjects/{subject_id}/certificates/revoke", data={"uvci": uvci, "reason": "Trùng lặp"})
    assert revoked.status_code == 303
    assert len(anonymous.get("/certificates/revocation-list.json").json()["hashes"]) == 3
    again = anonymous.post("/verify", data={"csrf_token": token.group(1), "text": hc1})
    assert "KHÔNG HỢP LỆ" in again.text and "Chứng nhận đã bị thu hồi." in again.text


def test_other_areas_cannot_see_a_subjects_certificates(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    assert world.client("health_station_other").get(f"/subjects/{subject_id}/certificates").status_code == 403
    assert world.client("health_station").post(f"/subjects/{subject_id}/certificates").status_code == 403


def test_facilities_see_their_unsigned_doses(world: World) -> None:
    page = world.client("facility").get("/certificates/unsigned").text
    assert "F-home" in page and "02/03/2022" in page
    assert "F-home" not in world.client("province_other").get("/certificates/unsigned").text
