"""The registry as FHIR R4 resources: Patient, Immunization, Organization, and the bundles that carry them.

Every resource is built as FHIR JSON. `validated` checks one with `fhir.resources` (its R4B models: R4B is R4 with a
few resources added, and Patient, Immunization, Organization and Bundle are the same in both): the API validates
every resource it answers with, so a mapping that produces an invalid resource fails where it is made, not at the
receiver; the bulk export writes the same dictionaries unvalidated (validation is the slowest step by far; the
tests validate every line an export writes). See docs/fhir.md.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient

from tiemchung import reference
from tiemchung.health.duplicates.merge import MergeLinks
from tiemchung.health.fhir import systems
from tiemchung.health.registry.models import Dose, Facility, Subject
from tiemchung.identity.ids import IdKind
from tiemchung.identity.names import split_name
from tiemchung.interchange.results import Category
from tiemchung.reference import DoseKind, countries, dcc_dose_numbers, vaccine_by_name
from tiemchung.reference.vaccines import Vaccine

Resource = dict[str, Any]
GENDER = {"M": "male", "F": "female"}
COVID_19 = {"system": "http://snomed.info/sct", "code": "840539006", "display": "COVID-19"}
HEALTHCARE_PROVIDER = {
    "system": "http://terminology.hl7.org/CodeSystem/organization-type",
    "code": "prov",
    "display": "Healthcare Provider",
}


def patient(subject: Subject, links: MergeLinks | None = None) -> Resource:
    """A registry subject as a Patient: ID numbers, name as given, birth date (a year when only the year is known),
    sex, nationality, the residence's administrative units, and the population register's latest verdict.

    A record merged into another (the same person, `tiemchung.health.duplicates`) is inactive and `replaced-by` the
    survivor, which `replaces` it: FHIR's own way of saying that two records were one person.
    """
    links = links or MergeLinks()
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(subject.id),
        "active": links.replaced_by is None,
        "identifier": _identifiers(subject),
        "name": [_human_name(subject.full_name)],
        "gender": GENDER.get(subject.sex or "", "unknown"),
        "extension": [_nationality(subject.nationality or "VN")],
    }
    if subject.birth_date:
        resource["birthDate"] = subject.birth_date  # "YYYY-MM-DD" or "YYYY": FHIR's date keeps year-only precision
    if address := _address(subject):
        resource["address"] = [address]
    if subject.phone:
        resource["telecom"] = [{"system": "phone", "value": subject.phone}]
    if subject.verification_category:
        resource["extension"].append(_verification(subject))
    if merged := links.as_fhir():
        resource["link"] = merged
    return resource


def immunization(dose: Dose) -> Resource:
    """A dose as an Immunization: vaccine (CVX and EU DCC product), lot, date, dose number and series (the EU DCC
    numbers of the certificate's "n/m"), the facility as performer; a dose found to duplicate another is
    `entered-in-error`."""
    vaccine = _vaccine(dose.vaccine)
    kind = DoseKind(dose.dose_kind) if dose.dose_kind in DoseKind else None
    resource: Resource = {
        "resourceType": "Immunization",
        "id": str(dose.id),
        "identifier": [{"system": f"{systems.FACILITY}/{dose.facility_code}/record", "value": dose.record_id}],
        "status": "entered-in-error" if dose.duplicate_of_id is not None else "completed",
        "vaccineCode": {"coding": systems.vaccine_codings(vaccine)} if vaccine else {"text": dose.vaccine},
        "patient": {"reference": f"Patient/{dose.subject_id}"},
        "occurrenceDateTime": dose.vaccination_date.isoformat(),
        "recorded": _instant(dose.entered_at),
        "primarySource": True,
        "performer": [{"actor": {"reference": f"Organization/{dose.facility_code}"}}],
    }
    if dose.lot_number:
        resource["lotNumber"] = dose.lot_number
    if vaccine is not None and kind is not None:
        number, series = dcc_dose_numbers(kind, vaccine)
        resource["protocolApplied"] = [
            {
                "series": kind.label_vi,
                "targetDisease": [{"coding": [COVID_19]}],
                "doseNumberPositiveInt": number,
                "seriesDosesPositiveInt": series,
            }
        ]
    return resource


@cache  # the registry holds a handful of spellings of eight vaccines
def _vaccine(name: str) -> Vaccine | None:
    return vaccine_by_name(name)


def organization(facility: Facility) -> Resource:
    """A vaccination facility as an Organization, with its place."""
    resource: Resource = {
        "resourceType": "Organization",
        "id": facility.code,
        "identifier": [{"system": systems.FACILITY, "value": facility.code}],
        "active": True,
        "type": [{"coding": [HEALTHCARE_PROVIDER]}],
        "name": facility.name,
    }
    if address := _unit_address(facility.province_code, facility.district_code, facility.ward_code, use="work"):
        resource["address"] = [address]
    return resource


def searchset(resources: Sequence[Resource], *, self_url: str, total: int | None = None) -> Resource:
    """A search answer: the resources found, as a searchset Bundle."""
    return _bundle("searchset", resources, self_url=self_url, total=len(resources) if total is None else total)


def _bundle(kind: str, resources: Sequence[Resource], *, self_url: str, total: int) -> Resource:
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": kind,
        "timestamp": _instant(datetime.now(UTC)),
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": _reference(resource), "resource": resource, "search": {"mode": "match"}}
            for resource in resources
        ],
    }
    return bundle


MODELS: dict[str, Any] = {"Patient": Patient, "Immunization": Immunization, "Organization": Organization,
                          "Bundle": Bundle, "CapabilityStatement": CapabilityStatement}  # fmt: skip


def validated(resource: Resource) -> Resource:
    """The resource as `fhir.resources` writes it back after validating it; raises ValueError when it is invalid."""
    model = MODELS[resource["resourceType"]].model_validate(resource)
    return dict(model.model_dump(mode="json", exclude_none=True, by_alias=True))


def _reference(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _identifiers(subject: Subject) -> list[Resource]:
    found = []
    if subject.id_number and subject.id_kind in (IdKind.CCCD, IdKind.CMND):
        system, code, label = systems.ID_SYSTEMS[IdKind(subject.id_kind)]
        found.append(_identifier(system, code, label, subject.id_number))
    if subject.passport_number:
        system, code, label = systems.ID_SYSTEMS[IdKind.PASSPORT]
        found.append(_identifier(system, code, label, subject.passport_number))
    found.append({"use": "secondary", "system": systems.SUBJECT_KEY, "value": subject.subject_key})
    return found


def _identifier(system: str, code: str, label: str, value: str) -> Resource:
    return {
        "use": "official",
        "type": {"coding": [{"system": systems.IDENTIFIER_TYPE, "code": code}], "text": label},
        "system": system,
        "value": value,
    }


def _human_name(full_name: str) -> Resource:
    """The name as given, and split by the identity rules: the first word the family name, the others given names."""
    family, middle, given = split_name(full_name)
    name: Resource = {"use": "official", "text": full_name}
    if family:
        name["family"] = family
    given_names = [*middle.split(), given] if given else middle.split()
    if given_names:
        name["given"] = given_names
    return name


def _nationality(code: str) -> Resource:
    return {
        "url": systems.NATIONALITY_EXTENSION,
        "extension": [
            {
                "url": "code",
                "valueCodeableConcept": {
                    "coding": [{"system": systems.ISO_COUNTRY, "code": code, "display": countries.name_vi(code)}]
                },
            }
        ],
    }


def _verification(subject: Subject) -> Resource:
    category = Category(subject.verification_category or "")
    parts: list[Resource] = [
        {
            "url": "category",
            "valueCoding": {"system": systems.VERIFICATION, "code": category.value, "display": category.label_vi},
        },
    ]
    parts += [
        {"url": "reason", "valueCoding": {"system": systems.VERIFICATION_REASON, "code": reason}}
        for reason in (subject.verification_reasons or "").split(";")
        if reason
    ]
    if subject.verified_at is not None:
        parts.append({"url": "answeredAt", "valueDateTime": _instant(subject.verified_at)})
    return {"url": systems.VERIFICATION_EXTENSION, "extension": parts}


def _address(subject: Subject) -> Resource | None:
    address = _unit_address(subject.province_code, subject.district_code, subject.ward_code, use="home")
    if address is not None and subject.address:
        return {**address, "line": [subject.address]}
    return address


@cache  # a few thousand communes for millions of people: each address is built once (callers never change it)
def _unit_address(
    province_code: str | None, district_code: str | None, ward_code: str | None, *, use: str
) -> Resource | None:
    """An address by the GSO units: their names in city/district/state, their codes in an extension."""
    units = [
        ("ward", reference.ward(ward_code) if ward_code else None),
        ("district", reference.district(district_code) if district_code else None),
        ("province", reference.province(province_code) if province_code else None),
    ]
    known = [(level, unit) for level, unit in units if unit is not None]
    if not known:
        return None
    address: Resource = {"use": use, "country": "VN"}
    field_by_level = {"ward": "city", "district": "district", "province": "state"}
    for level, unit in known:
        address[field_by_level[level]] = unit.full_name
    address["text"] = ", ".join(unit.full_name for _level, unit in known)
    address["extension"] = [
        {
            "url": systems.ADDRESS_UNIT_EXTENSION,
            "valueCoding": {"system": systems.GSO_UNIT, "code": unit.code, "display": unit.full_name},
        }
        for _level, unit in known
    ]
    return address


def _instant(value: datetime) -> str:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds")
