"""The seeds checked by the platform: seed 001's appendix 1 imported from a workbook in its layout, seed 000's
per-province table against its national lines. The figures are the packaged ones (`seed_figures.json`); the
parsers that read them from the documents are checked on excerpts of the documents' text."""

import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.reported import read_appendix1_workbook
from tiemchung.health.reconciliation.seedcheck import (
    check_seed_000,
    check_seed_001,
    imported_seed_appendix1,
    write_seed_appendix1_workbook,
)
from tiemchung.health.reconciliation.seedfigures import Seeds, packaged_seeds, read_seeds, seed_documents
from tiemchung.health.reconciliation.seedtext import parse_appendix1, parse_verification_report
from tiemchung.health.reconciliation.xlsx import FIRST_DATA_ROW, appendix1_workbook

# Lines of the documents as they are typed (tabs, dots grouping thousands, <b> on appendix 1's second page).
HANOI = "6.239.208 6.028.696 0 217.574 4.624.602 1.431.755 732.707 719.765 406.851 672.432 493.737 21.567.327"
HA_GIANG = "493.760 486.427 557 216.624 402.202 111.811 90.971 90.057 66.065 134.627 118.500 <b>2.211.601</b>"
APPENDIX1_EXCERPT = "\n".join(
    [
        "**Phụ lục 1:**",
        "(Số liệu tính đến ngày 31/01/2023)",
        "\t".join(["1", "Hà Nội", *HANOI.split(), "", "", ""]),
        "\t".join(["23", "Hà Giang", *HA_GIANG.split(), "", "", ""]),
        "1" + "\t" * 9,  # appendix 2's blank row
    ]
)
REPORT_EXCERPT = "\n".join(
    [
        "Tổng số đối tượng đã gửi sang Cơ sở dữ liệu quốc gia về dân cư của Bộ Công An: 82.268.445 đối tượng, "
        "với 200.825.626 mũi tiêm, trong đó:",
        "1. Số đối tượng có CCCD/CMTND: 73.406.707 đối tượng, với 180.817.754 mũi tiêm. Kết quả xác minh với CSDL "
        "quốc gia về dân cư:",
        "- 54.469.153 đối tượng, với 137.325.940 mũi tiêm đã xác minh thông tin đúng.",
        "",
        "\tTỉnh An Giang",
        "\t" + " " * 41 + "63.373 ",
        "\t" + " " * 39 + "793.072 ",
    ]
)


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    return packaged_seeds()


@pytest.fixture
def seed_workbook(seeds: Seeds, tmp_path: Path) -> Path:
    path = tmp_path / "seed_001_phu_luc_1.xlsx"
    write_seed_appendix1_workbook(seeds.appendix1, path)
    return path


def test_the_packaged_figures_are_what_the_parser_reads_from_the_documents(seeds: Seeds) -> None:
    excerpt = parse_appendix1(APPENDIX1_EXCERPT)
    packaged = {row.tt: row for row in seeds.appendix1.rows}
    assert excerpt.rows == [packaged[1], packaged[23]]
    assert excerpt.as_of == seeds.appendix1.as_of
    report = parse_verification_report(REPORT_EXCERPT)
    assert (report.sent, report.with_id, report.with_id_correct) == (
        seeds.verification_report.sent,
        seeds.verification_report.with_id,
        seeds.verification_report.with_id_correct,
    )
    assert report.provinces[0] in seeds.verification_report.provinces


def test_the_packaged_figures_cite_their_documents(seeds: Seeds) -> None:
    report, letter = seed_documents()
    assert "25/4/2022" in report and "1234/BYT-DP" in letter
    assert len(seeds.verification_report.provinces) == 63 and len(seeds.appendix1.rows) == 63


def test_the_documents_text_can_replace_the_packaged_figures(tmp_path: Path) -> None:
    (tmp_path / "000_report.txt").write_text(REPORT_EXCERPT, encoding="utf-8")
    (tmp_path / "001_letter.txt").write_text(APPENDIX1_EXCERPT, encoding="utf-8")
    from_text = read_seeds(tmp_path)
    assert [row.tt for row in from_text.appendix1.rows] == [1, 23]
    assert from_text.verification_report.provinces[0].province_name == "Tỉnh An Giang"


def test_seed_001_appendix1_imports_with_its_n_column_and_totals(seeds: Seeds, seed_workbook: Path) -> None:
    seed = seeds.appendix1
    assert len(seed.rows) == 63
    figures = read_appendix1_workbook(seed_workbook)
    assert figures.findings == []
    assert len(figures.cells) == 63  # TT- Huế, BR-VT, Tp. HCM and the others all recognised
    report = imported_seed_appendix1(seed)
    by_code = {row.province_code: row for row in report.rows}
    assert by_code["46"].reported_total == 2_972_782  # "TT- Huế"
    assert by_code["77"].reported_total == 3_257_754  # "BR-VT"
    assert by_code["79"].reported_total == 23_592_507  # "Tp. HCM"
    seed_n = sorted(row.stated_total for row in seed.rows if row.stated_total is not None)
    assert sorted(row.reported_total for row in report.rows if row.tt is not None) == seed_n
    assert report.total().reported_total == sum(seed_n) == 264_513_974


def test_seed_001_inconsistencies_are_flagged(seeds: Seeds) -> None:
    findings = check_seed_001(seeds.appendix1)
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
    from tiemchung.health.reconciliation.appendix1 import assemble_appendix1

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


def test_report_workbook_has_formulas_for_n_and_p(seeds: Seeds, tmp_path: Path) -> None:
    report = imported_seed_appendix1(seeds.appendix1)
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


def test_seed_000_sums_are_checked(seeds: Seeds) -> None:
    findings = check_seed_000(seeds.verification_report)
    assert any("82.268.445" in f and "82.268.455" in f for f in findings)  # the national line vs its two parts
    assert any("sai thông tin cơ bản" in f and "ít hơn 133.020" in f for f in findings)
    assert any("không có hoặc sai định dạng CCCD" in f and "ít hơn 50" in f for f in findings)
    assert not any("không nhận ra" in f for f in findings)  # all 63 "Tỉnh …"/"Thành phố …" names found


@pytest.mark.slow
def test_exported_workbook_opens_in_libreoffice(seeds: Seeds, tmp_path: Path) -> None:
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui); not a CI requirement")
    report = imported_seed_appendix1(seeds.appendix1)
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
