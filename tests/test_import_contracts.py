"""The import-linter contracts of pyproject.toml cover every package: a new top-level package must be placed."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, dict[str, list[str]]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {contract["source_modules"][0]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def _top_level_modules() -> set[str]:
    package = ROOT / "src" / "tiemchung"
    names = {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    names |= {path.stem for path in package.glob("*.py") if path.stem not in {"__init__", "__main__"}}
    return {f"tiemchung.{name}" for name in names}


def test_identity_and_reference_forbid_every_package_above_them() -> None:
    contracts = _contracts()
    above_identity = _top_level_modules() - {"tiemchung.identity"}
    assert set(contracts["tiemchung.identity"]["forbidden_modules"]) == above_identity
    assert set(contracts["tiemchung.reference"]["forbidden_modules"]) == above_identity - {"tiemchung.reference"}
