"""The register service's own records: the query log and the idempotency memory (one SQLite file in the workdir).

The query log answers "who asked about whom, when, and what did they learn": caller, time, request id, the
caller's subject_id and the category returned. The identity that was asked about (name, birth date, ID number) is
never kept in clear, only as an HMAC with a secret that stays in the service's workdir: enough to find repeated
queries about one identity, useless to someone who steals the log without the secret.

The idempotency memory stores the answer given for each (caller, Idempotency-Key). A retried request is answered
from it and written to the query log once: the log entry and the stored answer commit in one transaction. An answer
is kept for `idempotency_retention` (far longer than the health side keeps retrying one request); after that the key
is as good as new, and `expire_idempotency` deletes it.

The query log is never pruned here: that is an operator's decision (`querylog`). Its ids are contiguous and never
reused, even after a pruning, so that every id ever given is either still in the log or inside a recorded pruning.
"""

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tiemchung.interchange.results import SubjectQuery

_SCHEMA = """
create table if not exists query_log (
    id integer primary key,
    at text not null,
    caller text not null,
    request_id text not null,
    kind text not null,
    subject_id text not null,
    identity_hmac text not null,
    category text not null,
    unique (request_id, subject_id)
);
create index if not exists ix_query_log_caller_at on query_log (caller, at);
create table if not exists idempotency (
    caller text not null,
    key text not null,
    fingerprint text not null,
    response text not null,
    created_at text not null,
    primary key (caller, key)
);
create index if not exists ix_idempotency_created_at on idempotency (created_at);
-- The record of every pruning of the query log (querylog.prune): one row per pruning, one step row per transaction
-- of it. Never pruned, never changed: the triggers refuse it.
create table if not exists log_prunings (
    id integer primary key,
    started_at text not null,
    operator text not null,
    reason text not null,
    before text not null
);
create table if not exists log_pruning_steps (
    pruning_id integer not null references log_prunings (id),
    at text not null,
    first_id integer not null,
    last_id integer not null,
    rows integer not null,
    oldest_at text not null,
    newest_at text not null
);
create trigger if not exists log_prunings_no_update before update on log_prunings
    begin select raise(abort, 'log_prunings is append-only'); end;
create trigger if not exists log_prunings_no_delete before delete on log_prunings
    begin select raise(abort, 'log_prunings is append-only'); end;
create trigger if not exists log_pruning_steps_no_update before update on log_pruning_steps
    begin select raise(abort, 'log_pruning_steps is append-only'); end;
create trigger if not exists log_pruning_steps_no_delete before delete on log_pruning_steps
    begin select raise(abort, 'log_pruning_steps is append-only'); end;
"""
# Each entry's id is one more than the last id ever given, also when a pruning has emptied the log (SQLite would
# start again at 1): contiguous ids are what lets `querylog.status` prove that nothing else was removed. Each
# `select max(...)` alone is answered from the end of the b-tree, not by a scan.
_INSERT_LOG_ENTRY = (
    "insert or ignore into query_log (id, at, caller, request_id, kind, subject_id, identity_hmac, category) values "
    "(coalesce((select max(id) from query_log), (select max(last_id) from log_pruning_steps), 0) + 1, "
    "?, ?, ?, ?, ?, ?, ?)"
)
DEFAULT_IDEMPOTENCY_RETENTION = timedelta(days=30)
_EXPIRY_BATCH = 2_000  # rows per delete: the ledger's lock is released in between, so online answers are not held up

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """The stored form of a time: UTC, ISO 8601 to the millisecond (so text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def connect(path: Path) -> sqlite3.Connection:
    """The service's SQLite file, its schema created or completed (autocommit: transactions are explicit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("pragma journal_mode=wal")
    connection.execute("pragma synchronous=normal")
    connection.executescript(_SCHEMA)
    return connection


@dataclass(frozen=True)
class LogEntry:
    caller: str
    request_id: str
    kind: str  # "online" or "batch"
    subject_id: str
    identity_hmac: str
    category: str


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    response: dict[str, object]


