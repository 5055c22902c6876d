"""The figures reported outside the registry: the provinces' aggregate reports (appendix 1) and review results.

They arrive as workbooks in the ministry's appendix-1 layout, or from the synthetic generator's
`aggregates.parquet`. Reading never raises on a bad workbook: every row that cannot be used becomes a
finding with a Vietnamese reason, and the rest is kept.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tiemchung.health.reconciliation.layout import APPENDIX1_COLUMNS, CELL_KEYS
from tiemchung.health.reconciliation.models import ReportedAggregate, ReportedTotal, ReviewResult
from tiemchung.health.reconciliation.seedtext import vietnamese_int
from tiemchung.reference import find_province

CellKey = tuple[str, str]  # (age group, dose kind)


@dataclass
class ReportedFigures:
    """Per province: the reported cells, the total the province typed (if any) and its review result."""

    cells: dict[str, dict[CellKey, int]] = field(default_factory=lambda: defaultdict(dict))
    stated_totals: dict[str, int] = field(default_factory=dict)
    reviews: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    def provinces(self) -> set[str]:
        return set(self.cells) | set(self.stated_totals)


def load_reported(session: Session, as_of: date, source: str | None = None) -> ReportedFigures:
    """The figures stored for `as_of` (from every source, or one)."""
    figures = ReportedFigures()
    aggregates = select(ReportedAggregate).where(ReportedAggregate.as_of == as_of)
    totals = select(ReportedTotal).where(ReportedTotal.as_of == as_of)
    if source is not None:
        aggregates = aggregates.where(ReportedAggregate.source == source)
        totals = totals.where(ReportedTotal.source == source)
    for row in session.scalars(aggregates):
        cell = (row.age_group, row.dose_kind)
        figures.cells[row.province_code][cell] = figures.cells[row.province_code].get(cell, 0) + row.reported
    for total in session.scalars(totals):
        figures.stated_totals[total.province_code] = total.stated_total
    for review in session.scalars(select(ReviewResult).where(ReviewResult.as_of == as_of)):
        figures.reviews[review.province_code] = review.result
    return figures


def latest_as_of(session: Session) -> date | None:
    return session.scalars(select(ReportedAggregate.as_of).order_by(ReportedAggregate.as_of.desc()).limit(1)).first()


def store_reported(session: Session, figures: ReportedFigures, as_of: date, source: str) -> int:
    """Replace what `source` reported for `as_of` with `figures`; returns the number of cells stored."""
    session.execute(
        delete(ReportedAggregate).where(ReportedAggregate.as_of == as_of, ReportedAggregate.source == source)
    )
    session.execute(delete(ReportedTotal).where(ReportedTotal.as_of == as_of, ReportedTotal.source == source))
    stored = 0
    for province_code, cells in figures.cells.items():
        for (age_group, dose_kind), reported in cells.items():
            session.add(
                ReportedAggregate(
                    province_code=province_code,
                    age_group=age_group,
                    dose_kind=dose_kind,
                    reported=reported,
                    as_of=as_of,
                    source=source,
                )
            )
            stored += 1
    for province_code, total in figures.stated_totals.items():
        session.add(ReportedTotal(province_code=province_code, stated_total=total, as_of=as_of, source=source))
    return stored


def record_review(session: Session, province_code: str, as_of: date, result: str, recorded_by: str = "") -> None:
    """Set a province's review result (column q) for `as_of`, replacing an earlier one."""
    session.execute(
        delete(ReviewResult).where(ReviewResult.province_code == province_code, ReviewResult.as_of == as_of)
    )
    session.add(ReviewResult(province_code=province_code, as_of=as_of, result=result, recorded_by=recorded_by))


def read_appendix1_workbook(path: Path) -> ReportedFigures:
    """The reported figures of a workbook in the appendix-1 layout (first sheet).

    The header row that letters the columns (a, b, c, … q) locates the columns; every row below it whose
    column a is a number is a province row. Numbers may be numeric cells or Vietnamese text (`6.239.208`).
    """
    from openpyxl import load_workbook

    figures = ReportedFigures()
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many types for a damaged or non-xlsx file
        figures.findings.append(f"Không đọc được tệp {path.name}: {type(error).__name__}.")
        return figures
    rows = [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    letters = _letter_columns(rows)
    if letters is None:
        figures.findings.append("Không tìm thấy dòng ký hiệu cột (a, b, c, … q) của Phụ lục 1.")
        return figures
    header_index, columns = letters
    for offset, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        _read_province_row(figures, row, columns, offset)
    return figures


def _letter_columns(rows: list[list[Any]]) -> tuple[int, dict[str, int]] | None:
    for index, row in enumerate(rows):
        labels = [str(value).strip().lower() if value is not None else "" for value in row]
        if len(labels) >= 2 and labels[0] == "a" and labels[1] == "b":
            columns = {}
            for position, label in enumerate(labels):
                letter = label.split("=")[0].strip()
                if len(letter) == 1 and "a" <= letter <= "q":
                    columns[letter] = position
            return index, columns
    return None


def cell_number(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    return vietnamese_int(str(value))


def _read_province_row(figures: ReportedFigures, row: list[Any], columns: dict[str, int], line: int) -> None:
    def value(letter: str) -> Any:
        position = columns.get(letter)
        return row[position] if position is not None and position < len(row) else None

    if cell_number(value("a")) is None:
        return
    name = str(value("b") or "").strip()
    province = find_province(name) if name else None
    if province is None:
        figures.findings.append(f"Dòng {line}: không nhận ra tỉnh/thành phố “{name}”, dòng bị bỏ qua.")
        return
    code = province.code
    if code in figures.cells:
        figures.findings.append(f"Dòng {line}: {province.name} đã có ở dòng trước, số liệu được cộng dồn.")
    for column, key in zip(APPENDIX1_COLUMNS, CELL_KEYS, strict=True):
        raw = value(column.letter)
        number = cell_number(raw)
        if number is None and raw not in (None, ""):
            figures.findings.append(f"Dòng {line}, cột {column.letter}: “{raw}” không phải là số, tính là 0.")
        figures.cells[code][key] = figures.cells[code].get(key, 0) + (number or 0)
    stated = cell_number(value("n"))
    if stated is not None:
        figures.stated_totals[code] = figures.stated_totals.get(code, 0) + stated
    review = value("q")
    if review not in (None, ""):
        figures.reviews[code] = str(review).strip()


def read_synth_aggregates(path: Path) -> ReportedFigures:
    """The reported cells of the synthetic generator's `aggregates.parquet`
    (province_code, age_group, dose_kind, reported, entered)."""
    import pyarrow.parquet as pq

    figures = ReportedFigures()
    table = pq.read_table(path, columns=["province_code", "age_group", "dose_kind", "reported"])
    for row in table.to_pylist():
        cells = figures.cells[str(row["province_code"])]
        key = (str(row["age_group"]), str(row["dose_kind"]))
        cells[key] = cells.get(key, 0) + int(row["reported"] or 0)
    return figures
