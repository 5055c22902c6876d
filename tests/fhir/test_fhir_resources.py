"""Every kind of registry subject and dose maps to FHIR resources that fhir.resources validates and reads back."""

import json
from datetime import UTC, date, datetime

import pytest
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from tiemchung.health.duplicates.merge import MergeLinks
from tiemchung.health.fhir import immunization, organization, patient, searchset, systems, validated
from tiemchung.health.registry.models import Dose, Facility, Subject
from tiemchung.reference import DoseKind, vaccines

CITIZEN = {
    "full_name": "Nguyễn Thị Minh Khai",
    "birth_date": "1985-03-02",
    "sex": "F",
    "id_number": "001185012345",
    "id_kind": "cccd",
    "verification_category": "VERIFIED",
}
SUBJECTS = {
    "citizen": CITIZEN,
    "old_id_card": {
        **CITIZEN,
        "id_number": "012345678",
        "id_kind": "cmnd",
        "verification_category": "MISMATCH",
        "verification_reasons": "NAME;BIRTH_DATE",
    },
    "year_only_birth": {
        **CITIZEN,
        "birth_date": "1950",
        "id_number": None,
        "id_kind": "none",
        "verification_category": "NO_ID_VERIFIED",
    },
    "foreigner": {
        "full_name": "KIM MIN JUN",
        "birth_date": "1990-07-01",
        "sex": "M",
        "id_kind": "passport",
        "passport_number": "M12345678",
        "nationality": "KR",
        "verification_category": "FOREIGN_PASSPORT",
    },
    "never_verified": {"full_name": "An", "birth_date": None, "sex": None},
    "no_address": {**CITIZEN, "province_code": None, "district_code": None, "ward_code": None},
}


def subject(kind: str, **extra: object) -> Subject:
    values: dict[str, object] = {
        "id": 42,
        "subject_key": f"K-{kind}",
        "nationality": "VN",
        "province_code": "79",
        "district_code": "760",
        "ward_code": "26734",
        "verified_at": datetime(2022, 5, 1),
    }
    values.update(SUBJECTS[kind])
    values.update(extra)
    return Subject(**values)


def dose(vaccine: str = "Pfizer", kind: DoseKind = DoseKind.PRIMARY_1, **extra: object) -> Dose:
    values: dict[str, object] = {
        "id": 7,
        "record_id": "R-7",
        "subject_id": 42,
        "vaccine": vaccine,
        "vaccination_date": date(2021, 9, 1),
        "dose_kind": kind.value,
        "facility_code": "F1",
        "entered_at": datetime(2021, 9, 1, 2, 30, tzinfo=UTC),
        "lot_number": "FF1234",
    }
    values.update(extra)
    return Dose(**values)


@pytest.mark.parametrize("kind", sorted(SUBJECTS))
def test_every_kind_of_subject_is_a_valid_patient_that_reads_back(kind: str) -> None:
    resource = patient(subject(kind))
    parsed = Patient.model_validate(resource)
    assert json.loads(parsed.model_dump_json(exclude_none=True)) == validated(resource)
    assert parsed.name[0].text == SUBJECTS[kind]["full_name"]


def test_a_citizen_carries_the_cccd_the_split_name_and_the_register_verdict() -> None:
    resource = validated(patient(subject("citizen")))
    cccd = resource["identifier"][0]
    assert (cccd["system"], cccd["value"]) == (systems.ID_SYSTEMS["cccd"][0], "001185012345")
    assert resource["name"][0]["family"] == "Nguyễn"
    assert resource["name"][0]["given"] == ["Thị", "Minh", "Khai"]
    verification = next(e for e in resource["extension"] if e["url"] == systems.VERIFICATION_EXTENSION)
    assert verification["extension"][0]["valueCoding"]["code"] == "VERIFIED"
    assert resource["address"][0]["state"] == "Thành phố Hồ Chí Minh"
    assert {e["valueCoding"]["code"] for e in resource["address"][0]["extension"]} == {"79", "760", "26734"}


