"""Fixtures of the reconciliation tests."""

import pytest
from reconciliation_world import RegistryIds, build_registry
from sqlalchemy.orm import Session, sessionmaker


@pytest.fixture
def registry(session_factory: sessionmaker[Session]) -> RegistryIds:
    return build_registry(session_factory)
