"""Registry commands: `check`, `import`, and the `db` group (upgrade, revision, load-parquet, backup, restore,
prune-entry-keys, resume-imports).

`db_app` is exported so that other packages can add their commands to the same group.
"""

from pathlib import Path
from typing import Annotated

import typer

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption

db_app = typer.Typer(
    help=(
        "Cơ sở dữ liệu sổ tiêm chủng: nâng cấp lược đồ, tạo bản di trú, nạp dữ liệu lớn, sao lưu, khôi phục, "
        "xóa khóa chống nhập trùng cũ."
    )
)

FileArgument = Annotated[Path, typer.Argument(help="Tệp danh sách mũi tiêm (.xlsx hoặc .csv).", exists=True)]


audit_app = typer.Typer(help="Nhật ký kiểm toán: kiểm tra chuỗi băm chống sửa, xóa.")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.command("check", help="Kiểm tra một tệp danh sách mũi tiêm (không cần cơ sở dữ liệu).")(check_command)
    app.command("import", help="Nhập tệp danh sách mũi tiêm vào sổ tiêm chủng.")(import_command)
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")


@audit_app.command(
    "verify",
    help="Tính lại chuỗi băm của nhật ký kiểm toán; báo mắt xích hỏng đầu tiên (mã thoát 1) nếu có sự kiện bị sửa, "
    "xóa hoặc chèn ngoài ứng dụng.",
)
def audit_verify_command(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.registry.audit import verify_chain
    from tiemchung.health.registry.db import make_engine

    engine = make_engine(database)
    with engine.connect() as connection:
        report = verify_chain(connection)
    engine.dispose()
    if not report.ok:
        typer.echo(f"NHẬT KÝ KIỂM TOÁN BỊ SỬA: {report.problem}", err=True)
        typer.echo(f"{report.links:,} mắt xích đầu tiên vẫn nguyên vẹn.".replace(",", "."), err=True)
        raise typer.Exit(1)
    typer.echo(f"Nhật ký kiểm toán nguyên vẹn: {report.links:,} sự kiện trong chuỗi băm.".replace(",", "."))
    typer.echo(f"Mã băm cuối (ghi lại ở nơi khác để phát hiện việc xóa cả chuỗi): {report.last_hash}")


def check_command(path: FileArgument) -> None:
    from tiemchung.health.registry.check import check_file
    from tiemchung.health.registry.report import print_check, row_progress

    with row_progress("Đang kiểm tra") as progress:
        summary = check_file(path, progress=progress)
    print_check(summary)
    if summary.file_error is not None:
        raise typer.Exit(1)


def import_command(
    path: FileArgument,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    facility: Annotated[str | None, typer.Option("--facility", help="Mã cơ sở tiêm chủng gửi tệp.")] = None,
    reason_group: Annotated[
        str | None, typer.Option("--reason-group", help="Nhóm lý do nhập muộn (1–6 hoặc other).")
    ] = None,
    errors: Annotated[
        Path | None, typer.Option("--errors", help="Ghi các dòng bị từ chối ra tệp Excel này để sửa và gửi lại.")
    ] = None,
    actor: Annotated[str, typer.Option("--actor", help="Người thực hiện (ghi vào nhật ký).")] = "cli",
) -> None:
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.export import write_error_workbook
    from tiemchung.health.registry.importer import import_records
    from tiemchung.health.registry.migrate import ensure_schema
    from tiemchung.health.registry.report import console, print_import, row_progress

    ensure_schema(database)
    engine = make_engine(database)
    with row_progress("Đang nhập") as progress:
        report = import_records(
            make_session_factory(engine),
            path,
            actor=actor,
            facility_code=facility,
            reason_group=reason_group,
            progress=progress,
        )
    engine.dispose()
    print_import(report)
    if errors is not None and report.errors:
        count = write_error_workbook(report, path, errors)
        console.print(f"Đã ghi {count} dòng bị từ chối vào [bold]{errors}[/bold].")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("upgrade", help="Nâng cấp lược đồ cơ sở dữ liệu lên phiên bản mới nhất (Alembic).")
def upgrade_command(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.registry.migrate import upgrade

    upgrade(database)
    typer.echo("Lược đồ cơ sở dữ liệu đã ở phiên bản mới nhất.")


@db_app.command("revision", help="Tạo bản di trú mới bằng cách so sánh mô hình với cơ sở dữ liệu (đang ở head).")
def revision_command(
    message: Annotated[str, typer.Option("--message", "-m", help="Mô tả ngắn của bản di trú.")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.registry.migrate import new_revision

    new_revision(database, message)


@db_app.command("load-parquet", help="Nạp số lượng lớn mũi tiêm từ tệp Parquet (định dạng danh sách mũi tiêm).")
def load_parquet_command(
    path: Annotated[Path, typer.Argument(help="Tệp Parquet.", exists=True)],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    actor: Annotated[str, typer.Option("--actor", help="Người thực hiện (ghi vào nhật ký).")] = "cli",
) -> None:
    from tiemchung.health.registry.bulk import load_parquet
    from tiemchung.health.registry.db import make_engine
    from tiemchung.health.registry.migrate import ensure_schema
    from tiemchung.health.registry.report import print_bulk, row_progress

    ensure_schema(database)
    engine = make_engine(database)
    with row_progress("Đang nạp") as progress:
        report = load_parquet(engine, path, actor=actor, progress=progress)
    engine.dispose()
    print_bulk(report)
    if report.file_error is not None:
        raise typer.Exit(1)


@db_app.command("backup", help="Sao lưu toàn bộ sổ tiêm chủng ra một thư mục (Parquet + số dòng và mã kiểm tra).")
def backup_command(
    folder: Annotated[Path, typer.Argument(help="Thư mục sao lưu (sẽ được tạo).")],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.registry.backup import backup
    from tiemchung.health.registry.db import make_engine

    if folder.exists() and any(folder.iterdir()):
        raise typer.BadParameter(f"Thư mục {folder} đã có tệp: hãy chọn thư mục trống.", param_hint="FOLDER")
    engine = make_engine(database)
    checks = backup(engine, folder, progress=lambda table, rows: typer.echo(f"  {table}: {rows:,} dòng"))
    engine.dispose()
    typer.echo(f"Đã sao lưu {sum(check.rows for check in checks):,} dòng của {len(checks)} bảng vào {folder}.")


@db_app.command("restore", help="Khôi phục một bản sao lưu vào cơ sở dữ liệu trống và kiểm tra từng bảng.")
def restore_command(
    folder: Annotated[Path, typer.Argument(help="Thư mục sao lưu.", exists=True, file_okay=False)],
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.registry.backup import BackupError, restore
    from tiemchung.health.registry.db import make_engine
    from tiemchung.health.registry.migrate import ensure_schema

    ensure_schema(database)
    engine = make_engine(database)
    try:
        checks = restore(engine, folder, progress=lambda table, rows: typer.echo(f"  {table}: {rows:,} dòng"))
    except BackupError as error:
        typer.echo(f"Không khôi phục được: {error}", err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    typer.echo(f"Đã khôi phục và kiểm tra {sum(check.rows for check in checks):,} dòng của {len(checks)} bảng.")


@db_app.command(
    "prune-entry-keys",
    help=(
        "Xóa các khóa chống nhập trùng (Idempotency-Key, mã của biểu mẫu nhập mũi tiêm) cũ hơn số ngày cho trước; "
        "không xóa mũi tiêm nào. Gửi lại một yêu cầu với khóa đã xóa sẽ nhập một mũi mới. Chạy hằng ngày."
    ),
)
def prune_entry_keys_command(
    days: Annotated[int, typer.Option("--days", min=1, help="Xóa các khóa tạo cách đây hơn số ngày này.")] = 30,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.registry.db import make_engine
    from tiemchung.health.registry.entry_keys import prune_entry_keys
    from tiemchung.health.registry.report import print_pruned_keys, row_progress

    engine = make_engine(database)
    try:
        with row_progress("Đang xóa khóa cũ") as progress:
            result = prune_entry_keys(engine, days=days, progress=progress)
    finally:
        engine.dispose()
    print_pruned_keys(result)


@db_app.command(
    "resume-imports",
    help=(
        "Hoàn tất các lần nhập tệp bị dừng giữa chừng khi đang ghi vào sổ (tệp đã được đọc hết, không lỗi); "
        "các lần nhập dừng khi đang đọc tệp được đánh dấu không thành công (chưa ghi gì, cần nhập lại tệp)."
    ),
)
def resume_imports_command(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.importer import resume_imports

    engine = make_engine(database)
    resumed = resume_imports(make_session_factory(engine))
    engine.dispose()
    typer.echo(f"Đã xử lý {len(resumed)} lần nhập dở dang." if resumed else "Không có lần nhập nào dở dang.")
