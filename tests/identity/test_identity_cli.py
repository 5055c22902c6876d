"""The `tiemchung identity` and `tiemchung reference` commands, on an app built the way cli.py builds it."""

import typer
from typer.testing import CliRunner

from tiemchung.identity import cli as identity_cli
from tiemchung.reference import cli as reference_cli


def _app() -> typer.Typer:
    app = typer.Typer()
    identity_cli.register(app)
    reference_cli.register(app)
    return app


def test_check_id_explains_in_vietnamese():
    result = CliRunner().invoke(_app(), ["identity", "check-id", "79203001234", "099089012345"])
    assert result.exit_code == 0, result.output
    assert "079203001234" in result.output
    assert "Đã sửa" in result.output and "Sai định dạng" in result.output


def test_name_decodes_a_legacy_cell():
    result = CliRunner().invoke(_app(), ["identity", "name", "NguyÔn V¨n Hïng"])
    assert result.exit_code == 0, result.output
    assert "Nguyễn Văn Hùng" in result.output and "NGUYEN<VAN<HUNG" in result.output


def test_date_flags_placeholders():
    result = CliRunner().invoke(_app(), ["identity", "date", "01/01/1900", "17/05/1990"])
    assert result.exit_code == 0, result.output
    assert "Giá trị điền thay" in result.output and "1990-05-17" in result.output


def test_reference_commands():
    runner = CliRunner()
    provinces = runner.invoke(_app(), ["reference", "provinces"])
    assert provinces.exit_code == 0 and "Thành phố Hà Nội" in provinces.output
    assert "Tỉnh Thừa Thiên Huế" in provinces.output
    merged = runner.invoke(_app(), ["reference", "provinces", "--2025"])
    assert merged.exit_code == 0 and "Thành phố Huế" in merged.output
    found = runner.invoke(_app(), ["reference", "find", "Tp. HCM"])
    assert found.exit_code == 0 and "Quận 1" in found.output
    assert runner.invoke(_app(), ["reference", "find", "Atlantis"]).exit_code == 1
    vaccines = runner.invoke(_app(), ["reference", "vaccines"])
    assert vaccines.exit_code == 0 and "BBIBP-CorV" in vaccines.output
