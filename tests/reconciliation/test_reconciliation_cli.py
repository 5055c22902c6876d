"""`tiemchung report …` end to end: import a province workbook, record a review, print and export the reports."""

from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.support.reconciliation_world import RegistryIds
from tiemchung.cli import app
from tiemchung.health.reconciliation.seedcheck import write_seed_appendix1_workbook
from tiemchung.health.reconciliation.seedfigures import packaged_seeds

runner = CliRunner()


def test_report_commands_end_to_end(engine: Engine, registry: RegistryIds, tmp_path: Path) -> None:
    database = engine.url.render_as_string(hide_password=False)
    workbook = tmp_path / "bao-cao-tinh.xlsx"
    write_seed_appendix1_workbook(packaged_seeds().appendix1, workbook)

    imported = runner.invoke(
        app, ["report", "import-reported", str(workbook), "--as-of", "2023-01-31", "--database", database]
    )
    assert imported.exit_code == 0, imported.output
    assert "của 63 tỉnh" in imported.output
    reviewed = runner.invoke(
        app, ["report", "review", "01", "Đã rà soát", "--as-of", "2023-01-31", "--database", database]
    )
    assert reviewed.exit_code == 0, reviewed.output

    csv = runner.invoke(app, ["report", "appendix1", "--database", database, "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    hanoi = next(line for line in csv.stdout.splitlines() if ",01,Hà Nội," in line).split(",")
    assert hanoi[-6:] == ["21567327", "21567327", "7", "0", "21567320", "Đã rà soát"]

    out = tmp_path / "phu-luc-1.xlsx"
    exported = runner.invoke(
        app, ["report", "appendix1", "--database", database, "--format", "xlsx", "--out", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    assert load_workbook(out).active["B7"].value == "Hà Nội"  # type: ignore[index]

    for command in ("verification", "units", "quality"):
        result = runner.invoke(app, ["report", command, "--database", database])
        assert result.exit_code == 0, (command, result.output)
    duplicates = runner.invoke(
        app, ["report", "quality", "--database", database, "--resolve-duplicates", "--format", "csv"]
    )
    assert "Đã xử lý 1 cặp trùng lặp đơn giản; 1 cặp cần rà soát." in duplicates.output

    bad_date = runner.invoke(app, ["report", "appendix1", "--database", database, "--as-of", "31/01/2023"])
    assert bad_date.exit_code == 2 and "không đúng dạng" in bad_date.output


def test_check_seeds_lists_the_seeds_inconsistencies_from_the_packaged_figures() -> None:
    result = runner.invoke(app, ["report", "check-seeds"])
    assert result.exit_code == 0, result.output
    assert "133.020" in result.output and "1.547.053" in result.output
    assert "1234/BYT-DP" in result.output  # the source is cited


def test_check_seeds_says_when_the_documents_text_is_not_in_the_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "check-seeds", "--seeds", str(tmp_path)])
    assert result.exit_code == 2
    assert "Không tìm thấy văn bản seed 000" in result.output


def test_unit_workbook_filled_by_a_unit_is_imported(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds, tmp_path: Path
) -> None:
    from tiemchung.health.reconciliation.service import ReportContext, unit_report
    from tiemchung.health.reconciliation.sources import RegistrySource
    from tiemchung.health.reconciliation.xlsx import unit_workbook

    database = engine.url.render_as_string(hide_password=False)
    context = ReportContext(RegistrySource(engine), session_factory)
    workbook = unit_workbook(unit_report(context, by_facility=True))
    sheet = workbook.active
    assert sheet is not None and sheet["B6"].value == "Trạm Y tế phường Phúc Xá"
    sheet["C6"] = "30"  # the unit types its own total (text, as offices do) …
    sheet["E6"], sheet["G6"], sheet["L6"] = 12, "5", "Chưa có thông tin đối tượng"  # … and groups 1 and 3
    sheet["B7"] = "Trạm không có trong sổ"
    path = tmp_path / "phu-luc-2-don-vi.xlsx"
    workbook.save(path)
    result = runner.invoke(app, ["report", "import-units", str(path), "--as-of", "2023-01-31", "--database", database])
    assert result.exit_code == 0, result.output
    assert "không nhận ra đơn vị “Trạm không có trong sổ”" in result.output
    csv = runner.invoke(app, ["report", "units", "--database", database, "--format", "csv"]).stdout
    f01 = next(line for line in csv.splitlines() if ",F01," in line).split(",")
    # given = entered 7 + not entered 17; stated 30
    assert f01[3:9] == ["24", "30", "7", "12", "0", "5"]
