"""The tests' own layout: helpers come from `tests.support`, never through sys.path or from another test module."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def test_no_test_changes_sys_path() -> None:
    here = Path(__file__).resolve()
    offenders = [
        str(path.relative_to(TESTS))
        for path in _python_files()
        if path != here and "sys.path" in path.read_text("utf-8")
    ]
    assert not offenders, offenders


def test_no_test_module_imports_another() -> None:
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if any(part.startswith("test_") or part == "conftest" for part in name.split(".")):
                    offenders.append(f"{path.relative_to(TESTS)} imports {name}")
    assert not offenders, offenders
