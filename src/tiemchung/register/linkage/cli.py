"""Commands of the verification package: `tiemchung verify` runs the register-side engine on a file."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

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

    import duckdb
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from tiemchung.register.linkage.engine import RegisterIndex, evidence_path

    console = Console()
    logging.getLogger("splink").setLevel(logging.ERROR)  # Splink's training advice is for developers
    for path in (register, records):
        if not path.exists():
            console.print(f"[red]Không tìm thấy tệp {path}[/red]")
            raise typer.Exit(code=2)
    with (
        _readable_records(records, console) as records,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        opening = progress.add_task("Chuẩn bị CSDL dân cư", total=None)
        index = RegisterIndex.open(register, workdir=workdir, threads=threads, memory_limit=memory_limit)
        progress.update(opening, total=1, completed=1)
        task = progress.add_task("Xác minh đối tượng", total=None)
        try:
            summary = index.verify_batch(
                records, out, progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
        except duckdb.Error as error:  # a CSV DuckDB cannot read: a message, never its sniffer's traceback
            console.print(f"[red]Không đọc được tệp {records.name}: {_first_line(error)}[/red]")
            raise typer.Exit(code=2) from None
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


@contextmanager
def _readable_records(records: Path, console: Any) -> Iterator[Path]:
    """The records as a file DuckDB reads: CSV and Parquet as they are; a workbook (the spec's Excel files, read
    as the import reads them: headers, fonts, dates) converted to a temporary CSV. Unusable files end the command
    with a Vietnamese message."""
    if records.suffix.lower() in (".csv", ".parquet") and not _is_zip(records):
        yield records
        return
    from tiemchung.interchange.sources import FileProblem, write_interchange_csv

    with tempfile.TemporaryDirectory(prefix="tiemchung-verify-") as folder:
        converted = Path(folder) / (records.stem + ".csv")
        written = write_interchange_csv(records, converted)
        if isinstance(written, FileProblem):
            console.print(f"[red]Không đọc được tệp {records.name}: {written.message_vi}[/red]")
            raise typer.Exit(code=2)
        yield converted


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def register(app: typer.Typer) -> None:
    """Add this package's commands to the main app."""
    app.command("verify")(verify)
