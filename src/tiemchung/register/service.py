"""The register service: the population register answering verification requests over HTTP (register side).

Runs as its own process (`tiemchung register serve`); the health side talks to it only through this API, and the
answer reveals no more than the section-3 fields (category, reasons, matched person, probability).

- `POST /v1/verify`: one subject, answered online; `Idempotency-Key` makes a retry return the stored answer.
- `POST /v1/batches`, `GET /v1/batches/{id}`, `GET /v1/batches/{id}/results`: a file of subjects, verified
  in resumable chunks (see `jobs`).
- Every call is authenticated by API key (and, when served with `--tls-ca`, by a client certificate), limited per
  caller by a token bucket (429 + `Retry-After`), and every subject asked about is written to the query log.
- Housekeeping, at start and then every `housekeeping_seconds`: expired idempotency answers and the files of batch
  jobs finished long ago are deleted. The query log is not: its retention is an operator's decision (`querylog`).
"""

import asyncio
import hashlib
import json
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Header, HTTPException, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tiemchung.interchange.results import SubjectQuery, valid_idempotency_key
from tiemchung.register.body_guard import BodyGuard
from tiemchung.register.jobs import DEFAULT_JOB_RETENTION, BatchJobs, JobState, JobStatus, Rejection
from tiemchung.register.keys import Caller, KeyStore
from tiemchung.register.ledger import DEFAULT_IDEMPOTENCY_RETENTION, Clock, Ledger, LogEntry, utc_now
from tiemchung.register.ratelimit import RateLimiter
from tiemchung.register.verifier import Verifier, open_register

log = logging.getLogger(__name__)

API_TITLE = "Dịch vụ xác minh CSDL quốc gia về dân cư (register service)"
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class ServiceConfig:
    register: Path
    workdir: Path
    keys: Path
    chunk_subjects: int = 50_000
    threads: int | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    # The health side retries one request for minutes (client) to hours (its queue's backoff, up to 1 h, plus the
    # drain timer): a month outlives every retry with a wide margin. After it, a key is as good as new.
    idempotency_retention: timedelta = DEFAULT_IDEMPOTENCY_RETENTION
    # Counted from the job's end: ample time to download the results (the health side does it at once).
    job_retention: timedelta = DEFAULT_JOB_RETENTION
    housekeeping_seconds: float = 3600.0


class SubjectIn(BaseModel):
    """One subject as the health side holds it (section-2 identity fields, as typed)."""

    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=255)
    birth_date: str = Field(min_length=1, max_length=32)
    sex: str = Field(min_length=1, max_length=8)
    id_number: str | None = Field(default=None, max_length=32)
    passport_number: str | None = Field(default=None, max_length=32)
    nationality: str | None = Field(default=None, max_length=64)
    province_code: str | None = Field(default=None, max_length=8)
    district_code: str | None = Field(default=None, max_length=8)
    ward_code: str | None = Field(default=None, max_length=8)
    address: str | None = Field(default=None, max_length=512)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object, info: ValidationInfo) -> object:
        """NUL and other control characters are never part of a typed identity (the interchange format's fields
        are text as typed): a NUL in `id_number` was accepted (issue 16 item 14) and would reach logs and files."""
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError(f"trường {info.field_name} chứa ký tự điều khiển (NUL, xuống dòng...) không hợp lệ")
        return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ResultOut(BaseModel):
    """A section-3 row: every value as text, empty when absent."""

    subject_id: str
    category: str
    reasons: str
    matched_person_id: str
    match_probability: str


class JobOut(BaseModel):
    job_id: str
    status: str
    created_at: str
    subjects: int | None
    chunks: int | None
    chunks_done: int
    by_category: dict[str, int]
    finished_at: str | None
    error_vi: str | None
    files_deleted_at: str | None
    note_vi: str | None


class ErrorOut(BaseModel):
    detail: str


@dataclass
class _Runtime:
    verifier: Verifier
    ledger: Ledger
    jobs: BatchJobs
    keys: KeyStore
    limiter: RateLimiter
    config: ServiceConfig
    submit_lock: threading.Lock


_bearer = HTTPBearer(auto_error=False, description="Khóa API của đơn vị gọi: `Authorization: Bearer <khóa>`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Hoặc khóa API trong `X-API-Key`")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Thiếu hoặc sai khóa API"},
    429: {"model": ErrorOut, "description": "Vượt hạn mức truy vấn; xem Retry-After"},
}


