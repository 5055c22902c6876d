"""The outbox of verification requests: a register outage delays verification but loses and double-counts nothing.

- `enqueue` adds requests in the caller's transaction (with the change that makes them necessary).
- `drain` sends what is due, stores each answer in the same transaction that closes its request, and backs off on
  failure. A request is *claimed* (status `sent`, with a lease) before it is sent; if the drainer dies before the
  answer is stored, the lease expires and the request is sent again with the same idempotency key, so the register
  answers from its memory and counts it once. An answer is stored at most once (unique request id).
- `verify_now` is the online path for a new dose: an answer in milliseconds when the register is up, else the
  request stays in the queue and the caller gets a Vietnamese message.

The idempotency key sent is the request's key plus a digest of the question: a retry of the same question is the
same request for the register, but if the subject's identity was corrected in between, the corrected question is
a new one (and gets its own answer) instead of being refused as a reused key.
"""

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.models import Subject
from tiemchung.health.verification.client import (
    Backoff,
    RegisterClient,
    RegisterKeyRefused,
    RegisterRefused,
    RegisterUnavailable,
)
from tiemchung.health.verification.models import RequestStatus, ResultSource, VerificationRequest
from tiemchung.health.verification.store import apply_result, subject_query
from tiemchung.interchange.results import SubjectQuery, VerificationResult

CLAIM_LEASE = timedelta(minutes=2)  # longer than a client call with all its retries
CLAIM_BATCH = 100
QUEUE_BACKOFF = Backoff(initial=5.0, factor=2.0, maximum=3600.0)
ONLINE_RETRIES = 1  # dose entry waits at most ~2 timeouts before falling back to the queue
_PENDING = (RequestStatus.QUEUED.value, RequestStatus.SENT.value, RequestStatus.HELD.value)


@dataclass(frozen=True)
class Deferred:
    """No answer now; the request waits in the queue (or was refused for good). `message_vi` is for the user."""

    request_id: int
    message_vi: str
    queued: bool


@dataclass
class DrainReport:
    sent: int = 0
    answered: int = 0
    deferred: int = 0  # register unavailable: left in the queue for a later attempt
    refused: int = 0  # rejected for good: marked failed
    remaining: int = 0  # still pending after this drain
    key_refused: str = ""  # the register refused our API key (Vietnamese message): requests held, drain stopped

    @property
    def register_down(self) -> bool:
        return self.deferred > 0

    @property
    def stopped(self) -> bool:
        return self.register_down or bool(self.key_refused)


def enqueue(session: Session, subject_ids: Iterable[int], *, reason: str) -> int:
    """Queue a verification for each subject that has none pending; return how many were queued."""
    wanted = set(subject_ids)
    if not wanted:
        return 0
    pending = set(
        session.scalars(
            select(VerificationRequest.subject_id).where(
                VerificationRequest.subject_id.in_(wanted), VerificationRequest.status.in_(_PENDING)
            )
        )
    )
    new = sorted(wanted - pending)
    session.add_all(_new_request(subject_id, reason) for subject_id in new)
    session.flush()
    return len(new)


def _new_request(subject_id: int, reason: str, status: RequestStatus = RequestStatus.QUEUED) -> VerificationRequest:
    return VerificationRequest(
        subject_id=subject_id,
        idempotency_key=uuid.uuid4().hex,
        reason=reason[:64],
        status=status.value,
        attempts=0,
        next_attempt_at=_now(),
    )


def verify_now(session: Session, subject_id: int, client: RegisterClient) -> VerificationResult | Deferred:
    """Verify one subject online and store the answer (in the caller's transaction); when the register is down, the
    request stays queued and a `Deferred` says so in Vietnamese."""
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise LookupError(f"no subject {subject_id}")
    request = _queued_request(session, subject_id) or _new_request(subject_id, "online")
    request.status = RequestStatus.SENT.value
    request.attempts = (request.attempts or 0) + 1
    request.next_attempt_at = _now() + CLAIM_LEASE
    session.add(request)
    session.flush()
    query = subject_query(subject)
    try:
        result = client.verify(query, idempotency_key=_wire_key(request, query), retries=ONLINE_RETRIES)
    except RegisterUnavailable as error:
        _defer(request, error.message_vi)
        return Deferred(
            request.id,
            "Chưa kết nối được CSDL dân cư. Yêu cầu xác minh đã được đưa vào hàng đợi và sẽ tự động gửi lại.",
            queued=True,
        )
    except RegisterKeyRefused as error:
        _hold(request, error.message_vi)
        return Deferred(
            request.id,
            "Chưa xác minh được: CSDL dân cư không chấp nhận khóa API của hệ thống. Yêu cầu được giữ trong hàng "
            "đợi và sẽ tự động gửi khi quản trị sửa khóa.",
            queued=True,
        )
    except RegisterRefused as error:
        _refuse(request, error)
        return Deferred(request.id, f"CSDL dân cư từ chối yêu cầu xác minh: {error.message_vi}", queued=False)
    _close(session, request, subject, result, ResultSource.ONLINE)
    return result


