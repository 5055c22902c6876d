"""`tiemchung report …` end to end: import a province workbook, record a review, print and export the reports."""

from pathlib import Path

from openpyxl import load_workbook
from reconciliation_world import RegistryIds
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tiemchung.cli import app
from tiemchung.reconciliation.seedcheck import write_seed_appendix1_workbook
from tiemchung.reconciliation.seedtext import find_seed, parse_appendix1

runner = CliRunner()


def test_report_commands_end_to_end(engine: Engine, registry: RegistryIds, shared_dir: Path, tmp_path: Path) -> None:
    database = engine.url.render_as_string(hide_password=False)
    seed_path = find_seed(shared_dir, "001")
    assert seed_path is not None
    workbook = tmp_path / "bao-cao-tinh.xlsx"
    write_seed_appendix1_workbook(parse_appendix1(seed_path.read_text(encoding="utf-8")), workbook)

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


def test_check_seeds_lists_the_seeds_inconsistencies(shared_dir: Path) -> None:
    result = runner.invoke(app, ["report", "check-seeds", "--shared", str(shared_dir)])
    assert result.exit_code == 0, result.output
    assert "133.020" in result.output and "1.547.053" in result.output
