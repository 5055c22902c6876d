"""Reading the cells of a records file (.xlsx or .csv) safely: what is in each row, by interchange column.

Nothing here trusts the file. The type is decided by content, not by name; a workbook's zip is checked for
decompression bombs from its declared sizes before any part is inflated (zipfile never inflates a member past its
declared size, so the declared sizes bound the work); row and size limits are checked before and while streaming.
Every problem that makes the whole file unusable is returned as a `FileProblem` with a Vietnamese message.
"""

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple
from xml.parsers.expat import ExpatError

from tiemchung.identity import decode_legacy
from tiemchung.interchange.columns import COLUMNS, REQUIRED_KEYS, column_key, header_label

if TYPE_CHECKING:
    pass

# A workbook larger than this is not one a facility's Excel wrote (a full 1,048,576-row sheet of the format is
# about 100 MB). A CSV has no limit: it is streamed, and the import stages it in bounded memory.
MAX_WORKBOOK_BYTES = 512 * 1024 * 1024
# Excel's own limit of rows a sheet.
EXCEL_MAX_ROWS = 1_048_576
# A workbook's parts together may not inflate past this, and a large part may not inflate more than MAX_RATIO times:
# ordinary sheets compress 5-30x, a deflate bomb about 1000x.
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 500
RATIO_CHECK_FROM_BYTES = 10 * 1024 * 1024
# The header row may sit below a title block; look this far down for it.
HEADER_SEARCH_ROWS = 20
MIN_RECOGNISED_HEADERS = 3
# Excel's own limit is 32,767 characters a cell; CSV cells get the same room plus slack, then the per-column
# lengths reject what is too long row by row.
CSV_FIELD_LIMIT = 2 * 1024 * 1024

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True, slots=True)
class FileProblem:
    """Why a whole file cannot be imported (Vietnamese, for the person who sent it)."""

    message_vi: str


class RawCell(NamedTuple):
    """One cell as the file holds it. A named tuple, not a frozen dataclass: one is built per cell of every upload,
    and a tuple is several times cheaper to create (and hashable, for the identity cache of RowParser)."""

    value: object  # str, int, float, datetime, bool or None
    font: str | None = None
    formula: bool = False


EMPTY_CELL = RawCell(None)


@dataclass(slots=True)
class RawRow:
    number: int  # the row number the user sees in the spreadsheet (the header is row 1 in most files)
    cells: dict[str, RawCell]
    merged: bool = False


@dataclass(slots=True)
class RecordSource:
    """An opened records file. `rows()` streams its data rows; `problem` is set if streaming had to stop."""

    path: Path
    kind: str  # "xlsx" or "csv"
    headers: list[str]
    header_row: int
    keys: list[str | None]
    problem: FileProblem | None = None
    declared_rows: int | None = None  # from the sheet's dimension, for progress bars only
    _row_iter: Iterator[tuple[int, list[RawCell]]] | None = None
    _merged_rows: frozenset[int] = frozenset()
    _closers: list[Any] = field(default_factory=list)

    def rows(self) -> Iterator[RawRow]:
        """The data rows below the header, blank rows skipped."""
        if self._row_iter is None:
            return
        seen = 0
        try:
            for number, cells in self._row_iter:
                if all(_is_blank(cell.value) for cell in cells):
                    continue
                seen += 1
                if self.kind == "xlsx" and number > EXCEL_MAX_ROWS:
                    self.problem = FileProblem(too_many_rows_message(number))
                    return
                by_key = {key: cell for key, cell in zip(self.keys, cells, strict=False) if key is not None}
                yield RawRow(number, by_key, number in self._merged_rows)
        except (csv.Error, UnicodeDecodeError) as error:
            self.problem = FileProblem(f"Tệp CSV hỏng ở gần dòng {seen + self.header_row + 1}: {error}.")
        except (zipfile.BadZipFile, OSError, ValueError, ExpatError) as error:  # a damaged part of the zip
            self.problem = FileProblem(f"Không đọc hết được tệp Excel (tệp hỏng): {error}.")
        finally:
            self.close()

    def close(self) -> None:
        for closer in self._closers:
            closer.close()
        self._closers.clear()


def too_many_rows_message(declared: int) -> str:
    return (
        f"Trang tính khai báo {declared:,} dòng, nhiều hơn giới hạn {EXCEL_MAX_ROWS:,} dòng của Excel: "
        "tệp không do Excel tạo ra hoặc đã bị hỏng."
    ).replace(",", ".")


