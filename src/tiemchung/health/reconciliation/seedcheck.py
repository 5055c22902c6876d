"""Check the seed documents the way the platform checks its own reports: every total against its parts.

Seed 001's appendix 1 goes through the same path as a province's workbook: it is laid out as a workbook
in the ministry's layout (typed n values, bold on the second page as in the seed), read back by the
importer, and assembled into an appendix-1 report whose findings list what does not add up.
"""

import tempfile
from pathlib import Path

from openpyxl.styles import Font

from tiemchung.health.reconciliation.appendix1 import Appendix1Report, Appendix1Row, StatedNational, assemble_appendix1
from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.reported import read_appendix1_workbook
from tiemchung.health.reconciliation.seedtext import SeedAppendix1, SeedVerificationReport
from tiemchung.health.reconciliation.verification_report import Count, seed_findings
from tiemchung.health.reconciliation.xlsx import FIRST_DATA_ROW, appendix1_workbook
from tiemchung.reference import find_province


def seed_appendix1_report(seed: SeedAppendix1) -> Appendix1Report:
    """The seed's rows as typed (its order, TT numbers and short names, nothing entered): what its workbook holds."""
    rows = []
    for row in seed.rows:
        province = find_province(row.province_name)
        rows.append(
            Appendix1Row(
                tt=row.tt,
                province_code=province.code if province is not None else "",
                province_name=row.province_name,
                reported=row.cells,
                has_report=True,
                stated_total=row.stated_total,
                entered_cells=(0,) * len(CELL_KEYS),
                entered_outside=0,
            )
        )
    return Appendix1Report(as_of=seed.as_of, rows=rows, stated=_stated(seed))


def _stated(seed: SeedAppendix1) -> StatedNational:
    letter = seed.letter
    return StatedNational(letter.doses_given, letter.doses_entered, letter.doses_not_entered)


def write_seed_appendix1_workbook(seed: SeedAppendix1, path: Path) -> None:
    """Appendix 1 of seed 001 as the province workbook it stands for (typed n, bold where the seed is bold)."""
    report = seed_appendix1_report(seed)
    workbook = appendix1_workbook(report, typed_totals=True, with_entered=False)
    sheet = workbook.active
    assert sheet is not None
    for offset, row in enumerate(seed.rows):
        if row.bold_total:
            sheet.cell(row=FIRST_DATA_ROW + offset, column=14).font = Font(bold=True)
    workbook.save(path)


def imported_seed_appendix1(seed: SeedAppendix1, workbook_path: Path | None = None) -> Appendix1Report:
    """Seed 001's appendix 1, written as a workbook and imported back."""
    with tempfile.TemporaryDirectory() as folder:
        path = workbook_path or Path(folder) / "seed_001_appendix1.xlsx"
        write_seed_appendix1_workbook(seed, path)
        figures = read_appendix1_workbook(path)
    return assemble_appendix1(figures, {}, as_of=seed.as_of, stated=_stated(seed))


def check_seed_001(seed: SeedAppendix1, workbook_path: Path | None = None) -> list[str]:
    report = imported_seed_appendix1(seed, workbook_path)
    # Nothing is entered from a seed: only the reported side's own consistency is a finding here.
    return [f"Seed 001: {finding}" for finding in report.findings() if "chưa được đối chiếu" not in finding]


def check_seed_000(seed: SeedVerificationReport) -> list[str]:
    lines: dict[str, Count | None] = {
        name: None if value is None else Count(value.subjects, value.doses)
        for name, value in vars(seed).items()
        if name != "provinces"
    }
    rows = [(row.province_name, row.no_or_invalid_id, row.wrong_basic_information) for row in seed.provinces]
    found = seed_findings(lines, rows)
    unknown = [row.province_name for row in seed.provinces if find_province(row.province_name) is None]
    found += [f"Bảng theo tỉnh: không nhận ra “{name}”." for name in unknown]
    codes = {p.code for row in seed.provinces if (p := find_province(row.province_name)) is not None}
    if len(codes) != 63:
        found.append(f"Bảng theo tỉnh có {len(codes)} tỉnh/thành phố khác nhau, không phải 63.")
    return [f"Seed 000: {finding}" for finding in found]
