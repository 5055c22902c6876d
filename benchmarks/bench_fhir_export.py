"""Benchmark: the FHIR Bulk Data export (`write_export`) over a registry of N generated people.

Generates a synthetic country (`tiemchung.synth`), bulk-loads its records into a fresh SQLite registry (or the
PostgreSQL database given by --postgres, which must be empty) and registers the facilities that gave the doses, as
the demo does; then times the export of every Patient,
Immunization and Organization to NDJSON: resources per second per type, the files' sizes, and the process's peak
memory (ru_maxrss). Validates a sample of the written lines with fhir.resources (validation is not part of the
export's timing: the export writes unvalidated dictionaries, the tests validate every line).

Usage:
    .venv/bin/python benchmarks/bench_fhir_export.py --people 1000000 --work /tmp/fhir-bench [--postgres URL]
Prints one JSON line.
"""

import argparse
import json
import os
import resource
import time
from pathlib import Path

from tiemchung.demo.pipeline import register_facilities
from tiemchung.health.fhir import validated
from tiemchung.health.fhir.export import ExportStatus, write_export
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.synth import generate

SAMPLE_EVERY = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    synth = args.work / f"synth-{args.people}"
    if not (synth / "records.parquet").exists():
        generate(synth, people=args.people, seed=args.seed, progress=False, xlsx_max_rows=0)
    url = args.postgres or f"sqlite:///{args.work / f'registry-{args.people}.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    report = load_parquet(engine, synth / "records.parquet", actor="bench")
    register_facilities(make_session_factory(engine))  # the facilities that gave the doses, as the demo does
    load_seconds = time.perf_counter() - started
    folder = args.work / "export"
    folder.mkdir(exist_ok=True)
    status = ExportStatus(job_id="bench", state="running", requested_by="bench", transaction_time="")
    started = time.perf_counter()
    write_export(make_session_factory(engine), folder, status)
    export_seconds = time.perf_counter() - started
    sampled = _validate_sample(folder)
    print(json.dumps({
        "people": args.people, "database": engine.dialect.name, "subjects": report.subjects, "doses": report.doses,
        "load_seconds": round(load_seconds, 1), "state": status.state, "counts": status.counts,
        "export_seconds": round(export_seconds, 1),
        "resources_per_second": round(sum(status.counts.values()) / export_seconds),
        "megabytes": {path.stem: round(path.stat().st_size / 1e6, 1) for path in folder.glob("*.ndjson")},
        "validated_sample": sampled, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": os.getloadavg()[0],
    }))  # fmt: skip


def _validate_sample(folder: Path) -> int:
    checked = 0
    for path in folder.glob("*.ndjson"):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                if number % SAMPLE_EVERY == 0:
                    validated(json.loads(line))
                    checked += 1
    return checked


if __name__ == "__main__":
    main()
