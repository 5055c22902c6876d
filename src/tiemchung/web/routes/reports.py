"""Report pages (verification, appendix 1 and 2, data quality, national dashboard) with .xlsx and .csv downloads.

Province users see their own province; the ministry sees the country (or one province with `?province=`).
Every page and download is computed from the registry by `tiemchung.reconciliation`; nothing here adds up.
"""

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from tiemchung.reconciliation import service
from tiemchung.reconciliation.dashboard import gap_tiles, progress_chart_svg, tile_grid_svg, verification_tiles
from tiemchung.reconciliation.sources import RegistrySource
from tiemchung.reconciliation.tables import (
    Table,
    appendix1_table,
    dose_problem_table,
    drop_out_table,
    outlier_table,
    unit_table,
    verification_lines_table,
    verification_provinces_table,
)
from tiemchung.reconciliation.text import fmt
from tiemchung.reconciliation.verification_report import build_verification_report
from tiemchung.reconciliation.xlsx import (
    appendix1_workbook,
    quality_workbook,
    to_bytes,
    unit_workbook,
    verification_workbook,
)
from tiemchung.registry.models import User
from tiemchung.web.access import SUPERVISOR_ROLES, area_level
from tiemchung.web.deps import ensure_in_area, get_session, render, require_roles
from tiemchung.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Báo cáo", "/reports", frozenset(SUPERVISOR_ROLES), order=40)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
readers = require_roles(*SUPERVISOR_ROLES)


def _scope(user: User, province: str | None) -> str | None:
    """The province the user may see: their own for a province user, any (or all) for the ministry."""
    if area_level(user.area_code or "") != "national":
        own = (user.area_code or "")[:2]
        if province not in (None, "", own):
            ensure_in_area(user, province_code=province)
        return own
    return province or None


