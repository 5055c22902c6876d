"""The same engine on Spark (local mode) gives exactly the DuckDB answers on the same input."""

import csv
from pathlib import Path

import pytest

from tests.support.engine_world import SUBJECTS, write_csv, write_register
from tests.support.services import unavailable
from tiemchung.register.linkage.engine import RegisterIndex


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return sorted(csv.DictReader(handle), key=lambda row: row["subject_id"])


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_spark_results_equal_duckdb_results(tmp_path: Path) -> None:
    try:
        from tiemchung.register.linkage.spark import local_session, verify_batch_spark

        spark = local_session(cores=1, tmp=tmp_path / "spark")
    except Exception as error:  # no Java, or pyspark cannot start a JVM here
        unavailable(f"Spark cannot start: {type(error).__name__}: {error}")
    register = write_register(tmp_path / "register.parquet")
    subjects = write_csv(tmp_path / "subjects.csv", SUBJECTS)
    index = RegisterIndex.open(register, threads=1)
    index.verify_batch(subjects, tmp_path / "duckdb.csv")
    index.close()
    try:
        count = verify_batch_spark(spark, register, subjects, tmp_path / "spark.csv", workdir=tmp_path / "work")
    finally:
        spark.stop()
    assert count == len(SUBJECTS)
    assert _rows(tmp_path / "spark.csv") == _rows(tmp_path / "duckdb.csv")
