"""Pruning the idempotency keys of dose entries (`dose_entry_keys`, `tiemchung db prune-entry-keys`).

A key is stored with each dose entered through the web with one (the API's `Idempotency-Key`, the dose forms'
hidden token) so that a retry after a lost answer gets the dose already stored. A retry is meaningful for minutes or
hours, while kept for good the keys would pile up (one row per dose entered through the web, tens of millions at
national size). This deletes the keys older than a number of days (30 by default, from a daily timer), never a dose.

The consequence, by design: a request sent again with a pruned key is a new entry (a second dose), exactly as a
request without a key. With the default of 30 days that is only a client replaying a month-old request.

The keys go in chunks of `CHUNK_ROWS`, each its own short transaction, so that a large backlog never holds one huge
transaction (locks, WAL, a long rollback if interrupted): an interrupted run has deleted whole chunks and the next
run carries on. The old keys are found through the index on `created_at` (migration 0004).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from tiemchung.health.registry.models import DoseEntryKey

DEFAULT_DAYS = 30
CHUNK_ROWS = 10_000


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime  # keys created before this instant (UTC) were deleted
    deleted: int
    kept: int
    chunks: int


def prune_entry_keys(
    engine: Engine,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int, int | None], None] | None = None,
) -> PruneResult:
    """Delete the keys created more than `days` days before `now` (default: the current time), chunk by chunk."""
    if days < 1:
        raise ValueError("days must be at least 1: younger keys may still be retried")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    # UTC and naive: SQLite stores CURRENT_TIMESTAMP as UTC text without a zone, which this compares with as text;
    # PostgreSQL reads a naive value for a timestamptz in the session's zone, so the cutoff is bound as UTC there.
    cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=days)
    bound = cutoff.replace(tzinfo=None) if engine.dialect.name == "sqlite" else cutoff
    old = DoseEntryKey.created_at < bound
    with engine.connect() as connection:
        expected = connection.scalar(select(func.count()).select_from(DoseEntryKey).where(old)) or 0
    deleted = chunks = 0
    # The oldest keys first, through the index on created_at, then those rows by primary key. (One DELETE with the
    # SELECT as a subquery let PostgreSQL choose a hash join that read the whole table for every chunk.)
    oldest = select(DoseEntryKey.id).where(old).order_by(DoseEntryKey.created_at).limit(chunk_rows)
    while True:
        with engine.begin() as connection:
            ids = list(connection.scalars(oldest))
            removed = connection.execute(delete(DoseEntryKey).where(DoseEntryKey.id.in_(ids))).rowcount if ids else 0
        if removed <= 0:
            break
        deleted += removed
        chunks += 1
        if progress is not None:
            progress(deleted, max(expected, deleted))
        if removed < chunk_rows:
            break
    with engine.connect() as connection:
        kept = connection.scalar(select(func.count()).select_from(DoseEntryKey)) or 0
    return PruneResult(cutoff=cutoff, deleted=deleted, kept=kept, chunks=chunks)
