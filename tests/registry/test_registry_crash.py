"""A process killed with SIGKILL in the middle of an import: while reading the file, the registry stays as it was
(the batch is failed at the next start); while applying the read file, the next start completes the import."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.health.registry.importer import import_records, resume_imports
from tiemchung.health.registry.models import AuditEvent, Dose, ImportBatch, ImportRow, Subject

# Imports with small chunks and stops for good (telling the test through a marker file) either after the first
# chunk of rows was staged (reading) or after the first chunk was applied to the registry (applying).
CHILD = """
import sys, time
from pathlib import Path
from tiemchung.health.registry import importer
from tiemchung.health.registry.db import make_engine, make_session_factory

url, path, marker, phase = sys.argv[1:5]
importer.BATCH_ROWS = 2

def stop(done):
    Path(marker).write_text(str(done))
    time.sleep(120)

def progress(done, total):
    if phase == "reading" and done >= 2:
        stop(done)

next_chunk, calls = importer._next_chunk, []

def one_chunk_then_stop(session_factory, batch_id):
    calls.append(batch_id)
    if phase == "applying" and len(calls) == 2:
        stop(2)
    return next_chunk(session_factory, batch_id)

importer._next_chunk = one_chunk_then_stop
importer.import_records(make_session_factory(make_engine(url)), Path(path), actor="cs01", progress=progress)
"""


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Subject, Dose, ImportBatch, AuditEvent)
    )


def _kill_child_in(phase: str, engine: Engine, path: Path, tmp_path: Path) -> None:
    marker = tmp_path / f"stopped-{phase}"
    url = engine.url.render_as_string(hide_password=False)
    args = [sys.executable, "-c", CHILD, url, str(path), str(marker), phase]
    child = subprocess.Popen(args, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else "child exited"
            assert time.monotonic() < deadline, f"the child never reached the {phase} phase"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert marker.read_text() == "2"


def test_a_kill_while_reading_leaves_nothing_and_the_file_can_be_sent_again(
    engine: Engine, session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_xlsx([record(subject_id=f"S{n}", record_id=f"R{n}") for n in range(6)])
    _kill_child_in("reading", engine, path, tmp_path)
    with session_factory() as session:
        assert counts(session) == (0, 0, 1, 0)
    assert len(resume_imports(session_factory)) == 1
    with session_factory() as session:
        batch = session.scalars(select(ImportBatch)).one()
        assert batch.status == "failed" and "nhập lại" in batch.error_message
        assert session.scalar(select(func.count()).select_from(ImportRow)) == 0
    report = import_records(session_factory, path, actor="cs01", today=date(2023, 6, 1))
    assert report.ok and report.doses_created == 6
    with session_factory() as session:
        assert counts(session)[:3] == (6, 6, 2)


def test_a_kill_while_applying_is_completed_at_the_next_start(
    engine: Engine, session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_xlsx([record(subject_id=f"S{n // 2}", record_id=f"R{n}") for n in range(6)])
    _kill_child_in("applying", engine, path, tmp_path)
    with session_factory() as session:
        assert counts(session)[:2] == (1, 2)  # the first chunk only
    assert len(resume_imports(session_factory)) == 1
    with session_factory() as session:
        assert counts(session)[:3] == (3, 6, 1)
        batch = session.scalars(select(ImportBatch)).one()
        assert (batch.status, batch.rows_accepted, batch.summary["doses_created"]) == ("done", 6, 6)
        assert session.scalar(select(func.count()).select_from(ImportRow)) == 0