def open_source(path: Path) -> RecordSource | FileProblem:
    """Open a records file after the checks that need no parsing; the caller iterates `rows()`."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError as error:
        return FileProblem(f"Không mở được tệp: {error.strerror or error}.")
    if size == 0:
        return FileProblem("Tệp rỗng.")
    if magic.startswith(ZIP_MAGIC):
        if size > MAX_WORKBOOK_BYTES:
            limit = MAX_WORKBOOK_BYTES // (1024 * 1024)
            return FileProblem(f"Tệp Excel quá lớn ({size // (1024 * 1024)} MB); tối đa {limit} MB. Hãy lưu thành CSV.")
        return _open_xlsx(path)
    if magic.startswith(OLE_MAGIC):
        return FileProblem("Tệp Excel 97-2003 (.xls) không được hỗ trợ: hãy mở bằng Excel và lưu lại thành .xlsx.")
    if path.suffix.lower() in {".csv", ".txt"}:
        return _open_csv(path)
    return FileProblem("Định dạng tệp không được hỗ trợ: chỉ nhận tệp Excel .xlsx hoặc .csv (UTF-8).")


def _zip_bomb_problem(archive: zipfile.ZipFile) -> FileProblem | None:
    total = 0
    for member in archive.infolist():
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECK_FROM_BYTES and ratio > MAX_RATIO:
            return FileProblem(
                f"Tệp Excel bất thường: phần {member.filename} giải nén gấp {ratio:,.0f} lần (nghi tệp bom nén)."
            )
    if total > MAX_UNCOMPRESSED_BYTES:
        return FileProblem(
            f"Tệp Excel bất thường: giải nén ra {total // (1024 * 1024):,} MB, vượt giới hạn "
            f"{MAX_UNCOMPRESSED_BYTES // (1024 * 1024):,} MB (nghi tệp bom nén)."
        )
    return None


def _open_xlsx(path: Path) -> RecordSource | FileProblem:
    try:
        with zipfile.ZipFile(path) as archive:
            problem = _zip_bomb_problem(archive)
            if problem is None and "xl/workbook.xml" not in archive.namelist():
                problem = FileProblem("Tệp nén không phải là bảng tính Excel .xlsx.")
    except zipfile.BadZipFile:
        return FileProblem("Tệp Excel bị hỏng (không đọc được cấu trúc .xlsx).")
    if problem is not None:
        return problem
    return _open_workbook(path)


def _open_workbook(path: Path) -> RecordSource | FileProblem:
    from xml.parsers.expat import ExpatError

    # local: xlsx_stream builds on this module's cells (RawCell, EMPTY_CELL), a cycle at import time
    from tiemchung.interchange.xlsx_stream import SheetStream, read_layout

    archive = zipfile.ZipFile(path)
    try:
        layout = read_layout(archive)
        if layout is None:
            archive.close()
            return FileProblem("Tệp Excel không có trang tính nào.")
        stream = SheetStream(archive, layout)
        closers = [archive, layout.shared_strings]
        source = _with_header(path, "xlsx", stream.rows(), _merged_rows(path, layout.sheet_part), closers)
    except (ExpatError, KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError) as error:
        # openpyxl (workbook part, stylesheet) and expat raise these on damaged or hand-made files
        archive.close()
        return FileProblem(f"Tệp Excel bị hỏng hoặc không hợp lệ ({type(error).__name__}).")
    declared = stream.declared_rows
    if declared is not None and declared > EXCEL_MAX_ROWS:
        if isinstance(source, RecordSource):
            source.close()
        return FileProblem(too_many_rows_message(declared))
    if isinstance(source, RecordSource) and declared is not None:
        source.declared_rows = max(declared - source.header_row, 0)
    return source


_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="[A-Z]+(\d+)(?::[A-Z]+(\d+))?"')


def _merged_rows(path: Path, sheet_part: str) -> frozenset[int]:
    """Rows touched by merged cells. Merges are listed after the data in the sheet XML, so the rows would be gone
    by the time the stream met them: a chunked byte scan beforehand is far cheaper than a second parse."""
    rows: set[int] = set()
    tail = b""
    with zipfile.ZipFile(path) as archive, archive.open(sheet_part.lstrip("/")) as part:
        while chunk := part.read(1024 * 1024):
            window = tail + chunk
            for match in _MERGE_REF.finditer(window):
                first = int(match.group(1))
                last = int(match.group(2) or first)
                rows.update(range(first, min(last, EXCEL_MAX_ROWS) + 1))
            tail = window[-200:]
    return frozenset(rows)


def _open_csv(path: Path) -> RecordSource | FileProblem:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    handle: IO[str] = path.open("r", encoding="utf-8-sig", newline="", errors="strict")
    rows = _csv_rows(handle)
    try:
        return _with_header(path, "csv", rows, frozenset(), closers=[handle])
    except (csv.Error, UnicodeDecodeError):
        handle.close()
        return FileProblem("Tệp CSV không đọc được: cần mã hoá UTF-8, phân cách bằng dấu phẩy.")


def _csv_rows(handle: IO[str]) -> Iterator[tuple[int, list[RawCell]]]:
    reader = csv.reader(handle)
    for number, row in enumerate(reader, start=1):
        yield number, [RawCell(value) for value in row]


def _with_header(
    path: Path,
    kind: str,
    rows: Iterator[tuple[int, list[RawCell]]],
    merged: frozenset[int],
    closers: list[Any],
) -> RecordSource | FileProblem:
    header = _find_header(rows)
    if header is None:
        for closer in closers:
            closer.close()
        return FileProblem(
            "Không tìm thấy dòng tiêu đề: trang tính trống, hoặc tiêu đề cột không theo mẫu "
            "(ví dụ: Mã đối tượng, Mã mũi tiêm, Họ và tên, Ngày sinh...)."
        )
    number, cells = header
    headers = ["" if cell.value is None else str(cell.value).strip() for cell in cells]
    keys = _unique_keys(headers)
    missing = [key for key in REQUIRED_KEYS if key not in keys]
    if missing:
        for closer in closers:
            closer.close()
        names = ", ".join(header_label(key) for key in missing)
        return FileProblem(f"Thiếu cột bắt buộc: {names}.")
    return RecordSource(path, kind, headers, number, keys, _row_iter=rows, _merged_rows=merged, _closers=closers)


def _find_header(rows: Iterator[tuple[int, list[RawCell]]]) -> tuple[int, list[RawCell]] | None:
    for number, cells in rows:
        if sum(column_key(cell.value) is not None for cell in cells) >= MIN_RECOGNISED_HEADERS:
            return number, cells
        if number >= HEADER_SEARCH_ROWS:
            return None
    return None


def _unique_keys(headers: list[str]) -> list[str | None]:
    """The key of each header; a second column with the same meaning is ignored (the first one counts)."""
    seen: set[str] = set()
    keys: list[str | None] = []
    for header in headers:
        key = column_key(header)
        keys.append(key if key not in seen else None)
        if key is not None:
            seen.add(key)
    return keys


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def original_rows(path: Path, numbers: set[int]) -> tuple[list[str], dict[int, list[object]]]:
    """The header texts and the untouched cells of the given rows (for the error workbook)."""
    source = open_source(path)
    if isinstance(source, FileProblem) or source._row_iter is None:
        return [], {}
    wanted: dict[int, list[object]] = {}
    try:
        for number, cells in source._row_iter:
            if number in numbers:
                wanted[number] = [cell.value for cell in cells]
                if len(wanted) == len(numbers):
                    break
    except (csv.Error, UnicodeDecodeError, zipfile.BadZipFile, OSError, ValueError, ExpatError):
        pass  # the import already reported why the file stops here; export what was read
    finally:
        source.close()
    return source.headers, wanted


def text_of(value: object) -> str:
    """A cell as the user typed it, for messages and for the parsers that take text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if isinstance(value, str) else str(value)


def write_interchange_csv(path: Path, out: Path) -> int | FileProblem:
    """A records file of any accepted form (a workbook with Vietnamese headers, legacy fonts, Excel dates...) as a
    plain UTF-8 CSV with the interchange keys as headers: for tools that read CSV only (DuckDB in `verify`).
    Cells are as the import reads them: names in legacy fonts decoded by their font, Excel dates as yyyy-mm-dd."""
    from datetime import datetime

    source = open_source(path)
    if isinstance(source, FileProblem):
        return source
    keys = [column.key for column in COLUMNS]
    written = 0
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for row in source.rows():
            texts = []
            for key in keys:
                cell = row.cells.get(key, EMPTY_CELL)
                value = cell.value.date().isoformat() if isinstance(cell.value, datetime) else text_of(cell.value)
                if cell.font and isinstance(cell.value, str):
                    value = decode_legacy(value, cell.font).text
                texts.append(value)
            writer.writerow(texts)
            written += 1
    return source.problem or written
