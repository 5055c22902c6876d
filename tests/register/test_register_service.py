"""The register service over HTTP (in-process), with the real engine over the sample register."""

import io
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from tiemchung.interchange.results import RESULT_COLUMNS
from tiemchung.register.jobs import JobStatus
from tiemchung.register.keys import KeyStore
from tiemchung.register.ledger import Ledger
from tiemchung.register.sample import SAMPLE_SUBJECTS
from tiemchung.register.service import ServiceConfig


def _subject(index: int) -> dict[str, object]:
    query, _ = SAMPLE_SUBJECTS[index]
    return {name: value for name, value in query.__dict__.items() if value is not None}


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _query_count(config: ServiceConfig, **where: str) -> int:
    ledger = Ledger(config.workdir / "service.sqlite", config.workdir / "query-log.secret")
    try:
        return ledger.count_queries(**where)
    finally:
        ledger.close()


def test_online_answer_is_exactly_the_section_3_row(service: TestClient, api_key: str) -> None:
    for index, (query, expected) in enumerate(SAMPLE_SUBJECTS):
        response = service.post("/v1/verify", json=_subject(index), headers=_auth(api_key))
        assert response.status_code == 200, response.text
        assert tuple(response.json()) == RESULT_COLUMNS
        assert response.json()["subject_id"] == query.subject_id
        assert response.json()["category"] == expected.value
        assert response.headers["X-Request-ID"]
        assert response.headers["Server-Timing"].startswith("verify;dur=")


def test_calls_without_a_valid_key_are_refused(service: TestClient, api_key: str) -> None:
    assert service.post("/v1/verify", json=_subject(0)).status_code == 401
    wrong = service.post("/v1/verify", json=_subject(0), headers=_auth(api_key + "x"))
    assert wrong.status_code == 401 and "khóa API" in wrong.json()["detail"]
    assert service.post("/v1/verify", json=_subject(0), headers={"X-API-Key": api_key}).status_code == 200
    assert service.get("/healthz").status_code == 200


