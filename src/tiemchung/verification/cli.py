"""Commands of the verification package: `tiemchung verify` runs the register-side engine on a file."""

from pathlib import Path
from typing import Annotated

import typer


def verify(
    register: Annotated[Path, typer.Option("--register", help="Trích xuất CSDL dân cư (Parquet hoặc CSV, mục 1).")],
    records: Annotated[Path, typer.Option("--records", help="Tệp mũi tiêm (mục 2) hoặc tệp đối tượng cần xác minh.")],
    out: Annotated[Path, typer.Option("--out", help="Tệp kết quả xác minh (mục 3), .csv hoặc .parquet.")],
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Thư mục làm việc: giữ CSDL đã chuẩn bị và mô hình đã huấn luyện."),
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Số luồng DuckDB (mặc định: mọi lõi).")] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option("--memory-limit", help="Giới hạn bộ nhớ của DuckDB, ví dụ 8GB (mặc định: 80% bộ nhớ máy)."),
    ] = None,
) -> None:
    """Xác minh các đối tượng tiêm với CSDL dân cư: theo số định danh và so khớp xác suất khi không có số."""
    import logging

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from tiemchung.verification.engine import RegisterIndex, evidence_path

    console = Console()
    logging.getLogger("splink").setLevel(logging.ERROR)  # Splink's training advice is for developers
    for path in (register, records):
        if not path.exists():
            console.print(f"[red]Không tìm thấy tệp {path}[/red]")
            raise typer.Exit(code=2)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        opening = progress.add_task("Chuẩn bị CSDL dân cư", total=None)
        index = RegisterIndex.open(register, workdir=workdir, threads=threads, memory_limit=memory_limit)
        progress.update(opening, total=1, completed=1)
        task = progress.add_task("Xác minh đối tượng", total=None)
        try:
            summary = index.verify_batch(
                records, out, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
        finally:
            index.close()
    table = Table(title=f"Kết quả xác minh {summary.subjects:,} đối tượng trong {summary.seconds:.1f} giây")
    table.add_column("Nhóm")
    table.add_column("Mã")
    table.add_column("Số đối tượng", justify="right")
    table.add_column("Tỷ lệ", justify="right")
    for category, count in summary.by_category.items():
        share = count / summary.subjects if summary.subjects else 0.0
        table.add_row(category.label_vi, category.value, f"{count:,}", f"{share:.2%}")
    console.print(table)
    console.print(f"Đã ghi kết quả vào {out} và bằng chứng so khớp vào {evidence_path(out)}.")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.command("verify")(verify)
