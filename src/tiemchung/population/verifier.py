"""What the register service needs from the verification engine, and the one place it is opened.

The engine (`tiemchung.verification.engine.RegisterIndex`) holds the register in DuckDB. A DuckDB connection is not
safe to use from several threads at once, so every call goes through one lock: on this 2-core machine serial
verification is also the fastest (a single `verify_one` is a few milliseconds of DuckDB work that already uses the
cores), and the lock keeps a long batch chunk from interleaving with online queries inside the engine.
"""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tiemchung.verification.results import SubjectQuery, VerificationResult

ProgressCallback = Callable[[int, int], None]


class Verifier(Protocol):
    def verify_one(self, query: SubjectQuery) -> VerificationResult: ...

    def verify_batch(self, subjects: Path, out: Path, *, progress: ProgressCallback | None = None) -> object: ...

    def close(self) -> None: ...


class SerialVerifier:
    """A verifier whose calls never overlap (see the module docstring)."""

    def __init__(self, inner: Verifier) -> None:
        self._inner = inner
        self._lock = threading.Lock()

    def verify_one(self, query: SubjectQuery) -> VerificationResult:
        with self._lock:
            return self._inner.verify_one(query)

    def verify_batch(self, subjects: Path, out: Path, *, progress: ProgressCallback | None = None) -> object:
        with self._lock:
            return self._inner.verify_batch(subjects, out, progress=progress)

    def close(self) -> None:
        with self._lock:
            self._inner.close()


def open_register(register: Path, workdir: Path, *, threads: int | None = None) -> SerialVerifier:
    """Open the engine's index of `register` (its prepared DuckDB file lives in `workdir/index`)."""
    from tiemchung.verification.engine import RegisterIndex

    index_dir = workdir / "index"
    index_dir.mkdir(parents=True, exist_ok=True)
    return SerialVerifier(RegisterIndex.open(register, workdir=index_dir, threads=threads))
