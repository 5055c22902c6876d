"""The query log's retention: an operator's decision (a legal and audit matter), never automatic.

`prune` removes the oldest entries of the log, those logged before a date, and records the pruning itself in
`log_prunings` (who ran it, when, why, up to which date) and `log_pruning_steps` (which ids, how many rows, the
times of the oldest and newest removed), tables that triggers keep append-only. The log's ids are contiguous and
never reused (`ledger`), and a pruning removes only a prefix of them, so `status` can prove the log complete: every
id ever given is either still in the log or inside a recorded pruning.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from tiemchung.register.ledger import Clock, stamp, utc_now

# Dates given by the operator are Vietnamese calendar dates; Viet Nam keeps UTC+7 all year.
VIETNAM = timezone(timedelta(hours=7), "UTC+7")
# Rows deleted per transaction: short enough that the running service's writes (5 s busy timeout) never give up.
PRUNE_STEP = 50_000


@dataclass(frozen=True)
class Span:
    """Entries of the log: how many, and the times of the oldest and newest (stored form, UTC)."""

    entries: int
    oldest: str | None
    newest: str | None


@dataclass(frozen=True)
class Pruning:
    id: int
    started_at: str
    operator: str
    reason: str
    before: str
    rows: int
    first_id: int | None
    last_id: int | None


@dataclass(frozen=True)
class LogStatus:
    log: Span
    last_id: int  # the highest id ever given, whether still in the log or pruned
    prunings: list[Pruning]
    idempotency_keys: int

    @property
    def pruned(self) -> int:
        return sum(pruning.rows for pruning in self.prunings)

    @property
    def unaccounted(self) -> int:
        """Ids neither in the log nor in a recorded pruning: entries removed some other way (0 when complete)."""
        return self.last_id - self.log.entries - self.pruned


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in Viet Nam."""
    return datetime.combine(day, time(), VIETNAM)


def preview(connection: sqlite3.Connection, before: datetime) -> Span:
    """What `prune(before)` would remove."""
    boundary = _boundary(connection, stamp(before))
    entries, oldest, newest = connection.execute(
        "select count(*), min(at), max(at) from query_log where id < ?", (boundary,)
    ).fetchone()
    return Span(int(entries), oldest, newest)


def prune(
    connection: sqlite3.Connection,
    before: datetime,
    *,
    operator: str,
    reason: str,
    clock: Clock = utc_now,
    step: int = PRUNE_STEP,
) -> Pruning | None:
    """Remove the entries logged before `before` and record the pruning; None when there was nothing to remove.

    Only a prefix of the ids goes: from the oldest entry up to the first one logged at or after `before`, so that an
    entry logged out of clock order is kept rather than leaving a gap. Each step of `step` rows is one transaction,
    with its own record, so an interrupted pruning is recorded as far as it went."""
    boundary = _boundary(connection, stamp(before))
    pruning_id: int | None = None
    while True:
        with _write(connection):
            first = connection.execute("select min(id) from query_log").fetchone()[0]
            if first is None or first >= boundary:
                break
            last = min(boundary - 1, first + step - 1)
            rows, oldest, newest = connection.execute(
                "select count(*), min(at), max(at) from query_log where id between ? and ?", (first, last)
            ).fetchone()
            if pruning_id is None:
                pruning_id = connection.execute(
                    "insert into log_prunings (started_at, operator, reason, before) values (?, ?, ?, ?)",
                    (stamp(clock()), operator, reason, before.isoformat()),
                ).lastrowid
            connection.execute("delete from query_log where id between ? and ?", (first, last))
            connection.execute(
                "insert into log_pruning_steps values (?, ?, ?, ?, ?, ?, ?)",
                (pruning_id, stamp(clock()), first, last, rows, oldest, newest),
            )
    return None if pruning_id is None else _prunings(connection, pruning_id)[0]


def status(connection: sqlite3.Connection) -> LogStatus:
    """The log's size and ends, the prunings so far, and the idempotency memory's size."""
    entries, last_id = connection.execute("select count(*), max(id) from query_log").fetchone()
    oldest = connection.execute("select at from query_log order by id limit 1").fetchone()
    newest = connection.execute("select at from query_log order by id desc limit 1").fetchone()
    last_pruned = connection.execute("select max(last_id) from log_pruning_steps").fetchone()[0]
    return LogStatus(
        log=Span(int(entries), oldest and oldest[0], newest and newest[0]),
        last_id=max(last_id or 0, last_pruned or 0),
        prunings=_prunings(connection),
        idempotency_keys=int(connection.execute("select count(*) from idempotency").fetchone()[0]),
    )


def _boundary(connection: sqlite3.Connection, cutoff: str) -> int:
    """The id of the first entry logged at or after `cutoff` (one past the last id when there is none). Scanned in
    id order, this reads only the entries that are to go."""
    first_kept = connection.execute("select id from query_log where at >= ? order by id limit 1", (cutoff,)).fetchone()
    if first_kept is not None:
        return int(first_kept[0])
    return int(connection.execute("select coalesce(max(id), 0) + 1 from query_log").fetchone()[0])


def _prunings(connection: sqlite3.Connection, pruning_id: int | None = None) -> list[Pruning]:
    rows = connection.execute(
        "select p.id, p.started_at, p.operator, p.reason, p.before, coalesce(sum(s.rows), 0), min(s.first_id), "
        "max(s.last_id) from log_prunings p left join log_pruning_steps s on s.pruning_id = p.id "
        "where ? is null or p.id = ? group by p.id order by p.id",
        (pruning_id, pruning_id),
    ).fetchall()
    return [Pruning(*row) for row in rows]


@contextmanager
def _write(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (a reader-turned-writer could deadlock with the service)."""
    connection.execute("begin immediate")
    try:
        yield
    except BaseException:
        connection.execute("rollback")
        raise
    connection.execute("commit")
