"""Reports as flat tables (header, rows): what the CSV files, the JSON API and the web pages show.

`keys` are the English column keys (stable for machines: the JSON API); `labels` the Vietnamese headings (pages
and CSV, which people open in Excel). `rates` are the keys whose values are fractions (0.123), which pages and
workbooks show as percentages. Totals are the last `totals` rows, computed from the other rows by the report.
Every value written to a CSV is neutralised against formula injection (`registry.export.neutralise`).
"""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

from tiemchung.health.reconciliation.appendix1 import Appendix1Report, Appendix1Row
from tiemchung.health.reconciliation.layout import APPENDIX1_COLUMNS
from tiemchung.health.reconciliation.quality import DROP_OUT_PAIRS, DoseProblem, DropOut, Outlier, drop_out_totals
from tiemchung.health.reconciliation.unit_report import GROUPS, UnitReportTable, UnitRow
from tiemchung.health.reconciliation.verification_report import ProvinceVerificationRow, VerificationReport
from tiemchung.health.registry.export import neutralise
from tiemchung.reference import ReasonGroup


@dataclass(frozen=True)
class Table:
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    rates: frozenset[str] = frozenset()
    totals: int = 0  # the last `totals` rows are totals

    def csv(self) -> str:
        """The table as CSV with the Vietnamese headings; no cell can start a formula in a spreadsheet."""
        buffer = StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([neutralise(label) for label in self.labels])
        writer.writerows([_csv_value(value) for value in row] for row in self.rows)
        return buffer.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """The rows as dictionaries by key (the JSON API)."""
        return [dict(zip(self.keys, row, strict=True)) for row in self.rows]

    def is_total(self, index: int) -> bool:
        return index >= len(self.rows) - self.totals


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 4)
    return neutralise(value)


def _table(
    columns: Sequence[tuple[str, str]], rows: list[tuple[Any, ...]], *, rates: Sequence[str] = (), totals: int = 0
) -> Table:
    keys = tuple(key for key, _ in columns)
    return Table(keys, tuple(label for _, label in columns), rows, frozenset(rates), totals)


def appendix1_table(report: Appendix1Report) -> Table:
    columns = [("tt", "TT"), ("province_code", "Mã tỉnh"), ("province_name", "Tỉnh/TP")]
    columns += [
        (f"{c.letter}_{c.age_group.value}_{c.dose_kind.value}", f"{c.letter}. {c.header_vi}") for c in APPENDIX1_COLUMNS
    ]
    columns += [
        ("n_reported", "n = c+…+m"),
        ("n_stated", "n ghi trong báo cáo"),
        ("o_entered", "o. Đã nhập"),
        ("entered_outside_layout", "trong đó ngoài các cột c–m"),
        ("p_gap", "p = n − o"),
        ("q_review", "q. Kết quả rà soát"),
    ]

    def values(row: Appendix1Row) -> tuple[Any, ...]:
        return (
            row.tt,
            row.province_code,
            row.province_name,
            *row.reported,
            row.reported_total,
            row.stated_total,
            row.entered,
            row.entered_outside,
            row.gap,
            row.review,
        )

    return _table(columns, [values(row) for row in report.rows] + [values(report.total())], totals=1)


def verification_lines_table(report: VerificationReport) -> Table:
    columns = [("line", "TT"), ("label", "Nội dung"), ("subjects", "Số đối tượng"), ("doses", "Số mũi tiêm")]
    return _table(columns, [(number, label, c.subjects, c.doses) for number, label, c in report.lines()])


