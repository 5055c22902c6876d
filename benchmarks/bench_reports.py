"""Benchmark: appendix 1 over a synthetic country, on DuckDB over Parquet and on a PostgreSQL registry.

1. DuckDB (`--duckdb`): the platform's statements over registry-layout Parquet laid out from the generator's
   records.parquet (the lay-out is timed separately: a one-off load, like a registry export).
2. PostgreSQL (`--postgres-doses N`, repeatable): a sample of N doses of the country (whole subjects, drawn by
   a hash of their key, so every province and age is in it) bulk-loaded with `load_parquet` into a fresh registry
   (real schema, the summary kept by its triggers); then appendix 1 read from the summary, appendix 1 counted
   from every dose (the way before the summary, for comparison; both must agree cell for cell), the summary
   check and its compaction.
3. National size on PostgreSQL (`--national-copies K`): the summary a registry of K copies of the laid-out
   country would hold (national_appendix1.py's construction: K × the doses, new people, the same
   distribution), counted by the platform's own statement (`queries.entered_cells_by_day`) in DuckDB over the
   copies, written into a fresh registry's summary table, then appendix 1 timed there. `--full-grid` also times
   appendix 1 over a summary with every province, age group, dose kind and day of 2021–2023 filled: the
   largest summary the report can meet, whatever the number of doses.

Usage:
    .venv/bin/python benchmarks/bench_reports.py --synth DIR [--duckdb] [--postgres-doses N ...]
        [--national-copies K] [--full-grid] [--postgres URL] [--threads N] [--runs N]
DIR holds records.parquet (and truth_subjects.parquet) from `tiemchung synth`; its registry-parquet/ is laid out
on first use. Prints one JSON line per measurement.
"""

import argparse
import json
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine, make_url

from tiemchung.health.reconciliation import summary
from tiemchung.health.reconciliation.appendix1 import Appendix1Report, build_appendix1
from tiemchung.health.reconciliation.models import EnteredDoseCount
from tiemchung.health.reconciliation.queries import entered_cells_by_day
from tiemchung.health.reconciliation.reported import ReportedFigures
from tiemchung.health.reconciliation.sources import ParquetSource, RegistrySource, Source, records_to_registry_parquet
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine
from tiemchung.health.registry.models import Facility


