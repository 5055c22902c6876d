"""Rich output of the registry commands, in Vietnamese: check summaries, import reports, progress bars."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tiemchung.health.registry.check import CheckSummary
from tiemchung.health.registry.importer import ImportReport
from tiemchung.health.registry.records import RowError
from tiemchung.reference import DoseKind

console = Console()
SHOWN_ERRORS = 20
ID_STATUS_LABELS = {
    "valid": "Đúng định dạng",
    "repaired": "Đúng định dạng sau khi sửa",
    "invalid": "Sai định dạng",
    "missing": "Không có số",
}


@contextmanager
def row_progress(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar fed with (rows done, rows expected or None)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("dòng"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total if total and total >= done else None)

        yield update


def _fmt(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def _counts_table(title: str, rows: list[tuple[str, int]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Mục")
    table.add_column("Số lượng", justify="right")
    for label, count in rows:
        table.add_row(label, _fmt(count))
    return table


def _counter_table(title: str, label: str, counter: Counter[str], unit: str = "Số dòng") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    table.add_column(unit, justify="right")
    for key, count in counter.most_common():
        table.add_row(key, _fmt(count))
    return table


def _errors_table(errors: list[RowError]) -> Table:
    table = Table(title=f"Dòng bị từ chối (tối đa {SHOWN_ERRORS} lỗi đầu)", title_justify="left")
    for column in ("Dòng", "Cột", "Giá trị", "Lý do"):
        table.add_column(column)
    for error in errors[:SHOWN_ERRORS]:
        table.add_row(str(error.row), error.column_vi, error.value, error.message_vi)
    return table


def print_check(summary: CheckSummary) -> None:
    if summary.file_error is not None:
        console.print(f"[bold red]Không kiểm tra được tệp {summary.file_name}:[/] {summary.file_error}")
        return
    counts = [
        ("Số dòng", summary.rows),
        ("Dòng hợp lệ", summary.accepted),
        ("Dòng bị từ chối", summary.rejected),
        ("Đối tượng", summary.subjects),
        ("Đối tượng có các dòng không thống nhất", summary.disagreeing_subjects),
        ("Giá trị được sửa theo quy tắc định danh", sum(summary.repairs.values())),
    ]
    console.print(_counts_table(f"Kiểm tra tệp {summary.file_name}", counts))
    _print_if(summary.doses_by_vaccine, _counter_table("Mũi tiêm theo vắc xin", "Vắc xin", summary.doses_by_vaccine))
    kinds = Counter({_dose_label(kind): count for kind, count in summary.doses_by_kind.items()})
    _print_if(kinds, _counter_table("Mũi tiêm theo loại mũi", "Loại mũi", kinds))
    repairs = Counter({summary.repair_examples[code]: count for code, count in summary.repairs.items()})
    _print_if(repairs, _counter_table("Giá trị được sửa (ví dụ đầu tiên của mỗi loại)", "Sửa đổi", repairs))
    id_statuses = Counter({ID_STATUS_LABELS.get(k, k): v for k, v in summary.id_statuses.items()})
    _print_if(id_statuses, _counter_table("Đối tượng theo số CCCD/CMND", "Tình trạng", id_statuses, "Số đối tượng"))
    _print_if(summary.rejection_reasons, _counter_table("Lỗi theo cột", "Cột", summary.rejection_reasons))
    _print_if(summary.errors, _errors_table(summary.errors))


def _dose_label(kind: str) -> str:

    try:
        return DoseKind(kind).label_vi
    except ValueError:
        return kind


def _print_if(condition: Any, table: Table) -> None:
    if condition:
        console.print(table)


def print_import(report: ImportReport) -> None:
    if report.file_error is not None:
        console.print(f"[bold red]Không nhập được tệp {report.file_name}:[/] {report.file_error}")
        return
    counts = [
        ("Số dòng", report.rows_total),
        ("Dòng đã nhập", report.accepted),
        ("Dòng bị từ chối", report.rejected),
        ("Đối tượng mới", report.subjects_created),
        ("Đối tượng được cập nhật", report.subjects_updated),
        ("Mũi tiêm mới", report.doses_created),
        ("Mũi tiêm được cập nhật", report.doses_updated),
        ("Phát hiện cần rà soát", report.findings),
        ("Giá trị được sửa theo quy tắc định danh", report.repairs),
    ]
    console.print(_counts_table(f"Nhập tệp {report.file_name} (lô {report.batch_id})", counts))
    _print_if(report.errors, _errors_table(report.errors))


def print_bulk(report: Any) -> None:
    if report.file_error is not None:
        console.print(f"[bold red]Không nạp được tệp:[/] {report.file_error}")
        return
    counts = [
        ("Mũi tiêm đã nạp", report.doses),
        ("Đối tượng", report.subjects),
        ("Dòng bị từ chối", report.rejected),
    ]
    console.print(_counts_table(f"Nạp Parquet ({report.seconds:.1f} giây)", counts))


def print_pruned_keys(result: Any) -> None:
    """`tiemchung db prune-entry-keys`: what went and what stays (an `entry_keys.PruneResult`)."""
    cutoff = result.cutoff.strftime("%d/%m/%Y %H:%M UTC")
    counts = [
        (f"Khóa tạo trước {cutoff} đã xóa", result.deleted),
        ("Khóa còn giữ", result.kept),
        ("Số đợt xóa (mỗi đợt một giao dịch)", result.chunks),
    ]
    console.print(_counts_table("Khóa chống nhập trùng của các mũi tiêm (dose_entry_keys)", counts))
