"""Fixtures of the register service tests: the sample register, an API key, the service in-process."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.clock import FakeClock
from tiemchung.register.keys import KeyStore
from tiemchung.register.sample import write_sample
from tiemchung.register.service import ServiceConfig, create_app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 10, 3, 0, tzinfo=UTC))


@pytest.fixture
def sample_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_sample(tmp_path / "sample")


@pytest.fixture
def service_config(tmp_path: Path, sample_files: tuple[Path, Path]) -> ServiceConfig:
    workdir = tmp_path / "register-workdir"
    return ServiceConfig(register=sample_files[0], workdir=workdir, keys=workdir / "keys.json", chunk_subjects=2)


@pytest.fixture
def api_key(service_config: ServiceConfig) -> str:
    return KeyStore(service_config.keys).add("So Y te Ha Noi", rate_per_second=1000, burst=1000)


@pytest.fixture
def service(service_config: ServiceConfig) -> Iterator[TestClient]:
    """The service app in-process, with the real engine over the sample register."""
    with TestClient(create_app(service_config)) as client:
        yield client
