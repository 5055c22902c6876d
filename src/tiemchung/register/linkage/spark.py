"""The same engine on Spark: the DuckDB SQL transpiled by sqlglot, Splink's Spark backend for scoring.

Nothing here is written twice: the exact path, the decision rule and the final rows are the DuckDB
texts of `sql.py`, transpiled; the model is the same trained JSON with its conditions transpiled;
subjects are repaired by the same Python rules. The register is prepared once by the same DuckDB
SELECT as the DuckDB path and handed to Spark as Parquet: its name functions use DuckDB-only
built-ins (nfc_normalize, strip_accents, RE2 classes) that have no Spark SQL equivalent, and a
one-off single-node pass over the register (DuckDB streams 100M rows) is not the bottleneck.
"""

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tiemchung.interchange.results import RESULT_COLUMNS, format_probability
from tiemchung.register.linkage import sql
from tiemchung.register.linkage.model import (
    MODEL_COLUMNS,
    for_dialect,
    load_model,
    make_linker,
    predict_chunks,
    runner_up_floor,
)
from tiemchung.register.linkage.prepare import prepare_subject_files, register_select_sql, source_sql


def to_spark_sql(duckdb_sql: str) -> str:
    import sqlglot

    return sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")[0]


def local_session(*, cores: int = 2, tmp: Path | None = None) -> Any:
    """A local Spark with Splink's similarity functions on the class path (for tests and one machine)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("tiemchung-verification")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.ansi.enabled", "false")
    )
    if tmp is not None:
        builder = builder.config("spark.local.dir", str(tmp))
    session = builder.getOrCreate()
    if tmp is not None:
        session.sparkContext.setCheckpointDir(str(tmp / "checkpoints"))
    return session


def prepare_register_parquet(register: Path, prepared: Path) -> Path:
    """The prepared register (DuckDB's SELECT, unchanged) written as Parquet for Spark; kept while fresh."""
    import duckdb

    if prepared.exists() and prepared.stat().st_mtime_ns >= register.stat().st_mtime_ns:
        return prepared
    prepared.parent.mkdir(parents=True, exist_ok=True)
    target = str(prepared).replace("'", "''")
    with duckdb.connect() as connection:
        connection.execute(f"COPY ({register_select_sql(source_sql(register))}) TO '{target}' (FORMAT parquet)")
    return prepared


def verify_batch_spark(
    spark: Any,
    register: Path,
    subjects: Path,
    out: Path,
    *,
    workdir: Path,
    model_path: Path | None = None,
) -> int:
    """Answer a subjects/records file against a register on Spark; write section-3 rows; return the count.

    The model is `model_path`'s (the shipped default when absent), e.g. the one DuckDB trained on a batch. Training
    on Spark is not offered: on the same batch it did not give DuckDB's parameters (docs/verification.md)."""
    import duckdb

    prepared_register = prepare_register_parquet(register, workdir / "register.prepared.parquet")
    spark.read.parquet(str(prepared_register)).createOrReplaceTempView("register")
    with duckdb.connect() as reader:  # reading, grouping and repairing are the same code as the DuckDB path
        files = prepare_subject_files(reader, subjects, workdir / "subjects")
    spark.read.parquet(str(files.subjects)).createOrReplaceTempView("subjects")
    spark.read.parquet(str(files.model)).createOrReplaceTempView("model_all")
    spark.sql(to_spark_sql(sql.EXACT_SQL)).createOrReplaceTempView("exact")
    spark.sql(to_spark_sql(sql.MODEL_LINKED_SQL)).createOrReplaceTempView("model_linked")
    spark.sql(f"SELECT {', '.join(MODEL_COLUMNS)} FROM register").createOrReplaceTempView("model_register")
    _match(spark, load_model(model_path))
    spark.sql(to_spark_sql(sql.RESULTS_SQL)).createOrReplaceTempView("results")
    rows = [row.asDict() for row in spark.sql("SELECT * FROM results").collect()]
    _write(rows, out)
    return len(rows)


def _match(spark: Any, model: dict[str, Any]) -> None:
    from splink.backends.spark import SparkAPI

    spark.sql(to_spark_sql(sql.MODEL_SUBJECTS_SQL)).createOrReplaceTempView("model_subjects")
    subjects = int(spark.table("model_subjects").count())
    linker = make_linker(SparkAPI(spark_session=spark), "model_subjects", "model_register", for_dialect(model, "spark"))
    predictions = linker.inference.predict(
        threshold_match_weight=runner_up_floor(), num_chunks_left=predict_chunks(subjects), num_chunks_right=1
    )
    predictions.as_spark_dataframe().createOrReplaceTempView("predictions")
    spark.sql(
        """SELECT unique_id_l AS subject_id, unique_id_r AS person_id, match_weight, match_probability
        FROM predictions"""
    ).createOrReplaceTempView("pairs")
    spark.sql(to_spark_sql(sql.MATCHES_SQL)).createOrReplaceTempView("matches")


def _write(rows: list[dict[str, Any]], out: Path) -> None:
    """Section-3 rows as text, sorted by subject, formatted exactly as the DuckDB path writes them."""
    formatted = [
        {
            "subject_id": row["subject_id"],
            "category": row["category"],
            "reasons": row["reasons"] or "",
            "matched_person_id": row["matched_person_id"] or "",
            "match_probability": format_probability(row["match_probability"]),
        }
        for row in sorted(rows, key=lambda row: row["subject_id"])
    ]
    table = pa.Table.from_pylist(formatted, schema=pa.schema([(c, pa.string()) for c in RESULT_COLUMNS]))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        pq.write_table(table, out)
    else:
        pacsv.write_csv(table, out)
