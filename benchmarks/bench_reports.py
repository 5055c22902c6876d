"""Benchmark: appendix 1 (and the verification report) over a synthetic country, on DuckDB and PostgreSQL.

The same SQLAlchemy Core statements the platform runs (`tiemchung.reconciliation.queries`) are timed on:
1. DuckDB over registry-layout Parquet (subjects, doses, facilities) laid out from the generator's
   records.parquet (the lay-out is timed separately: it is a one-off load, like a registry export);
2. PostgreSQL, after loading the same Parquet into tables named like the registry's (only the columns the
   reports read; loading is timed separately too).

Usage:
    .venv/bin/python benchmarks/bench_reports.py --synth DIR [--work DIR] [--postgres URL] [--threads N]
DIR holds records.parquet (and truth_subjects.parquet) from `tiemchung synth` / `tiemchung.synth.generate`.
Prints one JSON line per measurement.
"""

import argparse
import io
import json
import os
import resource
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tiemchung.reconciliation.appendix1 import build_appendix1
from tiemchung.reconciliation.reported import ReportedFigures
from tiemchung.reconciliation.sources import ParquetSource, RegistrySource, Source, records_to_registry_parquet
from tiemchung.reconciliation.verification_report import build_verification_report
from tiemchung.registry.db import make_engine

# Only what the reports read; the registry's other columns (names, ID numbers...) are not loaded.
POSTGRES_TABLES = {
    "subjects": "id bigint primary key, subject_key text, province_code varchar(2), birth_date varchar(10), "
    "birth_year integer, verification_category varchar(32), verification_reasons varchar(64)",
    "doses": "id bigint primary key, record_id text, subject_id bigint, vaccine varchar(32), "
    "vaccination_date date, dose_kind varchar(16), facility_code varchar(32), lot_number text, "
    "reason_group varchar(16), import_batch_id bigint, duplicate_of_id bigint",
    "facilities": "code varchar(32) primary key, name text, province_code varchar(2)",
    "import_batches": "id bigint primary key, reason_group varchar(16)",
    "verification_results": "id bigint primary key, subject_id bigint, category varchar(32), answered_at timestamptz",
}


def timed(label: str, size: dict[str, Any], action: Callable[[], Any]) -> Any:
    """Run `action`; print wall seconds, this process's CPU seconds (DuckDB runs in-process; PostgreSQL's work
    is in the server, so its CPU does not show here) and the load average (the machine is shared)."""
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    result = action()
    print(
        json.dumps(
            {
                "step": label,
                "seconds": round(time.perf_counter() - started, 2),
                "cpu_seconds": round(_cpu_seconds() - cpu_started, 2),
                "load_average_1min": round(os.getloadavg()[0], 1),
                **size,
            }
        ),
        flush=True,
    )
    return result


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_reports(engine_name: str, source: Source, size: dict[str, Any], runs: int) -> None:
    for run in range(runs):
        report = timed(
            f"{engine_name}: appendix 1 (run {run + 1})", size, lambda: build_appendix1(source, ReportedFigures())
        )
        assert report.total().entered == size["doses"], (report.total().entered, size["doses"])
    timed(f"{engine_name}: verification report", size, lambda: build_verification_report(source))


def load_postgres(server_url: str, folder: Path, size: dict[str, Any]) -> tuple[Engine, Engine, str]:
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"tiemchung_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    engine = make_engine(server_url.rsplit("/", 1)[0] + f"/{name}")
    with engine.begin() as connection:
        for table, columns in POSTGRES_TABLES.items():
            connection.execute(text(f"create table {table} ({columns})"))
    timed("postgresql: load (COPY)", size, lambda: _copy_all(engine, folder))
    with engine.begin() as connection:
        connection.execute(text("analyze"))
    return admin, engine, name


def _copy_all(engine: Engine, folder: Path) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table in ("subjects", "doses", "facilities"):
            parquet = pq.ParquetFile(folder / f"{table}.parquet")
            columns = ", ".join(parquet.schema_arrow.names)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:  # type: ignore[attr-defined]
                for batch in parquet.iter_batches(batch_size=500_000):
                    buffer = io.BytesIO()
                    pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
                    copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=2)
    arguments = parser.parse_args()
    work = arguments.work or arguments.synth / "registry-parquet"
    records = arguments.synth / "records.parquet"
    size = {"doses": pq.ParquetFile(records).metadata.num_rows, "threads": arguments.threads}
    timed(
        "duckdb: lay out records.parquet as registry Parquet",
        size,
        lambda: records_to_registry_parquet(
            records, work, truth=arguments.synth / "truth_subjects.parquet", threads=arguments.threads
        ),
    )
    size["subjects"] = pq.ParquetFile(work / "subjects.parquet").metadata.num_rows
    duckdb_source = ParquetSource.from_backup(work, threads=arguments.threads)
    run_reports("duckdb", duckdb_source, size, arguments.runs)
    duckdb_source.close()
    if arguments.postgres:
        admin, engine, name = load_postgres(arguments.postgres, work, size)
        try:
            run_reports("postgresql", RegistrySource(engine), size, arguments.runs)
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'drop database if exists "{name}" with (force)'))
            admin.dispose()


if __name__ == "__main__":
    main()