def test_rate_limit_answers_429_with_retry_after(service: TestClient, service_config: ServiceConfig) -> None:
    key = KeyStore(service_config.keys).add("Trạm Y tế xã", rate_per_second=0.2, burst=2)
    statuses = [service.post("/v1/verify", json=_subject(0), headers=_auth(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = service.post("/v1/verify", json=_subject(0), headers=_auth(key))
    assert int(refused.headers["Retry-After"]) >= 1
    assert "hạn mức" in refused.json()["detail"]


def test_idempotency_key_replays_the_answer_and_counts_once(
    service: TestClient, api_key: str, service_config: ServiceConfig
) -> None:
    headers = {**_auth(api_key), "Idempotency-Key": "req-42"}
    first = service.post("/v1/verify", json=_subject(2), headers=headers)
    again = service.post("/v1/verify", json=_subject(2), headers=headers)
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _query_count(service_config, subject_id="S-3") == 1
    other = service.post("/v1/verify", json=_subject(0), headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


def test_invalid_input_is_a_422_not_a_crash(service: TestClient, api_key: str) -> None:
    for body in ({}, {**_subject(0), "full_name": ""}, {**_subject(0), "extra": "x"}, {**_subject(0), "sex": "M" * 99}):
        assert service.post("/v1/verify", json=body, headers=_auth(api_key)).status_code == 422
    bad_key = {**_auth(api_key), "Idempotency-Key": "a b"}
    assert service.post("/v1/verify", json=_subject(0), headers=bad_key).status_code == 422


def test_control_characters_are_refused(service: TestClient, api_key: str) -> None:
    """Issue 16 item 14: a NUL in id_number was accepted."""
    for field, value in (("id_number", "001080\x00012345"), ("full_name", "Nguyễn\nVăn An"), ("address", "\x07")):
        answer = service.post("/v1/verify", json={**_subject(0), field: value}, headers=_auth(api_key))
        assert answer.status_code == 422, field
        assert "ký tự điều khiển" in str(answer.json()["detail"])


def test_query_log_records_every_online_query_without_the_identity(
    service: TestClient, api_key: str, service_config: ServiceConfig
) -> None:
    for index in range(len(SAMPLE_SUBJECTS)):
        service.post("/v1/verify", json=_subject(index), headers=_auth(api_key))
    assert _query_count(service_config, caller="So Y te Ha Noi") == len(SAMPLE_SUBJECTS)
    stored = b"".join(path.read_bytes() for path in service_config.workdir.glob("service.sqlite*"))
    for query, _ in SAMPLE_SUBJECTS:
        assert query.full_name.encode() not in stored
        if query.id_number:
            assert query.id_number.encode() not in stored


def test_batch_submit_poll_download(service: TestClient, api_key: str, sample_files: tuple[Path, Path]) -> None:
    _, subjects = sample_files
    submitted = service.post(
        "/v1/batches", files={"file": ("subjects.csv", subjects.read_bytes())}, headers=_auth(api_key)
    )
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    status = _wait_done(service, job_id, api_key)
    assert status["subjects"] == len(SAMPLE_SUBJECTS) and status["chunks"] == 3  # chunks of 2 subjects
    parquet = service.get(f"/v1/batches/{job_id}/results", headers=_auth(api_key))
    rows = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    expected = {query.subject_id: category.value for query, category in SAMPLE_SUBJECTS}
    assert {row["subject_id"]: row["category"] for row in rows} == expected
    csv = service.get(f"/v1/batches/{job_id}/results", params={"format": "csv"}, headers=_auth(api_key))
    assert pacsv.read_csv(io.BytesIO(csv.content)).num_rows == len(SAMPLE_SUBJECTS)
    assert sum(status["by_category"].values()) == len(SAMPLE_SUBJECTS)


def test_batch_belongs_to_its_caller_and_resubmission_is_idempotent(
    service: TestClient, api_key: str, service_config: ServiceConfig, sample_files: tuple[Path, Path]
) -> None:
    _, subjects = sample_files
    headers = {**_auth(api_key), "Idempotency-Key": "batch-1"}
    upload = {"file": ("subjects.csv", subjects.read_bytes())}
    first = service.post("/v1/batches", files=upload, headers=headers).json()["job_id"]
    second = service.post("/v1/batches", files=upload, headers=headers).json()["job_id"]
    assert first == second
    stranger = KeyStore(service_config.keys).add("Another caller")
    assert service.get(f"/v1/batches/{first}", headers=_auth(stranger)).status_code == 404
    assert service.get(f"/v1/batches/{first}/results", headers=_auth(stranger)).status_code == 404
    _wait_done(service, first, api_key)
    assert _query_count(service_config, caller="So Y te Ha Noi") == len(SAMPLE_SUBJECTS)


def test_bad_batch_files_are_refused_in_vietnamese(service: TestClient, api_key: str) -> None:
    cases = {
        "subjects.xlsx": b"PK\x03\x04",
        "no-columns.csv": b"a,b\n1,2\n",
        "empty.csv": b"subject_id,full_name,birth_date,sex\n",
        "no-subject-id.csv": b"subject_id,full_name,birth_date,sex\n,An,1990,M\n",
        "broken.parquet": b"not parquet at all",
    }
    for name, content in cases.items():
        response = service.post("/v1/batches", files={"file": (name, content)}, headers=_auth(api_key))
        assert response.status_code == 422, name
        assert any(word in response.json()["detail"] for word in ("Tệp", "tệp", "mã đối tượng")), name


def test_openapi_documents_the_endpoints(service: TestClient) -> None:
    paths = service.get("/openapi.json").json()["paths"]
    assert {"/v1/verify", "/v1/batches", "/v1/batches/{job_id}", "/v1/batches/{job_id}/results"} <= set(paths)


def _wait_done(service: TestClient, job_id: str, key: str, timeout: float = 120) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, object] = service.get(f"/v1/batches/{job_id}", headers=_auth(key)).json()
        if status["status"] in ("done", "failed"):
            assert status["status"] == "done", status
            return status
        time.sleep(0.2)
    raise AssertionError(f"batch {job_id} not done after {timeout} s")


def test_a_failed_job_does_not_hold_its_idempotency_key(
    service: TestClient, api_key: str, sample_files: tuple[Path, Path]
) -> None:
    _, subjects = sample_files
    headers = {**_auth(api_key), "Idempotency-Key": "nightly-batch"}
    upload = {"file": ("subjects.csv", subjects.read_bytes())}
    first = service.post("/v1/batches", files=upload, headers=headers).json()["job_id"]
    _wait_done(service, first, api_key)
    # As if the engine had failed on this job (the state a worker writes when verify_batch raises).
    jobs = service.app.state.runtime.jobs
    jobs._update(first, status=JobStatus.FAILED, error_vi="Lỗi khi xác minh lô")
    second = service.post("/v1/batches", files=upload, headers=headers).json()["job_id"]
    assert second != first
    _wait_done(service, second, api_key)
    assert service.post("/v1/batches", files=upload, headers=headers).json()["job_id"] == second
