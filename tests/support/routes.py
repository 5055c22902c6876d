"""The roles a web route admits, read from its `require_roles(...)` dependency (None: no role check)."""

from fastapi.routing import APIRoute


def allowed_roles(route: APIRoute) -> frozenset[str] | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        roles = getattr(dependency.call, "allowed_roles", None)
        if roles is not None:
            return frozenset(roles)
        pending.extend(dependency.dependencies)
    return None
