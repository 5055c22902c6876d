"""Workbooks in the ministry's layouts (openpyxl): merged headers, lettered columns, formulas for totals.

Renderers only: they take a computed report and lay it out. Totals that the layout defines as formulas
(n = c+…+m, p = n − o, the national line) are written as formulas, so a reader who edits a cell sees the
totals follow; every cell they sum is written from the same rows the page and the CSV show.

Only those formulas are formulas: every value that comes from data (a facility's name, a subject key, a review
text, a finding quoting them) goes through `_put`, which neutralises it (`registry.export.neutralise`), so an
imported `=HYPERLINK(...)` is shown as text. Rates are real fractions with a percentage format.
"""

from collections.abc import Sequence
from datetime import date
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from tiemchung.health.reconciliation.appendix1 import Appendix1Report
from tiemchung.health.reconciliation.layout import (
    AGE_GROUP_HEADERS_VI,
    APPENDIX1_COLUMNS,
    FORMULA_LABELS,
    TOTAL_HEADERS_VI,
)
from tiemchung.health.reconciliation.quality import DoseProblem, DropOut, Outlier, drop_out_totals
from tiemchung.health.reconciliation.unit_report import UnitReportTable
from tiemchung.health.reconciliation.verification_report import VerificationReport
from tiemchung.health.registry.export import neutralise
from tiemchung.reference import ReasonGroup

THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)
BOLD = Font(bold=True)
ITALIC = Font(italic=True)
NUMBER_FORMAT = "#,##0"
PERCENT_FORMAT = "0.0%"
TITLE_FONT = Font(bold=True, size=12)


def _put(sheet: Worksheet, row: int, column: int, value: Any) -> Any:
    """Write a value from the data: never a formula."""
    return sheet.cell(row=row, column=column, value=neutralise(value))  # type: ignore[call-overload]


def _put_row(sheet: Worksheet, row: int, values: Sequence[Any]) -> None:
    for position, value in enumerate(values, start=1):
        _put(sheet, row, position, value)


def to_bytes(workbook: Workbook) -> bytes:
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _as_of_text(as_of: date | None) -> str:
    return f"(Số liệu tính đến ngày {as_of:%d/%m/%Y})" if as_of else "(Số liệu đến thời điểm lập báo cáo)"


def _title(sheet: Worksheet, title: str, subtitle: str, last_column: int) -> None:
    end = get_column_letter(last_column)
    sheet.merge_cells(f"A1:{end}1")
    sheet.merge_cells(f"A2:{end}2")
    sheet["A1"] = title
    sheet["A1"].font = TITLE_FONT
    sheet["A1"].alignment = CENTER
    sheet["A2"] = subtitle
    sheet["A2"].font = ITALIC
    sheet["A2"].alignment = CENTER


