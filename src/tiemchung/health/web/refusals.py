"""Refused requests leave a trace in the audit log (issue 16 item 14: 7,318 out-of-area attempts left none).

A refusal (a role that may not use the page, a person or list outside the user's area) raises `Refused`; the app's
handler writes one audit event per refusal, in its own transaction (the request's own work is not committed).

Not flooding the log: a user's first `FIRST_EVENTS` refusals within `WINDOW` are written one by one (enough to see
what was tried); past that, one event stands for every `SUMMARY_EVERY` refusals (its detail says how many), so a
script enumerating ids writes about one event per hundred attempts instead of one per attempt. The counts live in
the worker process (a restart begins a new window): the aim is a bounded log, not an exact tally.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.audit import record
from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.models import User

FIRST_EVENTS = 20
SUMMARY_EVERY = 100
WINDOW = timedelta(minutes=10)


class Refused(HTTPException):
    """403, audited. `kind`: 'role' (the role may not use this) or 'area' (outside the user's area)."""

    def __init__(self, detail: str, kind: str) -> None:
        super().__init__(status_code=403, detail=detail)
        self.kind = kind


@dataclass
class _Tally:
    started: datetime
    refusals: int = 0
    unwritten: int = 0


@dataclass
class RefusalLog:
    """Decides which refusals are written (per user, per window); thread-safe."""

    first_events: int = FIRST_EVENTS
    summary_every: int = SUMMARY_EVERY
    window: timedelta = WINDOW
    _tallies: dict[str, _Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refusals_to_write(self, username: str, now: datetime | None = None) -> int:
        """How many refusals the event written now stands for (0: write none this time)."""
        now = now or datetime.now(UTC)
        with self._lock:
            tally = self._tallies.get(username)
            if tally is None or now - tally.started > self.window:
                tally = self._tallies[username] = _Tally(now)
            tally.refusals += 1
            if tally.refusals <= self.first_events:
                return 1
            tally.unwritten += 1
            if tally.unwritten < self.summary_every:
                return 0
            written, tally.unwritten = tally.unwritten, 0
            return written


def audit_refusal(
    factory: sessionmaker[Session], user: User, method: str, path: str, refusal: Refused, count: int
) -> None:
    """One audit event for `count` refusals of this user (the last one's request)."""
    detail: dict[str, object] = {"method": method, "path": path[:512], "kind": refusal.kind}
    if count > 1:
        detail["refusals"] = count
    with transaction(factory) as session:
        record(
            session,
            actor=user.username,
            actor_role=user.role,
            action="refused",
            entity="request",
            entity_id=f"{method} {path}"[:64],
            reason=str(refusal.detail)[:255],
            detail=detail,
        )
