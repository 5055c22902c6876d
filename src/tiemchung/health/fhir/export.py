"""The Bulk Data `$export`: every Patient, Immunization and Organization as NDJSON files, written in the background.

A job lives in its own folder under the export directory: `status.json` (state, counts, error) is rewritten as it
goes, the `<Type>.ndjson` files grow, and the manifest of the Bulk Data specification is served once the state is
`done`. Rows are streamed from the database in chunks (`yield_per`), so memory stays flat whatever the registry's
size. A job whose process died (server restarted) is reported as interrupted, never as running forever.
"""

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.duplicates.merge import merge_links
from tiemchung.health.fhir.resources import Resource, immunization, organization, patient
from tiemchung.health.registry.models import Dose, Facility, Subject

EXPORT_TYPES = ("Patient", "Immunization", "Organization")
CHUNK = 5_000
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATUS_FILE = "status.json"


@dataclass
class ExportStatus:
    job_id: str
    state: str  # "running", "done", "error"
    requested_by: str
    transaction_time: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _writers() -> dict[str, Callable[[Session], Iterator[Resource]]]:
    return {"Patient": _patients, "Immunization": _immunizations, "Organization": _organizations}


def _patients(session: Session) -> Iterator[Resource]:
    links = merge_links(session)  # merges are few next to the people: held whole, looked up per person
    for subject in session.scalars(select(Subject).order_by(Subject.id).execution_options(yield_per=CHUNK)):
        yield patient(subject, links.get(subject.id))


def _immunizations(session: Session) -> Iterator[Resource]:
    for dose in session.scalars(select(Dose).order_by(Dose.id).execution_options(yield_per=CHUNK)):
        yield immunization(dose)


def _organizations(session: Session) -> Iterator[Resource]:
    for facility in session.scalars(select(Facility).order_by(Facility.code)):
        yield organization(facility)


def write_export(session_factory: sessionmaker[Session], folder: Path, status: ExportStatus) -> ExportStatus:
    """Write every export file into `folder`, updating `status` (and its file) as each type finishes."""
    started = time.perf_counter()
    try:
        with session_factory() as session:
            for kind, resources in _writers().items():
                status.counts[kind] = _write_ndjson(folder / f"{kind}.ndjson", resources(session))
                session.expunge_all()
                _save(folder, status)
        status.state = "done"
    except Exception as error:  # the job reports every failure in its status; the server goes on
        status.state, status.error = "error", f"Xuất dữ liệu thất bại: {type(error).__name__}"
    status.seconds = round(time.perf_counter() - started, 3)
    _save(folder, status)
    return status


def _write_ndjson(path: Path, resources: Iterator[Resource]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as output:
        for resource in resources:
            output.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
            output.write("\n")
            count += 1
    return count


def _save(folder: Path, status: ExportStatus) -> None:
    temporary = folder / (STATUS_FILE + ".tmp")
    temporary.write_text(json.dumps(status.to_json(), ensure_ascii=False), encoding="utf-8")
    temporary.replace(folder / STATUS_FILE)


class ExportJobs:
    """The export jobs of one server: started in threads, their state on disk."""

    def __init__(self, directory: Path, session_factory: sessionmaker[Session]) -> None:
        self.directory = directory
        self.session_factory = session_factory
        self._threads: dict[str, threading.Thread] = {}

    def start(self, requested_by: str) -> ExportStatus:
        job_id = secrets.token_urlsafe(18)
        folder = self.directory / job_id
        folder.mkdir(parents=True)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        status = ExportStatus(job_id=job_id, state="running", requested_by=requested_by, transaction_time=now)
        _save(folder, status)
        thread = threading.Thread(
            target=write_export, args=(self.session_factory, folder, status), name=f"fhir-export-{job_id}", daemon=True
        )
        self._threads[job_id] = thread
        thread.start()
        return status

    def status(self, job_id: str) -> ExportStatus | None:
        """The job's status, None for an unknown job; a running job without its thread here was interrupted."""
        folder = self._folder(job_id)
        if folder is None:
            return None
        status = ExportStatus(**json.loads((folder / STATUS_FILE).read_text(encoding="utf-8")))
        thread = self._threads.get(job_id)
        if status.state == "running" and (thread is None or not thread.is_alive()):
            status.state, status.error = "error", "Việc xuất dữ liệu bị gián đoạn (máy chủ đã khởi động lại)."
        return status

    def file(self, job_id: str, kind: str) -> Path | None:
        folder = self._folder(job_id)
        if folder is None or kind not in EXPORT_TYPES:
            return None
        path = folder / f"{kind}.ndjson"
        return path if path.is_file() else None

    def _folder(self, job_id: str) -> Path | None:
        if not JOB_ID.fullmatch(job_id):
            return None
        folder = self.directory / job_id
        return folder if (folder / STATUS_FILE).is_file() else None


def manifest(status: ExportStatus, base_url: str) -> dict[str, Any]:
    """The Bulk Data completion manifest."""
    return {
        "transactionTime": status.transaction_time,
        "request": f"{base_url}/fhir/$export",
        "requiresAccessToken": True,
        "output": [
            {"type": kind, "url": f"{base_url}/fhir/bulk/{status.job_id}/{kind}.ndjson", "count": count}
            for kind, count in status.counts.items()
        ],
        "error": [],
    }
