"""`tiemchung report …`: the verification report, appendix 1 and 2, data-quality checks, imports, seed checks."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tiemchung.health.reconciliation.area import Area, known
from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from tiemchung.health.reconciliation.service import ReportContext
    from tiemchung.health.reconciliation.sources import ParquetSource
    from tiemchung.health.reconciliation.tables import Table

report_app = typer.Typer(
    help="Báo cáo: kết quả xác minh, đối soát số mũi tiêm (Phụ lục 1, 2), kiểm tra chất lượng dữ liệu.",
    no_args_is_help=True,
)

BackupOption = Annotated[
    Path | None,
    typer.Option(
        "--backup", help="Đọc sổ tiêm từ thư mục sao lưu Parquet (DuckDB) thay vì cơ sở dữ liệu.", exists=True
    ),
]
SynthOption = Annotated[
    Path | None,
    typer.Option(
        "--synth",
        help="Đọc bộ dữ liệu tổng hợp (records.parquet, aggregates.parquet, gaps.parquet) bằng DuckDB.",
        exists=True,
    ),
]
ProvinceOption = Annotated[
    str | None,
    typer.Option("--province", help="Chỉ một địa bàn: mã tỉnh (2 chữ số), huyện (3) hoặc xã/phường (5)."),
]


def _area(code: str | None) -> Area | None:
    if not code:
        return None
    if not known(code):
        raise typer.BadParameter(f"Không có tỉnh, huyện hay xã nào mã “{code}”.", param_hint="--province")
    return Area(code)


AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Ngày chốt số liệu (YYYY-MM-DD); mặc định: lần báo cáo gần nhất.")
]
FormatOption = Annotated[str, typer.Option("--format", help="page (màn hình), xlsx hoặc csv.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Tệp kết quả (bắt buộc với xlsx).")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    report_app.command("verification", help="Báo cáo kết quả xác minh với CSDL quốc gia về dân cư.")(verification)
    report_app.command("appendix1", help="Phụ lục 1: số mũi báo cáo, đã nhập và chênh lệch theo tỉnh.")(appendix1)
    report_app.command("units", help="Phụ lục 2: tình hình nhập dữ liệu theo đơn vị và nhóm lý do.")(units)
    report_app.command("quality", help="Kiểm tra chất lượng dữ liệu (bỏ mũi, bất thường, trùng lặp).")(quality)
    report_app.command("import-reported", help="Nhập báo cáo tổng hợp của tỉnh (tệp Excel mẫu Phụ lục 1).")(
        import_reported
    )
    report_app.command("import-units", help="Nhập báo cáo của đơn vị (tệp Excel mẫu Phụ lục 2).")(import_units)
    report_app.command("import-synth", help="Nhập số liệu báo cáo của bộ dữ liệu tổng hợp.")(import_synth)
    report_app.command("review", help="Ghi kết quả rà soát của tỉnh (cột q).")(review)
    report_app.command("check-seeds", help="Đối chiếu các báo cáo mẫu (seed) và liệt kê chỗ không khớp.")(check_seeds)
    report_app.command("dashboard", help="Bảng điều khiển toàn quốc (SVG/HTML).")(dashboard)
    report_app.command("check-summary", help="Đối chiếu bảng tổng hợp số mũi đã nhập với số đếm lại từ các mũi tiêm.")(
        check_summary
    )
    report_app.command("rebuild-summary", help="Đếm lại bảng tổng hợp số mũi đã nhập từ các mũi tiêm.")(rebuild_summary)
    report_app.command("compact-summary", help="Gộp các dòng của bảng tổng hợp (chạy định kỳ, ví dụ mỗi giờ).")(
        compact_summary
    )
    app.add_typer(report_app, name="report")


def _registry(database: str) -> "tuple[Engine, sessionmaker[Session]]":
    """The registry at `database`; a brand-new one gets its schema through Alembic, as `tiemchung db upgrade` would."""
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.migrate import ensure_schema

    ensure_schema(database)
    engine = make_engine(database)
    return engine, make_session_factory(engine)


def _required_date(text: str) -> date:
    parsed = _parse_date(text)
    assert parsed is not None  # _parse_date returns None only for None
    return parsed


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        typer.echo(f"Ngày “{text}” không đúng dạng YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None


def _context(database: str, backup: Path | None, synth: Path | None) -> "ReportContext":
    from tiemchung.health.reconciliation.reported import read_synth_aggregates
    from tiemchung.health.reconciliation.service import ReportContext
    from tiemchung.health.reconciliation.sources import ParquetSource, RegistrySource
    from tiemchung.health.reconciliation.unit_report import read_synth_gaps

    if synth is not None:
        aggregates, gaps = synth / "aggregates.parquet", synth / "gaps.parquet"
        return ReportContext(
            source=_synth_source(synth),
            reported=read_synth_aggregates(aggregates) if aggregates.exists() else None,
            unit_reports=read_synth_gaps(gaps) if gaps.exists() else None,
        )
    engine, factory = _registry(database)
    if backup is not None:
        return ReportContext(source=ParquetSource.from_backup(backup), session_factory=factory)
    return ReportContext(source=RegistrySource(engine), session_factory=factory)


def _synth_source(synth: Path) -> "ParquetSource":
    """The data set's records laid out as registry tables, kept in `registry-parquet/` beside them for reuse."""
    from tiemchung.health.reconciliation.sources import ParquetSource, records_to_registry_parquet

    records, laid_out = synth / "records.parquet", synth / "registry-parquet"
    if (
        not (laid_out / "doses.parquet").exists()
        or (laid_out / "doses.parquet").stat().st_mtime < records.stat().st_mtime
    ):
        with _spinner("Đang chuyển records.parquet sang dạng bảng sổ tiêm"):
            records_to_registry_parquet(records, laid_out, truth=synth / "truth_subjects.parquet")
    return ParquetSource.from_backup(laid_out)


