"""Report pages and their downloads: one handler per report, one renderer per format (Datasette's output renderers).

Each report (verification, appendix 1, appendix 2, data quality) is a `Report` whose `build` computes it once from
the registry (`tiemchung.health.reconciliation`; nothing here adds up) into a `Built`: title, the data's date, tables,
findings and its workbook. The same built report is then rendered as a page (`/reports/<name>`), an Excel workbook
(`.xlsx`), a CSV for Excel users (`.csv`) or JSON (`/api/v1/reports/<name>`). Every format takes the same filters
(`ReportFilters`: area, period, unit) and the same area rule as the lists (`web.access`): a user sees their own area
and what lies inside it, whatever the length of its code.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from openpyxl import Workbook
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from tiemchung.health.reconciliation import service
from tiemchung.health.reconciliation.appendix1 import Appendix1Report
from tiemchung.health.reconciliation.area import Area, known
from tiemchung.health.reconciliation.dashboard import (
    GAP_LABELS,
    GAP_NOTE,
    MonthPoint,
    ProgressPoint,
    UnitRate,
    gap_tiles,
    progress_chart_svg,
    rate_bars_svg,
    trend_chart_svg,
    verification_tiles,
)
from tiemchung.health.reconciliation.map_svg import province_map_html
from tiemchung.health.reconciliation.queries import reported_comparable
from tiemchung.health.reconciliation.sources import RegistrySource
from tiemchung.health.reconciliation.tables import (
    Table,
    appendix1_table,
    dose_problem_table,
    drop_out_table,
    outlier_table,
    unit_table,
    verification_lines_table,
    verification_provinces_table,
)
from tiemchung.health.reconciliation.verification_report import VerificationReport, build_verification_report
from tiemchung.health.reconciliation.xlsx import (
    appendix1_workbook,
    quality_workbook,
    to_bytes,
    unit_workbook,
    verification_workbook,
)
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import User
from tiemchung.health.web.access import SUPERVISOR_ROLES
from tiemchung.health.web.deps import SessionDep, render, require_roles
from tiemchung.health.web.formatting import vn_date, vn_number, vn_percent
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.report_cache import ReportCache
from tiemchung.health.web.report_filters import Filters, ReportFilters, area_choices, chosen_area

router = APIRouter()
NAV_ITEMS = [NavItem("Báo cáo", "/reports", frozenset(SUPERVISOR_ROLES), order=40)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Reader = Annotated[User, Depends(require_roles(*SUPERVISOR_ROLES))]


@dataclass(frozen=True)
class Built:
    """A computed report, ready for any renderer."""

    title: str
    as_of: date | None  # the data's date: the latest dose or answer counted
    sections: list[tuple[str, Table]]
    findings: list[str]
    workbook: Callable[[], Workbook]
    subject_keys: list[str] | None = None  # people's keys the report shows: each read is audited


@dataclass(frozen=True)
class Inputs:
    context: service.ReportContext
    area: Area
    filters: Filters
    user: User
    session: Session


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    file_stem: str
    build: Callable[[Inputs], Built]
    by_unit: bool = False  # offers the facility/province choice


def _verification(inputs: Inputs) -> Built:
    report = build_verification_report(inputs.context.source, inputs.area)
    as_of = service.latest_answer(inputs.context, inputs.area)
    return Built(
        REPORTS_BY_NAME["verification"].title,
        as_of,
        [("Kết quả xác minh", verification_lines_table(report)), ("Theo tỉnh", verification_provinces_table(report))],
        report.findings,
        lambda: verification_workbook(report, as_of),
    )


def _appendix1(inputs: Inputs) -> Built:
    filters = inputs.filters
    report = service.appendix1(inputs.context, filters.as_of, inputs.area, filters.since)
    return Built(
        REPORTS_BY_NAME["appendix1"].title,
        report.as_of,
        [("", appendix1_table(report))],
        report.findings(),
        lambda: appendix1_workbook(report),
    )


def _units(inputs: Inputs) -> Built:
    filters = inputs.filters
    table = service.unit_report(
        inputs.context, filters.as_of, inputs.area, by_facility=filters.by != "province", since=filters.since
    )
    return Built(
        REPORTS_BY_NAME["units"].title,
        table.as_of,
        [("", unit_table(table))],
        table.findings(),
        lambda: unit_workbook(table),
    )


def _quality(inputs: Inputs) -> Built:
    filters = inputs.filters
    result = service.quality(inputs.context, filters.as_of, inputs.area, filters.since)
    findings = [f"{d.province_name}, {d.age_group}, {d.step}: bỏ mũi âm." for d in result.negative_drop_outs]
    return Built(
        REPORTS_BY_NAME["quality"].title,
        result.as_of,
        [
            ("Tỷ lệ bỏ mũi", drop_out_table(result.drop_outs)),
            ("Giá trị bất thường", outlier_table(result.outliers)),
            ("Mũi tiêm bất thường", dose_problem_table(result.dose_problems)),
        ],
        findings,
        lambda: quality_workbook(result.drop_outs, result.outliers, result.dose_problems),
        subject_keys=[problem.subject_key for problem in result.dose_problems],
    )


def _audit_subject_keys(inputs: Inputs, subject_keys: list[str]) -> None:
    """The quality report lists people's subject keys: its every read (page or download) is audited like a search."""
    record(
        inputs.session,
        actor=inputs.user.username,
        actor_role=inputs.user.role,
        action="read",
        entity="quality_report",
        entity_id=inputs.area.code,
        reason="Xem báo cáo chất lượng dữ liệu (danh sách mũi tiêm bất thường)",
        detail={"subject_keys": sorted(set(subject_keys))},
    )
    inputs.session.commit()