def _landscape(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    if sheet.sheet_properties.pageSetUpPr is not None:
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.3


def _style_block(sheet: Worksheet, first_row: int, last_row: int, last_column: int, header_rows: int) -> None:
    for row in sheet.iter_rows(min_row=first_row, max_row=last_row, max_col=last_column):
        for cell in row:
            cell.border = BORDER
            if (cell.row or 0) < first_row + header_rows:
                cell.alignment = CENTER
                cell.font = BOLD
            elif cell.number_format != "General":
                continue  # a format set on purpose (a percentage)
            elif isinstance(cell.value, int | float) or (isinstance(cell.value, str) and cell.value.startswith("=")):
                cell.number_format = NUMBER_FORMAT
            else:
                cell.alignment = WRAP


def _findings_sheet(workbook: Workbook, findings: Sequence[str]) -> None:
    sheet = workbook.create_sheet("Phát hiện")
    sheet["A1"] = "Các điểm không khớp và khoảng chênh lệch cần giải thích"
    sheet["A1"].font = TITLE_FONT
    sheet.column_dimensions["A"].width = 6
    sheet.column_dimensions["B"].width = 140
    if not findings:
        sheet["B3"] = "Không có điểm nào không khớp."
    for index, finding in enumerate(findings, start=1):
        sheet.cell(row=index + 2, column=1, value=index)
        _put(sheet, index + 2, 2, finding).alignment = WRAP


# Appendix 1 ------------------------------------------------------------------------------------------------

APPENDIX1_TITLE = "BẢNG TỔNG HỢP VÀ KẾT QUẢ CẬP NHẬT, RÀ SOÁT DỮ LIỆU TIÊM CHỦNG PHÒNG COVID-19"
HEADER_ROW = 4  # the two header rows are 4 and 5, the letters row 6, data from row 7
LETTERS_ROW = 6
FIRST_DATA_ROW = 7
LETTERS = "abcdefghijklmnopq"


def _column(letter: str) -> int:
    return LETTERS.index(letter) + 1


def appendix1_workbook(report: Appendix1Report, *, typed_totals: bool = False, with_entered: bool = True) -> Workbook:
    """Appendix 1 in the ministry's layout. `typed_totals` writes column n as the provinces typed it (the
    layout of a province's own report) instead of the formula; `with_entered` False leaves o–q empty."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = "Phụ lục 1"
    _title(sheet, APPENDIX1_TITLE, _as_of_text(report.as_of), len(LETTERS))
    _appendix1_headers(sheet)
    # The unknown-province row is shown only when it holds doses, so that the rows still sum to the total.
    rows = [row for row in report.rows if row.tt is not None or (with_entered and row.entered)]
    last = FIRST_DATA_ROW - 1
    for index, row in enumerate(rows):
        last = FIRST_DATA_ROW + index
        _put_row(sheet, last, [row.tt if row.tt is not None else "", row.province_name, *row.reported])
        if typed_totals:
            sheet.cell(row=last, column=_column("n"), value=row.stated_total)
        else:
            sheet.cell(row=last, column=_column("n"), value=f"=SUM(C{last}:M{last})")
        if with_entered:
            sheet.cell(row=last, column=_column("o"), value=row.entered)
            sheet.cell(row=last, column=_column("p"), value=f"=N{last}-O{last}")
            _put(sheet, last, _column("q"), row.review or None)
    total_row = last + 1
    sheet.cell(row=total_row, column=2, value="Tổng cộng")
    for letter in "cdefghijklmnop" if with_entered else "cdefghijklmn":
        column = get_column_letter(_column(letter))
        sheet.cell(row=total_row, column=_column(letter), value=f"=SUM({column}{FIRST_DATA_ROW}:{column}{last})")
    _style_block(sheet, HEADER_ROW, total_row, len(LETTERS), header_rows=3)
    for cell in sheet[total_row]:
        cell.font = BOLD
    _appendix1_widths(sheet)
    _landscape(sheet)
    sheet.print_title_rows = f"{HEADER_ROW}:{LETTERS_ROW}"
    sheet.freeze_panes = f"C{FIRST_DATA_ROW}"
    _findings_sheet(workbook, report.findings())
    return workbook


def _appendix1_headers(sheet: Worksheet) -> None:
    top, second = HEADER_ROW, HEADER_ROW + 1
    for letter in "abnopq":
        column = get_column_letter(_column(letter))
        sheet.merge_cells(f"{column}{top}:{column}{second}")
        sheet[f"{column}{top}"] = TOTAL_HEADERS_VI[letter]
    spans: dict[str, list[int]] = {}
    for spec in APPENDIX1_COLUMNS:
        spans.setdefault(spec.age_group.value, []).append(_column(spec.letter))
        sheet.cell(row=second, column=_column(spec.letter), value=spec.header_vi)
    for spec in APPENDIX1_COLUMNS:
        columns = spans[spec.age_group.value]
        start, end = get_column_letter(min(columns)), get_column_letter(max(columns))
        if f"{start}{top}" not in sheet.merged_cells and start != end:
            sheet.merge_cells(f"{start}{top}:{end}{top}")
        sheet[f"{start}{top}"] = AGE_GROUP_HEADERS_VI[spec.age_group]
    for letter in LETTERS:
        sheet.cell(row=LETTERS_ROW, column=_column(letter), value=FORMULA_LABELS.get(letter, letter))
    for cell in sheet[LETTERS_ROW]:
        cell.font = ITALIC


def _appendix1_widths(sheet: Worksheet) -> None:
    sheet.column_dimensions["A"].width = 5
    sheet.column_dimensions["B"].width = 16
    for letter in "cdefghijklm":
        sheet.column_dimensions[get_column_letter(_column(letter))].width = 11
    for letter in "nop":
        sheet.column_dimensions[get_column_letter(_column(letter))].width = 14
    sheet.column_dimensions["Q"].width = 24
    sheet.row_dimensions[HEADER_ROW].height = 90
    sheet.row_dimensions[HEADER_ROW + 1].height = 32


# Verification report ---------------------------------------------------------------------------------------

VERIFICATION_TITLE = "BÁO CÁO KẾT QUẢ XÁC THỰC THÔNG TIN TIÊM CHỦNG COVID-19 VỚI CSDL QUỐC GIA VỀ DÂN CƯ"


def verification_workbook(report: VerificationReport, as_of: date | None = None) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Tổng hợp"
    _title(sheet, VERIFICATION_TITLE, _as_of_text(as_of), 4)
    headers = ("TT", "Nội dung", "Số đối tượng", "Số mũi tiêm")
    for position, header in enumerate(headers, start=1):
        sheet.cell(row=4, column=position, value=header)
    for index, (number, label, count) in enumerate(report.lines(), start=5):
        _put_row(sheet, index, [number, label, count.subjects, count.doses])
    _style_block(sheet, 4, 4 + len(report.lines()), 4, header_rows=1)
    for letter, width in zip("ABCD", (8, 70, 16, 16), strict=True):
        sheet.column_dimensions[letter].width = width
    _landscape(sheet)
    _verification_province_sheet(workbook, report, as_of)
    _findings_sheet(workbook, report.findings)
    return workbook


def _verification_province_sheet(workbook: Workbook, report: VerificationReport, as_of: date | None) -> None:
    sheet = workbook.create_sheet("Theo tỉnh")
    _title(sheet, "SỐ ĐỐI TƯỢNG CẦN LÀM SẠCH THEO TỈNH, THÀNH PHỐ", _as_of_text(as_of), 5)
    headers = (
        "TT",
        "Tỉnh, thành phố",
        "Số đối tượng không có CCCD hoặc sai định dạng",
        "Số đối tượng sai thông tin cơ bản",
        "Tỷ lệ đã xác minh đúng",
    )
    for position, header in enumerate(headers, start=1):
        sheet.cell(row=4, column=position, value=header)
    first = 5
    for index, row in enumerate(report.provinces):
        rate = row.verification_rate
        values = (row.tt or "", row.province_name, row.no_or_invalid_id, row.wrong_basic_information, rate)
        _put_row(sheet, first + index, values)
        sheet.cell(row=first + index, column=5).number_format = PERCENT_FORMAT
    last = first + len(report.provinces) - 1
    sheet.cell(row=last + 1, column=2, value="Tổng cộng")
    for column in "CD":
        sheet[f"{column}{last + 1}"] = f"=SUM({column}{first}:{column}{last})"
    _style_block(sheet, 4, last + 1, 5, header_rows=1)
    for cell in sheet[last + 1]:
        cell.font = BOLD
    for letter, width in zip("ABCDE", (6, 30, 22, 22, 14), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.row_dimensions[4].height = 45
    _landscape(sheet)


# Unit report (appendix 2) ----------------------------------------------------------------------------------


def unit_workbook(table: UnitReportTable) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Phụ lục 2"
    groups = [group.label_vi for group in ReasonGroup]
    last_column = 4 + len(groups) + 2
    _title(sheet, "BÁO CÁO TÌNH HÌNH THỰC HIỆN QUẢN LÝ DỮ LIỆU MŨI TIÊM", _as_of_text(table.as_of), last_column)
    sheet["A3"] = "I. Tình hình nhập dữ liệu"
    sheet["A3"].font = BOLD
    for letter_index, header in enumerate(
        ("TT", "Tên đơn vị", "Tổng số mũi tiêm đã thực hiện (*)", "Tổng số mũi tiêm đã nhập lên Hệ thống"), start=1
    ):
        column = get_column_letter(letter_index)
        sheet.merge_cells(f"{column}4:{column}5")
        sheet[f"{column}4"] = header
    start, end = get_column_letter(5), get_column_letter(4 + len(groups))
    sheet.merge_cells(f"{start}4:{end}4")
    sheet[f"{start}4"] = "Tổng số mũi tiêm chưa nhập trên Hệ thống (**)"
    for offset, label in enumerate(groups):
        sheet.cell(row=5, column=5 + offset, value=label)
    for column_index, header in (
        (last_column - 1, "Lý do, khó khăn, vướng mắc (***)"),
        (last_column, "Ghi chú"),
    ):
        column = get_column_letter(column_index)
        sheet.merge_cells(f"{column}4:{column}5")
        sheet[f"{column}4"] = header
    first = 6
    for index, row in enumerate(table.rows):
        line = first + index
        not_entered_range = f"{start}{line}:{end}{line}"
        _put_row(sheet, line, [row.tt, row.unit_name, None, row.entered, *row.not_entered])
        sheet.cell(row=line, column=3, value=f"=D{line}+SUM({not_entered_range})")
        _put(sheet, line, last_column - 1, row.reasons)
        _put(sheet, line, last_column, "; ".join(row.findings()))
    last = first + len(table.rows) - 1
    total = last + 1
    sheet.cell(row=total, column=2, value="Tổng cộng")
    for column_index in range(3, 5 + len(groups)):
        column = get_column_letter(column_index)
        sheet.cell(row=total, column=column_index, value=f"=SUM({column}{first}:{column}{max(first, last)})")
    _style_block(sheet, 4, total, last_column, header_rows=2)
    for cell in sheet[total]:
        cell.font = BOLD
    _unit_follow_up(sheet, table, total + 2, groups)
    sheet.column_dimensions["B"].width = 28
    sheet.row_dimensions[4].height = 45
    sheet.row_dimensions[5].height = 80
    for column_index in range(3, last_column - 1):
        sheet.column_dimensions[get_column_letter(column_index)].width = 13
    sheet.column_dimensions[get_column_letter(last_column - 1)].width = 30
    sheet.column_dimensions[get_column_letter(last_column)].width = 30
    _landscape(sheet)
    _findings_sheet(workbook, table.findings())
    return workbook


def _unit_follow_up(sheet: Worksheet, table: UnitReportTable, top: int, groups: list[str]) -> None:
    sheet.cell(row=top, column=1, value="III.1. Số mũi tiêm đã xác minh và nhập trên Hệ thống").font = BOLD
    header = top + 1
    for position, heading in enumerate(["TT", "Tên đơn vị", *groups, "Tổng số"], start=1):
        sheet.cell(row=header, column=position, value=heading)
    first = header + 1
    for index, row in enumerate(table.rows):
        line = first + index
        _put_row(sheet, line, [row.tt, row.unit_name, *row.verified_entered])
        end = get_column_letter(2 + len(groups))
        sheet.cell(row=line, column=3 + len(groups), value=f"=SUM(C{line}:{end}{line})")
    last = first + len(table.rows) - 1
    sheet.cell(row=last + 1, column=2, value="Tổng cộng")
    for column_index in range(3, 4 + len(groups)):
        column = get_column_letter(column_index)
        sheet.cell(row=last + 1, column=column_index, value=f"=SUM({column}{first}:{column}{max(first, last)})")
    _style_block(sheet, header, last + 1, 3 + len(groups), header_rows=1)
    total = table.total()
    lines = (
        ("III.2. Số mũi tiêm đã xác minh và không thể nhập lên Hệ thống", total.verified_not_enterable),
        ("III.3. Số mũi tiêm chưa xác minh được", total.not_verifiable),
        ("III.4. Số mũi tiêm báo cáo trùng lặp", total.duplicates),
        ("III.5. Số mũi tiêm cần điều chỉnh", total.needing_correction),
    )
    for offset, (label, figure) in enumerate(lines, start=last + 3):
        sheet.cell(row=offset, column=1, value=label).font = BOLD
        sheet.cell(row=offset, column=len(groups) + 3, value=figure).number_format = NUMBER_FORMAT


# Data quality ----------------------------------------------------------------------------------------------


def quality_workbook(drops: list[DropOut], outliers: list[Outlier], problems: list[DoseProblem]) -> Workbook:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Tỷ lệ bỏ mũi"
    totals = drop_out_totals(drops)
    _simple_table(
        sheet,
        ("Tỉnh, thành phố", "Nhóm tuổi", "Bước", "Mũi trước", "Mũi sau", "Tỷ lệ bỏ mũi", "Âm"),
        [
            (d.province_name, d.age_group, d.step, d.first, d.second, d.rate, "x" if d.negative else "")
            for d in [*drops, *totals]
        ],
        percent_columns=(6,),
        totals=len(totals),
    )
    _simple_table(
        workbook.create_sheet("Giá trị bất thường"),
        ("Chỉ số", "Ở đâu", "Giá trị", "Trung vị", "Điểm z hiệu chỉnh"),
        [(o.subject, o.where, o.value, o.median, round(o.z, 2)) for o in outliers],
    )
    _simple_table(
        workbook.create_sheet("Mũi tiêm bất thường"),
        ("Mã mũi tiêm", "Mã đối tượng", "Vấn đề"),
        [(p.dose_id, p.subject_key, p.message) for p in problems],
    )
    return workbook


def _simple_table(
    sheet: Worksheet,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    percent_columns: Sequence[int] = (),
    totals: int = 0,
) -> None:
    """A header row and the rows; `percent_columns` (1-based) hold fractions, the last `totals` rows are bold."""
    _put_row(sheet, 1, headers)
    for index, row in enumerate(rows, start=2):
        _put_row(sheet, index, row)
        for column in percent_columns:
            sheet.cell(row=index, column=column).number_format = PERCENT_FORMAT
    _style_block(sheet, 1, 1 + len(rows), len(headers), header_rows=1)
    for index in range(2 + len(rows) - totals, 2 + len(rows)):
        for cell in sheet[index]:
            cell.font = BOLD
    for position in range(1, len(headers) + 1):
        sheet.column_dimensions[get_column_letter(position)].width = 60 if position == len(headers) else 18
