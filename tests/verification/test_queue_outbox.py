"""The health side's outbox against the real register service: outages delay, nothing is lost or counted twice.

Runs on the registry database fixture (SQLite and PostgreSQL). The register service runs in-process (Starlette's
TestClient) over the sample register; an outage is a port where nothing listens.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.models import AuditEvent, Subject
from tiemchung.health.verification import queue as outbox
from tiemchung.health.verification.client import Backoff, RegisterClient
from tiemchung.health.verification.models import RequestStatus, VerificationRecord, VerificationRequest
from tiemchung.health.verification.queue import Deferred, drain, enqueue, verify_now
from tiemchung.health.verification.store import subject_query, verify_registry_batch
from tiemchung.interchange.results import Category, SubjectQuery
from tiemchung.register.keys import KeyStore
from tiemchung.register.ledger import Ledger
from tiemchung.register.process import free_port
from tiemchung.register.sample import SAMPLE_SUBJECTS, write_sample
from tiemchung.register.service import ServiceConfig, create_app

EXPECTED = {query.subject_id: category for query, category in SAMPLE_SUBJECTS}


@pytest.fixture(scope="module")
def register_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, ServiceConfig]]:
    root = tmp_path_factory.mktemp("register")
    register, _ = write_sample(root / "sample")
    config = ServiceConfig(register=register, workdir=root / "workdir", keys=root / "workdir" / "keys.json")
    with TestClient(create_app(config), base_url="http://register") as service:
        yield service, config


@pytest.fixture
def client(register_service: tuple[TestClient, ServiceConfig]) -> RegisterClient:
    service, config = register_service
    key = KeyStore(config.keys).add(f"health-{uuid.uuid4().hex[:6]}", rate_per_second=1000, burst=1000)
    return RegisterClient("http://register", key, http=service, backoff=Backoff(0, 1, 0))


@pytest.fixture
def down_client() -> RegisterClient:
    return RegisterClient(
        f"http://127.0.0.1:{free_port()}", "tcr_x.y", timeout=0.3, retries=1, sleep=lambda _seconds: None
    )


def _add_subjects(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The sample subjects in the registry under fresh keys; returns sample subject id -> registry id."""
    prefix = uuid.uuid4().hex[:8]
    ids = {}
    with transaction(session_factory) as session:
        for query, _ in SAMPLE_SUBJECTS:
            subject = _subject(query, f"{prefix}-{query.subject_id}")
            session.add(subject)
            session.flush()
            ids[query.subject_id] = subject.id
    return ids


def _subject(query: SubjectQuery, key: str) -> Subject:
    return Subject(
        subject_key=key,
        full_name_raw=query.full_name,
        full_name=query.full_name,
        name_canonical=query.full_name.lower(),
        name_folded=query.full_name.lower(),
        birth_date=query.birth_date,
        birth_year=int(query.birth_date[:4]),
        sex=query.sex,
        id_number=query.id_number,
        id_number_raw=query.id_number or "",
        passport_number=query.passport_number,
        nationality=query.nationality or "VN",
    )


def _sample_id(subject: Subject) -> str:
    return subject.subject_key.split("-", 1)[1]


def test_subject_query_sends_the_registry_values(session_factory: sessionmaker[Session]) -> None:
    ids = _add_subjects(session_factory)
    with session_factory() as session:
        subject = session.get(Subject, ids["S-6"])
        assert subject is not None
        query = subject_query(subject)
    assert (query.passport_number, query.nationality, query.id_number) == ("C1234567", "GB", None)


def test_enqueue_does_not_queue_a_subject_twice(session_factory: sessionmaker[Session]) -> None:
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        assert enqueue(session, ids.values(), reason="import") == len(ids)
        assert enqueue(session, [ids["S-1"], ids["S-1"]], reason="again") == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRequest)) == len(ids)


def test_outage_defers_everything_and_loses_nothing(
    session_factory: sessionmaker[Session], down_client: RegisterClient, client: RegisterClient
) -> None:
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        enqueue(session, ids.values(), reason="import")
    report = drain(session_factory, down_client)
    assert report.register_down and report.answered == 0 and report.remaining == len(ids)
    with session_factory() as session:
        requests = list(session.scalars(select(VerificationRequest)))
        assert {r.status for r in requests} == {RequestStatus.QUEUED.value}
        assert sum(r.attempts for r in requests) == 1  # stopped at the first failure, the rest not even tried
        assert any("CSDL dân cư không phản hồi" in r.last_error for r in requests)
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == 0

    _make_all_due(session_factory)
    report = drain(session_factory, client)
    assert (report.answered, report.remaining, report.deferred) == (len(ids), 0, 0)
    with session_factory() as session:
        for subject in session.scalars(select(Subject).where(Subject.id.in_(ids.values()))):
            assert subject.verification_category == EXPECTED[_sample_id(subject)].value
            assert subject.verified_at is not None
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == len(ids)
        audited = session.scalar(select(func.count()).where(AuditEvent.action == "verification_result"))
        assert audited == len(ids)
    assert drain(session_factory, client).sent == 0


