"""Imports as background jobs, shared by the upload page and the JSON API.

An upload is saved to disk (streamed, bounded), registered as a queued `ImportBatch` and handed to a small thread
pool; the request answers at once and the page polls the batch's progress. The importer writes in short
transactions (`registry/importer.py`), so a running import never blocks other users' reads and writes. Each
import is scoped to the uploader (`ImportScope`): a facility's own doses and people of its area, a station's
commune. Imported subjects are queued for verification with the population register.
"""

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from fastapi import FastAPI, HTTPException
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.export import write_error_workbook
from tiemchung.health.registry.import_scope import ImportScope
from tiemchung.health.registry.importer import (
    ImportReport,
    fail_batch,
    resume_import,
    resume_imports,
    run_import,
    start_batch,
)
from tiemchung.health.registry.models import ImportBatch, Role, User
from tiemchung.health.verification import queue
from tiemchung.health.web.body_limit import DEFAULT_LIMIT

log = logging.getLogger(__name__)
DEFAULT_IMPORTS_DIR = Path("var/imports")
ERROR_WORKBOOK = "danh-sach-loi.xlsx"
UPLOAD_CHUNK = 1024 * 1024
MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024
# Two imports run at once (two cores is the small server); more wait in the queue, shown as "Đang chờ".
WORKERS = 2
# A lost or refused database connection (as the web's 503): the job waits for the database this long, then leaves
# the import to the next start of the server.
DATABASE_LOST = (OperationalError, InterfaceError)
RESUME_WITHIN_SECONDS = 120
IMPORTING_ROLES = (Role.FACILITY, Role.HEALTH_STATION)
NO_SCOPE = (
    "Tài khoản của bạn chưa được gắn cơ sở tiêm chủng hoặc địa bàn, nên chưa nhập tệp được: hãy liên hệ quản trị."
)
TOO_LARGE = "Tệp quá lớn: tối đa {limit} MB mỗi tệp."
NOT_YOURS = "Lần nhập này không phải của bạn."


def scope_for(user: User) -> ImportScope | None:
    """The records an account may import: a facility its own doses for people of its area; a station the people of
    its commune. None when the account lacks the data its role needs (then it imports nothing)."""
    area = user.area_code or ""
    if user.role == Role.FACILITY and user.facility_code and len(area) in (2, 3, 5):
        return ImportScope(facility_code=user.facility_code, area_code=area)
    if user.role == Role.HEALTH_STATION and len(area) == 5:
        return ImportScope(area_code=area)
    return None


def imports_dir(app: FastAPI) -> Path:
    """Where uploads (while they are imported) and error workbooks are kept: `app.state.imports_dir`."""
    return Path(getattr(app.state, "imports_dir", DEFAULT_IMPORTS_DIR))


def upload_limit(app: FastAPI) -> int:
    """The largest upload (`app.state.import_upload_limit`): 2 GiB by default, room for any CSV a facility has."""
    return int(getattr(app.state, "import_upload_limit", MAX_UPLOAD_BYTES))


UPLOAD_PATHS = frozenset({"/imports", "/api/v1/imports"})
# The public certificate check takes a photo of the QR (certificates.MAX_IMAGE_BYTES, 5 MB) and its form.
VERIFY_PATHS = frozenset({"/verify"})
VERIFY_LIMIT = 6 * 1024 * 1024


def body_limit_for(app: FastAPI, path: str) -> int:
    """The largest request body each endpoint takes (`body_limit.py`): uploads of records files, the certificate
    photo, and 1 MiB for every other form and JSON body."""

    if path in UPLOAD_PATHS:
        return upload_limit(app) + 64 * 1024  # the file and the form's few fields
    return VERIFY_LIMIT if path in VERIFY_PATHS else DEFAULT_LIMIT


