"""A process killed with SIGKILL in the middle of an import leaves the registry as it was; the re-import works."""

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
from tiemchung.registry.importer import import_records
from tiemchung.registry.models import AuditEvent, Dose, ImportBatch, Subject

# Imports with small batches and stops for good after the first batch was written (inside the open transaction),
# after telling the test so through a marker file.
CHILD = """
import sys, time
from pathlib import Path
from tiemchung.registry import importer
from tiemchung.registry.db import make_engine, make_session_factory

url, path, marker = sys.argv[1:4]
importer.BATCH_ROWS = 2

def progress(done, total):
    if done >= 2:
        Path(marker).write_text(str(done))
        time.sleep(120)

importer.import_records(make_session_factory(make_engine(url)), Path(path), actor="cs01", progress=progress)
"""


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Subject, Dose, ImportBatch, AuditEvent)
    )


def test_a_killed_import_leaves_nothing_and_can_be_rerun(
    engine: Engine, session_factory: sessionmaker[Session], make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_xlsx([record(subject_id=f"S{n}", record_id=f"R{n}") for n in range(6)])
    marker = tmp_path / "first-batch-written"
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(path), str(marker)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else "child exited"
            assert time.monotonic() < deadline, "the child never wrote its first batch"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert marker.read_text() == "2"
    with session_factory() as session:
        assert counts(session) == (0, 0, 0, 0)
    report = import_records(session_factory, path, actor="cs01", today=date(2023, 6, 1))
    assert report.ok and report.doses_created == 6
    with session_factory() as session:
        assert counts(session)[:3] == (6, 6, 1)