def _as_of(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(status_code=422, detail=f"Ngày “{text}” không đúng dạng YYYY-MM-DD.") from None


def _context(request: Request, session: Session) -> service.ReportContext:
    return service.ReportContext(RegistrySource(session.get_bind().engine), request.app.state.session_factory)


def _download(content: bytes, name: str, media_type: str) -> Response:
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _page(request: Request, title: str, tables: list[tuple[str, Table]], findings: list[str], base: str) -> Response:
    shown = [(caption, table.labels, [[_cell(v) for v in row] for row in table.rows]) for caption, table in tables]
    query = f"?{request.url.query}" if request.url.query else ""
    context = {"title": title, "tables": shown, "findings": findings, "base": base, "query": query}
    return render(request, "reports/table.html", context)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✔" if value else ""
    if isinstance(value, int):
        return fmt(value)
    if isinstance(value, float):
        return f"{value:.4g}".replace(".", ",")
    return str(value)


@router.get("/reports")
def dashboard(
    request: Request,
    province: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    scope = _scope(user, province)
    context = _context(request, session)
    verification = build_verification_report(context.source, scope)
    appendix = service.appendix1(context, None, scope)
    total = appendix.total()
    page = {
        "verification_grid": tile_grid_svg(verification_tiles(verification), "Tỷ lệ đã xác minh đúng", ""),
        "gap_grid": tile_grid_svg(gap_tiles(appendix), "Chênh lệch báo cáo − đã nhập (p/n)", ""),
        "progress": progress_chart_svg(service.cleaning_progress(context, scope)),
        "sent": verification.sent,
        "total": total,
        "fmt": fmt,
        "scope": scope,
    }
    return render(request, "reports/index.html", page)


@router.get("/reports/verification")
def verification_page(
    request: Request,
    province: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = build_verification_report(_context(request, session).source, _scope(user, province))
    tables = [
        ("Kết quả xác minh", verification_lines_table(report)),
        ("Theo tỉnh", verification_provinces_table(report)),
    ]
    return _page(request, "Báo cáo kết quả xác minh với CSDL quốc gia về dân cư", tables, [], "/reports/verification")


@router.get("/reports/verification.xlsx")
def verification_xlsx(
    request: Request,
    province: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = build_verification_report(_context(request, session).source, _scope(user, province))
    return _download(to_bytes(verification_workbook(report)), "bao-cao-xac-minh.xlsx", XLSX)


@router.get("/reports/verification.csv")
def verification_csv(
    request: Request,
    province: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = build_verification_report(_context(request, session).source, _scope(user, province))
    text = verification_lines_table(report).csv() + "\n" + verification_provinces_table(report).csv()
    return _download(text.encode("utf-8"), "bao-cao-xac-minh.csv", "text/csv; charset=utf-8")


@router.get("/reports/appendix1")
def appendix1_page(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = service.appendix1(_context(request, session), _as_of(as_of), _scope(user, province))
    title = "Phụ lục 1: số mũi báo cáo, đã nhập và chênh lệch theo tỉnh"
    return _page(request, title, [("", appendix1_table(report))], report.findings(), "/reports/appendix1")


@router.get("/reports/appendix1.xlsx")
def appendix1_xlsx(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = service.appendix1(_context(request, session), _as_of(as_of), _scope(user, province))
    return _download(to_bytes(appendix1_workbook(report)), "phu-luc-1.xlsx", XLSX)


@router.get("/reports/appendix1.csv")
def appendix1_csv(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    report = service.appendix1(_context(request, session), _as_of(as_of), _scope(user, province))
    return _download(appendix1_table(report).csv().encode("utf-8"), "phu-luc-1.csv", "text/csv; charset=utf-8")


def _units(request: Request, session: Session, user: User, province: str | None, as_of: str | None, by: str) -> Any:
    scope = _scope(user, province)
    return service.unit_report(_context(request, session), _as_of(as_of), scope, by_facility=by != "province")


@router.get("/reports/units")
def units_page(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    by: str = "facility",
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    table = _units(request, session, user, province, as_of, by)
    title = "Phụ lục 2: tình hình nhập dữ liệu theo đơn vị"
    return _page(request, title, [("", unit_table(table))], table.findings(), "/reports/units")


@router.get("/reports/units.xlsx")
def units_xlsx(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    by: str = "facility",
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    table = _units(request, session, user, province, as_of, by)
    return _download(to_bytes(unit_workbook(table)), "phu-luc-2.xlsx", XLSX)


@router.get("/reports/units.csv")
def units_csv(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    by: str = "facility",
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    table = _units(request, session, user, province, as_of, by)
    return _download(unit_table(table).csv().encode("utf-8"), "phu-luc-2.csv", "text/csv; charset=utf-8")


@router.get("/reports/quality")
def quality_page(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    result = service.quality(_context(request, session), _as_of(as_of), _scope(user, province))
    tables = [
        ("Tỷ lệ bỏ mũi", drop_out_table(result.drop_outs)),
        ("Giá trị bất thường", outlier_table(result.outliers)),
        ("Mũi tiêm bất thường", dose_problem_table(result.dose_problems)),
    ]
    findings = [f"{d.province_name}, {d.age_group}, {d.step}: bỏ mũi âm." for d in result.negative_drop_outs]
    return _page(request, "Kiểm tra chất lượng dữ liệu", tables, findings, "/reports/quality")


@router.get("/reports/quality.xlsx")
def quality_xlsx(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    result = service.quality(_context(request, session), _as_of(as_of), _scope(user, province))
    workbook = quality_workbook(result.drop_outs, result.outliers, result.dose_problems)
    return _download(to_bytes(workbook), "chat-luong-du-lieu.xlsx", XLSX)


@router.get("/reports/quality.csv")
def quality_csv(
    request: Request,
    province: str | None = None,
    as_of: str | None = None,
    user: User = Depends(readers),
    session: Session = Depends(get_session),
) -> Response:
    result = service.quality(_context(request, session), _as_of(as_of), _scope(user, province))
    text = "\n".join(
        table.csv()
        for table in (
            drop_out_table(result.drop_outs),
            outlier_table(result.outliers),
            dose_problem_table(result.dose_problems),
        )
    )
    return _download(text.encode("utf-8"), "chat-luong-du-lieu.csv", "text/csv; charset=utf-8")
