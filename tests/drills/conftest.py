"""Fixtures of the drills."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.private_postgres import PrivatePostgres, private_postgres


@pytest.fixture
def postgres_cluster(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test alone, which it may restart, stop or crash; its log ends in `tmp_path`."""
    with private_postgres(keep_log_in=tmp_path) as cluster:
        yield cluster
