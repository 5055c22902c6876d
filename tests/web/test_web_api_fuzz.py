"""Fuzz the JSON API from its own OpenAPI schema (schemathesis): no input may cause a server error.

Each operation is called as a logged-in user of a role that may use it, so the fuzzing reaches the handlers
instead of stopping at 401/403. Kept small (a few examples per operation) to stay fast in CI.
"""

from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session, sessionmaker

from tests.support.routes import allowed_roles
from tests.support.web_world import build_world
from tiemchung.registry.models import Role
from tiemchung.web.app import route_modules

schemathesis = pytest.importorskip("schemathesis")
EXAMPLES_PER_OPERATION = 8
ROLE_PREFERENCE = (Role.HEALTH_STATION, Role.COMMUNE_POLICE, Role.VILLAGE_TEAM, Role.FACILITY, Role.PROVINCE)


def role_for(method: str, path: str) -> Role:
    for module in route_modules():
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.path == path and method.upper() in route.methods:
                roles = allowed_roles(route) or frozenset(Role)
                return next(role for role in (*ROLE_PREFERENCE, *Role) if role in roles)
    return Role.HEALTH_STATION


def test_no_input_causes_a_server_error(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    world = build_world(session_factory, tmp_path / "keys")
    credentials = {}
    for role in ROLE_PREFERENCE:
        client = world.client(role.value)
        credentials[role] = (dict(client.cookies), {"X-CSRF-Token": client.headers["X-CSRF-Token"]})
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, "the API lost operations"
    for operation in operations:
        cookies, headers = credentials.get(role_for(operation.method, operation.path), credentials[Role.HEALTH_STATION])
        fuzz(operation, cookies, headers, failures)
    assert not failures, "\n".join(failures[:10])


def fuzz(operation: Any, cookies: dict[str, str], headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        response = case.call(headers=headers, cookies=cookies)
        if response.status_code >= 500:
            failures.append(f"{operation.method.upper()} {operation.path}: {response.status_code} {case!r}")

    call()