def verification_provinces_table(report: VerificationReport) -> Table:
    columns = [
        ("tt", "TT"),
        ("province_code", "Mã tỉnh"),
        ("province_name", "Tỉnh, thành phố"),
        ("no_or_invalid_id", "Số đối tượng không có CCCD hoặc sai định dạng"),
        ("wrong_basic_information", "Số đối tượng sai thông tin cơ bản"),
        ("sent", "Số đối tượng đã gửi xác minh"),
        ("verified", "Số đối tượng đã xác minh đúng"),
        ("verification_rate", "Tỷ lệ đã xác minh đúng"),
    ]

    def values(row: ProvinceVerificationRow) -> tuple[Any, ...]:
        return (
            row.tt,
            row.province_code,
            row.province_name,
            row.no_or_invalid_id,
            row.wrong_basic_information,
            row.sent.subjects,
            row.verified.subjects,
            row.verification_rate,
        )

    rows = [values(row) for row in report.provinces] + [values(report.province_total())]
    return _table(columns, rows, rates=["verification_rate"], totals=1)


def unit_table(table: UnitReportTable) -> Table:
    labels = {group.value: group.label_vi for group in ReasonGroup}
    columns = [("tt", "TT"), ("unit_code", "Mã đơn vị"), ("unit_name", "Tên đơn vị")]
    columns += [("given", "Tổng số mũi đã thực hiện"), ("stated_given", "Số mũi đã thực hiện đơn vị ghi")]
    columns += [("entered", "Đã nhập lên Hệ thống")]
    columns += [(f"not_entered_{g}", f"Chưa nhập: {labels[g]}") for g in GROUPS]
    columns += [("reasons", "Lý do, khó khăn, vướng mắc")]
    columns += [(f"verified_entered_{g}", f"Đã xác minh và nhập: {labels[g]}") for g in GROUPS]
    columns += [
        ("verified_not_enterable", "Đã xác minh, không thể nhập"),
        ("not_verifiable", "Chưa xác minh được"),
        ("duplicates", "Báo cáo trùng lặp"),
        ("needing_correction", "Cần điều chỉnh"),
    ]

    def values(row: UnitRow) -> tuple[Any, ...]:
        return (
            row.tt,
            row.unit_code,
            row.unit_name,
            row.given,
            row.stated_given,
            row.entered,
            *row.not_entered,
            row.reasons,
            *row.verified_entered,
            row.verified_not_enterable,
            row.not_verifiable,
            row.duplicates,
            row.needing_correction,
        )

    return _table(columns, [values(row) for row in table.rows] + [values(table.total())], totals=1)


def drop_out_table(drops: list[DropOut]) -> Table:
    """One row per province, a drop-out rate per age group and step (the DQR's table), then the total row (the
    provinces' doses added up). The workbook keeps the long form with the doses of each step."""
    steps = [(age.value, step) for age, _first, _second, step in DROP_OUT_PAIRS]
    columns = [("province_code", "Mã tỉnh"), ("province_name", "Tỉnh, thành phố")]
    columns += [(f"drop_out_{age}_{index}", f"{age}: {step}") for index, (age, step) in enumerate(steps)]
    by_province: dict[tuple[str, str], dict[tuple[str, str], float | None]] = {}
    for drop in drops:
        by_province.setdefault((drop.province_code, drop.province_name), {})[(drop.age_group, drop.step)] = drop.rate
    total = {(d.age_group, d.step): d.rate for d in drop_out_totals(drops)}
    rows = [(code, name, *(rates.get(key) for key in steps)) for (code, name), rates in by_province.items()]
    if rows:
        rows.append(("", "Tổng cộng", *(total.get(key) for key in steps)))
    return _table(columns, rows, rates=[key for key, _ in columns[2:]], totals=1 if rows else 0)


def outlier_table(outliers: list[Outlier]) -> Table:
    columns = [("measure", "Chỉ số"), ("where", "Ở đâu"), ("value", "Giá trị"), ("median", "Trung vị"), ("z", "z")]
    return _table(
        columns, [(o.subject, o.where, round(o.value, 4), round(o.median, 4), round(o.z, 2)) for o in outliers]
    )


def dose_problem_table(problems: list[DoseProblem]) -> Table:
    columns = [("dose_id", "Mã mũi tiêm"), ("subject_key", "Mã đối tượng"), ("problem", "Vấn đề")]
    return _table(columns, [(p.dose_id, p.subject_key, p.message) for p in problems])
