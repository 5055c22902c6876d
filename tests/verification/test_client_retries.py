"""The health-side client: retries with backoff, one idempotency key per call, clear errors.

The register is the real service (in-process through Starlette's TestClient, or a port with nothing listening for
an outage); only the client's sleep is recorded instead of slept, to keep the test fast.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tiemchung.health.verification.client import Backoff, RegisterClient, RegisterKeyRefused, RegisterUnavailable
from tiemchung.interchange.results import Category, Reason
from tiemchung.register.keys import KeyStore
from tiemchung.register.process import free_port
from tiemchung.register.sample import SAMPLE_SUBJECTS, write_sample
from tiemchung.register.service import ServiceConfig, create_app


@pytest.fixture
def config(tmp_path: Path) -> ServiceConfig:
    register, _ = write_sample(tmp_path / "sample")
    workdir = tmp_path / "register"
    return ServiceConfig(register=register, workdir=workdir, keys=workdir / "keys.json")


@pytest.fixture
def service(config: ServiceConfig) -> Iterator[TestClient]:
    with TestClient(create_app(config), base_url="http://register") as client:
        yield client


def test_unreachable_register_is_retried_with_backoff_then_reported_in_vietnamese() -> None:
    slept: list[float] = []
    client = RegisterClient(
        f"http://127.0.0.1:{free_port()}",
        "tcr_x.y",
        timeout=0.5,
        retries=3,
        backoff=Backoff(1, 2, 3),
        sleep=slept.append,
    )
    query, _ = SAMPLE_SUBJECTS[0]
    with pytest.raises(RegisterUnavailable) as raised:
        client.verify(query, idempotency_key="k-1")
    assert "không phản hồi sau 4 lần thử" in raised.value.message_vi
    assert len(slept) == 3  # between the 4 attempts, never after the last
    assert all(0 <= delay <= cap for delay, cap in zip(slept, (1, 2, 3), strict=True))


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial=1, factor=2, maximum=5)
    assert max(backoff.delay(1) for _ in range(200)) <= 1
    assert max(backoff.delay(10) for _ in range(200)) <= 5
    assert max(backoff.delay(3) for _ in range(200)) > 1  # jitter spreads up to 4 s


def test_verify_returns_the_section_3_answer(service: TestClient, config: ServiceConfig) -> None:
    key = KeyStore(config.keys).add("Bộ Y tế")
    client = RegisterClient("http://register", key, http=service)
    by_id = {query.subject_id: (query, expected) for query, expected in SAMPLE_SUBJECTS}
    answer = client.verify(by_id["S-3"][0], idempotency_key="k-s3")
    assert answer.category is Category.MISMATCH and answer.reasons == (Reason.SEX,)
    for query, expected in SAMPLE_SUBJECTS:
        assert client.verify(query, idempotency_key=f"k-{query.subject_id}").category is expected


def test_bad_key_is_refused_without_retrying(service: TestClient) -> None:
    slept: list[float] = []
    client = RegisterClient("http://register", "tcr_abc.def", http=service, sleep=slept.append)
    # Not retried in the call, and not a refusal of the request either: the queue holds it until the key is fixed.
    with pytest.raises(RegisterKeyRefused) as raised:
        client.verify(SAMPLE_SUBJECTS[0][0], idempotency_key="k")
    assert raised.value.status_code == 401 and "khóa API" in raised.value.message_vi
    assert slept == []


def test_rate_limited_client_waits_retry_after_and_gets_its_answer(service: TestClient, config: ServiceConfig) -> None:
    key = KeyStore(config.keys).add("Trạm Y tế", rate_per_second=1, burst=1)
    slept: list[float] = []
    client = RegisterClient("http://register", key, http=service, backoff=Backoff(0, 1, 0), sleep=slept.append)
    client.verify(SAMPLE_SUBJECTS[0][0], idempotency_key="k-1")
    # The bucket is empty: the next call gets 429 + Retry-After 1 until a token is back (real time passes).
    slept_before = len(slept)
    client.retries = 0
    with pytest.raises(RegisterUnavailable, match="429"):
        client.verify(SAMPLE_SUBJECTS[1][0], idempotency_key="k-2")
    client.retries = 5
    client._sleep = _really_sleep_and_record(slept)
    answer = client.verify(SAMPLE_SUBJECTS[1][0], idempotency_key="k-2")
    assert answer.category is Category.VERIFIED
    assert any(delay >= 1 for delay in slept[slept_before:])


def _really_sleep_and_record(slept: list[float]):  # type: ignore[no-untyped-def]
    import time

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    return sleep