def create_app(config: ServiceConfig, *, verifier: Verifier | None = None, clock: Clock = utc_now) -> FastAPI:
    """The service app. `verifier` defaults to the engine's index of `config.register`, opened at startup; `clock`
    is the time the retention periods are measured with."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = _open_runtime(config, verifier, clock)
        app.state.runtime = runtime
        _remove_partial_uploads(_uploads_dir(config))
        await asyncio.to_thread(_housekeeping, runtime)
        runtime.jobs.start()
        stop = asyncio.Event()
        sweeper = asyncio.create_task(_housekeeping_every(config.housekeeping_seconds, runtime, stop))
        try:
            yield
        finally:
            stop.set()
            await sweeper  # lets a sweep in progress finish before the ledger closes under it
            runtime.jobs.stop()
            runtime.ledger.close()
            runtime.verifier.close()

    app = FastAPI(title=API_TITLE, version="1", lifespan=lifespan, responses=_ERRORS)
    app.add_exception_handler(Exception, _internal_error)
    # Authenticate and size a write before its body is read (population/body_guard.py, issue 16 item 6).
    app.add_middleware(BodyGuard, keys=lambda: app.state.runtime.keys, upload_limit=config.max_upload_bytes + 64 * 1024)
    _add_routes(app)
    return app


def _housekeeping(runtime: _Runtime) -> None:
    """One sweep: expired idempotency answers, then expired batch files. A failure is logged and the next sweep
    tries again: housekeeping must never take the service down."""
    try:
        keys = runtime.ledger.expire_idempotency()
        jobs = runtime.jobs.delete_expired_files()
    except Exception:
        log.exception("housekeeping failed; the next sweep will try again")
        return
    if keys or jobs:
        log.info("housekeeping: %d expired idempotency answers deleted, files of %d batch jobs deleted", keys, jobs)


async def _housekeeping_every(seconds: float, runtime: _Runtime, stop: asyncio.Event) -> None:
    """Sweep every `seconds` until `stop` is set (each sweep off the event loop: it touches SQLite and the disk)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
            return
        except TimeoutError:
            await asyncio.to_thread(_housekeeping, runtime)


def _remove_partial_uploads(uploads: Path) -> None:
    """Uploads cut short by a crash (before any request is served, no upload can be in progress)."""
    for partial in uploads.glob("*.part"):
        partial.unlink(missing_ok=True)


def _uploads_dir(config: ServiceConfig) -> Path:
    return config.workdir / "uploads"


