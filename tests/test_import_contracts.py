"""The import-linter contracts of pyproject.toml place every package: a new top-level package must be given a layer,
and the two sides stay independent of each other."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [{name.strip() for name in layer.split("|")} for layer in contract["layers"]]


def _top_level_modules() -> set[str]:
    package = ROOT / "src" / "tiemchung"
    names = {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    names |= {path.stem for path in package.glob("*.py") if path.stem not in {"__init__", "__main__"}}
    return {f"tiemchung.{name}" for name in names}


def test_every_top_level_package_has_a_layer() -> None:
    placed = set().union(*_layers())
    assert placed == _top_level_modules()


def test_the_two_sides_are_independent_and_share_only_the_layers_below() -> None:
    layers = _layers()
    sides = next(layer for layer in layers if "tiemchung.health" in layer)
    assert "tiemchung.register" in sides, "the health and register sides must be independent siblings"
    below = layers[layers.index(sides) + 1 :]
    assert below == [{"tiemchung.interchange"}, {"tiemchung.reference"}, {"tiemchung.identity"}]


def _function_local_project_imports(path: Path) -> list[tuple[int, list[str]]]:
    """(line, the lines above it) of every `from tiemchung... import` inside a function of `path`."""

    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in ast.walk(node):
                if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("tiemchung"):
                    found.append((statement.lineno, lines[max(0, statement.lineno - 4) : statement.lineno - 1]))
    return found


def test_a_function_local_project_import_says_why() -> None:
    """Issue 19: imports hidden inside functions hide the dependency graph. Outside the command-line modules (which
    import inside each command so that `tiemchung --help` stays instant, as tiemchung/cli.py says), each one is
    there for a reason — an import cycle, or a migration loading code only when it runs — stated in a `# local:`
    comment just above it (or above the block of imports it belongs to)."""
    package = ROOT / "src" / "tiemchung"
    unexplained = [
        f"{path.relative_to(package)}:{line}"
        for path in package.rglob("*.py")
        if path.name != "cli.py"
        for line, above in _function_local_project_imports(path)
        if not any(text.strip().startswith("# local:") for text in above)
    ]
    assert not unexplained, unexplained