class Ledger:
    """Query log and idempotency memory. One connection, serialised by a lock: writes are tiny and SQLite has a
    single writer anyway, so a pool would only add contention."""

    def __init__(
        self,
        path: Path,
        secret_path: Path,
        *,
        idempotency_retention: timedelta = DEFAULT_IDEMPOTENCY_RETENTION,
        clock: Clock = utc_now,
    ) -> None:
        self._secret = _load_or_create_secret(secret_path)
        self._retention = idempotency_retention
        self._clock = clock
        self._lock = threading.Lock()
        self._connection = connect(path)

    def identity_hmac(self, query: SubjectQuery) -> str:
        """A keyed hash of the identity asked about (never the identity itself)."""
        identity = "\x1f".join(
            value or ""
            for value in (query.id_number, query.full_name, query.birth_date, query.sex, query.passport_number)
        )
        return hmac.new(self._secret, identity.encode(), hashlib.sha256).hexdigest()

    def recall(self, caller: str, key: str) -> StoredAnswer | None:
        """The answer stored under (caller, key), unless it has expired (then the key is as good as new)."""
        with self._lock:
            row = self._connection.execute(
                "select fingerprint, response from idempotency where caller = ? and key = ? and created_at >= ?",
                (caller, key, self._expiry_cutoff()),
            ).fetchone()
        return None if row is None else StoredAnswer(row[0], json.loads(row[1]))

    def answer(
        self,
        entries: Iterable[LogEntry],
        *,
        idempotency: tuple[str, str, str] | None = None,
        response: dict[str, object] | None = None,
    ) -> StoredAnswer | None:
        """Log `entries` and remember `response` under `idempotency` = (caller, key, fingerprint), atomically.

        When another request with the same key got there first, nothing is logged and its answer is returned;
        otherwise None. Log entries already present (same request id and subject) are not counted twice.
        """
        with self._lock, self._connection:
            self._connection.execute("begin immediate")
            # Taken under the lock, so that the log's times follow its ids (querylog.prune removes a prefix of ids).
            now = stamp(self._clock())
            if idempotency is not None:
                caller, key, fingerprint = idempotency
                # An expired answer not yet swept away must not stand in the way of the new one.
                self._connection.execute(
                    "delete from idempotency where caller = ? and key = ? and created_at < ?",
                    (caller, key, self._expiry_cutoff()),
                )
                inserted = self._connection.execute(
                    "insert or ignore into idempotency values (?, ?, ?, ?, ?)",
                    (caller, key, fingerprint, json.dumps(response, ensure_ascii=False), now),
                ).rowcount
                if not inserted:
                    row = self._connection.execute(
                        "select fingerprint, response from idempotency where caller = ? and key = ?", (caller, key)
                    ).fetchone()
                    return StoredAnswer(row[0], json.loads(row[1]))
            self._connection.executemany(
                _INSERT_LOG_ENTRY,
                ((now, e.caller, e.request_id, e.kind, e.subject_id, e.identity_hmac, e.category) for e in entries),
            )
        return None

    def forget(self, caller: str, key: str) -> None:
        """Free an idempotency key (its job failed, so the key may start a new one)."""
        with self._lock:
            self._connection.execute("delete from idempotency where caller = ? and key = ?", (caller, key))

    def expire_idempotency(self) -> int:
        """Delete the stored answers older than the retention; return how many went. In small batches, each its own
        transaction, so that the answers being given meanwhile wait milliseconds, not the whole sweep."""
        cutoff = self._expiry_cutoff()
        deleted = 0
        while True:
            with self._lock:
                batch = self._connection.execute(
                    "delete from idempotency where rowid in "
                    "(select rowid from idempotency where created_at < ? limit ?)",
                    (cutoff, _EXPIRY_BATCH),
                ).rowcount
            deleted += batch
            if batch < _EXPIRY_BATCH:
                return deleted

    def count_queries(self, *, caller: str | None = None, subject_id: str | None = None) -> int:
        sql = "select count(*) from query_log where (? is null or caller = ?) and (? is null or subject_id = ?)"
        with self._lock:
            return int(self._connection.execute(sql, (caller, caller, subject_id, subject_id)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _expiry_cutoff(self) -> str:
        return stamp(self._clock() - self._retention)


def _load_or_create_secret(path: Path) -> bytes:
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    secret = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret.hex())
    path.chmod(0o600)
    return secret
