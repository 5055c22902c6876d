"""Fuzz every endpoint, the JSON API and the pages, from the route table's OpenAPI (schemathesis): no input may
cause a server error.

Each operation is called as a logged-in user of a role that may use it, so the fuzzing reaches the handlers
instead of stopping at 401/403. Kept small (a few examples per operation) to stay fast in CI.
"""

import copy
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session, sessionmaker

from tests.support.routes import allowed_roles
from tests.support.web_world import build_world
from tiemchung.health.registry.models import Role
from tiemchung.health.web.app import route_modules

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


SESSION_ENDING = {("POST", "/logout"), ("DELETE", "/api/v1/session")}
# 5xx known and being fixed elsewhere: reported, not failed (empty: issue 16 item 11, the huge ids on the certificate
# pages, is fixed by RowId).
KNOWN_OPEN: dict[str, str] = {}


def schema_of_every_route(app: FastAPI) -> dict[str, Any]:
    """OpenAPI of the JSON API *and* the pages (which the app leaves out of its published schema), from the route
    table: a new route is fuzzed without anyone adding it here."""
    routes = []
    for module in route_modules():
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                shown = copy.copy(route)
                shown.include_in_schema = True
                routes.append(shown)
    return get_openapi(title=app.title, version=app.version, routes=routes)


def test_no_input_causes_a_server_error(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    world = build_world(session_factory, tmp_path / "keys")
    credentials = {}
    for role in ROLE_PREFERENCE:
        client = world.client(role.value)
        credentials[role] = (dict(client.cookies), {"X-CSRF-Token": client.headers["X-CSRF-Token"]})
    schema = schemathesis.openapi.from_dict(schema_of_every_route(world.app))
    schema.app = world.app
    failures: list[str] = []
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if (operation.method.upper(), operation.path) not in SESSION_ENDING
    ]
    expected = {
        (method, route.path)
        for module in route_modules()
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    } - SESSION_ENDING
    assert {(operation.method.upper(), operation.path) for operation in operations} == expected
    for operation in operations:
        cookies, headers = credentials.get(role_for(operation.method, operation.path), credentials[Role.HEALTH_STATION])
        fuzz(operation, cookies, headers, failures)
    print(f"\nfuzz: {len(operations)} operations, {len(failures)} answers 5xx")
    known = [failure for failure in failures if any(f" {path}" in failure for path in KNOWN_OPEN)]
    print("\n".join(f"known, open: {failure[:200]}" for failure in known))
    unknown = [failure for failure in failures if failure not in known]
    assert not unknown, "\n".join(unknown[:10])


def fuzz(operation: Any, cookies: dict[str, str], headers: dict[str, str], failures: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        try:
            response = case.call(headers=headers, cookies=cookies)
        except Exception as error:  # the test client re-raises what the app's 500 handler answered
            failures.append(f"{operation.method.upper()} {operation.path}: 500 {type(error).__name__} {case!r}")
            return
        if response.status_code >= 500:
            failures.append(f"{operation.method.upper()} {operation.path}: {response.status_code} {case!r}")

    call()
