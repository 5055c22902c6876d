"""Pages: a facility uploads a vaccination-records file; the result page; the error workbook to fix and re-upload.

The same `import_records` as `tiemchung import`, with the facility of the logged-in user (rows of another facility
are rejected). The uploaded file is deleted after the import; only the error workbook of the rejected rows is kept,
for its uploader, and each download of it is written to the audit log (it holds people's data).
"""

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import FileResponse, Response

from tiemchung.registry.audit import record as audit_record
from tiemchung.registry.models import ImportBatch, Role, User
from tiemchung.web.deps import get_session, render, require_roles
from tiemchung.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Nhập tệp mũi tiêm", "/imports", frozenset({Role.FACILITY}), order=12)]
DEFAULT_IMPORTS_DIR = Path("var/imports")
ERROR_WORKBOOK = "danh-sach-loi.xlsx"
SHOWN_ERRORS = 200
RECENT_BATCHES = 20
UPLOAD_CHUNK = 1024 * 1024
NOT_YOURS = "Tệp lỗi này không thuộc lần nhập của bạn."


def _imports_dir(request: Request) -> Path:
    """Where error workbooks are kept: `app.state.imports_dir` when set (tests, deployments), else var/imports."""
    return Path(getattr(request.app.state, "imports_dir", DEFAULT_IMPORTS_DIR))


@router.get("/imports")
def upload_page(
    request: Request,
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    return render(request, "imports/index.html", {"batches": _recent_batches(session, user), **_choices()})


@router.post("/imports")
def upload(
    request: Request,
    file: Annotated[UploadFile, File()],
    reason_group: Annotated[str, Form()] = "",
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    from tiemchung.registry.export import write_error_workbook
    from tiemchung.registry.importer import ImportReport, import_records
    from tiemchung.registry.sources import MAX_FILE_BYTES

    with tempfile.TemporaryDirectory() as folder:
        # Keep the user's suffix: it tells a CSV from other text; the content decides everything else.
        path = Path(folder) / ("upload" + Path(file.filename or "").suffix.lower()[:8])
        if not _save_upload(file, path, MAX_FILE_BYTES):
            report = ImportReport(batch_id=None, file_name=file.filename or "", file_error="Tệp quá lớn.")
        else:
            report = import_records(
                request.app.state.session_factory,
                path,
                actor=user.username,
                facility_code=user.facility_code,
                reason_group=reason_group or None,
            )
            report.file_name = file.filename or path.name
        if report.batch_id is not None and report.errors:
            out = _imports_dir(request) / str(report.batch_id) / ERROR_WORKBOOK
            write_error_workbook(report, path, out)
    context = {"report": report, "errors": report.errors[:SHOWN_ERRORS], "batches": _recent_batches(session, user)}
    return render(request, "imports/result.html", {**context, **_choices()}, status_code=200 if report.ok else 400)


def _save_upload(file: UploadFile, path: Path, limit: int) -> bool:
    """Copy the upload to disk in chunks; False when it is larger than `limit`."""
    written = 0
    with path.open("wb") as out:
        while chunk := file.file.read(UPLOAD_CHUNK):
            written += len(chunk)
            if written > limit:
                return False
            out.write(chunk)
    return True


@router.get("/imports/errors")
def download_errors(
    request: Request,
    batch: Annotated[int, Query(ge=1, le=2_147_483_647)],
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    found = session.get(ImportBatch, batch)
    if found is None or found.uploaded_by != user.username:
        raise HTTPException(status_code=403, detail=NOT_YOURS)
    path = _imports_dir(request) / str(found.id) / ERROR_WORKBOOK
    if not path.exists():
        raise HTTPException(status_code=404, detail="Lần nhập này không có dòng bị từ chối.")
    audit_record(session, actor=user.username, actor_role=user.role, action="download", entity="import_errors",
                 entity_id=found.id, reason="Tải danh sách dòng bị từ chối")  # fmt: skip
    session.commit()
    return FileResponse(path, filename=f"loi-nhap-{found.id}.xlsx", media_type=_XLSX)


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _recent_batches(session: Session, user: User) -> list[ImportBatch]:
    query = (
        select(ImportBatch)
        .where(ImportBatch.uploaded_by == user.username)
        .order_by(ImportBatch.id.desc())
        .limit(RECENT_BATCHES)
    )
    return list(session.scalars(query))


def _choices() -> dict[str, object]:
    from tiemchung.reference import ReasonGroup

    return {"reason_groups": list(ReasonGroup)}
