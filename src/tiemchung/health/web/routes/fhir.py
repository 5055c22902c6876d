"""The read-only FHIR API under /fhir: Patient, Immunization, Organization, `$everything` and the Bulk Data `$export`.

Authentication is the platform's own (the session cookie of the pages or of `POST /api/v1/session`), the area rules
are the pages' (a person outside the account's area is a 403), and every read of a person is audited like a page's.
Errors are OperationOutcome resources (`errors.py`). See docs/fhir.md.
"""

import json
from importlib.metadata import version
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParameter
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import or_, select
from starlette.responses import Response

from tiemchung.health.duplicates.merge import merge_links
from tiemchung.health.fhir import immunization, organization, patient, searchset, systems, validated
from tiemchung.health.fhir.capability import capability_statement
from tiemchung.health.fhir.export import ExportJobs, manifest
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Dose, Facility, Role, Subject, User
from tiemchung.health.web.access import PERSON_READERS, area_clause
from tiemchung.health.web.deps import RowId, SessionDep, require_roles
from tiemchung.health.web.subjects_service import load_subject
from tiemchung.identity.ids import IdKind

router = APIRouter(prefix="/fhir", tags=["FHIR"])
FHIR_JSON = "application/fhir+json; charset=utf-8"
SEARCH_LIMIT = 100

Reader = Annotated[User, Depends(require_roles(*PERSON_READERS))]
Ministry = Annotated[User, Depends(require_roles(Role.MINISTRY))]
FacilityCode = Annotated[str, PathParameter(max_length=32)]


def fhir_answer(resource: dict[str, Any], status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(validated(resource), ensure_ascii=False)
    return Response(body, status_code=status_code, media_type=FHIR_JSON, headers=headers)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/metadata")
def metadata(request: Request) -> Response:
    """The CapabilityStatement: public, as FHIR clients read it before they log in."""
    return fhir_answer(capability_statement(f"{_base(request)}/fhir", version("tiemchung")))


@router.get("/Patient")
def search_patients(
    request: Request,
    session: SessionDep,
    user: Reader,
    identifier: Annotated[str, Query(max_length=128)] = "",
    id_: Annotated[int | None, Query(alias="_id", ge=1, le=2_147_483_647)] = None,
) -> Response:
    """`Patient?identifier=[system|]value` (CCCD, CMND, passport or subject key) or `Patient?_id=`, within the area."""
    condition = _identifier_condition(identifier) if identifier else None
    if id_ is not None:
        condition = Subject.id == id_ if condition is None else condition & (Subject.id == id_)
    if condition is None:
        raise HTTPException(status_code=400, detail="Cần tham số identifier hoặc _id.")
    in_area = area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code)
    found = list(session.scalars(select(Subject).where(in_area, condition).order_by(Subject.id).limit(SEARCH_LIMIT)))
    record(session, actor=user.username, actor_role=user.role, action="search", entity="subject",
           reason="Tra cứu FHIR Patient", detail={"results": [subject.id for subject in found]})  # fmt: skip
    session.commit()
    links = merge_links(session, [subject.id for subject in found])
    resources = [patient(subject, links.get(subject.id)) for subject in found]
    return fhir_answer(searchset(resources, self_url=str(request.url)))


def _identifier_condition(identifier: str) -> Any:
    system, _, value = identifier.rpartition("|")
    value = value.strip()
    if not value:
        raise HTTPException(status_code=400, detail="Giá trị identifier trống.")
    columns = {
        systems.ID_SYSTEMS[IdKind.CCCD][0]: Subject.id_number,
        systems.ID_SYSTEMS[IdKind.CMND][0]: Subject.id_number,
        systems.ID_SYSTEMS[IdKind.PASSPORT][0]: Subject.passport_number,
        systems.SUBJECT_KEY: Subject.subject_key,
    }
    if system:
        if system not in columns:
            raise HTTPException(status_code=400, detail=f"Không hỗ trợ hệ định danh {system}.")
        return columns[system] == value
    return or_(Subject.id_number == value, Subject.passport_number == value, Subject.subject_key == value)


@router.get("/Patient/{subject_id}")
def read_patient(subject_id: RowId, session: SessionDep, user: Reader) -> Response:
    subject = load_subject(session, user, subject_id, reason="Đọc FHIR Patient")
    resource = patient(subject, merge_links(session, [subject.id]).get(subject.id))
    session.commit()
    return fhir_answer(resource)


