"""Fixtures of the registry tests: real records files written to tmp_path."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.registry_files import write_csv, write_xlsx


@pytest.fixture
def make_xlsx(tmp_path: Path) -> Callable[..., Path]:
    def make(rows: Sequence[dict[str, Any]], name: str = "records.xlsx", **options: Any) -> Path:
        return write_xlsx(tmp_path / name, rows, **options)

    return make


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    def make(rows: Sequence[dict[str, Any]], name: str = "records.csv", **options: Any) -> Path:
        return write_csv(tmp_path / name, rows, **options)

    return make
