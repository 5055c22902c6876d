"""The vaccination records as a facility's Excel export: Vietnamese headers and the usual damage.

Written with openpyxl's write-only mode (rows streamed to disk). Messy like a real export: identity numbers
that lost their leading zeros are numeric cells, birth dates are Excel dates or text in several layouts,
names typed with a legacy font hold TCVN3/VNI bytes with that font on the cell.
"""

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from tiemchung.synth.damage import BIRTH_EXCEL, legacy_cell_text

# Section 2 columns and their Vietnamese headers, in the spec's order.
HEADERS: dict[str, str] = {
    "subject_id": "Mã đối tượng",
    "record_id": "Mã mũi tiêm",
    "full_name": "Họ và tên",
    "birth_date": "Ngày sinh",
    "sex": "Giới tính",
    "id_number": "Số CCCD/CMND",
    "passport_number": "Số hộ chiếu",
    "nationality": "Quốc tịch",
    "phone": "Số điện thoại",
    "province_code": "Mã tỉnh",
    "district_code": "Mã huyện",
    "ward_code": "Mã xã",
    "address": "Địa chỉ",
    "vaccine": "Tên vắc xin",
    "lot_number": "Số lô",
    "vaccination_date": "Ngày tiêm",
    "dose": "Mũi tiêm",
    "facility_code": "Mã cơ sở tiêm chủng",
}
CELL_HINTS = ("name_font", "id_numeric", "birth_style", "vaccination_date_as_text")


class RecordsWorkbook:
    """Streams record rows into `records.xlsx` while they fit under `max_rows`, else gives the file up."""

    def __init__(self, path: Path, max_rows: int) -> None:
        from openpyxl import Workbook

        self.path = path
        self.max_rows = max_rows
        self.rows = 0
        self.abandoned = max_rows <= 0
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet("Danh sách mũi tiêm")
        self._fonts: dict[str, Any] = {}
        if not self.abandoned:
            self._sheet.append(list(HEADERS.values()))

    def append(self, records: pa.Table, hints: pa.Table) -> None:
        """Add rows; `hints` carries per-row cell styles (`CELL_HINTS`) aligned with `records`."""
        if self.abandoned:
            return
        if self.rows + records.num_rows > self.max_rows:
            self.abandoned = True
            return
        columns = [records.column(name).to_pylist() for name in HEADERS]
        fonts, numeric, birth_style, date_as_text = (hints.column(name).to_pylist() for name in CELL_HINTS)
        for index in range(records.num_rows):
            row = [column[index] for column in columns]
            self._sheet.append(self._cells(row, fonts[index], numeric[index], birth_style[index], date_as_text[index]))
        self.rows += records.num_rows

    def _cells(self, row: list[Any], font: str, numeric: bool, birth_style: int, date_as_text: bool) -> list[Any]:
        from openpyxl.cell import WriteOnlyCell

        cells: list[Any] = list(row)
        name_index, birth_index, id_index, date_index = 2, 3, 5, 15
        if font:
            cell = WriteOnlyCell(self._sheet, value=legacy_cell_text(row[name_index], font))
            cell.font = self._font(font)
            cells[name_index] = cell
        if numeric and row[id_index]:
            cells[id_index] = int(row[id_index])
        if birth_style == BIRTH_EXCEL and len(row[birth_index]) == 10:
            cells[birth_index] = self._date_cell(dt.date.fromisoformat(row[birth_index]))
        vaccination_day = dt.date.fromisoformat(row[date_index])
        cells[date_index] = vaccination_day.strftime("%d/%m/%Y") if date_as_text else self._date_cell(vaccination_day)
        return cells

    def _date_cell(self, day: dt.date) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self._sheet, value=dt.datetime(day.year, day.month, day.day))
        cell.number_format = "DD/MM/YYYY"
        return cell

    def _font(self, name: str) -> Any:
        from openpyxl.styles import Font

        if name not in self._fonts:
            self._fonts[name] = Font(name=name, size=12)
        return self._fonts[name]

    def close(self) -> bool:
        """Save the workbook (or not, when given up); returns whether the file was written."""
        if self.abandoned:
            self.path.unlink(missing_ok=True)
            return False
        self._workbook.save(self.path)
        return True
