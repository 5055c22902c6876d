"""Subject pages and dose entry: reads audited, bad entries refused with a reason, new doses queue verification."""

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.web_world import World, build_world
from tiemchung.health.registry.models import AuditEvent, Dose, Subject
from tiemchung.health.verification.models import VerificationRequest


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    return build_world(session_factory, tmp_path / "keys")


def audit_actions(world: World, actor: str) -> list[tuple[str, int | None]]:
    with world.app.state.session_factory() as session:
        query = select(AuditEvent.action, AuditEvent.subject_id).where(AuditEvent.actor == actor)
        return [(action, subject_id) for action, subject_id in session.execute(query.order_by(AuditEvent.id))]


def test_every_read_of_a_person_is_audited(world: World) -> None:
    client = world.client("commune_police")
    subject_id = world.ids["home"]["subject_id"]
    assert client.get(f"/subjects/{subject_id}").status_code == 200
    assert client.get(f"/api/v1/subjects/{subject_id}").status_code == 200
    assert client.get(f"/cleaning/worklists/{world.ids['home']['worklist_id']}").status_code == 200
    assert client.get("/subjects", params={"q": "Nguyen Van An"}).status_code == 200
    actions = audit_actions(world, "commune_police")
    assert actions.count(("read", subject_id)) >= 3, "page, API and worklist each record a read"
    assert any(action == "search" for action, _ in actions)


def test_dose_entry_refuses_bad_input_and_queues_verification(world: World) -> None:
    client = world.client("facility")
    subject_id = world.ids["home"]["subject_id"]
    bad = {"vaccine": "Nước lã", "vaccination_date": "2030-01-01", "dose_kind": "7", "lot_number": ""}
    refused = client.post(f"/api/v1/subjects/{subject_id}/doses", json=bad)
    assert refused.status_code == 422
    assert "vắc xin" in refused.json()["detail"] and "Mũi tiêm" in refused.json()["detail"]
    good = {"vaccine": "Vero Cell", "vaccination_date": "2021-09-01", "dose_kind": "1", "lot_number": "A1"}
    entered = client.post(f"/api/v1/subjects/{subject_id}/doses", json=good)
    assert entered.status_code == 201, entered.text
    assert entered.json()["verification_category"] is None and "hàng đợi" in entered.json()["verification_message"]
    with world.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Dose).where(Dose.subject_id == subject_id)) == 1
        queued = session.scalar(select(func.count()).where(VerificationRequest.subject_id == subject_id))
        assert queued == 1


def test_a_new_person_is_entered_with_a_dose(world: World) -> None:
    client = world.client("facility")
    form = {
        "full_name": "phạm thị  thu",
        "birth_date": "03/04/1999",
        "sex": "Nữ",
        "id_number": "001 199 000 321",
        "province_code": "01",
        "district_code": "001",
        "ward_code": "00001",
        "vaccine": "Pfizer",
        "vaccination_date": "2022-02-02",
        "dose_kind": "booster_1",
    }
    assert client.post("/doses/new", data=form).status_code == 303
    found = client.get("/api/v1/subjects", params={"q": "001199000321"}).json()["subjects"]
    assert [(item["full_name"], item["birth_date"], item["sex"]) for item in found] == [
        ("Phạm Thị Thu", "1999-04-03", "F")
    ]
    missing = client.post("/doses/new", data={**form, "birth_date": "31/02/1999"})
    assert missing.status_code == 422 and "Ngày sinh" in missing.text


PERSON = {"full_name": "Lê Thị Hoa", "birth_date": "02/02/1992", "sex": "Nữ", "id_number": "001192000555",
          "province_code": "01", "district_code": "001", "ward_code": "00001"}  # fmt: skip
VERO = {"vaccine": "Vero Cell", "vaccination_date": "2022-03-01", "dose_kind": "1"}


def test_the_api_enters_a_dose_by_the_forms_rules(world: World) -> None:
    """POST /api/v1/doses: the dose form's service call, so the same refusals and the same person found by ID."""
    client = world.client("facility")
    wrong = {
        "ward_code": {**PERSON, "ward_code": "99999"},
        "province_code": {**PERSON, "province_code": "79", "district_code": "760", "ward_code": "26734"},
        "vaccination_date": {**PERSON, "birth_date": "05/05/2022"},
    }
    for field, person in wrong.items():
        refused = client.post("/api/v1/doses", json={"person": person, "dose": VERO})
        assert refused.status_code == 422 and field in refused.json()["detail"], (field, refused.text)
    first = client.post("/api/v1/doses", json={"person": PERSON, "dose": VERO})
    assert first.status_code == 201, first.text
    second_dose = {**VERO, "dose_kind": "2", "vaccination_date": "2022-04-01"}
    again = client.post("/api/v1/doses", json={"person": PERSON, "dose": second_dose})
    assert again.status_code == 201 and again.json()["subject_id"] == first.json()["subject_id"]
    assert "đã có trong sổ" in again.json()["verification_message"]
    with world.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).where(Subject.id_number == "001192000555")) == 1
    # Without a match by ID, the same name and birth date are offered (300) before anyone new is made.
    twin = {**PERSON, "id_number": "001192000666"}
    offered = client.post("/api/v1/doses", json={"person": twin, "dose": VERO})
    assert offered.status_code == 300
    assert [candidate["id"] for candidate in offered.json()["candidates"]] == [first.json()["subject_id"]]
    made = client.post("/api/v1/doses", json={"person": twin, "dose": VERO, "new_person": True})
    assert made.status_code == 201 and made.json()["subject_id"] != first.json()["subject_id"]


def test_the_search_finds_by_id_or_any_words_of_the_name_on_either_database(world: World) -> None:
    client = world.client("facility")
    assert client.post("/api/v1/doses", json={"person": PERSON, "dose": VERO}).status_code == 201

    def found(**params: str) -> list[str]:
        answer = client.get("/api/v1/subjects", params=params)
        assert answer.status_code == 200, answer.text
        return [subject["full_name"] for subject in answer.json()["subjects"]]

    assert found(q="001 192 000 555") == ["Lê Thị Hoa"]
    assert found(q="le hoa") == found(q="Hoa Lê") == found(q="thi ho 1992") == ["Lê Thị Hoa"]
    assert found(q="le hoa", birth_year="1991") == []
    assert found(q="hoa", birth_year="19x2") == ["Lê Thị Hoa"]  # a wrong year is ignored, and said
    assert client.get("/api/v1/subjects", params={"q": "hoa", "birth_year": "19x2"}).json()["errors"]
    assert found(q="nguyen van an", state="MISMATCH") == ["Nguyễn Văn An"]
    assert found(ward_code="00001", state="NOT_YET") == ["Lê Thị Hoa"]
