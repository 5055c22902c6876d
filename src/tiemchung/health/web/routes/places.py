"""The province → district → commune cascade of the forms (an htmx fragment; reference data, no person's data)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from tiemchung.health.registry.models import User
from tiemchung.health.web.access import ALL_ROLES
from tiemchung.health.web.deps import render, require_roles
from tiemchung.health.web.places import cascade

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Query(max_length=5)]


@router.get("/places/cascade")
def place_cascade(
    request: Request,
    user: Annotated[User, Depends(require_roles(*ALL_ROLES))],
    province_code: Code = "",
    district_code: Code = "",
    ward_code: Code = "",
    required: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    places = cascade(user, province_code, district_code, ward_code)
    return render(request, "places/cascade.html", {"places": places, "places_required": bool(required)})
