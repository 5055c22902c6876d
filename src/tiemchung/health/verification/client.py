"""The health side's client of the register service: timeouts, retries with backoff, idempotency keys.

What it guarantees to its callers (the queue, the web dose entry, the batch path):
- a call either returns the register's answer, or raises `RegisterUnavailable` (the register could not be reached
  or kept failing: try again later, nothing is lost) or `RegisterRefused` (the register rejected the request for
  good: retrying would not help);
- every retry of one call carries the same `Idempotency-Key`, so the register answers a retry from its memory and
  counts the query once, even when the first attempt's answer was lost on the way back.
"""

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tiemchung.interchange.results import SubjectQuery, VerificationResult

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CREDENTIALS_REFUSED = frozenset({401, 403})
API_KEY_SETTING = "TIEMCHUNG_REGISTER_API_KEY"


class RegisterUnavailable(Exception):
    """The register service did not answer usefully after every retry: try again later."""

    def __init__(self, message_vi: str) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi


class RegisterRefused(Exception):
    """The register service rejected the request (bad key, invalid data...): retrying would not help."""

    def __init__(self, status_code: int, message_vi: str) -> None:
        super().__init__(f"{status_code}: {message_vi}")
        self.status_code = status_code
        self.message_vi = message_vi


class RegisterKeyRefused(Exception):
    """The register refused the health side's credentials (401/403: wrong, expired or revoked API key). Not the
    request's fault: it waits, held, until the operator fixes the key (issue 16 item 12: such requests were marked
    failed and never sent again)."""

    def __init__(self, status_code: int, detail: str) -> None:
        self.status_code = status_code
        self.message_vi = (
            f"CSDL dân cư không chấp nhận khóa API của phía y tế (HTTP {status_code}: {detail}). "
            f"Các yêu cầu được giữ lại; hãy sửa khóa ({API_KEY_SETTING}) rồi chạy lại việc gửi."
        )
        super().__init__(self.message_vi)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (so many clients recovering from one outage do not retry in step)."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return random.uniform(0, min(self.maximum, self.initial * self.factor ** (attempt - 1)))


@dataclass(frozen=True)
class BatchStatus:
    job_id: str
    status: str  # queued, running, done, failed
    subjects: int | None = None
    chunks: int | None = None
    chunks_done: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    error_vi: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class RegisterClient:
    """A client of one register service. `http` lets tests and callers supply their own `httpx.Client`
    (for instance a client with mutual-TLS certificates, or Starlette's TestClient of an in-process service)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 2.0,
        retries: int = 5,
        backoff: Backoff | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retries = retries
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = timeout

    def verify(self, query: SubjectQuery, *, idempotency_key: str, retries: int | None = None) -> VerificationResult:
        """The register's answer for one subject (online)."""
        body = {name: value for name, value in asdict(query).items() if value is not None}
        response = self._send("POST", "/v1/verify", idempotency_key=idempotency_key, retries=retries, json=body)
        return VerificationResult.from_row(response.json())

    def submit_batch(self, path: Path, *, idempotency_key: str | None = None) -> str:
        """Upload a subjects file (CSV or Parquet); return the job id. Retries reuse one idempotency key, so a
        retried upload never creates a second job."""
        key = idempotency_key or uuid.uuid4().hex
        content = path.read_bytes()
        response = self._send(
            "POST",
            "/v1/batches",
            idempotency_key=key,
            files={"file": (path.name, content, "application/octet-stream")},
            timeout=max(self._timeout, 300.0),
        )
        return str(response.json()["job_id"])

    def poll(self, job_id: str) -> BatchStatus:
        data = self._send("GET", f"/v1/batches/{job_id}").json()
        known = {name for name in BatchStatus.__dataclass_fields__}
        return BatchStatus(**{name: value for name, value in data.items() if name in known})

    def wait(
        self,
        job_id: str,
        *,
        interval: float = 2.0,
        progress: Callable[[BatchStatus], None] | None = None,
    ) -> BatchStatus:
        """Poll until the job is done or failed. A register outage meanwhile only delays: polls are retried."""
        while True:
            status = self.poll(job_id)
            if progress is not None:
                progress(status)
            if status.finished:
                return status
            self._sleep(interval)

    def download(self, job_id: str, out: Path) -> Path:
        """Save the job's section-3 results to `out` (CSV or Parquet by its suffix)."""
        result_format = "csv" if out.suffix.lower() == ".csv" else "parquet"
        response = self._send(
            "GET", f"/v1/batches/{job_id}/results", params={"format": result_format}, timeout=max(self._timeout, 300.0)
        )
        partial = out.with_name(out.name + ".partial")
        partial.write_bytes(response.content)
        partial.replace(out)
        return out

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _send(
        self,
        method: str,
        url: str,
        *,
        idempotency_key: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One logical request: retried on network errors, timeouts, 429 and 5xx; refused on other errors."""
        headers = dict(self._headers)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        attempts = 1 + (self.retries if retries is None else retries)
        last_problem = ""
        for attempt in range(1, attempts + 1):
            wait = 0.0
            try:
                # The client's own timeout applies unless this call needs a longer one (uploads, downloads).
                response = self._http.request(
                    method,
                    url,
                    headers=headers,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
                    **kwargs,
                )
            except httpx.TransportError as error:
                last_problem = f"không kết nối được ({type(error).__name__})"
            else:
                if response.is_success:
                    return response
                if response.status_code in _CREDENTIALS_REFUSED:
                    raise RegisterKeyRefused(response.status_code, _detail(response))
                if response.status_code not in _RETRYABLE_STATUS:
                    raise RegisterRefused(response.status_code, _detail(response))
                last_problem = f"HTTP {response.status_code}: {_detail(response)}"
                wait = _retry_after(response)
            if attempt < attempts:
                self._sleep(max(wait, self.backoff.delay(attempt)))
        raise RegisterUnavailable(f"CSDL dân cư không phản hồi sau {attempts} lần thử: {last_problem}")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200]
    return detail if isinstance(detail, str) else str(detail)[:200]


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0
