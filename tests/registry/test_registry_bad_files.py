"""Files that must be refused as a whole, with a clear Vietnamese message and no crash."""

import re
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tests.support.registry_files import KEYS, VI_HEADERS, record
from tiemchung.registry import sources
from tiemchung.registry.export import neutralise, write_error_workbook
from tiemchung.registry.importer import ImportReport
from tiemchung.registry.records import RowError
from tiemchung.registry.sources import FileProblem, RecordSource, open_source


def problem(path: Path) -> str:
    source = open_source(path)
    assert isinstance(source, FileProblem), f"{path.name} was accepted"
    return source.message_vi


def test_wrong_file_types_are_named(tmp_path: Path) -> None:
    pdf = tmp_path / "records.pdf"
    pdf.write_bytes(b"%PDF-1.7\n...")
    assert "chỉ nhận tệp Excel .xlsx hoặc .csv" in problem(pdf)
    xls = tmp_path / "records.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)
    assert ".xls" in problem(xls)
    docx = tmp_path / "records.xlsx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "không phải là bảng tính" in problem(docx)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert problem(empty) == "Tệp rỗng."


def test_a_damaged_workbook_is_refused(tmp_path: Path, make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record()])
    path.write_bytes(path.read_bytes()[:300])
    assert "hỏng" in problem(path)


def test_an_empty_sheet_has_no_header(make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([], headers=[])
    assert "Không tìm thấy dòng tiêu đề" in problem(path)


def test_missing_required_columns_are_listed(make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record()], keys=["subject_id", "record_id", "full_name", "sex", "vaccine"])
    message = problem(path)
    assert message.startswith("Thiếu cột bắt buộc:")
    assert "Ngày sinh" in message and "Mã cơ sở tiêm chủng" in message and "Họ và tên" not in message


def test_headers_match_in_any_order_case_and_diacritics(make_xlsx: Callable[..., Path]) -> None:
    keys = list(reversed(record().keys()))
    headers = [f"  {key.upper()} " if index % 2 else key for index, key in enumerate(keys)]
    headers[keys.index("birth_date")] = "NGAY SINH"
    source = open_source(make_xlsx([record()], keys=keys, headers=headers))
    assert isinstance(source, RecordSource)
    rows = list(source.rows())
    assert rows[0].cells["birth_date"].value == "15/03/1985"
    assert rows[0].cells["subject_id"].value == "S1"


def _rewrite_member(path: Path, member: str, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts[member] = change(parts[member])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_a_sheet_declaring_a_million_rows_is_refused_before_reading(make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record()])
    _rewrite_member(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:R1048576"', xml),
    )
    message = problem(path)
    assert "quá nhiều dòng" in message and "1.048.576" in message


def test_a_zip_bomb_is_refused_from_its_declared_sizes(make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record()])
    # 64 MB of one repeated byte deflates about 1000 times: a tiny file that would inflate far past its size.
    _rewrite_member(path, "xl/worksheets/sheet1.xml", lambda xml: xml + b" " * (64 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    assert "bom nén" in problem(path)


def test_total_inflated_size_is_bounded(make_xlsx: Callable[..., Path], monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_UNCOMPRESSED_BYTES", 1000)
    assert "vượt giới hạn" in problem(make_xlsx([record()]))


def test_rows_beyond_the_limit_stop_the_stream(make_csv: Callable[..., Path], monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_DATA_ROWS", 2)
    source = open_source(make_csv([record(record_id=f"R{n}") for n in range(3)]))
    assert isinstance(source, RecordSource)
    assert len(list(source.rows())) == 2
    assert source.problem is not None and "quá nhiều dòng" in source.problem.message_vi


def test_a_csv_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_bytes("subject_id,record_id,full_name\nS1,R1,Nguyễn\n".encode("utf-16"))
    assert "UTF-8" in problem(path)


def test_formulas_and_merged_cells_are_flagged(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(VI_HEADERS)
    sheet.append([record()[key] for key in KEYS])
    sheet.append([record(record_id="R2")[key] for key in KEYS])
    sheet["B2"] = '=HYPERLINK("http://evil.example","R1")'
    sheet.merge_cells("C3:D3")
    path = tmp_path / "records.xlsx"
    workbook.save(path)
    source = open_source(path)
    assert isinstance(source, RecordSource)
    first, second = source.rows()
    assert first.cells["record_id"].formula and not first.merged
    assert second.merged


def test_exports_neutralise_formula_injection(tmp_path: Path, make_csv: Callable[..., Path]) -> None:
    from openpyxl import load_workbook

    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x","y")'):
        assert neutralise(dangerous) == "'" + dangerous
    assert neutralise("Nguyễn Văn An") == "Nguyễn Văn An" and neutralise(12) == 12
    source = make_csv([record(), record(record_id="R2", full_name='=HYPERLINK("http://evil","x")')])
    report = ImportReport(batch_id=None, file_name=source.name)
    report.errors = [RowError(3, "full_name", "=HYPERLINK", "Họ tên không hợp lệ: =HYPERLINK")]
    out = tmp_path / "errors.xlsx"
    assert write_error_workbook(report, source, out) == 1
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header, only = rows
    assert header[-2:] == ("Lỗi", "Dòng trong tệp gốc")
    assert only[KEYS_INDEX["full_name"]] == '\'=HYPERLINK("http://evil","x")'
    assert only[-1] == 3 and "Họ và tên" in str(only[-2])
    assert all(sheet_cell.data_type != "f" for row in sheet.iter_rows() for sheet_cell in row)


KEYS_INDEX = {key: index for index, key in enumerate(record().keys())}


def test_inline_strings_numbers_dates_and_booleans_are_read(tmp_path: Path) -> None:
    """Write-only openpyxl workbooks hold inline strings and no <dimension>; Excel's hold shared strings."""
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(VI_HEADERS)
    changes = {"full_name": "Lê &amp; <Hà>", "birth_date": datetime(1990, 5, 4), "id_number": 1085012345,
               "province_code": 1, "phone": True}  # fmt: skip
    sheet.append([record(**changes)[key] for key in KEYS])
    path = tmp_path / "inline.xlsx"
    workbook.save(path)
    source = open_source(path)
    assert isinstance(source, RecordSource)
    (row,) = source.rows()
    values = {key: cell.value for key, cell in row.cells.items()}
    assert values["full_name"] == "Lê &amp; <Hà>"
    assert values["birth_date"] == datetime(1990, 5, 4)
    assert values["id_number"] == 1085012345 and values["province_code"] == 1 and values["phone"] is True


def test_a_one_megabyte_csv_cell_rejects_only_its_row(make_csv: Callable[..., Path]) -> None:
    from tiemchung.registry.records import read_records

    rows = [record(), record(record_id="R2", address="x" * 1_000_000)]
    first, second = read_records(make_csv(rows), today=date(2023, 6, 1))
    assert first.accepted and not second.accepted
    assert second.errors[0].column == "address" and "quá dài" in second.errors[0].message_vi
