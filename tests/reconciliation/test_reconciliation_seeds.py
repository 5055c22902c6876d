"""The seeds checked by the platform: seed 001's appendix 1 imported from a workbook in its layout, seed 000's
per-province table against its national lines."""

import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tiemchung.reconciliation.layout import CELL_KEYS
from tiemchung.reconciliation.reported import read_appendix1_workbook
from tiemchung.reconciliation.seedcheck import (
    check_seed_000,
    check_seed_001,
    imported_seed_appendix1,
    write_seed_appendix1_workbook,
)
from tiemchung.reconciliation.seedtext import find_seed, parse_appendix1
from tiemchung.reconciliation.xlsx import FIRST_DATA_ROW, appendix1_workbook


@pytest.fixture
def seed_workbook(shared_dir: Path, tmp_path: Path) -> Path:
    seed_path = find_seed(shared_dir, "001")
    assert seed_path is not None
    path = tmp_path / "seed_001_phu_luc_1.xlsx"
    write_seed_appendix1_workbook(parse_appendix1(seed_path.read_text(encoding="utf-8")), path)
    return path


def test_seed_001_appendix1_imports_with_its_n_column_and_totals(shared_dir: Path, seed_workbook: Path) -> None:
    seed_path = find_seed(shared_dir, "001")
    assert seed_path is not None
    seed = parse_appendix1(seed_path.read_text(encoding="utf-8"))
    assert len(seed.rows) == 63
    figures = read_appendix1_workbook(seed_workbook)
    assert figures.findings == []
    assert len(figures.cells) == 63  # TT- Huế, BR-VT, Tp. HCM and the others all recognised
    report = imported_seed_appendix1(shared_dir)
    assert report is not None
    by_code = {row.province_code: row for row in report.rows}
    assert by_code["46"].reported_total == 2_972_782  # "TT- Huế"
    assert by_code["77"].reported_total == 3_257_754  # "BR-VT"
    assert by_code["79"].reported_total == 23_592_507  # "Tp. HCM"
    seed_n = sorted(row.stated_total for row in seed.rows if row.stated_total is not None)
    assert sorted(row.reported_total for row in report.rows if row.tt is not None) == seed_n
    assert report.total().reported_total == sum(seed_n) == 264_513_974


def test_seed_001_inconsistencies_are_flagged(shared_dir: Path) -> None:
    findings = check_seed_001(shared_dir)
    assert any("266.118.289" in f and "264.513.974" in f and "1.604.315" in f for f in findings)
    assert any("1.547.053 mũi không được giải thích" in f for f in findings)
    assert len(findings) == 2  # every province row's n is the sum of its cells


def test_a_province_total_that_is_not_the_sum_of_its_cells_is_flagged(seed_workbook: Path) -> None:
    workbook = load_workbook(seed_workbook)
    sheet = workbook.active
    assert sheet is not None
    assert sheet.cell(row=FIRST_DATA_ROW, column=2).value == "Hà Nội"
    sheet.cell(row=FIRST_DATA_ROW, column=3).value = 6_239_200  # c of Hà Nội, 8 fewer than the seed
    workbook.save(seed_workbook)
    figures = read_appendix1_workbook(seed_workbook)
    from tiemchung.reconciliation.appendix1 import assemble_appendix1

    findings = assemble_appendix1(figures, {}).findings()
    assert any(f.startswith("Hà Nội: tổng ghi trong báo cáo (n) là 21.567.327") and "lệch 8" in f for f in findings)


def test_seed_workbook_layout_has_the_seeds_letters_merges_and_bold_n(seed_workbook: Path) -> None:
    sheet = load_workbook(seed_workbook).active
    assert sheet is not None
    letters = [sheet.cell(row=FIRST_DATA_ROW - 1, column=c).value for c in range(1, 18)]
    assert letters == [*"abcdefghijklm", "n=c+...+m", "o", "p=n-o", "q"]
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"C4:H4", "I4:K4", "L4:M4", "A4:A5", "N4:N5"} <= merged
    names = [sheet.cell(row=FIRST_DATA_ROW + i, column=2).value for i in range(63)]
    assert (names[0], names[30], names[43], names[44]) == ("Hà Nội", "TT- Huế", "Tp. HCM", "BR-VT")  # as typed
    assert sheet["A2"].value == "(Số liệu tính đến ngày 31/01/2023)"
    bold = [sheet.cell(row=FIRST_DATA_ROW + i, column=14).font.b for i in range(63)]
    assert bold == [False] * 22 + [True] * 25 + [False] * 16  # rows 23–47, the seed's second page


def test_report_workbook_has_formulas_for_n_and_p(shared_dir: Path, tmp_path: Path) -> None:
    report = imported_seed_appendix1(shared_dir)
    assert report is not None
    path = tmp_path / "phu_luc_1.xlsx"
    appendix1_workbook(report).save(path)
    sheet = load_workbook(path).active
    assert sheet is not None
    row = FIRST_DATA_ROW
    assert sheet[f"N{row}"].value == f"=SUM(C{row}:M{row})"
    assert sheet[f"P{row}"].value == f"=N{row}-O{row}"
    assert sheet[f"N{row + 63}"].value == f"=SUM(N{row}:N{row + 62})"
    # Read back, the cells survive the round trip; n is a formula, so no typed total is read.
    back = read_appendix1_workbook(path)
    assert back.cells == {r.province_code: dict(zip(CELL_KEYS, r.reported, strict=True)) for r in report.rows[:63]}
    assert back.stated_totals == {}


def test_seed_000_sums_are_checked(shared_dir: Path) -> None:
    findings = check_seed_000(shared_dir)
    assert any("82.268.445" in f and "82.268.455" in f for f in findings)  # the national line vs its two parts
    assert any("sai thông tin cơ bản" in f and "ít hơn 133.020" in f for f in findings)
    assert any("không có hoặc sai định dạng CCCD" in f and "ít hơn 50" in f for f in findings)
    assert not any("không nhận ra" in f for f in findings)  # all 63 "Tỉnh …"/"Thành phố …" names found


@pytest.mark.slow
def test_exported_workbook_opens_in_libreoffice(shared_dir: Path, tmp_path: Path) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui); not a CI requirement")
    report = imported_seed_appendix1(shared_dir)
    assert report is not None
    path = tmp_path / "phu_luc_1.xlsx"
    appendix1_workbook(report).save(path)
    subprocess.run(
        [office, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf", "--outdir",
         str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "phu_luc_1.pdf"
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "21,567,327" in text or "21.567.327" in text  # the formula n = c+…+m was computed by LibreOffice
