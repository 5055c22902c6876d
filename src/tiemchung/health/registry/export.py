"""The error workbook: the rejected rows as they were sent, plus a "Lỗi" column, for the facility to fix and re-upload.

Everything written is neutralised against spreadsheet formula injection: a text cell that starts with = + - @ tab or
carriage return gets a leading apostrophe, so Excel shows it as text instead of running it (OWASP "CSV injection").
"""

from collections import defaultdict
from pathlib import Path

from tiemchung.health.registry.importer import ImportReport
from tiemchung.health.registry.records import RowError
from tiemchung.interchange.sources import original_rows

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32_767
ERROR_COLUMN = "Lỗi"
ROW_COLUMN = "Dòng trong tệp gốc"


def neutralise(value: object) -> object:
    """A cell value that no spreadsheet will evaluate as a formula."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_TRIGGERS):
        value = "'" + value
    # Excel refuses longer cells; the row is already rejected for its length, the start is enough to find it.
    return value[:EXCEL_CELL_LIMIT]


def error_text(errors: list[RowError]) -> str:
    """All the problems of one row, one per line: "Ngày sinh: Ngày sinh không đọc được"."""
    return "\n".join(f"{error.column_vi}: {error.message_vi}" if error.column else error.message_vi for error in errors)


def write_error_workbook(report: ImportReport, source_path: Path, out_path: Path) -> int:
    """Write the rejected rows of `report` (re-read from `source_path`) to `out_path`; returns how many rows."""
    from openpyxl import Workbook

    by_row: dict[int, list[RowError]] = defaultdict(list)
    for error in report.errors:
        by_row[error.row].append(error)
    headers, originals = original_rows(source_path, set(by_row))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Dòng bị từ chối")
    sheet.append([neutralise(header) for header in [*headers, ERROR_COLUMN, ROW_COLUMN]])
    width = len(headers)
    for number in sorted(by_row):
        cells = list(originals.get(number, []))[:width]
        cells += [None] * (width - len(cells))
        sheet.append([*(neutralise(cell) for cell in cells), neutralise(error_text(by_row[number])), number])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out_path)
    return len(by_row)
