"""The certificate pages: issue from the subject's page, print and PDF, the public verifier with an uploaded QR."""

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.certificates_world import FACILITY_PASSPHRASE, certificate_world
from tests.support.web_world import World
from tiemchung.health.certificates import hcert


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return certificate_world(session_factory, tmp_path, monkeypatch)


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

        from tiemchung.health.certificates.models import Certificate

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
    assert "ĐÃ BỊ THU HỒI" in again.text and "Chứng nhận đã bị thu hồi." in again.text


def test_other_areas_cannot_see_a_subjects_certificates(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    assert world.client("health_station_other").get(f"/subjects/{subject_id}/certificates").status_code == 403
    assert world.client("health_station").post(f"/subjects/{subject_id}/certificates").status_code == 403


def test_facilities_see_their_unsigned_doses(world: World) -> None:
    page = world.client("facility").get("/certificates/unsigned").text
    assert "F-home" in page and "02/03/2022" in page
    assert "F-home" not in world.client("province_other").get("/certificates/unsigned").text


def test_the_subjects_page_says_why_each_dose_has_no_certificate(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    page = world.client("ministry").get(f"/subjects/{subject_id}/certificates").text
    statuses = page[page.index('id="dose-statuses"') :]
    assert "01/03/2022" in statuses and "Đủ điều kiện: chờ Cục Y tế dự phòng ký cấp." in statuses
    assert "02/03/2022" in statuses and "Cơ sở tiêm chưa ký số mũi tiêm này." in statuses
    other = world.ids["home"]["subject_id"] + 1  # home-2: MISMATCH with the register
    page = world.client("ministry").get(f"/subjects/{other}/certificates").text
    assert "Thông tin sai so với CSDL quốc gia về dân cư" in page


@pytest.mark.parametrize(
    "path", ["/subjects/{id}/certificates", "/subjects/{id}/certificates/print", "/subjects/{id}/certificates/pdf"]
)
def test_huge_ids_in_certificate_urls_are_refused_not_500(world: World, path: str) -> None:
    """Issue 16 item 11: /subjects/9223372036854775808/certificates answered 500 on SQLite."""
    for huge in ("9223372036854775808", "99999999999999999999999", "0", "-1"):
        answer = world.client("ministry").get(path.format(id=huge), params={"uvci": "x"})
        assert answer.status_code == 422, (path, huge, answer.status_code)
    for post in ("/subjects/{id}/certificates", "/subjects/{id}/certificates/revoke"):
        answer = world.client("ministry").post(post.format(id="9223372036854775808"), data={"uvci": "x", "reason": "y"})
        assert answer.status_code == 422


def test_a_facility_signs_its_day_on_the_web(world: World) -> None:
    facility = world.client("facility")
    page = facility.get("/certificates/sign").text
    assert "02/03/2022" in page and "1 mũi tiêm chưa ký" in page and "W2" in page

    wrong = facility.post("/certificates/sign", data={"day": "2022-03-02", "passphrase": "khong-dung-mat-khau"})
    assert wrong.status_code == 303
    assert "Sai mật khẩu khóa ký của cơ sở" in facility.get(wrong.headers["location"]).text

    signed = facility.post("/certificates/sign", data={"day": "2022-03-02", "passphrase": FACILITY_PASSPHRASE})
    assert "Đã ký 1 mũi tiêm của ngày 02/03/2022." in facility.get(signed.headers["location"]).text
    assert "Cơ sở không còn mũi tiêm nào chưa ký số." in facility.get("/certificates/sign").text
    with world.app.state.session_factory() as session:
        from sqlalchemy import select

        from tiemchung.health.registry.models import AuditEvent

        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "daily_signature")))
    assert actions == ["sign_refused", "sign"]


