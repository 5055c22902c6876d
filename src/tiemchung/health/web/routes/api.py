"""The JSON API `/api/v1`: the same actions as the pages, for other systems and scripts (OpenAPI at /openapi.json).

Authentication is the same signed session as the pages (`POST /api/v1/session`); every change needs the
`X-CSRF-Token` header that the log-in answer gives. Refusals are 403/404/422 with a Vietnamese `detail`.
"""

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from tiemchung.health.registry.models import User
from tiemchung.health.web import dashboard
from tiemchung.health.web.access import COMMUNE_ROLES, PERSON_READERS, SUPERVISOR_ROLES
from tiemchung.health.web.deps import SessionDep, released, require_roles

router = APIRouter(
    prefix="/api/v1", responses={401: {"description": "Chưa đăng nhập"}, 403: {"description": "Không có quyền"}}
)
CLEANING_VIEWERS = (*COMMUNE_ROLES, *SUPERVISOR_ROLES)


class StatusOut(BaseModel):
    level: str
    categories: list[str]
    rows: dict[str, list[int]]


@router.get("/dashboard/verification", tags=["tổng quan"])
def verification_dashboard(session: SessionDep, user: User = Depends(require_roles(*PERSON_READERS))) -> StatusOut:
    """Số đối tượng theo kết quả xác minh, theo đơn vị hành chính cấp dưới của địa bàn."""
    table = dashboard.verification_status(session, user)
    return released(
        session, StatusOut(level=table.level_label, categories=list(dashboard.CATEGORY_ORDER), rows=dict(table.rows))
    )