@router.get("/Patient/{subject_id}/$everything")
def patient_everything(request: Request, subject_id: RowId, session: SessionDep, user: Reader) -> Response:
    """The person, every dose, and the facilities that gave them."""
    subject = load_subject(session, user, subject_id, reason="Đọc FHIR Patient/$everything")
    doses = list(subject.doses)
    facilities = session.scalars(select(Facility).where(Facility.code.in_({dose.facility_code for dose in doses})))
    person = patient(subject, merge_links(session, [subject.id]).get(subject.id))
    resources = [person, *(immunization(dose) for dose in doses), *(organization(f) for f in facilities)]
    session.commit()
    return fhir_answer(searchset(resources, self_url=str(request.url)))


@router.get("/Immunization")
def search_immunizations(
    request: Request, session: SessionDep, user: Reader, patient_reference: Annotated[str, Query(alias="patient")]
) -> Response:
    """`Immunization?patient=Patient/{id}` (or the bare id): the person's doses, after the area check."""
    subject_id = patient_reference.removeprefix("Patient/")
    if not subject_id.isdigit() or not 1 <= int(subject_id) <= 2_147_483_647:
        raise HTTPException(status_code=400, detail="Tham số patient phải có dạng Patient/{mã}.")
    subject = load_subject(session, user, int(subject_id), reason="Đọc FHIR Immunization")
    resources = [immunization(dose) for dose in subject.doses]
    session.commit()
    return fhir_answer(searchset(resources, self_url=str(request.url)))


@router.get("/Immunization/{dose_id}")
def read_immunization(dose_id: RowId, session: SessionDep, user: Reader) -> Response:
    dose = session.get(Dose, dose_id)
    if dose is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy mũi tiêm.")
    load_subject(session, user, dose.subject_id, reason="Đọc FHIR Immunization")
    resource = immunization(dose)
    session.commit()
    return fhir_answer(resource)


@router.get("/Organization/{code}")
def read_organization(code: FacilityCode, session: SessionDep, user: Reader) -> Response:
    facility = session.get(Facility, code)
    if facility is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy cơ sở tiêm chủng.")
    return fhir_answer(organization(facility))


def _exports(request: Request) -> ExportJobs:
    jobs: ExportJobs = request.app.state.fhir_exports
    return jobs


Exports = Annotated[ExportJobs, Depends(_exports)]


@router.get("/$export")
def start_export(request: Request, session: SessionDep, user: Ministry, jobs: Exports) -> Response:
    """Bulk Data kick-off: 202 with the status URL in Content-Location; the files are written in the background."""
    status = jobs.start(user.username)
    record(session, actor=user.username, actor_role=user.role, action="export", entity="fhir",
           entity_id=status.job_id, reason="Xuất toàn bộ dữ liệu FHIR (Bulk Data)")  # fmt: skip
    session.commit()
    location = f"{_base(request)}/fhir/bulk/{status.job_id}"
    return Response(status_code=202, headers={"Content-Location": location})


@router.get("/bulk/{job_id}")
def export_status(request: Request, job_id: str, user: Ministry, jobs: Exports) -> Response:
    """202 with X-Progress while the job runs, the manifest when it is done, an OperationOutcome if it failed."""
    status = jobs.status(job_id)
    if status is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy lần xuất dữ liệu này.")
    if status.state == "running":
        # HTTP headers are Latin-1: the progress is counts by resource type, which programs read anyway.
        written = "; ".join(f"{kind}: {count}" for kind, count in status.counts.items()) or "starting"
        return Response(status_code=202, headers={"X-Progress": written, "Retry-After": "5"})
    if status.state == "error":
        raise HTTPException(status_code=500, detail=status.error)
    return JSONResponse(manifest(status, _base(request)))


@router.get("/bulk/{job_id}/{kind}.ndjson")
def export_file(job_id: str, kind: str, user: Ministry, jobs: Exports) -> Response:
    path = jobs.file(job_id, kind)
    if path is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy tệp này.")
    return FileResponse(path, media_type="application/fhir+ndjson", filename=f"{kind}.ndjson")
