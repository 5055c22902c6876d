"""Typer's own texts are Vietnamese: help pages, usage lines and error messages (tiemchung.cli_messages)."""

import re

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from tiemchung.cli import app

runner = CliRunner()
# What Typer prints in English when nothing translates it.
ENGLISH = re.compile(
    r"Usage|Options|Commands|Arguments|Show this message|Error|Missing|No such|Try '|default:|env var|required|"
    r"\[OPTIONS\]|COMMAND|\[ARGS\]|Invalid value|Input should|does not exist|Got unexpected|requires an argument"
)


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    pending: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                paths.append([*path, name])
                pending.append(([*path, name], sub))
    return sorted(paths)


def _words(output: str) -> str:
    """The output as one line: Rich wraps help in boxes at 80 columns, whatever the test asks."""
    return " ".join(output.replace("│", " ").split())


def _english(text: str) -> list[str]:
    return sorted(set(ENGLISH.findall(text)))


def test_every_help_page_is_vietnamese() -> None:
    paths = _command_paths()
    assert len(paths) > 40  # the whole tree, not one page
    english = {}
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        text = _words(result.output)
        assert "Cách dùng:" in text and "Hiện hướng dẫn này và thoát." in text, (path, text)
        if found := _english(text):
            english[" ".join(path)] = found
    assert not english, english


@pytest.mark.parametrize(
    ("arguments", "vietnamese"),
    [
        (["report", "check-seeds", "--nope"], "Không có tùy chọn: --nope"),
        (["nope"], "Không có lệnh 'nope'."),
        (["import"], "Thiếu tham số 'path'."),
        (["import", "/no/such/file.xlsx"], "Giá trị không hợp lệ cho 'path': Không có '/no/such/file.xlsx'."),
        (["report", "appendix1", "--as-of"], "Tùy chọn '--as-of' cần một giá trị."),
        (["synth", "--people", "abc"], "cần một số nguyên."),
    ],
)
def test_wrong_input_is_answered_in_vietnamese(arguments: list[str], vietnamese: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    text = _words(result.output)
    assert vietnamese in text
    assert "Lỗi" in text and not _english(text), text
