"""The registry commands end to end: check, import (with the error workbook), db upgrade."""

from collections.abc import Callable
from pathlib import Path

import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.support.registry_files import record
from tiemchung.health.registry import cli
from tiemchung.health.registry.db import make_engine
from tiemchung.health.registry.models import Dose

app = typer.Typer()
cli.register(app)
runner = CliRunner()


def rows() -> list[dict[str, object]]:
    return [
        record(),
        record(record_id="R2", dose="2", vaccination_date="2021-10-01", id_number="1085012345"),
        record(subject_id="S2", record_id="R3", vaccine="Thuốc lạ", full_name="Lê Thị Hoa", sex="Nữ"),
    ]


def test_check_summarises_without_a_database(make_xlsx: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["check", str(make_xlsx(rows()))], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for expected in ("Số dòng", "Dòng bị từ chối", "AstraZeneca", "Tên vắc xin", "Excel đã làm mất"):
        assert expected in result.output


def test_check_refuses_an_unusable_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("không phải bảng tính", encoding="utf-8")
    result = runner.invoke(app, ["check", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "Không kiểm tra được tệp" in result.output


def test_import_writes_the_registry_and_the_error_workbook(make_xlsx: Callable[..., Path], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    errors = tmp_path / "loi.xlsx"
    arguments = ["import", str(make_xlsx(rows())), "--database", url, "--errors", str(errors), "--facility", "CS01"]
    result = runner.invoke(app, arguments, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Mũi tiêm mới" in result.output and errors.exists()
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Dose)) == 2
    engine.dispose()
    upgraded = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert upgraded.exit_code == 0 and "mới nhất" in upgraded.output


def test_verify_reads_the_spec_workbook_and_explains_unreadable_files(
    make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    """Issue 17: `tiemchung verify --records records.xlsx` ended with DuckDB's CSV-sniffer traceback."""
    import csv

    from tiemchung.register.linkage import cli as verification_cli
    from tiemchung.register.sample import write_sample

    verify_app = typer.Typer()
    verification_cli.register(verify_app)
    verify_app.command("noop", hidden=True)(lambda: None)  # two commands: Typer keeps "verify" as a sub-command
    register, _subjects = write_sample(tmp_path / "register")
    workbook = make_xlsx(rows(), name="records.xlsx", name_font=".VnTime")
    out = tmp_path / "ket-qua.csv"
    arguments = ["verify", "--register", str(register), "--out", str(out), "--workdir", str(tmp_path / "work")]
    result = runner.invoke(verify_app, [*arguments, "--records", str(workbook)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        assert sorted(row["subject_id"] for row in csv.DictReader(handle)) == ["S1", "S2"]
    broken = tmp_path / "hong.csv"
    broken.write_bytes(b"\x00\x01garbage\xff\xfe" * 1000)
    failed = runner.invoke(verify_app, [*arguments, "--records", str(broken)], env={"COLUMNS": "200"})
    assert failed.exit_code == 2 and "Không đọc được tệp hong.csv" in failed.output
    assert "Traceback" not in failed.output


def test_db_resume_imports_says_what_it_did(tmp_path: Path) -> None:
    from tiemchung.health.registry.db import create_schema

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    create_schema(make_engine(url))
    result = runner.invoke(app, ["db", "resume-imports", "--database", url])
    assert result.exit_code == 0 and "Không có lần nhập nào dở dang" in result.output
