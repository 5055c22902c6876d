"""Benchmark: duplicate registrations found by `tiemchung.health.duplicates` against the generator's truth.

Generates a synthetic country (its truth marks each duplicate registration with `is_duplicate_of`), bulk-loads it
into a fresh SQLite registry, writes the register's answers as the truth gives them (the categories and proposals
the register would answer, see tests/support/scale_world.py), then finds the pairs and groups: time, peak memory,
and pairwise precision and recall per kind of evidence, for the certain pairs and for all pairs.

Usage:
    .venv/bin/python benchmarks/bench_duplicates.py --people 1000000 --work /tmp/dupes
Prints one JSON line.
"""

import argparse
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select
from tests.support.scale_world import answer_as_the_truth_says

from tiemchung.health.duplicates.detect import find_pairs, group_pairs
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Subject
from tiemchung.synth import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    synth = args.work / f"synth-{args.people}"
    if not (synth / "records.parquet").exists():
        generate(synth, people=args.people, seed=args.seed, progress=False, xlsx_max_rows=0)
    database = args.work / f"registry-{args.people}.sqlite"
    database.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    load_parquet(engine, synth / "records.parquet", actor="bench")
    factory = make_session_factory(engine)
    answer_as_the_truth_says(factory, synth / "truth_subjects.parquet")
    started = time.perf_counter()
    with factory() as session:
        pairs = find_pairs(session)
        groups = group_pairs(pairs)
        keys = dict(session.execute(select(Subject.id, Subject.subject_key)).all())
    seconds = time.perf_counter() - started
    truth = pq.read_table(synth / "truth_subjects.parquet", columns=["subject_id", "is_duplicate_of"])
    true_pairs = {
        frozenset((row["subject_id"], row["is_duplicate_of"])) for row in truth.to_pylist() if row["is_duplicate_of"]
    }
    found: Counter[str] = Counter()
    right: Counter[str] = Counter()
    found_pairs, certain_pairs = set(), set()
    for pair in pairs:
        key = frozenset((keys[pair.first], keys[pair.second]))
        found[pair.evidence.value] += 1
        right[pair.evidence.value] += key in true_pairs
        found_pairs.add(key)
        if pair.evidence.certain:
            certain_pairs.add(key)
    print(json.dumps({
        "people": args.people, "subjects": len(keys), "true_pairs": len(true_pairs), "seconds": round(seconds, 1),
        "groups": len(groups), "certain_groups": sum(group.certain for group in groups),
        "by_evidence": {name: {"pairs": n, "precision": round(right[name] / n, 5)} for name, n in found.items()},
        "precision_all": round(len(found_pairs & true_pairs) / max(len(found_pairs), 1), 5),
        "recall_all": round(len(found_pairs & true_pairs) / max(len(true_pairs), 1), 5),
        "precision_certain": round(len(certain_pairs & true_pairs) / max(len(certain_pairs), 1), 5),
        "recall_certain": round(len(certain_pairs & true_pairs) / max(len(true_pairs), 1), 5),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_average": os.getloadavg()[0],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
