"""Everything a user or operator can set is documented (Datasette's test_docs idea): every command and
sub-command of `tiemchung`, every web setting and every environment variable the code reads appears in README.md
or docs/. A new one fails here until it is written down."""

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup

from tiemchung.cli import app
from tiemchung.health.web.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _docs() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    text = "\n".join(page.read_text(encoding="utf-8") for page in pages)
    # "`db upgrade / load-parquet / backup`" documents `db upgrade`, `db load-parquet` and `db backup`;
    # "`register keys add|list|revoke`" the three `register keys` commands.
    expanded = []
    for span in re.findall(r"`([^`\n]+)`", text):
        words = re.split(r" / |\|", span)
        head = words[0].rsplit(" ", 1)[0] if " " in words[0] else ""
        expanded += [f"`{head} {word.split()[0]}`" for word in words[1:] if head and word.split()]
    return text + "\n" + "\n".join(expanded)


DOCS = _docs()


def _command_paths() -> Iterator[str]:
    pending: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        if path:
            yield " ".join(path)
        if isinstance(command, TyperGroup):
            pending += [([*path, name], sub) for name, sub in command.commands.items()]


def _documented_command(path: str) -> bool:
    # In backticks (`report check-seeds ...`) or after the program's name (tiemchung report check-seeds).
    return re.search(rf"(`|tiemchung |\./run ){re.escape(path)}(\b|`)", DOCS) is not None


class _Recorder(Mapping[str, str]):
    """An empty environment that remembers which variables were asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _environment_variables() -> set[str]:
    recorder = _Recorder()
    Settings.from_env(recorder)
    literals = {
        name
        for path in (ROOT / "src").rglob("*.py")
        for name in re.findall(r"[\"'](TIEMCHUNG_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8"))
    }
    return recorder.asked | literals


@pytest.mark.parametrize("path", sorted(_command_paths()))
def test_every_command_is_documented(path: str) -> None:
    assert _documented_command(path), f"`tiemchung {path}` is in no page of README.md or docs/"


@pytest.mark.parametrize("name", sorted(field.name for field in dataclasses.fields(Settings)))
def test_every_web_setting_is_documented(name: str) -> None:
    assert name in DOCS or f"TIEMCHUNG_{name.upper()}" in DOCS, f"web setting {name} is in no page"


@pytest.mark.parametrize("variable", sorted(_environment_variables()))
def test_every_environment_variable_is_documented(variable: str) -> None:
    assert variable in DOCS, f"{variable} is read by the code and in no page"


def test_the_lists_are_not_empty() -> None:
    assert len(list(_command_paths())) > 40
    assert {"TIEMCHUNG_DATABASE_URL", "TIEMCHUNG_KEYS_DIR", "TIEMCHUNG_KEY_PASSPHRASE"} <= _environment_variables()
