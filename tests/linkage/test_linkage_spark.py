"""The same engine on Spark (local mode) gives exactly the DuckDB answers on the same input."""

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_world import SUBJECTS, write_csv, write_register
from tests.support.services import unavailable
from tiemchung.register.linkage.engine import RegisterIndex
from tiemchung.register.linkage.spark import local_session, verify_batch_spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        session = local_session(cores=1, tmp=tmp_path_factory.mktemp("spark"))
    except Exception as error:  # no Java, or pyspark cannot start a JVM here
        unavailable(f"Spark cannot start: {type(error).__name__}: {error}")
    yield session
    session.stop()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["subject_id"])


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_spark_results_equal_duckdb_results(spark: Any, tmp_path: Path) -> None:
    register = write_register(tmp_path / "register.parquet")
    subjects = write_csv(tmp_path / "subjects.csv", SUBJECTS)
    index = RegisterIndex.open(register, threads=1)
    index.verify_batch(subjects, tmp_path / "duckdb.csv")
    index.close()
    count = verify_batch_spark(spark, register, subjects, tmp_path / "spark.csv", workdir=tmp_path / "work")
    assert count == len(SUBJECTS)
    assert _rows(tmp_path / "spark.csv") == _rows(tmp_path / "duckdb.csv")
