"""Benchmark: the probabilistic model of `tiemchung.health.duplicates` alone, at scale, without a registry.

`bench_duplicates.py` measures everything (the exact rules need the registry and the register's answers, which
means a bulk load first: at 1M people that load dominates). This one reads a generated country's records, takes each
subject's first row through the importer's own `RowParser` (so names, dates and IDs are what the registry would
hold), and scores the subjects with the shipped model: time and peak memory of the scoring, and the model's own
precision–recall curve against the truth (every two subjects of one person).

Usage:
    .venv/bin/python benchmarks/bench_duplicates_model.py --synth /tmp/dupes/synth-1000000-5 --work /tmp/dupes
Prints one JSON line.
"""

import argparse
import json
import os
import resource
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tiemchung.health.duplicates.probabilistic import MATCH_THRESHOLD, SUBJECT_COLUMNS, score_pairs
from tiemchung.health.registry.records import RowParser
from tiemchung.interchange.sources import RawCell, RawRow

CURVE = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)
KEYS = ("subject_id", "full_name", "birth_date", "sex", "id_number", "passport_number", "nationality", "phone",
        "province_code", "district_code", "ward_code", "address", "facility_code", "record_id", "vaccine",
        "lot_number", "vaccination_date", "dose")  # fmt: skip


def subjects_from_records(records: Path) -> tuple[pa.Table, dict[str, int]]:
    """Each subject's first row, read as the importer reads it: the columns the model compares, and the ids."""
    parser = RowParser()
    parquet = pq.ParquetFile(records)
    keys = [key for key in KEYS if key in set(parquet.schema_arrow.names)]
    ids: dict[str, int] = {}
    columns: dict[str, list[Any]] = {name: [] for name in SUBJECT_COLUMNS}
    for batch in parquet.iter_batches(batch_size=50_000, columns=keys):
        values = [batch.column(index).to_pylist() for index in range(len(keys))]
        for number, row in enumerate(zip(*values, strict=True)):
            cells = dict(zip(keys, row, strict=True))
            if cells["subject_id"] in ids:
                continue
            subject = parser.parse(RawRow(number, {key: RawCell(value) for key, value in cells.items()})).subject
            if subject is None:
                continue
            ids[subject.subject_key] = len(ids) + 1
            valid_id = subject.id_number if subject.id_status == "valid" else None
            for name, value in zip(SUBJECT_COLUMNS, (len(ids), subject.name_canonical, subject.name_folded,
                                   subject.birth_date, subject.birth_year, subject.sex, valid_id, subject.ward_code,
                                   subject.district_code, subject.province_code), strict=True):  # fmt: skip
                columns[name].append(value)
    types = {name: pa.int64() if name in ("unique_id", "birth_year") else pa.string() for name in SUBJECT_COLUMNS}
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()}), ids


def true_pairs(truth: Path, ids: dict[str, int]) -> set[tuple[int, int]]:
    members: dict[str, list[int]] = defaultdict(list)
    for row in pq.read_table(truth, columns=["subject_id", "is_duplicate_of"]).to_pylist():
        if row["subject_id"] in ids:
            members[row["is_duplicate_of"] or row["subject_id"]].append(ids[row["subject_id"]])
    return {pair for group in members.values() for pair in combinations(sorted(group), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=Path, required=True, help="a generated country (tiemchung synth)")
    parser.add_argument("--work", type=Path, required=True, help="DuckDB's spill folder goes here")
    parser.add_argument("--curve-floor", type=float, default=CURVE[0])
    args = parser.parse_args()
    clock = time.perf_counter()
    subjects, ids = subjects_from_records(args.synth / "records.parquet")
    read_seconds = time.perf_counter() - clock
    read_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    clock = time.perf_counter()
    cpu = time.process_time()
    scored = {
        (pair.first, pair.second): pair.match_probability
        for pair in score_pairs(subjects, threshold=args.curve_floor, work_dir=args.work / "duckdb-tmp")
    }
    score_seconds, score_cpu = time.perf_counter() - clock, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    truth = true_pairs(args.synth / "truth_subjects.parquet", ids)
    curve = {}
    for threshold in (t for t in CURVE if t >= args.curve_floor):
        found = {key for key, p in scored.items() if p >= threshold}
        right = len(found & truth)
        curve[str(threshold)] = {"pairs": len(found), "precision": round(right / max(len(found), 1), 5),
                                 "recall": round(right / max(len(truth), 1), 5)}  # fmt: skip
    print(json.dumps({
        "synth": str(args.synth), "subjects": subjects.num_rows, "true_pairs": len(truth), "threshold": MATCH_THRESHOLD,
        "read_seconds": round(read_seconds, 1), "read_peak_rss_mb": round(read_peak),
        "score_seconds": round(score_seconds, 1), "score_cpu_seconds": round(score_cpu, 1),
        "peak_rss_mb": round(peak), "curve_model_only": curve,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
