"""The read-only FHIR API: the platform's log-in, the pages' area rules, audited reads, Bulk Data export."""

import json
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import add_subject
from tests.support.web_world import World, build_world
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.duplicates.detect import Evidence
from tiemchung.health.duplicates.merge import merge_subjects
from tiemchung.health.fhir import validated
from tiemchung.health.fhir.export import ExportJobs
from tiemchung.health.registry.models import AuditEvent, Dose, Subject


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    world = build_world(session_factory, tmp_path / "keys")
    world.app.state.fhir_exports = ExportJobs(tmp_path / "exports", session_factory)
    with session_factory() as session:
        home = session.get(Subject, world.ids["home"]["subject_id"])
        assert home is not None
        home.id_number, home.id_kind, home.id_status = "001080000999", "cccd", "valid"
        session.add(
            Dose(
                record_id="R-home-1",
                subject_id=home.id,
                vaccine="Pfizer",
                vaccination_date=date(2021, 9, 1),
                dose_kind="1",
                facility_code="F-home",
                lot_number="FF1",
            )
        )
        foreigner = add_subject(
            session,
            "home-foreigner",
            full_name="KIM MIN JUN",
            id_kind="passport",
            passport_number="M1234567",
            nationality="KR",
            birth_date="1990",
        )
        session.add(
            Dose(
                record_id="R-home-2",
                subject_id=foreigner.id,
                vaccine="Moderna",
                vaccination_date=date(2021, 10, 1),
                dose_kind="booster_1",
                facility_code="F-home",
            )
        )
        session.commit()
        world.ids["home"]["foreigner_id"] = foreigner.id
    return world


def resource(answer: object) -> dict:  # type: ignore[type-arg]
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("application/fhir+json")  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    return validated(body)


def test_metadata_is_public_and_valid(world: World) -> None:
    statement = resource(TestClient(world.app).get("/fhir/metadata"))
    assert statement["resourceType"] == "CapabilityStatement"
    assert {r["type"] for r in statement["rest"][0]["resource"]} == {"Patient", "Immunization", "Organization"}


def test_without_logging_in_the_answer_is_a_401_operation_outcome(world: World) -> None:
    answer = TestClient(world.app, follow_redirects=False).get("/fhir/Patient", params={"identifier": "001080000999"})
    assert answer.status_code == 401
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_patient_by_cccd_and_everything(world: World) -> None:
    client = world.client("health_station")
    bundle = resource(
        client.get("/fhir/Patient", params={"identifier": "https://fhir.tiemchung.vn/sid/cccd|001080000999"})
    )
    assert bundle["total"] == 1
    patient_id = bundle["entry"][0]["resource"]["id"]
    everything = resource(client.get(f"/fhir/Patient/{patient_id}/$everything"))
    kinds = [entry["resource"]["resourceType"] for entry in everything["entry"]]
    assert kinds == ["Patient", "Immunization", "Organization"]
    doses = resource(client.get("/fhir/Immunization", params={"patient": f"Patient/{patient_id}"}))
    dose_id = doses["entry"][0]["resource"]["id"]
    assert resource(client.get(f"/fhir/Immunization/{dose_id}"))["lotNumber"] == "FF1"
    assert resource(client.get("/fhir/Organization/F-home"))["name"] == "Cơ sở home"


def test_a_foreigner_is_found_by_passport(world: World) -> None:
    client = world.client("facility")
    bundle = resource(client.get("/fhir/Patient", params={"identifier": "M1234567"}))
    found = bundle["entry"][0]["resource"]
    assert found["birthDate"] == "1990"
    assert found["identifier"][0]["type"]["coding"][0]["code"] == "PPN"


def test_the_area_rules_are_the_pages(world: World) -> None:
    client = world.client("health_station_other")
    home_id = world.ids["home"]["subject_id"]
    assert client.get(f"/fhir/Patient/{home_id}").status_code == 403
    assert client.get(f"/fhir/Patient/{home_id}/$everything").status_code == 403
    assert client.get("/fhir/Immunization", params={"patient": f"Patient/{home_id}"}).status_code == 403
    search = resource(client.get("/fhir/Patient", params={"identifier": "001080000999"}))
    assert search["total"] == 0
    assert world.client("admin").get(f"/fhir/Patient/{home_id}").status_code == 403


