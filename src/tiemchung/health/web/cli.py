"""Commands of the web package: `tiemchung serve` and `tiemchung users ...`."""

import os
import secrets
from typing import Annotated

import typer

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL, DatabaseOption

ROLE_HELP = (
    "Vai trò: facility (cơ sở tiêm), health_station (trạm y tế), village_team (tổ thôn), "
    "commune_police (công an xã), province (sở y tế), ministry (bộ y tế), admin (quản trị)."
)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.command("serve", help="Chạy nền tảng web (trang web và API JSON).")(serve)
    users = typer.Typer(help="Quản lý tài khoản người dùng.", no_args_is_help=True)
    users.command("add", help="Tạo tài khoản người dùng.")(add_user)
    users.command("list", help="Liệt kê tài khoản.")(list_users)
    app.add_typer(users, name="users")


def serve(
    database: DatabaseOption = DEFAULT_DATABASE_URL,
    host: Annotated[str, typer.Option(help="Địa chỉ lắng nghe.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Cổng.")] = 8000,
    workers: Annotated[int, typer.Option(help="Số tiến trình phục vụ.")] = 1,
    create_tables: Annotated[bool, typer.Option(help="Tạo lược đồ (Alembic) nếu cơ sở dữ liệu còn trống.")] = False,
) -> None:
    import uvicorn
    from sqlalchemy.engine import make_url

    from tiemchung.health.registry.migrate import ensure_schema
    from tiemchung.health.web.app import create_app
    from tiemchung.health.web.settings import Settings

    settings = Settings.from_env(database_url=database)
    if create_tables:
        ensure_schema(settings.database_url)
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    typer.echo(f"Nền tảng web đang chạy tại http://{host}:{port} (cơ sở dữ liệu: {shown})")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    # Worker processes build the app from the environment; they must share the session-signing key.
    os.environ["TIEMCHUNG_DATABASE_URL"] = settings.database_url
    os.environ["TIEMCHUNG_SECRET_KEY"] = settings.secret_key
    uvicorn.run(
        "tiemchung.health.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


def add_user(
    username: Annotated[str, typer.Option(help="Tên đăng nhập.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    area: Annotated[
        str,
        typer.Option(
            help="Mã địa bàn, đúng cấp của vai trò: mã xã (5 số) cho trạm y tế, tổ thôn, công an xã; tỉnh (2) hoặc "
            "huyện (3) cho sở y tế; tỉnh, huyện hoặc xã của cơ sở cho cơ sở tiêm; để trống cho bộ y tế, quản trị."
        ),
    ] = "",
    password: Annotated[str | None, typer.Option(help="Mật khẩu; bỏ trống để sinh ngẫu nhiên.")] = None,
    full_name: Annotated[str, typer.Option(help="Họ và tên.")] = "",
    facility: Annotated[
        str | None, typer.Option(help="Mã cơ sở tiêm chủng: bắt buộc với vai trò facility, cơ sở phải có sẵn.")
    ] = None,
    village: Annotated[int | None, typer.Option(help="Mã thôn/ấp (vai trò village_team).")] = None,
    database: DatabaseOption = DEFAULT_DATABASE_URL,
) -> None:
    from tiemchung.health.registry.db import make_engine, make_session_factory, transaction
    from tiemchung.health.web.users import NewUser, create_user

    chosen_password = password or secrets.token_urlsafe(12)
    new_user = NewUser(username, role, area, chosen_password, full_name, facility, village)
    with transaction(make_session_factory(make_engine(database))) as session:
        outcome = create_user(session, new_user)
    if not outcome.ok:
        typer.echo(f"Không tạo được tài khoản: {outcome.message}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Đã tạo tài khoản {username} ({role}, địa bàn {area or 'toàn quốc'}).")
    if password is None:
        typer.echo(f"Mật khẩu: {chosen_password}")


def list_users(database: DatabaseOption = DEFAULT_DATABASE_URL) -> None:
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.models import User

    table = Table("Tên đăng nhập", "Họ tên", "Vai trò", "Địa bàn", "Khóa đến")
    with make_session_factory(make_engine(database))() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            table.add_row(user.username, user.full_name, user.role, user.area_code, str(user.locked_until or ""))
    Console().print(table)