def test_answer_lost_in_a_crash_is_fetched_again_and_counted_once(
    session_factory: sessionmaker[Session],
    client: RegisterClient,
    register_service: tuple[TestClient, ServiceConfig],
) -> None:
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        enqueue(session, [ids["S-3"]], reason="dose")
    # A drainer claims the request and the register answers, then the drainer dies before storing the answer.
    [request_id] = outbox._claim(session_factory, 10)
    with session_factory() as session:
        request = session.get(VerificationRequest, request_id)
        subject = session.get(Subject, ids["S-3"])
        assert request is not None and subject is not None
        client.verify(subject_query(subject), idempotency_key=outbox._wire_key(request, subject_query(subject)))
        subject_key = subject.subject_key
    assert drain(session_factory, client).sent == 0  # the claim's lease has not expired yet
    _make_all_due(session_factory)
    report = drain(session_factory, client)
    assert report.answered == 1
    _, config = register_service
    ledger = Ledger(config.workdir / "service.sqlite", config.workdir / "query-log.secret")
    assert ledger.count_queries(subject_id=subject_key) == 1
    ledger.close()
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(VerificationRecord.subject_id == ids["S-3"])) == 1
        assert session.get(Subject, ids["S-3"]).verification_category == Category.MISMATCH.value  # type: ignore[union-attr]


def test_verify_now_answers_online_or_queues_with_a_vietnamese_message(
    session_factory: sessionmaker[Session], client: RegisterClient, down_client: RegisterClient
) -> None:
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        result = verify_now(session, ids["S-1"], client)
    assert not isinstance(result, Deferred) and result.category is Category.VERIFIED
    with transaction(session_factory) as session:
        deferred = verify_now(session, ids["S-2"], down_client)
    assert isinstance(deferred, Deferred) and deferred.queued and "hàng đợi" in deferred.message_vi
    with session_factory() as session:
        assert session.get(Subject, ids["S-1"]).verification_category == "VERIFIED"  # type: ignore[union-attr]
        request = session.get(VerificationRequest, deferred.request_id)
        assert request is not None and request.status == RequestStatus.QUEUED.value
    _make_all_due(session_factory)
    assert drain(session_factory, client).answered == 1
    with session_factory() as session:
        assert session.get(Subject, ids["S-2"]).verification_category == "VERIFIED"  # type: ignore[union-attr]


def test_verify_now_answers_the_queued_request_instead_of_sending_it_twice(
    session_factory: sessionmaker[Session], client: RegisterClient
) -> None:
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        enqueue(session, [ids["S-4"]], reason="import")
    with transaction(session_factory) as session:
        assert not isinstance(verify_now(session, ids["S-4"], client), Deferred)
    assert drain(session_factory, client).sent == 0
    with session_factory() as session:
        [request] = session.scalars(select(VerificationRequest)).all()
        assert (request.status, request.reason) == (RequestStatus.DONE.value, "import")


def test_batch_path_verifies_the_registry_and_a_rerun_applies_nothing_twice(
    session_factory: sessionmaker[Session], client: RegisterClient, tmp_path: Path
) -> None:
    ids = _add_subjects(session_factory)
    report = verify_registry_batch(session_factory, client, tmp_path / "batch", poll_interval=0.1)
    assert (report.exported, report.applied, report.already_applied) == (len(ids), len(ids), 0)
    with session_factory() as session:
        for subject in session.scalars(select(Subject)):
            assert subject.verification_category == EXPECTED[_sample_id(subject)].value
    # A re-run of the same export (as after a crash between download and apply) reuses the job: nothing twice.
    again = verify_registry_batch(session_factory, client, tmp_path / "batch", only_unverified=False, poll_interval=0.1)
    assert again.job_id == report.job_id and again.already_applied == len(ids) and again.applied == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(VerificationRecord)) == len(ids)


def _make_all_due(session_factory: sessionmaker[Session]) -> None:
    """Let time pass: every backoff and claim lease expires."""
    with transaction(session_factory) as session:
        session.execute(update(VerificationRequest).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))


def test_a_refused_api_key_holds_the_queue_until_the_key_is_fixed(
    session_factory: sessionmaker[Session], client: RegisterClient
) -> None:
    """Issue 16 item 12: requests refused for a bad key were marked failed and never sent again."""
    ids = _add_subjects(session_factory)
    with transaction(session_factory) as session:
        enqueue(session, ids.values(), reason="import")
    bad_key = RegisterClient("http://register", "tcr_sai.khoa", http=client._http, backoff=Backoff(0, 1, 0))
    report = drain(session_factory, bad_key)
    assert "không chấp nhận khóa API" in report.key_refused and report.remaining == len(ids)
    with session_factory() as session:
        held = session.scalars(select(VerificationRequest).where(VerificationRequest.last_error != "")).one()
        assert held.status == RequestStatus.HELD.value
        assert "hãy sửa khóa" in held.last_error
        statuses = set(session.scalars(select(VerificationRequest.status)))
        assert RequestStatus.FAILED.value not in statuses
    with transaction(session_factory) as session:
        online = verify_now(session, ids["S-1"], bad_key)
        assert isinstance(online, Deferred) and online.queued and "giữ trong hàng đợi" in online.message_vi

    report = drain(session_factory, client)  # the operator fixed the key
    assert (report.answered, report.remaining, report.key_refused) == (len(ids), 0, "")
    with session_factory() as session:
        assert set(session.scalars(select(VerificationRequest.status))) == {RequestStatus.DONE.value}