def timed(label: str, size: dict[str, Any], action: Callable[[], Any]) -> Any:
    """Run `action`; print wall seconds, this process's CPU seconds (DuckDB runs in-process; PostgreSQL's work
    is in the server, so its CPU does not show here) and the load average (the machine is shared)."""
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    result = action()
    print(
        json.dumps(
            {
                "step": label,
                "seconds": round(time.perf_counter() - started, 3),
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


def appendix1(source: Source) -> Appendix1Report:
    return build_appendix1(source, ReportedFigures())


def cells(report: Appendix1Report) -> list[Any]:
    return [(row.province_code, row.entered_cells, row.entered_outside) for row in report.rows]


@contextmanager
def fresh_registry(server_url: str) -> Iterator[Engine]:
    """A new PostgreSQL database beside the one in `server_url`, with the registry's schema; dropped after."""
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"tiemchung_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    engine = make_engine(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def timed_runs(label: str, size: dict[str, Any], source: Source, runs: int, doses: int | None) -> Appendix1Report:
    """Appendix 1 from `source`, timed `runs` times; each run's national o must be `doses` (None: not checked)."""
    for run in range(runs):
        report = timed(f"{label} (run {run + 1})", size, lambda: appendix1(source))
        assert doses is None or report.total().entered == doses, (report.total().entered, doses)
    return report


def run_duckdb(laid_out: Path, size: dict[str, Any], threads: int, runs: int) -> None:
    source = ParquetSource.from_backup(laid_out, threads=threads)
    timed_runs("duckdb: appendix 1", size, source, runs, size["doses"])
    source.close()


def sample_records(records: Path, doses: int, out: Path) -> Path:
    """Whole subjects drawn by a hash of their key, about `doses` doses in all."""
    total = pq.ParquetFile(records).metadata.num_rows
    kept = min(100_000, -(-100_000 * doses // total))
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * FROM read_parquet('{records}') WHERE hash(subject_id) % 100000 < {kept}) "
            f"TO '{out}' (FORMAT parquet)"
        )
    return out


def register_facilities(engine: Engine, laid_out: Path) -> None:
    """The country's facilities (code, name, province), so that doses count where they were given."""
    rows = pq.read_table(laid_out / "facilities.parquet", columns=["code", "name", "province_code"]).to_pylist()
    with engine.begin() as connection:
        connection.execute(insert(Facility), rows)


def run_postgres(server_url: str, records: Path, laid_out: Path, doses: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder, fresh_registry(server_url) as engine:
        sample = sample_records(records, doses, Path(folder) / "sample.parquet")
        size = {"doses": pq.ParquetFile(sample).metadata.num_rows}
        register_facilities(engine, laid_out)
        loaded = timed("postgresql: load_parquet (summary kept by the triggers)", size, lambda: _load(engine, sample))
        size["doses"] = loaded
        with engine.begin() as connection:
            connection.execute(text("analyze"))
        size["summary_rows"] = _summary_rows(engine)
        report = timed_runs("postgresql: appendix 1 from the summary", size, RegistrySource(engine), runs, loaded)
        counted = RegistrySource(engine)
        counted.summarised = False
        old_way = timed("postgresql: appendix 1 counted from every dose", size, lambda: appendix1(counted))
        assert cells(old_way) == cells(report), "the summary and the doses disagree"
        differences = timed("postgresql: check-summary", size, lambda: summary.differences(engine))
        assert differences == [], differences[:5]
        before, after = timed("postgresql: compact-summary", size, lambda: summary.compact(engine))
        print(json.dumps({"summary_rows_before_compaction": before, "after": after}), flush=True)


def _load(engine: Engine, sample: Path) -> int:
    report = load_parquet(engine, sample, actor="bench")
    assert report.file_error is None, report.file_error
    print(json.dumps({"doses_loaded": report.doses, "rows_rejected": report.rejected}), flush=True)
    return report.doses


def _summary_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(EnteredDoseCount)) or 0)


def national_source(laid_out: Path, copies: int, threads: int) -> ParquetSource:
    """The laid-out registry `copies` times over, each copy new people (ids shifted), as views: no copy on disk."""
    source = ParquetSource.from_backup(laid_out, threads=threads)
    connection = source.connection
    subject_span = connection.execute("SELECT max(id) FROM subjects").fetchall()[0][0]
    dose_span = connection.execute("SELECT max(id) FROM doses").fetchall()[0][0]
    for table, shifted in (
        ("subjects", f"id + k * {subject_span} AS id"),
        ("doses", f"id + k * {dose_span} AS id, subject_id + k * {subject_span} AS subject_id"),
    ):
        connection.execute(f"ALTER VIEW {table} RENAME TO {table}_once")
        connection.execute(
            f"CREATE VIEW {table} AS SELECT * EXCLUDE (k) REPLACE ({shifted}) FROM {table}_once, range({copies}) c(k)"
        )
    return source


def run_national(server_url: str, laid_out: Path, copies: int, threads: int, runs: int, full_grid: bool) -> None:
    source = national_source(laid_out, copies, threads)
    doses = source.connection.execute("SELECT count(*) FROM doses").fetchall()[0][0]
    size: dict[str, Any] = {"doses": doses, "copies": copies}
    rows = timed(
        "duckdb: the national registry's summary (entered_cells_by_day)",
        size,
        lambda: source.rows(entered_cells_by_day()),
    )
    source.close()
    with fresh_registry(server_url) as engine:
        _write_summary(engine, rows)
        size["summary_rows"] = _summary_rows(engine)
        summary_source = RegistrySource(engine)
        timed_runs("postgresql: national appendix 1 from the summary", size, summary_source, runs, doses)
        if full_grid:
            _fill_grid(engine)
            grid = {"summary_rows": _summary_rows(engine), "construction": "every province, age, dose and day"}
            timed_runs("postgresql: appendix 1 over a full summary", grid, summary_source, runs, None)


def _write_summary(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        columns = "province_code, age_group, dose_kind, day, doses, transaction_id"
        with cursor.copy(f"COPY entered_dose_counts ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row((*row, 0))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text("analyze entered_dose_counts"))


def _fill_grid(engine: Engine) -> None:
    """Every (province or unknown, age group, dose kind, day of 2021–2023) filled, on top of the rows there."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO entered_dose_counts (province_code, age_group, dose_kind, day, transaction_id, doses) "
                "SELECT p.code, a.grp, k.kind, CAST(d AS date), 1, 1 FROM "
                "(SELECT DISTINCT province_code AS code FROM entered_dose_counts) p, "
                "(VALUES ('18+'), ('12-17'), ('5-11'), ('under_5'), ('unknown')) a(grp), "
                "(VALUES ('1'), ('2'), ('3'), ('additional'), ('booster_1'), ('booster_2')) k(kind), "
                "generate_series(DATE '2021-01-01', DATE '2023-12-31', INTERVAL '1 day') d"
            )
        )
        connection.execute(text("analyze entered_dose_counts"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=Path, required=True)
    parser.add_argument(
        "--work", type=Path, default=None, help="registry-parquet folder (default: DIR/registry-parquet)"
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--duckdb", action="store_true", help="time appendix 1 on DuckDB over the whole country")
    parser.add_argument("--postgres-doses", type=int, action="append", default=[])
    parser.add_argument("--national-copies", type=int, default=0)
    parser.add_argument("--full-grid", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    laid_out = arguments.work or arguments.synth / "registry-parquet"
    records = arguments.synth / "records.parquet"
    size = {"doses": pq.ParquetFile(records).metadata.num_rows, "threads": arguments.threads}
    if not (laid_out / "doses.parquet").exists():
        timed(
            "duckdb: lay out records.parquet as registry Parquet",
            size,
            lambda: records_to_registry_parquet(
                records, laid_out, truth=arguments.synth / "truth_subjects.parquet", threads=arguments.threads
            ),
        )
    if arguments.duckdb:
        run_duckdb(laid_out, size, arguments.threads, arguments.runs)
    for doses in arguments.postgres_doses:
        run_postgres(arguments.postgres, records, laid_out, doses, arguments.runs)
    if arguments.national_copies:
        run_national(
            arguments.postgres,
            laid_out,
            arguments.national_copies,
            arguments.threads,
            arguments.runs,
            arguments.full_grid,
        )


if __name__ == "__main__":
    main()
