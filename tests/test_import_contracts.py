"""The import-linter contracts of pyproject.toml place every package: a new top-level package must be given a layer,
and the two sides stay independent of each other."""

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
