"""The service's housekeeping over weeks of injected time: idempotency answers expire, finished batch jobs lose
their files, running and queued jobs never do. The real app, engine and SQLite files; only the clock is a test's."""

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.clock import FakeClock
from tiemchung.interchange.results import SubjectQuery, VerificationResult
from tiemchung.register.sample import SAMPLE_SUBJECTS
from tiemchung.register.service import ServiceConfig, create_app
from tiemchung.register.verifier import ProgressCallback, Verifier, open_register


def _subject(index: int) -> dict[str, object]:
    query, _ = SAMPLE_SUBJECTS[index]
    return {name: value for name, value in query.__dict__.items() if value is not None}


def _headers(key: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    return headers if idempotency_key is None else {**headers, "Idempotency-Key": idempotency_key}


def _stored_keys(config: ServiceConfig) -> set[str]:
    with sqlite3.connect(config.workdir / "service.sqlite") as connection:
        return {row[0] for row in connection.execute("select key from idempotency")}


def _logged(config: ServiceConfig, subject_id: str) -> int:
    with sqlite3.connect(config.workdir / "service.sqlite") as connection:
        return int(
            connection.execute("select count(*) from query_log where subject_id = ?", (subject_id,)).fetchone()[0]
        )


def _eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for the service's background work (a sweep, a batch job) to have happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_an_expired_idempotency_key_is_a_new_request(
    service_config: ServiceConfig, api_key: str, clock: FakeClock
) -> None:
    with TestClient(create_app(service_config, clock=clock)) as service:
        first = service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "dose-7"))
        assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
        clock.advance(days=29)
        replayed = service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "dose-7"))
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert _logged(service_config, "S-1") == 1

        clock.advance(days=2)  # 31 days: expired, though no sweep has deleted it yet
        again = service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "dose-7"))
        assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
        assert _logged(service_config, "S-1") == 2  # a new question, logged as such

        clock.advance(days=31)
        other_body = service.post("/v1/verify", json=_subject(1), headers=_headers(api_key, "dose-7"))
        assert other_body.status_code == 200, other_body.text  # not "key used for another request"
        assert other_body.json()["subject_id"] == "S-2"
        replay_of_new = service.post("/v1/verify", json=_subject(1), headers=_headers(api_key, "dose-7"))
        assert replay_of_new.headers["Idempotent-Replayed"] == "true"


def test_expired_answers_are_deleted_periodically_and_at_start(
    service_config: ServiceConfig, api_key: str, clock: FakeClock
) -> None:
    often = replace(service_config, housekeeping_seconds=0.2)
    with TestClient(create_app(often, clock=clock)) as service:
        service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "old"))
        clock.advance(days=20)
        service.post("/v1/verify", json=_subject(1), headers=_headers(api_key, "recent"))
        assert _stored_keys(service_config) == {"old", "recent"}
        clock.advance(days=11)  # "old" is 31 days old, "recent" 11
        _eventually(lambda: _stored_keys(service_config) == {"recent"})

    clock.advance(days=20)
    rarely = replace(service_config, housekeeping_seconds=3600)
    with TestClient(create_app(rarely, clock=clock)):
        assert _stored_keys(service_config) == set()  # swept before the first request is served
    assert _logged(service_config, "S-1") == 1 and _logged(service_config, "S-2") == 1  # the log is never swept


def test_retention_is_configurable(service_config: ServiceConfig, api_key: str, clock: FakeClock) -> None:
    short = replace(service_config, idempotency_retention=timedelta(hours=1))
    with TestClient(create_app(short, clock=clock)) as service:
        service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "k"))
        clock.advance(minutes=61)
        assert (
            "Idempotent-Replayed"
            not in service.post("/v1/verify", json=_subject(0), headers=_headers(api_key, "k")).headers
        )


def _submit(service: TestClient, key: str, subjects: Path, idempotency_key: str | None = None) -> str:
    upload = {"file": ("subjects.csv", subjects.read_bytes())}
    response = service.post("/v1/batches", files=upload, headers=_headers(key, idempotency_key))
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def _wait_finished(service: TestClient, job_id: str, key: str) -> dict[str, object]:
    found: dict[str, object] = {}

    def finished() -> bool:
        found.update(service.get(f"/v1/batches/{job_id}", headers=_headers(key)).json())
        return found["status"] in ("done", "failed")

    _eventually(finished, timeout=120)
    return found


def _files(job_dir: Path) -> set[str]:
    return {path.name for path in job_dir.iterdir()}


