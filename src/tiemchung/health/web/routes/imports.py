"""Imports of vaccination-records files: the upload page with its live progress, the result, the error workbook;
and the same through the JSON API (`/api/v1/imports`).

A facility imports its own doses (people of its area); a commune health station re-imports the corrected list of
its commune (seed 000, step 4). The import runs in the background (`web/import_jobs.py`): the page shows rows read,
rows stored and errors so far (htmx polling), then the result. Only the uploader sees a batch and its error
workbook, and each download of that workbook is written to the audit log (it holds people's data).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, RedirectResponse, Response

from tiemchung.health.registry.audit import record as audit_record
from tiemchung.health.registry.importer import report_of
from tiemchung.health.registry.models import ImportBatch, User
from tiemchung.health.web import import_jobs
from tiemchung.health.web.deps import MAX_KEY, SessionDep, released, render, require_roles, templates
from tiemchung.health.web.nav import NavItem
from tiemchung.reference import ReasonGroup

router = APIRouter()
NAV_ITEMS = [NavItem("Nhập tệp mũi tiêm", "/imports", frozenset(import_jobs.IMPORTING_ROLES), order=12)]
SHOWN_ERRORS = 200
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
templates.env.globals["import_phases"] = import_jobs.PHASES

Importer = Annotated[User, Depends(require_roles(*import_jobs.IMPORTING_ROLES))]
UploadedFile = Annotated[UploadFile, File(description="Tệp .xlsx hoặc .csv (UTF-8) theo mẫu mục 2")]
# Batches are named in the query (?batch=N), as the error workbook's link always was: a batch is its uploader's.
BatchId = Annotated[int, Query(ge=1, le=MAX_KEY, description="Số lần nhập")]
BatchQuery = Annotated[int | None, Query(ge=1, le=MAX_KEY)]
ReasonGroupField = Annotated[str, Form(description="Nhóm lý do nhập muộn (1–6 hoặc other); trống nếu không có")]


@router.get("/imports", include_in_schema=False)
def upload_page(request: Request, user: Importer, session: SessionDep, batch: BatchQuery = None) -> Response:
    """The upload form and the recent imports; with `?batch=N`, that import's progress or result on top."""
    context = {"batches": import_jobs.recent_batches(session, user), "no_scope": _no_scope(user), **_choices()}
    if batch is not None:
        context.update(_batch_context(request, session, user, batch))
    return render(request, "imports/index.html", context)


@router.post("/imports", include_in_schema=False)
def upload(request: Request, user: Importer, file: UploadedFile, reason_group: ReasonGroupField = "") -> Response:
    batch_id = import_jobs.start_import(request.app, user, file.file, file.filename or "", reason_group)
    return RedirectResponse(f"/imports?batch={batch_id}", status_code=303)


@router.get("/imports/errors", include_in_schema=False)
def download_errors(request: Request, user: Importer, session: SessionDep, batch: BatchId) -> Response:
    found = import_jobs.batch_of(session, user, batch)
    path = import_jobs.error_workbook(request.app, found)
    if not path.exists():
        raise HTTPException(status_code=404, detail="Lần nhập này không có dòng bị từ chối.")
    audit_record(session, actor=user.username, actor_role=user.role, action="download", entity="import_errors",
                 entity_id=found.id, reason="Tải danh sách dòng bị từ chối")  # fmt: skip
    session.commit()
    return FileResponse(path, filename=f"loi-nhap-{found.id}.xlsx", media_type=_XLSX)


@router.get("/imports/progress", include_in_schema=False)
def batch_progress(request: Request, user: Importer, session: SessionDep, batch: BatchId) -> Response:
    """The fragment the page polls: progress while the job runs, the result once it is over (with the list of
    recent imports, swapped out of band, so that it shows the final counts too)."""
    context = _batch_context(request, session, user, batch)
    if context["finished"]:
        context["oob_batches"] = import_jobs.recent_batches(session, user)
    return render(request, "imports/progress.html", context)


def _batch_context(request: Request, session: Session, user: User, batch_id: int) -> dict[str, Any]:

    batch = import_jobs.batch_of(session, user, batch_id)
    over = import_jobs.finished(request.app, batch)
    report = report_of(request.app.state.session_factory, batch.id) if over else None
    errors = report.errors[:SHOWN_ERRORS] if report else []
    phase = import_jobs.PHASES.get(batch.status, "") if over or batch.status != "done" else import_jobs.FINISHING
    return {"batch": batch, "report": report, "errors": errors, "phase": phase,
            "percent": import_jobs.percent(batch), "finished": over}  # fmt: skip


def _no_scope(user: User) -> str:
    return import_jobs.NO_SCOPE if import_jobs.scope_for(user) is None else ""


def _choices() -> dict[str, object]:

    return {"reason_groups": list(ReasonGroup)}


# ------------------------------------------------------------------------------------------------------- JSON API


class ImportRowProblem(BaseModel):
    row: int
    column: str
    value: str
    message: str


class ImportStatus(BaseModel):
    """An import as it runs (status, rows read / stored / rejected so far) and its result once finished."""

    batch_id: int
    file_name: str
    status: str  # queued, reading, applying, done, failed
    phase: str
    rows_read: int
    rows_expected: int | None
    rows_stored: int
    rows_rejected: int
    file_error: str | None = None
    counts: dict[str, int] = {}
    errors: list[ImportRowProblem] = []
    error_workbook_url: str | None = None


@router.post("/api/v1/imports", status_code=202, tags=["imports"])
def api_upload(request: Request, user: Importer, file: UploadedFile, reason_group: ReasonGroupField = "") -> Any:
    """Queue a records file for import; poll `GET /api/v1/imports/status?batch=N` for its progress and result."""
    batch_id = import_jobs.start_import(request.app, user, file.file, file.filename or "", reason_group)
    return {"batch_id": batch_id, "status_url": f"/api/v1/imports/status?batch={batch_id}"}


def _api_status(batch: ImportBatch, finished: bool) -> str:
    """`done` only once the result is complete (the job still writes the error workbook after the database's done)."""
    return "applying" if batch.status == "done" and not finished else batch.status


@router.get("/api/v1/imports/status", tags=["imports"])
def api_status(request: Request, user: Importer, session: SessionDep, batch: BatchId) -> ImportStatus:
    """The import's progress, then its counts and its first row errors (all of them in the error workbook)."""
    context = _batch_context(request, session, user, batch)
    found: ImportBatch = context["batch"]
    report = context["report"]
    answer = ImportStatus(
        batch_id=found.id, file_name=found.file_name, status=_api_status(found, context["finished"]),
        phase=context["phase"],
        rows_read=found.rows_total, rows_expected=found.rows_expected, rows_stored=found.rows_accepted,
        rows_rejected=found.rows_rejected, file_error=report.file_error if report else None,
        counts=report.counts() if report and report.ok else {},
        errors=[ImportRowProblem(row=e.row, column=e.column, value=e.value, message=e.message_vi)
                for e in context["errors"]],
        error_workbook_url=f"/imports/errors?batch={found.id}" if report and report.errors else None,
    )  # fmt: skip
    return released(session, answer)
