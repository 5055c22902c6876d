"""What the register service needs from the verification engine, and the one place it is opened.

The engine (`tiemchung.register.linkage.engine.RegisterIndex`) answers `verify_one` from many threads at once (one
DuckDB cursor per thread), so online verifications from FastAPI's threadpool run in parallel. A batch uses the
engine's main connection and its temporary tables, so batches never overlap each other nor `close`; they may run
beside online verifications.
"""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tiemchung.interchange.results import SubjectQuery, VerificationResult
from tiemchung.register.linkage.engine import RegisterIndex

ProgressCallback = Callable[[int, int], None]


class Verifier(Protocol):
    def verify_one(self, query: SubjectQuery) -> VerificationResult: ...

    def verify_batch(self, subjects: Path, out: Path, *, progress: ProgressCallback | None = None) -> object: ...

    def close(self) -> None: ...


class ConcurrentVerifier:
    """Online calls in parallel; batches one at a time; `close` waits for a running batch (module docstring)."""

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self._batch_lock = threading.Lock()

    def verify_one(self, query: SubjectQuery) -> VerificationResult:
        return self._inner.verify_one(query)

    def verify_batch(self, subjects: Path, out: Path, *, progress: ProgressCallback | None = None) -> object:
        with self._batch_lock:
            return self._inner.verify_batch(subjects, out, progress=progress)

    def close(self) -> None:
        with self._batch_lock:
            self._inner.close()


def open_register(register: Path, workdir: Path, *, threads: int | None = None) -> ConcurrentVerifier:
    """Open the engine's index of `register` (its prepared DuckDB file lives in `workdir/index`)."""

    index_dir = workdir / "index"
    index_dir.mkdir(parents=True, exist_ok=True)
    return ConcurrentVerifier(RegisterIndex.open(register, workdir=index_dir, threads=threads))