def test_finished_jobs_lose_their_files_after_the_retention(
    service_config: ServiceConfig, api_key: str, clock: FakeClock, sample_files: tuple[Path, Path]
) -> None:
    _, subjects = sample_files
    with TestClient(create_app(service_config, clock=clock)) as service:
        job_id = _submit(service, api_key, subjects, "nightly")
        assert _wait_finished(service, job_id, api_key)["status"] == "done"
        csv = service.get(f"/v1/batches/{job_id}/results", params={"format": "csv"}, headers=_headers(api_key))
        assert csv.status_code == 200
        job_dir = service_config.workdir / "jobs" / job_id
        jobs = service.app.state.runtime.jobs

        clock.advance(days=13, hours=23)
        assert jobs.delete_expired_files() == 0
        assert {"input.csv", "chunks", "results.parquet", "results.csv", "state.json"} <= _files(job_dir)

        clock.advance(hours=2)
        assert jobs.delete_expired_files() == 1
        assert _files(job_dir) == {"state.json"}
        assert jobs.delete_expired_files() == 0

        status = service.get(f"/v1/batches/{job_id}", headers=_headers(api_key))
        assert status.status_code == 200
        assert status.json()["status"] == "done" and status.json()["files_deleted_at"]
        assert "đã được xóa" in status.json()["note_vi"] and "gửi lại tệp" in status.json()["note_vi"]
        for result_format in ("parquet", "csv"):
            gone = service.get(
                f"/v1/batches/{job_id}/results", params={"format": result_format}, headers=_headers(api_key)
            )
            assert gone.status_code == 410 and "đã được xóa" in gone.json()["detail"]

        # The same file under the same key (still remembered: 30 days) starts afresh rather than pointing at a job
        # whose results are gone.
        again = _submit(service, api_key, subjects, "nightly")
        assert again != job_id
        assert _wait_finished(service, again, api_key)["status"] == "done"
        assert service.get(f"/v1/batches/{again}/results", headers=_headers(api_key)).status_code == 200


def test_partial_uploads_left_by_a_crash_are_removed_at_start(service_config: ServiceConfig, clock: FakeClock) -> None:
    uploads = service_config.workdir / "uploads"
    uploads.mkdir(parents=True)
    (uploads / "0123abcd.part").write_bytes(b"subject_id,full_name\nS-1,An")
    with TestClient(create_app(service_config, clock=clock)):
        assert list(uploads.iterdir()) == []


class _GatedVerifier:
    """The real engine, whose batch calls wait for the test's signal (to hold a job running), or fail."""

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail = False

    def verify_one(self, query: SubjectQuery) -> VerificationResult:
        return self._inner.verify_one(query)

    def verify_batch(self, subjects: Path, out: Path, *, progress: ProgressCallback | None = None) -> object:
        self.entered.set()
        self.gate.wait()
        if self.fail:
            raise RuntimeError("ổ đĩa đầy")
        return self._inner.verify_batch(subjects, out, progress=progress)

    def close(self) -> None:
        self._inner.close()


@contextmanager
def _gated_service(config: ServiceConfig, clock: FakeClock) -> Iterator[tuple[TestClient, _GatedVerifier]]:
    verifier = _GatedVerifier(open_register(config.register, config.workdir))
    try:
        with TestClient(create_app(config, verifier=verifier, clock=clock)) as service:
            yield service, verifier
    finally:
        verifier.gate.set()  # never leave the worker waiting: the service's shutdown joins it


def test_running_and_queued_jobs_keep_their_files_however_old(
    service_config: ServiceConfig, api_key: str, clock: FakeClock, sample_files: tuple[Path, Path]
) -> None:
    _, subjects = sample_files
    with _gated_service(service_config, clock) as (service, verifier):
        running = _submit(service, api_key, subjects)
        queued = _submit(service, api_key, subjects)
        assert verifier.entered.wait(60)
        clock.advance(days=400)
        jobs = service.app.state.runtime.jobs
        assert jobs.delete_expired_files() == 0
        assert {"input.csv", "chunks"} <= _files(service_config.workdir / "jobs" / running)
        assert "input.csv" in _files(service_config.workdir / "jobs" / queued)
        statuses = {
            job: service.get(f"/v1/batches/{job}", headers=_headers(api_key)).json() for job in (running, queued)
        }
        assert statuses[running]["status"] == "running" and statuses[queued]["status"] == "queued"
        assert all(status["files_deleted_at"] is None for status in statuses.values())

        verifier.gate.set()
        for job in (running, queued):
            assert _wait_finished(service, job, api_key)["status"] == "done"
        clock.advance(days=14, seconds=1)
        assert jobs.delete_expired_files() == 2


def test_a_failed_job_counts_from_its_failure(
    service_config: ServiceConfig, api_key: str, clock: FakeClock, sample_files: tuple[Path, Path]
) -> None:
    _, subjects = sample_files
    with _gated_service(service_config, clock) as (service, verifier):
        job_id = _submit(service, api_key, subjects)
        assert verifier.entered.wait(60)
        clock.advance(days=10)  # the job ran for ten days, then failed
        verifier.fail = True
        verifier.gate.set()
        failed = _wait_finished(service, job_id, api_key)
        assert failed["status"] == "failed" and failed["finished_at"] == clock().isoformat(timespec="seconds")
        jobs = service.app.state.runtime.jobs
        clock.advance(days=13)
        assert jobs.delete_expired_files() == 0
        clock.advance(days=1, seconds=1)
        assert jobs.delete_expired_files() == 1
        status = service.get(f"/v1/batches/{job_id}", headers=_headers(api_key)).json()
        assert status["status"] == "failed" and status["error_vi"] and status["note_vi"]