def test_only_facilities_sign_and_a_facility_without_a_code_sees_nothing(world: World) -> None:
    assert world.client("health_station").get("/certificates/sign").status_code == 403
    assert world.client("ministry").post("/certificates/sign", data={"day": "2022-03-02"}).status_code == 403
    with world.app.state.session_factory() as session:
        from sqlalchemy import select

        from tiemchung.health.registry.models import User

        user = session.scalars(select(User).where(User.role == "facility", User.facility_code == "F-home")).first()
        assert user is not None
        user.facility_code = None
        session.commit()
    facility = world.client(user.username)
    assert facility.get("/certificates/unsigned").status_code == 403  # never the nationwide list
    assert facility.get("/certificates/sign").status_code == 403


def test_the_api_lists_issues_and_revokes_as_the_pages_do(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    ministry = world.client("ministry")
    listed = ministry.get(f"/api/v1/subjects/{subject_id}/certificates").json()
    assert listed["eligible"] and listed["certificates"] == []
    reasons = {dose["vaccination_date"]: dose["reason"] for dose in listed["doses"]}
    assert reasons == {
        "2022-03-01": "Đủ điều kiện: chờ Cục Y tế dự phòng ký cấp.",
        "2022-03-02": "Cơ sở tiêm chưa ký số mũi tiêm này.",
    }
    issued = ministry.post(f"/api/v1/subjects/{subject_id}/certificates")
    assert issued.status_code == 200, issued.text
    [certificate] = issued.json()["issued"]
    assert certificate["hc1"].startswith("HC1:") and certificate["dose_number"] == 1
    again = ministry.get(f"/api/v1/subjects/{subject_id}/certificates").json()
    assert [dose["uvci"] for dose in again["doses"]] == [certificate["uvci"], None]
    # The page shows what the API issued: one service behind both.
    assert certificate["uvci"] in ministry.get(f"/subjects/{subject_id}/certificates").text

    facility = world.client("facility")
    assert facility.post(f"/api/v1/subjects/{subject_id}/certificates").status_code == 403
    refused = ministry.post(f"/api/v1/subjects/{subject_id}/certificates/revoke", json={"uvci": "x", "reason": "y"})
    assert refused.status_code == 409 and refused.json()["detail"] == "Không có chứng nhận này trong hồ sơ đối tượng."
    revoked = ministry.post(
        f"/api/v1/subjects/{subject_id}/certificates/revoke", json={"uvci": certificate["uvci"], "reason": "Trùng lặp"}
    )
    assert revoked.status_code == 200 and revoked.json()["message"].startswith("Đã thu hồi")
    assert ministry.get(f"/api/v1/subjects/{subject_id}/certificates").json()["certificates"][0]["revoked_at"]
    assert ministry.get("/api/v1/subjects/9223372036854775808/certificates").status_code == 422


def test_a_facility_signs_its_day_through_the_api(world: World) -> None:
    facility = world.client("facility")
    [day] = facility.get("/api/v1/certificates/unsigned").json()
    assert day["facility_code"] == "F-home" and day["unsigned"] == 1
    wrong = facility.post("/api/v1/certificates/sign-day", json={"day": day["day"], "passphrase": "sai-mat-khau-a"})
    assert wrong.status_code == 409 and "Sai mật khẩu" in wrong.json()["detail"]
    signed = facility.post("/api/v1/certificates/sign-day", json={"day": day["day"], "passphrase": FACILITY_PASSPHRASE})
    assert signed.status_code == 200 and signed.json()["signed"] == 1
    assert facility.get("/api/v1/certificates/unsigned").json() == []
    assert world.client("ministry").post("/api/v1/certificates/sign-day", json=day).status_code == 403


def test_without_keys_issuing_says_what_to_configure(world: World, tmp_path: Path) -> None:
    import dataclasses

    world.app.state.settings = dataclasses.replace(world.app.state.settings, keys_dir=tmp_path / "empty")
    subject_id = world.ids["home"]["subject_id"]
    answer = world.client("ministry").post(f"/api/v1/subjects/{subject_id}/certificates")
    assert answer.status_code == 409 and "tiemchung cert keys init" in answer.json()["detail"]
