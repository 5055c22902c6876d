"""Real records files for the registry tests, built with openpyxl / csv (small, written to tmp_path)."""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiemchung.interchange.columns import COLUMNS

VI_HEADERS = [column.header_vi for column in COLUMNS]
KEYS = [column.key for column in COLUMNS]

# Hà Nội / Ba Đình / Phúc Xá in the GSO codes of 2021-2023.
BASE_ROW: dict[str, Any] = {
    "subject_id": "S1",
    "record_id": "R1",
    "full_name": "Nguyễn Văn An",
    "birth_date": "15/03/1985",
    "sex": "Nam",
    "id_number": "001085012345",
    "passport_number": "",
    "nationality": "",
    "phone": "0912345678",
    "province_code": "01",
    "district_code": "001",
    "ward_code": "00001",
    "address": "Số 1 Phúc Xá",
    "vaccine": "AstraZeneca",
    "lot_number": "ABV1234",
    "vaccination_date": "20/08/2021",
    "dose": "1",
    "facility_code": "CS01",
}


def record(**changes: Any) -> dict[str, Any]:
    """A valid row of the records format, with some columns changed."""
    return {**BASE_ROW, **changes}


def write_xlsx(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    headers: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    name_font: str | None = None,
) -> Path:
    """A workbook with a header row and one row per record; `name_font` sets the font of the name cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    keys = list(keys or KEYS)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    if headers is None:
        headers = [VI_HEADERS[KEYS.index(key)] for key in keys]
    if headers:
        sheet.append(list(headers))
    for row in rows:
        sheet.append([row.get(key, "") for key in keys])
        if name_font and "full_name" in keys:
            sheet.cell(sheet.max_row, keys.index("full_name") + 1).font = Font(name=name_font)
    workbook.save(path)
    return path


def write_csv(path: Path, rows: Sequence[dict[str, Any]], *, headers: Sequence[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(headers or KEYS))
        for row in rows:
            writer.writerow([row.get(key, "") for key in KEYS])
    return path