def test_a_year_only_birth_date_keeps_its_precision() -> None:
    assert validated(patient(subject("year_only_birth")))["birthDate"] == "1950"


def test_a_foreigner_is_identified_by_passport_and_nationality() -> None:
    resource = validated(patient(subject("foreigner")))
    passport = resource["identifier"][0]
    assert passport["system"] == systems.ID_SYSTEMS["passport"][0]
    assert passport["type"]["coding"][0]["code"] == "PPN"
    nationality = next(e for e in resource["extension"] if e["url"] == systems.NATIONALITY_EXTENSION)
    assert nationality["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "KR"


def test_mismatch_reasons_are_listed() -> None:
    resource = validated(patient(subject("old_id_card")))
    verification = next(e for e in resource["extension"] if e["url"] == systems.VERIFICATION_EXTENSION)
    reasons = [part["valueCoding"]["code"] for part in verification["extension"] if part["url"] == "reason"]
    assert reasons == ["NAME", "BIRTH_DATE"]
    assert resource["identifier"][0]["system"] == systems.ID_SYSTEMS["cmnd"][0]


@pytest.mark.parametrize("vaccine", [v.key for v in vaccines()])
@pytest.mark.parametrize("kind", list(DoseKind))
def test_every_vaccine_and_dose_kind_is_a_valid_immunization(vaccine: str, kind: DoseKind) -> None:
    resource = validated(immunization(dose(vaccine, kind)))
    Immunization.model_validate(resource)
    codes = {coding["system"]: coding["code"] for coding in resource["vaccineCode"]["coding"]}
    assert codes[systems.CVX] == systems.CVX_BY_VACCINE[vaccine][0]
    applied = resource["protocolApplied"][0]
    assert 1 <= applied["doseNumberPositiveInt"] <= applied["seriesDosesPositiveInt"]


def test_booster_numbers_follow_the_certificate() -> None:
    applied = validated(immunization(dose("AstraZeneca", DoseKind.BOOSTER_1)))["protocolApplied"][0]
    assert (applied["doseNumberPositiveInt"], applied["seriesDosesPositiveInt"]) == (3, 3)


def test_a_duplicate_dose_is_entered_in_error_and_an_unknown_vaccine_keeps_its_text() -> None:
    assert validated(immunization(dose(duplicate_of_id=6)))["status"] == "entered-in-error"
    unknown = validated(immunization(dose("Nước lã")))
    assert unknown["vaccineCode"] == {"text": "Nước lã"}
    assert "protocolApplied" not in unknown


def test_a_facility_is_an_organization_and_a_search_a_bundle() -> None:
    facility = Facility(
        code="F1", name="Trạm Y tế Phường Tân Định", province_code="79", district_code="760", ward_code="26734"
    )
    resources = [patient(subject("citizen")), immunization(dose()), organization(facility)]
    bundle = validated(searchset(resources, self_url="http://x/fhir/Patient?_id=42"))
    assert bundle["total"] == 3
    assert [entry["fullUrl"] for entry in bundle["entry"]] == ["Patient/42", "Immunization/7", "Organization/F1"]


def test_an_invalid_resource_is_refused() -> None:
    broken = patient(subject("citizen"))
    broken["birthDate"] = "02/03/1985"
    with pytest.raises(ValueError):
        validated(broken)


def test_a_merged_record_is_inactive_and_replaced_by_its_survivor() -> None:
    merged = validated(patient(subject("never_verified"), MergeLinks(replaced_by=41)))
    assert merged["active"] is False
    assert merged["link"] == [{"other": {"reference": "Patient/41"}, "type": "replaced-by"}]
    survivor = validated(patient(subject("citizen"), MergeLinks(replaces=(42, 43))))
    assert survivor["active"] is True
    assert [link["type"] for link in survivor["link"]] == ["replaces", "replaces"]
