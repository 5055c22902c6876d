"""`tiemchung demo`: the whole platform on one machine, in one command (the README's first command)."""

import shutil
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_WORKDIR = Path("var/demo")
DEFAULT_KEYS_DIR = Path.home() / ".local" / "share" / "tiemchung" / "demo-keys"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    database: Annotated[
        str | None,
        typer.Option(help="URL cơ sở dữ liệu (mặc định: SQLite trong thư mục làm việc). Phải là cơ sở dữ liệu trống."),
    ] = None,
    people: Annotated[int, typer.Option(min=2_000, help="Số người của tỉnh tổng hợp.")] = 20_000,
    province: Annotated[str, typer.Option(help="Mã GSO của tỉnh tổng hợp (mặc định 06: Bắc Kạn).")] = "06",
    seed: Annotated[int, typer.Option(help="Hạt giống ngẫu nhiên của dữ liệu tổng hợp.")] = 2022,
    workdir: Annotated[Path, typer.Option(help="Thư mục làm việc (được làm mới mỗi lần chạy).")] = DEFAULT_WORKDIR,
    keys_dir: Annotated[Path, typer.Option(help="Thư mục khóa ký (ngoài kho mã nguồn).")] = DEFAULT_KEYS_DIR,
    port: Annotated[int, typer.Option(help="Cổng của trang web.")] = 8000,
    password: Annotated[
        str | None, typer.Option(help="Mật khẩu chung cho các tài khoản thử (mặc định: ngẫu nhiên).")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Chạy trang web sau khi chuẩn bị xong.")] = True,
) -> None:
    """Chạy thử toàn bộ nền tảng: tỉnh tổng hợp, nhập sổ, xác minh, làm sạch, chứng nhận, báo cáo, trang web."""
    from rich.console import Console

    from tiemchung.demo.pipeline import DemoError
    from tiemchung.demo.run import run_demo

    console = Console()
    if workdir.exists():
        shutil.rmtree(workdir)
    database_url = database or f"sqlite:///{workdir / 'tiemchung.sqlite'}"
    try:
        run_demo(
            console,
            database_url=database_url,
            people=people,
            province_code=province,
            seed=seed,
            workdir=workdir,
            keys_dir=keys_dir,
            port=port,
            password=password,
            serve=serve,
        )
    except DemoError as error:
        console.print(f"[bold red]Dừng chạy thử:[/] {error}")
        raise typer.Exit(1) from error