REPORTS = (
    Report("verification", "Báo cáo kết quả xác minh với CSDL quốc gia về dân cư", "bao-cao-xac-minh", _verification),
    Report("appendix1", "Phụ lục 1: số mũi báo cáo, đã nhập và chênh lệch theo tỉnh", "phu-luc-1", _appendix1),
    Report("units", "Phụ lục 2: tình hình nhập dữ liệu theo đơn vị", "phu-luc-2", _units, by_unit=True),
    Report("quality", "Kiểm tra chất lượng dữ liệu", "chat-luong-du-lieu", _quality),
)
REPORTS_BY_NAME = {report.name: report for report in REPORTS}


# The dashboard ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFigures:
    verification: VerificationReport
    appendix: Appendix1Report | None  # the country or a province over all time: the summary answers at once
    below: list[UnitRate]  # the units one level below (a province or district shown)
    trend: list[MonthPoint]
    progress: list[ProgressPoint]
    as_of: date | None

    @property
    def entered(self) -> int:
        return sum(point.doses for point in self.trend)


def dashboard_figures(context: service.ReportContext, area: Area, filters: Filters) -> DashboardFigures:
    """Everything the dashboard counts (what is cached); below a province appendix 1 is left out: its reported
    figures are the provinces' and its entered total is the trend's."""
    appendix = None
    if filters.since is None and reported_comparable(area):
        appendix = service.appendix1(context, filters.as_of, area)
    as_of = appendix.as_of if appendix else service.latest_dose(context, area, filters.as_of)
    return DashboardFigures(
        verification=build_verification_report(context.source, area),
        appendix=appendix,
        below=[] if area.national else service.verification_rates_below(context, area),
        trend=service.monthly_trend(context, area, filters.since, as_of),
        progress=service.cleaning_progress(context, area),
        as_of=as_of,
    )


@router.get("/reports", include_in_schema=False)
def dashboard(request: Request, filters: ReportFilters, user: Reader, session: SessionDep) -> Response:
    """The area's figures, a map (the country) or a bar per unit below it, the trend; a click drills down."""
    area = chosen_area(user, filters)
    context = _context(request, session)
    figures = _cache(request).get_or_build(
        ("dashboard", area.code, filters), service.version(context), lambda: dashboard_figures(context, area, filters)
    )
    link = drill_down_link(user, filters)
    maps = []
    if area.national:
        tiles = verification_tiles(figures.verification, link)
        maps.append(province_map_html(tiles, "Tỷ lệ đối tượng đã xác minh đúng", key="verified",
                                      measure="Tỷ lệ đã xác minh đúng"))  # fmt: skip
        if figures.appendix:
            maps.append(province_map_html(gap_tiles(figures.appendix, link), "Chênh lệch báo cáo − đã nhập (p/n)",
                                          key="gap", measure="Chênh lệch (% số báo cáo)", note=GAP_NOTE,
                                          scale=GAP_LABELS))  # fmt: skip
    elif figures.below:
        maps.append(rate_bars_svg(figures.below, f"Tỷ lệ đã xác minh đúng theo đơn vị thuộc {area.name}", link))
    page = {
        "maps": maps,
        "trend": trend_chart_svg(figures.trend),
        "progress": progress_chart_svg(figures.progress),
        "sent": figures.verification.sent,
        "total": figures.appendix.total() if figures.appendix else None,
        "entered": figures.entered,
        "area": area,
        "as_of": vn_date(figures.as_of) if figures.as_of else "",
        "reports": REPORTS,
        "query": f"?{request.url.query}" if request.url.query else "",
        "filters": filters,
        "choices": area_choices(user, area),
    }
    return render(request, "reports/index.html", page)


def _context(request: Request, session: Session) -> service.ReportContext:
    return service.ReportContext(RegistrySource(session.get_bind().engine), request.app.state.session_factory)


def _cache(request: Request) -> ReportCache:
    """The application's cache of built reports (made on first use: `create_app` need not know about it)."""
    state = request.app.state
    if getattr(state, "report_cache", None) is None:
        state.report_cache = ReportCache()
    cache: ReportCache = state.report_cache
    return cache