def _queued_request(session: Session, subject_id: int) -> VerificationRequest | None:
    """The subject's request still waiting in the queue, if any: answering it now means it is not sent again later
    (one already being sent by a drainer is left to it)."""
    return session.scalars(
        select(VerificationRequest)
        .where(
            VerificationRequest.subject_id == subject_id,
            VerificationRequest.status.in_((RequestStatus.QUEUED.value, RequestStatus.HELD.value)),
        )
        .order_by(VerificationRequest.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def drain(
    session_factory: sessionmaker[Session],
    client: RegisterClient,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DrainReport:
    """Send the due requests (at most `limit`), store their answers; stop early when the register is down."""
    report = DrainReport()
    total = _due_count(session_factory) if limit is None else min(limit, _due_count(session_factory))
    while limit is None or report.sent < limit:
        claimed = _claim(session_factory, CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - report.sent))
        if not claimed:
            break
        for position, request_id in enumerate(claimed):
            _send_one(session_factory, client, request_id, report)
            if progress is not None:
                progress(report.sent, max(total, report.sent))
            if report.stopped:
                _release(session_factory, claimed[position + 1 :])
                break
        if report.stopped:
            break
    report.remaining = _pending_count(session_factory)
    return report


def _claim(session_factory: sessionmaker[Session], how_many: int) -> list[int]:
    """Mark due requests as sent, with a lease: concurrent drainers (PostgreSQL: SKIP LOCKED) never share one."""
    now = _now()
    with transaction(session_factory) as session:
        requests = list(
            session.scalars(
                select(VerificationRequest)
                .where(_due(now))
                .order_by(VerificationRequest.next_attempt_at, VerificationRequest.id)
                .limit(how_many)
                .with_for_update(skip_locked=True)
            )
        )
        for request in requests:
            request.status = RequestStatus.SENT.value
            request.attempts += 1
            request.next_attempt_at = now + CLAIM_LEASE
        return [request.id for request in requests]


def _send_one(
    session_factory: sessionmaker[Session], client: RegisterClient, request_id: int, report: DrainReport
) -> None:
    with session_factory() as session:
        request = session.get(VerificationRequest, request_id)
        subject = session.get(Subject, request.subject_id) if request is not None else None
        if request is None or subject is None:
            return
        query = subject_query(subject)
    report.sent += 1
    try:
        result = client.verify(query, idempotency_key=_wire_key(request, query))
    except RegisterUnavailable as error:
        report.deferred += 1
        with transaction(session_factory) as session:
            _defer(_reload(session, request_id), error.message_vi)
        return
    except RegisterKeyRefused as error:
        report.key_refused = error.message_vi
        with transaction(session_factory) as session:
            _hold(_reload(session, request_id), error.message_vi)
        return
    except RegisterRefused as error:
        report.refused += 1
        with transaction(session_factory) as session:
            _refuse(_reload(session, request_id), error)
        return
    with transaction(session_factory) as session:
        request = _reload(session, request_id)
        if request.status != RequestStatus.DONE.value:
            _close(session, request, _reload_subject(session, request.subject_id), result, ResultSource.ONLINE)
    report.answered += 1


def _close(
    session: Session,
    request: VerificationRequest,
    subject: Subject,
    result: VerificationResult,
    source: ResultSource,
) -> None:
    now = _now()
    apply_result(session, subject, result, source=source, request_id=request.id, answered_at=now)
    request.status = RequestStatus.DONE.value
    request.answered_at = now
    request.last_error = ""


def _defer(request: VerificationRequest, message: str) -> None:
    request.status = RequestStatus.QUEUED.value
    request.next_attempt_at = _now() + timedelta(seconds=QUEUE_BACKOFF.delay(max(1, request.attempts)))
    request.last_error = message


def _hold(request: VerificationRequest, message: str) -> None:
    """Due again at once: the next drain (after the key is fixed) sends it; this one stops at the refusal."""
    request.status = RequestStatus.HELD.value
    request.next_attempt_at = _now()
    request.last_error = message


def _refuse(request: VerificationRequest, error: RegisterRefused) -> None:
    request.status = RequestStatus.FAILED.value
    request.last_error = error.message_vi


def _release(session_factory: sessionmaker[Session], request_ids: list[int]) -> None:
    """Give back claimed requests that were not sent (the register went down first): not an attempt."""
    if not request_ids:
        return
    with transaction(session_factory) as session:
        for request_id in request_ids:
            request = _reload(session, request_id)
            request.status = RequestStatus.QUEUED.value
            request.attempts -= 1
            request.next_attempt_at = _now()


def _wire_key(request: VerificationRequest, query: SubjectQuery) -> str:
    digest = hashlib.sha256(repr(sorted(asdict(query).items())).encode()).hexdigest()[:16]
    return f"{request.idempotency_key}-{digest}"


def _due(now: datetime) -> ColumnElement[bool]:
    return (VerificationRequest.status.in_(_PENDING)) & (VerificationRequest.next_attempt_at <= now)


def _due_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).where(_due(_now()))) or 0


def _pending_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).where(VerificationRequest.status.in_(_PENDING))) or 0


def _reload(session: Session, request_id: int) -> VerificationRequest:
    request = session.get(VerificationRequest, request_id, with_for_update=True)
    assert request is not None, request_id  # requests are never deleted
    return request


def _reload_subject(session: Session, subject_id: int) -> Subject:
    subject = session.get(Subject, subject_id)
    assert subject is not None, subject_id  # a subject with requests cannot be deleted (foreign key)
    return subject


def _now() -> datetime:
    return datetime.now(UTC)
