"""The same engine on Spark (local mode) gives exactly the DuckDB answers on the same input, and trains the same
model from the same batch (Splink 5, seeded sampling that picks the same rows on both engines)."""

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.support.engine_world import SUBJECTS, write_csv, write_register
from tests.support.services import unavailable
from tiemchung.register.linkage import engine
from tiemchung.register.linkage.engine import MODEL_FILE, RegisterIndex
from tiemchung.register.linkage.spark import local_session, verify_batch_spark
from tiemchung.synth import generate


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


def _parameters(model: dict[str, Any]) -> list[float]:
    """λ, then every level's m and u, in the model's order (absent parameters as NaN-free -1)."""
    values = [float(model["probability_two_random_records_match"])]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            values += [float(level.get("m_probability", -1)), float(level.get("u_probability", -1))]
    return values


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


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.timeout(1800)  # Spark runs hundreds of small stages to train: minutes on a loaded 2-core machine
def test_spark_trains_duckdbs_model_and_gives_its_answers(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    country = tmp_path / "country"
    generate(country, people=1_500, seed=23, progress=False, xlsx_max_rows=0)
    register, records = country / "register.parquet", country / "records.parquet"
    monkeypatch.setattr(engine, "MIN_SUBJECTS_TO_TRAIN", 100)  # train on this small batch
    index = RegisterIndex.open(register, workdir=tmp_path / "duckdb", threads=1)
    index.verify_batch(records, tmp_path / "duckdb.parquet")
    index.close()
    spark_model_path = tmp_path / "spark_model.json"
    verify_batch_spark(
        spark,
        register,
        records,
        tmp_path / "spark.parquet",
        workdir=tmp_path / "work",
        model_path=spark_model_path,
        train_model=True,
    )
    duckdb_model = json.loads((tmp_path / "duckdb" / MODEL_FILE).read_text("utf-8"))
    spark_model = json.loads(spark_model_path.read_text("utf-8"))
    assert _parameters(spark_model) == pytest.approx(_parameters(duckdb_model), rel=1e-9, abs=1e-12)
    duckdb_rows = pq.read_table(tmp_path / "duckdb.parquet").to_pylist()
    assert any(row["category"] == "NO_ID_VERIFIED" for row in duckdb_rows)  # the model decided something
    assert pq.read_table(tmp_path / "spark.parquet").to_pylist() == duckdb_rows