def _open_runtime(config: ServiceConfig, verifier: Verifier | None, clock: Clock) -> _Runtime:
    config.workdir.mkdir(parents=True, exist_ok=True)
    engine = verifier or open_register(config.register, config.workdir, threads=config.threads)
    ledger = Ledger(
        config.workdir / "service.sqlite",
        config.workdir / "query-log.secret",
        idempotency_retention=config.idempotency_retention,
        clock=clock,
    )
    jobs = BatchJobs(
        config.workdir,
        engine,
        ledger,
        chunk_subjects=config.chunk_subjects,
        retention=config.job_retention,
        clock=clock,
    )
    return _Runtime(engine, ledger, jobs, KeyStore(config.keys), RateLimiter(), config, threading.Lock())


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    """An engine or storage failure: logged in full here, a short Vietnamese answer there (5xx: the client retries)."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "Lỗi nội bộ của dịch vụ xác minh; hãy gửi lại yêu cầu sau."}, status_code=500)


def _runtime(request: Request) -> _Runtime:
    runtime: _Runtime = request.app.state.runtime
    return runtime


# The dependencies below are `async def` on purpose: FastAPI runs a sync dependency in its threadpool, and three
# thread hops per request cost more than the microseconds of work they do (they never block).
async def _caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Caller:
    """Authenticate the calling organisation, then charge its rate limit."""
    runtime = _runtime(request)
    key = bearer.credentials if bearer is not None else api_key
    caller = runtime.keys.authenticate(key) if key else None
    if caller is None:
        raise HTTPException(401, "Thiếu hoặc sai khóa API.", headers={"WWW-Authenticate": "Bearer"})
    wait = runtime.limiter.retry_after(caller.name, caller.rate_per_second, caller.burst)
    if wait:
        raise HTTPException(
            429, f"Vượt hạn mức truy vấn của đơn vị; thử lại sau {wait} giây.", headers={"Retry-After": str(wait)}
        )
    return caller


async def _request_id(response: Response, x_request_id: Annotated[str | None, Header()] = None) -> str:
    request_id = x_request_id if x_request_id and _REQUEST_ID.match(x_request_id) else uuid.uuid4().hex
    response.headers["X-Request-ID"] = request_id
    return request_id


async def _idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str | None:
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        raise HTTPException(422, "Idempotency-Key không hợp lệ (1–64 ký tự chữ, số, . _ : -).")
    return idempotency_key


CallerDep = Annotated[Caller, Depends(_caller)]
RequestIdDep = Annotated[str, Depends(_request_id)]
IdempotencyDep = Annotated[str | None, Depends(_idempotency_key)]


def _add_routes(app: FastAPI) -> None:
    @app.get("/healthz", summary="Dịch vụ đang chạy")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/verify", response_model=ResultOut, summary="Xác minh trực tuyến một đối tượng")
    def verify(
        subject: SubjectIn,
        request: Request,
        response: Response,
        caller: CallerDep,
        request_id: RequestIdDep,
        idempotency_key: IdempotencyDep,
    ) -> dict[str, object]:
        return _verify_online(_runtime(request), subject, response, caller, request_id, idempotency_key)

    @app.post("/v1/batches", response_model=JobOut, status_code=202, summary="Gửi một tệp đối tượng để xác minh")
    def submit_batch(
        file: Annotated[UploadFile, File(description="Tệp CSV hoặc Parquet: cột đối tượng (SUBJECT_COLUMNS)")],
        request: Request,
        response: Response,
        caller: CallerDep,
        request_id: RequestIdDep,
        idempotency_key: IdempotencyDep,
    ) -> dict[str, object]:
        return _submit_batch(_runtime(request), file, response, caller, idempotency_key)

    @app.get("/v1/batches/{job_id}", response_model=JobOut, summary="Tình trạng một lô")
    def batch_status(job_id: str, request: Request, caller: CallerDep) -> dict[str, object]:
        return _own_job(_runtime(request), job_id, caller).public()

    @app.get(
        "/v1/batches/{job_id}/results",
        summary="Tải kết quả xác minh của một lô (mục 3, CSV hoặc Parquet)",
        response_class=FileResponse,
        responses={
            409: {"model": ErrorOut, "description": "Lô chưa xong"},
            410: {"model": ErrorOut, "description": "Tệp của lô đã được xóa (hết thời hạn lưu giữ)"},
        },
    )
    def batch_results(job_id: str, request: Request, caller: CallerDep, format: str = "parquet") -> FileResponse:
        return _results_file(_runtime(request), job_id, caller, format)


def _verify_online(
    runtime: _Runtime,
    subject: SubjectIn,
    response: Response,
    caller: Caller,
    request_id: str,
    idempotency_key: str | None,
) -> dict[str, object]:
    fingerprint = hashlib.sha256(subject.model_dump_json().encode()).hexdigest()
    if idempotency_key is not None:
        stored = runtime.ledger.recall(caller.name, idempotency_key)
        if stored is not None:
            return _replay(stored.fingerprint, fingerprint, stored.response, response)
    query = SubjectQuery(**subject.model_dump())
    started = time.perf_counter()
    row: dict[str, object] = dict(runtime.verifier.verify_one(query).to_row())
    # Server-Timing (W3C) separates the engine's time from the network and framework overhead, for the benchmark.
    response.headers["Server-Timing"] = f"verify;dur={(time.perf_counter() - started) * 1000:.2f}"
    entry = LogEntry(
        caller.name, request_id, "online", query.subject_id, runtime.ledger.identity_hmac(query), str(row["category"])
    )
    idempotency = None if idempotency_key is None else (caller.name, idempotency_key, fingerprint)
    earlier = runtime.ledger.answer([entry], idempotency=idempotency, response=row)
    if earlier is not None:  # a concurrent retry with the same key answered first: its answer is the answer
        return _replay(earlier.fingerprint, fingerprint, earlier.response, response)
    return row


def _replay(
    stored_fingerprint: str, fingerprint: str, stored: dict[str, object], response: Response
) -> dict[str, object]:
    _require_same_request(stored_fingerprint, fingerprint)
    response.headers["Idempotent-Replayed"] = "true"
    return stored


def _require_same_request(stored_fingerprint: str, fingerprint: str) -> None:
    if stored_fingerprint != fingerprint:
        raise HTTPException(422, "Idempotency-Key này đã được dùng cho một yêu cầu khác.")


def _submit_batch(
    runtime: _Runtime, file: UploadFile, response: Response, caller: Caller, idempotency_key: str | None
) -> dict[str, object]:
    uploads = _uploads_dir(runtime.config)
    uploads.mkdir(parents=True, exist_ok=True)
    received = uploads / f"{uuid.uuid4().hex}.part"
    try:
        fingerprint = _receive(file, received, runtime.config.max_upload_bytes)
        # Serialised so that two retries of one submission cannot both create a job.
        with runtime.submit_lock:
            earlier = _job_under_key(runtime, caller, idempotency_key, fingerprint)
            if earlier is not None:
                response.headers["Idempotent-Replayed"] = "true"
                return earlier.public()
            outcome = runtime.jobs.submit(caller.name, received, file.filename or "")
            if isinstance(outcome, Rejection):
                raise HTTPException(422, outcome.message_vi)
            if idempotency_key is not None:
                runtime.ledger.answer(
                    [], idempotency=(caller.name, idempotency_key, fingerprint), response={"job_id": outcome.job_id}
                )
        return outcome.public()
    finally:
        received.unlink(missing_ok=True)


def _job_under_key(runtime: _Runtime, caller: Caller, key: str | None, fingerprint: str) -> JobState | None:
    """The job already submitted under this idempotency key, unless it failed or its files were deleted: such a job
    does not hold its key, so resubmitting the same file (as the health side does after a failure) starts afresh."""
    stored = runtime.ledger.recall(caller.name, key) if key is not None else None
    if key is None or stored is None:
        return None
    _require_same_request(stored.fingerprint, fingerprint)
    job = runtime.jobs.get(str(stored.response["job_id"]), caller.name)
    if job is None or job.status == JobStatus.FAILED or job.files_deleted_at is not None:
        runtime.ledger.forget(caller.name, key)
        return None
    return job


def _receive(file: UploadFile, destination: Path, limit: int) -> str:
    """Copy the upload to `destination` within `limit` bytes; return its SHA-256."""
    digest = hashlib.sha256()
    size = 0
    with destination.open("wb") as out:
        while block := file.file.read(1 << 20):
            size += len(block)
            if size > limit:
                raise HTTPException(413, f"Tệp vượt quá giới hạn {limit // 1024**2} MB.")
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _own_job(runtime: _Runtime, job_id: str, caller: Caller) -> JobState:
    state = runtime.jobs.get(job_id, caller.name)
    if state is None:
        raise HTTPException(404, "Không có lô này.")
    return state


def _results_file(runtime: _Runtime, job_id: str, caller: Caller, format: str) -> FileResponse:
    state = _own_job(runtime, job_id, caller)
    gone = state.files_deleted_vi()
    if gone is not None:
        raise HTTPException(410, gone)
    if state.status != "done":
        raise HTTPException(409, f"Lô chưa xong (trạng thái: {state.status}).")
    parquet = runtime.jobs.results_path(state)
    if format == "parquet":
        return FileResponse(parquet, media_type="application/vnd.apache.parquet", filename=f"{job_id}.parquet")
    if format == "csv":
        return FileResponse(_as_csv(parquet), media_type="text/csv; charset=utf-8", filename=f"{job_id}.csv")
    raise HTTPException(422, "Định dạng phải là parquet hoặc csv.")


def _as_csv(parquet: Path) -> Path:
    """The CSV twin of a results file, written once next to it."""
    import duckdb

    csv = parquet.with_suffix(".csv")
    if not csv.exists():
        partial = parquet.with_suffix(".csv.partial")
        with duckdb.connect() as connection:
            literal = str(parquet).replace("'", "''")
            connection.execute(
                f"copy (select * from read_parquet('{literal}')) to '{str(partial).replace("'", "''")}' "
                "(format csv, header true)"
            )
        shutil.move(partial, csv)
    return csv


def openapi_json(config: ServiceConfig) -> str:
    """The service's OpenAPI document (for the docs; no register needed)."""
    return json.dumps(create_app(config).openapi(), ensure_ascii=False, indent=2)
