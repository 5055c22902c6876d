"""Files that must be refused as a whole, with a clear Vietnamese message and no crash."""

import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tests.support.registry_files import KEYS, VI_HEADERS, record
from tiemchung.health.registry.export import neutralise, write_error_workbook
from tiemchung.health.registry.importer import ImportReport
from tiemchung.health.registry.records import RowError
from tiemchung.interchange import sources
from tiemchung.interchange.sources import FileProblem, RecordSource, open_source


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


def test_a_sheet_of_excels_full_size_is_read_and_a_larger_one_refused(make_xlsx: Callable[..., Path]) -> None:
    """Issue 17: a workbook of 521,111 rows was refused ("tối đa 500.000 dòng"); Excel writes up to 1,048,576."""
    path = make_xlsx([record()])

    def declare(rows: int) -> Callable[[bytes], bytes]:
        return lambda xml: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:R%d"' % rows, xml)

    _rewrite_member(path, "xl/worksheets/sheet1.xml", declare(1_048_576))
    source = open_source(path)
    assert isinstance(source, RecordSource) and len(list(source.rows())) == 1
    _rewrite_member(path, "xl/worksheets/sheet1.xml", declare(1_048_577))
    message = problem(path)
    assert "1.048.577" in message and "giới hạn 1.048.576" in message


def test_a_zip_bomb_is_refused_from_its_declared_sizes(make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record()])
    # 64 MB of one repeated byte deflates about 1000 times: a tiny file that would inflate far past its size.
    _rewrite_member(path, "xl/worksheets/sheet1.xml", lambda xml: xml + b" " * (64 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    assert "bom nén" in problem(path)


def test_total_inflated_size_is_bounded(make_xlsx: Callable[..., Path], monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_UNCOMPRESSED_BYTES", 1000)
    assert "vượt giới hạn" in problem(make_xlsx([record()]))


def test_a_csv_of_521111_rows_streams_whole_in_bounded_memory(make_csv: Callable[..., Path], tmp_path: Path) -> None:
    """Issue 17: any CSV, read row by row; the peak memory of a child process reading it all stays small."""
    path = make_csv([record(record_id=f"R{n}", subject_id=f"S{n}") for n in range(521_111)])
    assert path.stat().st_size > 70 * 1024 * 1024
    child = (  # VmHWM, the peak resident memory of this process image (ru_maxrss would count pytest's, forked)
        "import sys\n"
        "from pathlib import Path\n"
        "from tiemchung.interchange.sources import open_source\n"
        "source = open_source(Path(sys.argv[1]))\n"
        "rows = sum(1 for _ in source.rows())\n"
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1]\n"
        "print(rows, source.problem, int(peak) // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True, check=True)
    rows, problem_text, peak_mb = out.stdout.split()
    assert (int(rows), problem_text) == (521_111, "None")
    assert int(peak_mb) < 200, f"peak {peak_mb} MB for a {path.stat().st_size // 2**20} MB file"


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
    from tiemchung.health.registry.records import read_records

    rows = [record(), record(record_id="R2", address="x" * 1_000_000)]
    first, second = read_records(make_csv(rows), today=date(2023, 6, 1))
    assert first.accepted and not second.accepted
    assert second.errors[0].column == "address" and "quá dài" in second.errors[0].message_vi


def _shared_strings_bomb(path: Path, megabytes: int, one_string: bool) -> None:
    """A workbook whose sharedStrings part inflates to `megabytes` (about 200x its compressed size)."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    size = megabytes * 1024 * 1024
    if one_string:  # one <si> of `megabytes`
        body = b"<si><t>" + b"A" * size + b"</t></si>"
    else:  # many strings of 100 characters
        item = b"<si><t>" + b"B" * 100 + b"</t></si>"
        body = item * (size // len(item))
    head = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    members["xl/sharedStrings.xml"] = head + body + b"</sst>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_shared_strings_bomb_reads_in_bounded_memory(make_xlsx: Callable[..., Path]) -> None:
    """Issue 16 item 7: a small workbook with a huge sharedStrings part passed the bomb checks and took 3.3 GB.
    The peak memory of a child process reading it stays small, whether the part is one string or many."""
    child = (  # VmHWM: the peak resident memory of this process image
        "import sys\n"
        "from pathlib import Path\n"
        "from tiemchung.interchange.sources import RecordSource, open_source\n"
        "source = open_source(Path(sys.argv[1]))\n"
        "rows = sum(1 for _ in source.rows()) if isinstance(source, RecordSource) else -1\n"
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM')).split()[1]\n"
        "print(rows, int(peak) // 1024)\n"
    )
    for one_string in (True, False):
        path = make_xlsx([record()], name=f"bomb-{one_string}.xlsx")
        _shared_strings_bomb(path, 300, one_string)
        assert path.stat().st_size < 10 * 1024 * 1024
        out = subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True, check=True)
        rows, peak_mb = map(int, out.stdout.split())
        assert rows == 1 and peak_mb < 120, f"peak {peak_mb} MB (one string: {one_string})"