def drill_down_link(user: User, filters: Filters) -> Callable[[str], str | None]:
    """The dashboard's address for a unit, keeping the period; None for a unit outside the user's area."""
    own = Area(user.area_code or "")

    def link(code: str) -> str | None:
        if not code or not known(code) or not own.contains(Area(code)):
            return None
        province, district, ward = Area(code).codes
        parameters = {"province": province, "district": district, "ward": ward}
        for name in ("since", "as_of"):
            day = getattr(filters, name)
            parameters[name] = day.isoformat() if day else None
        return "/reports?" + urlencode({key: value for key, value in parameters.items() if value})

    return link


# Renderers -------------------------------------------------------------------------------------------------------

Renderer = Callable[[Request, Report, Built, Inputs], Response]


def render_page(request: Request, report: Report, built: Built, inputs: Inputs) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    context = {
        "title": built.title,
        "as_of": vn_date(built.as_of) if built.as_of else "",
        "area": inputs.area,
        "tables": [(caption, table.labels, *_shown_rows(table)) for caption, table in built.sections],
        "findings": built.findings,
        "report": report,
        "query": query,
        "filters": inputs.filters,
        "choices": area_choices(inputs.user, inputs.area),
    }
    return render(request, "reports/table.html", context)


# A page shows at most this many rows of a table (every province fits); the downloads hold them all.
PAGE_ROWS = 70


def _shown_rows(table: Table) -> tuple[list[tuple[bool, list[tuple[str, bool]]]], int]:
    """(rows, how many are left out): each row as (is a total, [(text, is a number)]), numbers and rates in the
    `vi` locale; of a long list the first `PAGE_ROWS` and the totals."""
    body = len(table.rows) - table.totals
    shown = [index for index in range(len(table.rows)) if index < PAGE_ROWS or table.is_total(index)]
    rows = []
    for index in shown:
        cells = [_cell(value, key in table.rates) for key, value in zip(table.keys, table.rows[index], strict=True)]
        rows.append((table.is_total(index), cells))
    return rows, max(body - PAGE_ROWS, 0)


def _cell(value: Any, rate: bool) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("✔" if value else ""), False
    if rate:
        return vn_percent(value), True
    if isinstance(value, int):
        return vn_number(value), True
    if isinstance(value, float):
        return vn_number(value, digits=2), True
    return str(value), False


def _file_name(report: Report, inputs: Inputs, extension: str) -> str:
    return f"{report.file_stem}{'-' + inputs.area.code if inputs.area.code else ''}.{extension}"


def _download(content: bytes, name: str, media_type: str) -> Response:
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def render_xlsx(request: Request, report: Report, built: Built, inputs: Inputs) -> Response:
    return _download(to_bytes(built.workbook()), _file_name(report, inputs, "xlsx"), XLSX)


def render_csv(request: Request, report: Report, built: Built, inputs: Inputs) -> Response:
    """UTF-8 with a byte-order mark, so that Excel reads the Vietnamese headings; tables apart by an empty line."""
    text = "\n".join(table.csv() for _, table in built.sections)
    return _download(text.encode("utf-8-sig"), _file_name(report, inputs, "csv"), "text/csv; charset=utf-8")


def render_json(request: Request, report: Report, built: Built, inputs: Inputs) -> Response:
    body = {
        "report": report.name,
        "title": built.title,
        "as_of": built.as_of.isoformat() if built.as_of else None,
        "area": {"code": inputs.area.code, "name": inputs.area.name},
        "sections": [
            {
                "caption": caption,
                "columns": [{"key": key, "label": label} for key, label in zip(table.keys, table.labels, strict=True)],
                "rates": sorted(table.rates),
                "rows": table.records(),
                "totals": table.totals,
            }
            for caption, table in built.sections
        ],
        "findings": built.findings,
    }
    return JSONResponse(body)


def report_endpoint(report: Report, renderer: Renderer) -> Callable[..., Response]:
    """The one handler: check the area, build the report, hand it to the format's renderer."""

    def endpoint(request: Request, filters: ReportFilters, user: Reader, session: SessionDep) -> Response:
        area = chosen_area(user, filters)
        inputs = Inputs(_context(request, session), area, filters, user, session)
        key = (report.name, area.code, filters)
        built = _cache(request).get_or_build(key, service.version(inputs.context), lambda: report.build(inputs))
        if built.subject_keys is not None:
            _audit_subject_keys(inputs, built.subject_keys)  # every read, whether built now or a minute ago
        return renderer(request, report, built, inputs)

    endpoint.__name__ = f"{report.name}_{renderer.__name__.removeprefix('render_')}"
    return endpoint


for _report in REPORTS:
    for _path, _renderer in (
        (f"/reports/{_report.name}", render_page),
        (f"/reports/{_report.name}.xlsx", render_xlsx),
        (f"/reports/{_report.name}.csv", render_csv),
    ):
        router.add_api_route(_path, report_endpoint(_report, _renderer), methods=["GET"], include_in_schema=False)
    router.add_api_route(
        f"/api/v1/reports/{_report.name}",
        report_endpoint(_report, render_json),
        methods=["GET"],
        tags=["báo cáo"],
        summary=_report.title,
        response_model=None,
    )