def start_import(app: FastAPI, user: User, upload: BinaryIO, file_name: str, reason_group: str | None) -> int:
    """Save the upload and queue its import; returns the batch id (403 for an account without scope, 413 for a
    file over the limit)."""

    scope = scope_for(user)
    if scope is None:
        raise HTTPException(status_code=403, detail=NO_SCOPE)
    factory: sessionmaker[Session] = app.state.session_factory
    batch_id = start_batch(factory, file_name or "tep-tai-len", actor=user.username, scope=scope,
                           reason_group=reason_group or None)  # fmt: skip
    folder = imports_dir(app) / str(batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    # Keep the user's suffix: it tells a CSV from other text; the content decides everything else.
    path = folder / ("upload" + Path(file_name or "").suffix.lower()[:8])
    if not _save(upload, path, upload_limit(app)):
        shutil.rmtree(folder, ignore_errors=True)
        _refuse(factory, batch_id, TOO_LARGE.format(limit=upload_limit(app) // (1024 * 1024)))
        raise HTTPException(status_code=413, detail=TOO_LARGE.format(limit=upload_limit(app) // (1024 * 1024)))
    running = _running(app)
    running.add(batch_id)
    _executor(app).submit(_run, factory, batch_id, path, running)
    return batch_id


def _save(upload: BinaryIO, path: Path, limit: int) -> bool:
    """Copy the upload to disk in chunks; False when it is larger than `limit`."""
    written = 0
    with path.open("wb") as out:
        while chunk := upload.read(UPLOAD_CHUNK):
            written += len(chunk)
            if written > limit:
                return False
            out.write(chunk)
    return True


def _refuse(factory: sessionmaker[Session], batch_id: int, message: str) -> None:

    fail_batch(factory, batch_id, message)


def _executor(app: FastAPI) -> ThreadPoolExecutor:
    executor = getattr(app.state, "import_executor", None)
    if executor is None:
        executor = app.state.import_executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="import")
    return executor


def queue_verification(session: Session, subject_ids: list[int]) -> None:
    """The importer's hook: imported people wait in the verification outbox (drained by the register client)."""

    queue.enqueue(session, subject_ids, reason="import")


def _run(factory: sessionmaker[Session], batch_id: int, path: Path, running: set[int]) -> None:
    """The job: import, keep the error workbook, delete the upload. Never raises (it runs in a pool thread)."""
    try:
        _import(factory, batch_id, path)
    except Exception:
        log.exception("import %s failed", batch_id)
        _refuse(factory, batch_id, "Lỗi hệ thống khi nhập tệp; chưa ghi hết. Hãy báo quản trị và nhập lại tệp.")
    finally:
        path.unlink(missing_ok=True)
        running.discard(batch_id)


def _import(factory: sessionmaker[Session], batch_id: int, path: Path) -> None:

    try:
        report = run_import(factory, batch_id, path, verify=queue_verification)
    except DATABASE_LOST as error:  # an outage, not a bug: no traceback; the import resumes once the database is back
        log.warning("import %s interrupted: database unavailable (%s)", batch_id, type(error).__name__)
        resumed = _resume_when_the_database_is_back(factory, batch_id)
        if resumed is None:
            return
        report = resumed
    if report.errors:
        # Written beside, then renamed: a download never gets a half-written workbook (the batch is already
        # done in the database while this runs; `finished` waits for the job).
        partial = path.parent / (ERROR_WORKBOOK + ".part")
        write_error_workbook(report, path, partial)
        partial.replace(path.parent / ERROR_WORKBOOK)


def _resume_when_the_database_is_back(factory: sessionmaker[Session], batch_id: int) -> ImportReport | None:
    """Finish (applying) or fail (reading) the interrupted import as soon as the database answers again; None when
    it stays away (the next start of the server resumes it, `resume_unfinished`)."""

    deadline = time.monotonic() + RESUME_WITHIN_SECONDS
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            return resume_import(factory, batch_id, queue_verification)
        except DATABASE_LOST:
            continue
    log.warning("import %s left for the next start: the database stayed unavailable", batch_id)
    return None


def resume_unfinished(app: FastAPI) -> None:
    """At start: complete the imports a stopped server was applying, fail those it was reading (in the pool)."""

    _executor(app).submit(resume_imports, app.state.session_factory, queue_verification)


def batch_of(session: Session, user: User, batch_id: int) -> ImportBatch:
    """The user's own batch (403 for anybody else's: it holds people's data)."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None or batch.uploaded_by != user.username:
        raise HTTPException(status_code=403, detail=NOT_YOURS)
    return batch


def recent_batches(session: Session, user: User, limit: int = 20) -> list[ImportBatch]:
    query = (
        select(ImportBatch).where(ImportBatch.uploaded_by == user.username).order_by(ImportBatch.id.desc()).limit(limit)
    )
    return list(session.scalars(query))


def error_workbook(app: FastAPI, batch: ImportBatch) -> Path:
    return imports_dir(app) / str(batch.id) / ERROR_WORKBOOK


PHASES = {
    "queued": "Đang chờ đến lượt",
    "reading": "Đang đọc và kiểm tra tệp",
    "applying": "Đang ghi vào sổ tiêm chủng",
    "done": "Đã nhập xong",
    "failed": "Không nhập được tệp",
}


FINISHING = "Đang lập danh sách các dòng bị từ chối"  # done in the database, the error workbook still being written


def finished(app: FastAPI, batch: ImportBatch) -> bool:
    """Over, and its result complete: the database says done before the job has written the error workbook, so a
    done import whose job is still running here is still finishing."""
    if batch.status == "failed":
        return True
    return batch.status == "done" and batch.id not in _running(app)


def _running(app: FastAPI) -> set[int]:
    """The batches whose job is still working in this process (set add/discard are atomic in CPython)."""
    if not hasattr(app.state, "running_imports"):
        app.state.running_imports = set()
    running: set[int] = app.state.running_imports
    return running


def percent(batch: ImportBatch) -> int:
    """How far the job is, for the progress bar: reading is the first half, applying the second."""
    if batch.status == "done":
        return 100
    if batch.status == "applying":
        staged = max(batch.rows_total - batch.rows_rejected + batch.rows_applied - batch.rows_accepted, 1)
        return 50 + min(49, 50 * batch.rows_applied // staged)
    if batch.status == "reading" and batch.rows_expected:
        return min(49, 50 * batch.rows_total // max(batch.rows_expected, 1))
    return 0