def test_bad_requests_get_an_operation_outcome(world: World) -> None:
    client = world.client("health_station")
    for path, params in (
        ("/fhir/Patient", {}),
        ("/fhir/Patient", {"identifier": "urn:x|1"}),
        ("/fhir/Immunization", {"patient": "Group/1"}),
        ("/fhir/Patient/99999999999", {}),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code in (400, 422), (path, answer.text)
        assert answer.json()["resourceType"] == "OperationOutcome", answer.text


def test_reads_are_audited(world: World) -> None:
    client = world.client("commune_police")
    home_id = world.ids["home"]["subject_id"]
    resource(client.get(f"/fhir/Patient/{home_id}"))
    resource(client.get("/fhir/Immunization", params={"patient": str(home_id)}))
    with world.app.state.session_factory() as session:
        reasons = list(session.scalars(select(AuditEvent.reason).where(AuditEvent.actor == "commune_police")))
    assert "Đọc FHIR Patient" in reasons and "Đọc FHIR Immunization" in reasons


def test_bulk_export_for_the_ministry(world: World) -> None:
    assert world.client("province").get("/fhir/$export").status_code == 403
    client = world.client("ministry")
    kick_off = client.get("/fhir/$export")
    assert kick_off.status_code == 202
    status_url = kick_off.headers["content-location"]
    deadline = time.monotonic() + 30
    answer = client.get(status_url)
    while answer.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = client.get(status_url)
    assert answer.status_code == 200, answer.text
    manifest = answer.json()
    counts = {output["type"]: output["count"] for output in manifest["output"]}
    with world.app.state.session_factory() as session:
        assert counts["Patient"] == len(session.scalars(select(Subject.id)).all())
        assert counts["Immunization"] == 2
    for output in manifest["output"]:
        lines = client.get(output["url"]).text.splitlines()
        assert len(lines) == output["count"]
        for line in lines:
            validated(json.loads(line))
    assert world.client("province").get(status_url).status_code == 403
    assert client.get(status_url.rsplit("/", 1)[0] + "/not-a-job").status_code == 404


def test_a_merged_person_and_a_revoked_certificate_export_valid_resources(world: World) -> None:
    home_id, foreigner_id = world.ids["home"]["subject_id"], world.ids["home"]["foreigner_id"]
    with world.app.state.session_factory() as session:
        merge = merge_subjects(session, [home_id, foreigner_id], actor="tram", evidence=Evidence.CONFIRMED_BY_PERSON)
        dose_id = session.scalars(select(Dose.id).where(Dose.subject_id == merge.survivor_id)).first()
        now = datetime.now(UTC)
        session.add(Certificate(uvci="URN:UVCI:01:VN:TEST1", subject_id=merge.survivor_id, dose_id=dose_id,
                                dose_number=1, total_doses=2, issued_at=now, expires_at=now, kid="00" * 8, hc1="HC1:x",
                                revoked_at=now, revocation_reason="Gộp hồ sơ", revoked_by="tram"))  # fmt: skip
        session.commit()
    merged_id = merge.merges[0].merged_id
    client = world.client("health_station")
    merged = resource(client.get(f"/fhir/Patient/{merged_id}"))
    assert merged["active"] is False
    assert merged["link"][0] == {"other": {"reference": f"Patient/{merge.survivor_id}"}, "type": "replaced-by"}
    everything = resource(client.get(f"/fhir/Patient/{merge.survivor_id}/$everything"))
    kinds = [entry["resource"]["resourceType"] for entry in everything["entry"]]
    assert kinds.count("Immunization") == 2  # the merged record's dose counts on the survivor
    assert everything["entry"][0]["resource"]["link"][0]["type"] == "replaces"
