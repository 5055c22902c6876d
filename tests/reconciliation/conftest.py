"""Fixtures of the reconciliation tests."""

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.reconciliation_world import RegistryIds, build_registry


@pytest.fixture
def registry(session_factory: sessionmaker[Session]) -> RegistryIds:
    return build_registry(session_factory)
