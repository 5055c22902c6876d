"""Reliability drill: SIGKILL the register service during a batch, restart it, the batch completes exactly once."""

import io
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tiemchung.interchange.results import SUBJECT_COLUMNS
from tiemchung.register.keys import KeyStore
from tiemchung.register.ledger import Ledger
from tiemchung.register.process import ServiceProcess
from tiemchung.register.sample import SAMPLE_SUBJECTS

COPIES = 8  # 48 subjects in chunks of 6: 8 chunks, enough to kill in the middle and keep the test short
CHUNK = 6


def _subjects_file(path: Path) -> dict[str, str]:
    """The sample subjects repeated under new subject ids; returns subject id -> expected category."""
    rows, expected = [], {}
    for copy in range(COPIES):
        for query, category in SAMPLE_SUBJECTS:
            subject_id = f"{query.subject_id}-{copy:03d}"
            rows.append({**{name: getattr(query, name) for name in SUBJECT_COLUMNS}, "subject_id": subject_id})
            expected[subject_id] = category.value
    schema = pa.schema([(name, pa.string()) for name in SUBJECT_COLUMNS])
    pacsv.write_csv(pa.Table.from_pylist(rows, schema=schema), path)
    return expected


@pytest.mark.slow
def test_killed_service_finishes_the_batch_each_subject_once(tmp_path: Path, sample_files: tuple[Path, Path]) -> None:
    register, _ = sample_files
    workdir = tmp_path / "register-workdir"
    key = KeyStore(workdir / "keys.json").add("Bộ Y tế")
    headers = {"Authorization": f"Bearer {key}"}
    subjects = tmp_path / "subjects.csv"
    expected = _subjects_file(subjects)

    service = ServiceProcess(register, workdir, chunk_subjects=CHUNK, threads=1).start()
    try:
        submitted = httpx.post(
            f"{service.base_url}/v1/batches", files={"file": ("subjects.csv", subjects.read_bytes())}, headers=headers
        )
        job_id = submitted.json()["job_id"]
        done_before_kill = _wait_for_progress(service.base_url, job_id, headers)
        service.kill()
        assert 0 < done_before_kill < COPIES * len(SAMPLE_SUBJECTS) // CHUNK

        service = ServiceProcess(register, workdir, port=service.port, chunk_subjects=CHUNK, threads=1).start()
        status = _wait_for_done(service.base_url, job_id, headers)
        results = httpx.get(f"{service.base_url}/v1/batches/{job_id}/results", headers=headers)
    finally:
        service.stop()

    assert status["status"] == "done", status
    rows = pq.read_table(io.BytesIO(results.content)).to_pylist()
    assert len(rows) == len(expected)
    assert {row["subject_id"]: row["category"] for row in rows} == expected
    ledger = Ledger(workdir / "service.sqlite", workdir / "query-log.secret")
    assert ledger.count_queries(caller="Bộ Y tế") == len(expected)  # every subject logged exactly once
    ledger.close()


def _wait_for_progress(base_url: str, job_id: str, headers: dict[str, str]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(f"{base_url}/v1/batches/{job_id}", headers=headers).json()
        if status["chunks_done"] >= 2:
            return int(status["chunks_done"])
        time.sleep(0.02)
    raise AssertionError("the batch made no progress")


def _wait_for_done(base_url: str, job_id: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status: dict[str, object] = httpx.get(f"{base_url}/v1/batches/{job_id}", headers=headers).json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError("the batch did not finish after the restart")