@contextmanager
def _spinner(message: str) -> Iterator[None]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(message), TimeElapsedColumn(), transient=True) as progress:
        progress.add_task(message, total=None)
        yield


def _emit(tables: "list[tuple[str, Table]]", workbook_bytes: bytes | None, fmt: str, out: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    if fmt == "xlsx":
        if out is None or workbook_bytes is None:
            typer.echo("Cần --out cho định dạng xlsx.", err=True)
            raise typer.Exit(2)
        out.write_bytes(workbook_bytes)
        typer.echo(f"Đã ghi {out}")
    elif fmt == "csv":
        text = "\n".join(table.csv() for _, table in tables)
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(f"Đã ghi {out}")
    else:
        console = Console()
        for title, table in tables:
            rich_table = RichTable(title=title, show_lines=False)
            for label in table.labels:
                rich_table.add_column(label, overflow="fold")
            for row in table.rows:
                rich_table.add_row(*(_cell(value) for value in row))
            console.print(rich_table)


def _cell(value: object) -> str:
    from tiemchung.health.reconciliation.text import fmt

    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return fmt(value)
    return str(value)


def _print_findings(findings: list[str]) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    if not findings:
        console.print("[green]Không có điểm nào không khớp.[/green]")
    for finding in findings:
        console.print(f"[yellow]•[/yellow] {finding}")


def verification(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    backup: BackupOption = None,
    synth: SynthOption = None,
    province: ProvinceOption = None,
    fmt: FormatOption = "page",
    out: OutOption = None,
) -> None:
    from tiemchung.health.reconciliation.tables import verification_lines_table, verification_provinces_table
    from tiemchung.health.reconciliation.verification_report import build_verification_report
    from tiemchung.health.reconciliation.xlsx import to_bytes, verification_workbook

    context = _context(database, backup, synth)
    report = build_verification_report(context.source, _area(province))
    tables = [
        ("Kết quả xác minh", verification_lines_table(report)),
        ("Theo tỉnh, thành phố", verification_provinces_table(report)),
    ]
    workbook = to_bytes(verification_workbook(report)) if fmt == "xlsx" else None
    _emit(tables, workbook, fmt, out)


def appendix1(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    backup: BackupOption = None,
    synth: SynthOption = None,
    province: ProvinceOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = "page",
    out: OutOption = None,
) -> None:
    from tiemchung.health.reconciliation import service
    from tiemchung.health.reconciliation.tables import appendix1_table
    from tiemchung.health.reconciliation.xlsx import appendix1_workbook, to_bytes

    context = _context(database, backup, synth)
    report = service.appendix1(context, _parse_date(as_of), _area(province))
    workbook = to_bytes(appendix1_workbook(report)) if fmt == "xlsx" else None
    _emit([("Phụ lục 1", appendix1_table(report))], workbook, fmt, out)
    _print_findings(report.findings())


def units(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    backup: BackupOption = None,
    synth: SynthOption = None,
    province: ProvinceOption = None,
    as_of: AsOfOption = None,
    by: Annotated[str, typer.Option("--by", help="Đơn vị: facility (cơ sở tiêm) hoặc province (tỉnh).")] = "facility",
    fmt: FormatOption = "page",
    out: OutOption = None,
) -> None:
    from tiemchung.health.reconciliation import service
    from tiemchung.health.reconciliation.tables import unit_table
    from tiemchung.health.reconciliation.xlsx import to_bytes, unit_workbook

    context = _context(database, backup, synth)
    table = service.unit_report(context, _parse_date(as_of), _area(province), by_facility=by != "province")
    workbook = to_bytes(unit_workbook(table)) if fmt == "xlsx" else None
    _emit([("Phụ lục 2", unit_table(table))], workbook, fmt, out)
    _print_findings(table.findings())


def quality(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    backup: BackupOption = None,
    synth: SynthOption = None,
    province: ProvinceOption = None,
    as_of: AsOfOption = None,
    resolve_duplicates: Annotated[
        bool, typer.Option("--resolve-duplicates", help="Tự xử lý mũi trùng lặp đơn giản, liệt kê các cặp còn lại.")
    ] = False,
    actor: Annotated[str, typer.Option("--actor", help="Người thực hiện (ghi vào nhật ký).")] = "cli",
    fmt: FormatOption = "page",
    out: OutOption = None,
) -> None:
    from tiemchung.health.reconciliation import service
    from tiemchung.health.reconciliation.tables import dose_problem_table, drop_out_table, outlier_table
    from tiemchung.health.reconciliation.xlsx import quality_workbook, to_bytes

    context = _context(database, backup, synth)
    if resolve_duplicates:
        _resolve_duplicates(context, province, actor)
    result = service.quality(context, _parse_date(as_of), _area(province))
    tables = [
        ("Tỷ lệ bỏ mũi", drop_out_table(result.drop_outs)),
        ("Giá trị bất thường", outlier_table(result.outliers)),
        ("Mũi tiêm bất thường", dose_problem_table(result.dose_problems)),
    ]
    workbook = (
        to_bytes(quality_workbook(result.drop_outs, result.outliers, result.dose_problems)) if fmt == "xlsx" else None
    )
    _emit(tables, workbook, fmt, out)


def _resolve_duplicates(context: "ReportContext", province: str | None, actor: str) -> None:
    from tiemchung.health.reconciliation.quality import resolve_duplicates, same_day_duplicates
    from tiemchung.health.registry.db import transaction

    if context.session_factory is None or context.source.name == "duckdb":
        typer.echo("Chỉ xử lý trùng lặp được trên cơ sở dữ liệu sổ tiêm (không phải tệp Parquet).", err=True)
        raise typer.Exit(2)
    pairs = same_day_duplicates(context.source, _area(province))
    with transaction(context.session_factory) as session:
        outcome = resolve_duplicates(session, pairs, actor)
    typer.echo(f"Đã xử lý {outcome.resolved} cặp trùng lặp đơn giản; {outcome.listed_for_review} cặp cần rà soát.")


def import_reported(
    workbook: Annotated[Path, typer.Argument(help="Tệp Excel theo mẫu Phụ lục 1.", exists=True)],
    as_of: Annotated[str, typer.Option("--as-of", help="Ngày chốt số liệu (YYYY-MM-DD).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.reconciliation.reported import read_appendix1_workbook, store_reported
    from tiemchung.health.registry.db import transaction

    report_date = _required_date(as_of)
    figures = read_appendix1_workbook(workbook)
    factory = _registry(database)[1]
    with transaction(factory) as session:
        stored = store_reported(session, figures, report_date, workbook.name)
    typer.echo(f"Đã nhập {stored} ô số liệu của {len(figures.cells)} tỉnh từ {workbook.name}.")
    _print_findings(figures.findings)


def import_units(
    workbook: Annotated[Path, typer.Argument(help="Tệp Excel theo mẫu Phụ lục 2.", exists=True)],
    as_of: Annotated[str, typer.Option("--as-of", help="Ngày chốt số liệu (YYYY-MM-DD).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from sqlalchemy import select

    from tiemchung.health.reconciliation.unit_report import read_unit_workbook, store_unit_reports
    from tiemchung.health.registry.db import transaction
    from tiemchung.health.registry.models import Facility

    report_date = _required_date(as_of)
    factory = _registry(database)[1]
    with transaction(factory) as session:
        by_name = {name: code for code, name in session.execute(select(Facility.code, Facility.name))}
        units, findings = read_unit_workbook(workbook, by_name)
        stored = store_unit_reports(session, units, report_date, workbook.name)
    typer.echo(f"Đã nhập {stored} dòng báo cáo của {len(units)} đơn vị từ {workbook.name}.")
    _print_findings(findings)


def import_synth(
    folder: Annotated[Path, typer.Argument(help="Thư mục bộ dữ liệu tổng hợp.", exists=True)],
    as_of: Annotated[str, typer.Option("--as-of", help="Ngày chốt số liệu (YYYY-MM-DD).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.reconciliation.reported import read_synth_aggregates, store_reported
    from tiemchung.health.reconciliation.unit_report import read_synth_gaps, store_unit_reports
    from tiemchung.health.registry.db import transaction

    report_date = _required_date(as_of)
    factory = _registry(database)[1]
    with transaction(factory) as session:
        cells = store_reported(session, read_synth_aggregates(folder / "aggregates.parquet"), report_date, "synth")
        units_stored = 0
        if (folder / "gaps.parquet").exists():
            units_stored = store_unit_reports(session, read_synth_gaps(folder / "gaps.parquet"), report_date, "synth")
    typer.echo(f"Đã nhập {cells} ô số liệu báo cáo và {units_stored} dòng báo cáo đơn vị.")


def review(
    province: Annotated[str, typer.Argument(help="Mã tỉnh (2 chữ số).")],
    result: Annotated[str, typer.Argument(help="Kết quả rà soát (cột q).")],
    as_of: Annotated[str, typer.Option("--as-of", help="Ngày chốt số liệu (YYYY-MM-DD).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    actor: Annotated[str, typer.Option("--actor", help="Người ghi.")] = "cli",
) -> None:
    from tiemchung.health.reconciliation.reported import record_review
    from tiemchung.health.registry.db import transaction

    report_date = _required_date(as_of)
    factory = _registry(database)[1]
    with transaction(factory) as session:
        record_review(session, province, report_date, result, actor)
    typer.echo("Đã ghi kết quả rà soát.")


def check_seeds(
    seeds: Annotated[
        Path | None,
        typer.Option(
            "--seeds",
            help="Thư mục chứa văn bản gốc của hai seed (000_*.txt, 001_*.txt). Bỏ trống: dùng số liệu đóng gói "
            "sẵn trong nền tảng.",
        ),
    ] = None,
    workbook: Annotated[
        Path | None, typer.Option("--workbook", help="Ghi Phụ lục 1 của seed 001 ra tệp Excel theo mẫu.")
    ] = None,
) -> None:
    from tiemchung.health.reconciliation.seedcheck import check_seed_000, check_seed_001
    from tiemchung.health.reconciliation.seedfigures import SeedTextMissing, read_seeds, seed_documents

    try:
        seed = read_seeds(seeds)
    except SeedTextMissing as missing:
        raise typer.BadParameter(str(missing), param_hint="--seeds") from None
    where = f"văn bản trong {seeds}" if seeds is not None else "số liệu đóng gói trong nền tảng"
    for document in seed_documents():
        typer.echo(f"Nguồn ({where}): {document}")
    findings = check_seed_000(seed.verification_report) + check_seed_001(seed.appendix1, workbook)
    _print_findings(findings)
    if workbook is not None:
        typer.echo(f"Đã ghi {workbook}")


def dashboard(
    out: Annotated[Path, typer.Option("--out", help="Tệp HTML hoặc SVG.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    backup: BackupOption = None,
    synth: SynthOption = None,
    as_of: AsOfOption = None,
) -> None:
    from tiemchung.health.reconciliation import service
    from tiemchung.health.reconciliation.dashboard import dashboard_html, province_grid_svg
    from tiemchung.health.reconciliation.verification_report import build_verification_report

    context = _context(database, backup, synth)
    verification_report = build_verification_report(context.source)
    report = service.appendix1(context, _parse_date(as_of))
    if out.suffix.lower() == ".svg":
        out.write_text(province_grid_svg(verification_report, report), encoding="utf-8")
    else:
        progress = service.cleaning_progress(context)
        out.write_text(dashboard_html(verification_report, report, progress), encoding="utf-8")
    typer.echo(f"Đã ghi {out}")


def check_summary(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.reconciliation.summary import differences

    engine = _registry(database)[0]
    found = differences(engine)
    engine.dispose()
    if not found:
        typer.echo("Bảng tổng hợp khớp với số mũi đã nhập.")
        return
    for cell in found:
        place = f"Tỉnh “{cell.province_code}”"
        if cell.district_code is not None:
            place += f", huyện “{cell.district_code}”, xã “{cell.ward_code}”"
        typer.echo(
            f"{place}, nhóm {cell.age_group}, mũi {cell.dose_kind}, ngày {cell.day}: "
            f"bảng tổng hợp {cell.summary}, đếm lại {cell.doses}."
        )
    typer.echo(f"{len(found)} ô không khớp: chạy `tiemchung report rebuild-summary` để đếm lại.", err=True)
    raise typer.Exit(1)


def rebuild_summary(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.reconciliation.summary import rebuild

    engine = _registry(database)[0]
    with _spinner("Đang đếm lại các mũi tiêm"):
        cells = rebuild(engine)
    engine.dispose()
    typer.echo(f"Đã đếm lại: {cells} dòng (theo tỉnh, và theo huyện và xã; nhóm tuổi, mũi, ngày).")


def compact_summary(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.reconciliation.summary import compact

    engine = _registry(database)[0]
    before, after = compact(engine)
    engine.dispose()
    typer.echo(f"Bảng tổng hợp: {before} dòng trước, {after} dòng sau khi gộp.")
