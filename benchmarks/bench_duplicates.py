"""Benchmark: duplicate registrations found by `tiemchung.health.duplicates` against the generator's truth.

Generates a synthetic country (its truth marks each later registration of a person with `is_duplicate_of`, the
first registration's subject), bulk-loads it into a fresh SQLite registry and writes the register's answers as the
truth gives them (tests/support/scale_world.py) — both in a child process, so that the peak memory measured here is
the detection's. Then finds the pairs: the exact rules (SQL), then the probabilistic model (Splink `dedupe_only`),
scored down to `--curve-floor` so that one run gives the whole precision–recall curve.

Pairwise truth: every two subjects of one person (a person registered three times makes three pairs). Reported:
time and peak memory of each part, precision and recall per kind of evidence and for all pairs at each threshold of
the curve, and for the groups at the shipped threshold (every two subjects of one group count as a pair).

Usage:
    .venv/bin/python benchmarks/bench_duplicates.py --people 1000000 --work /tmp/dupes
    .venv/bin/python benchmarks/bench_duplicates.py --people 200000 --seed 7 --work /tmp/dupes \\
        --train-model src/tiemchung/health/duplicates/model.json      # retrain the shipped model
Prints one JSON line.
"""

import argparse
import json
import multiprocessing
import os
import resource
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

import pyarrow.parquet as pq

CURVE = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)


def prepare(synth: Path, database: Path, people: int, seed: int) -> None:
    """The country and its registry (run in a child process: its memory is not the detection's)."""
    from tests.support.scale_world import answer_as_the_truth_says

    from tiemchung.health.registry.bulk import load_parquet
    from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
    from tiemchung.synth import generate

    ready = database.with_suffix(".ready")
    if ready.exists():
        return  # prepared by an earlier run (a training run, a benchmark run)
    if not (synth / "records.parquet").exists():
        generate(synth, people=people, seed=seed, progress=False, xlsx_max_rows=0)
    database.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    create_schema(engine)
    load_parquet(engine, synth / "records.parquet", actor="bench")
    answer_as_the_truth_says(make_session_factory(engine), synth / "truth_subjects.parquet")
    ready.touch()


def true_pairs(truth: Path, key_to_id: dict[str, int]) -> set[tuple[int, int]]:
    """Every two subjects of one person (the first registration and each later one point to the first)."""
    table = pq.read_table(truth, columns=["subject_id", "is_duplicate_of"]).to_pylist()
    members: dict[str, list[int]] = defaultdict(list)
    for row in table:
        if row["is_duplicate_of"]:
            members[row["is_duplicate_of"]].append(key_to_id[row["subject_id"]])
    pairs = set()
    for first, later in members.items():
        ids = sorted([key_to_id[first], *later])
        pairs.update(combinations(ids, 2))
    return pairs


def rates(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict[str, float | int]:
    right = len(found & truth)
    return {
        "pairs": len(found),
        "precision": round(right / max(len(found), 1), 5),
        "recall": round(right / max(len(truth), 1), 5),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--curve-floor", type=float, default=CURVE[0])
    parser.add_argument("--train-model", type=Path, help="train the model on this country, write it here, stop")
    args = parser.parse_args()
    synth = args.work / f"synth-{args.people}-{args.seed}"
    database = args.work / f"registry-{args.people}-{args.seed}.sqlite"
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=prepare, args=(synth, database, args.people, args.seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"preparing the registry failed ({child.exitcode})")
    prepare_seconds = time.perf_counter() - started

    from sqlalchemy import select

    from tiemchung.health.duplicates.detect import find_exact_pairs, group_pairs, strongest_pairs
    from tiemchung.health.duplicates.probabilistic import MATCH_THRESHOLD, score_pairs, subjects_table, train_model
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.registry.models import Subject

    factory = make_session_factory(make_engine(f"sqlite:///{database}"))
    if args.train_model:
        with factory() as session:
            subjects = subjects_table(session)
        train_model(subjects, args.train_model, work_dir=args.work / "duckdb-tmp")
        print(json.dumps({"trained": str(args.train_model), "subjects": subjects.num_rows}))
        return

    timings: dict[str, float] = {"prepare": prepare_seconds}
    clock = time.perf_counter()
    with factory() as session:
        exact = strongest_pairs(find_exact_pairs(session))
        timings["exact_rules"] = time.perf_counter() - clock
        clock = time.perf_counter()
        subjects = subjects_table(session)
        timings["read_subjects"] = time.perf_counter() - clock
        key_to_id = {key: subject_id for subject_id, key in session.execute(select(Subject.id, Subject.subject_key))}
    clock = time.perf_counter()
    scoring = score_pairs(subjects, threshold=args.curve_floor, work_dir=args.work / "duckdb-tmp")
    scored = {(pair.first, pair.second): pair.match_probability for pair in scoring}
    timings["splink"] = time.perf_counter() - clock
    clock = time.perf_counter()
    from tiemchung.health.duplicates.detect import Evidence, Pair

    shipped = [Pair(a, b, Evidence.SIMILAR_IDENTITY, p) for (a, b), p in scored.items() if p >= MATCH_THRESHOLD]
    pairs = strongest_pairs([*exact, *shipped])
    groups = group_pairs(pairs)
    timings["groups"] = time.perf_counter() - clock
    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    truth = true_pairs(synth / "truth_subjects.parquet", key_to_id)
    exact_set = {(pair.first, pair.second) for pair in exact}
    found: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for pair in pairs:
        found[pair.evidence.value] += 1
        right[pair.evidence.value] += (pair.first, pair.second) in truth
    curve = {
        str(threshold): rates(exact_set | {key for key, p in scored.items() if p >= threshold}, truth)
        for threshold in CURVE
        if threshold >= args.curve_floor
    }
    model_only = {
        str(threshold): rates({key for key, p in scored.items() if p >= threshold}, truth)
        for threshold in CURVE
        if threshold >= args.curve_floor
    }
    grouped = {pair for group in groups for pair in combinations(group.subject_ids, 2)}
    certain = {(pair.first, pair.second) for pair in pairs if pair.evidence.certain}
    print(json.dumps({
        "people": args.people, "seed": args.seed, "subjects": len(key_to_id), "true_pairs": len(truth),
        "seconds": {name: round(value, 1) for name, value in timings.items()},
        "detection_seconds": round(sum(v for k, v in timings.items() if k != "prepare"), 1),
        "groups": len(groups), "certain_groups": sum(group.certain for group in groups),
        "by_evidence": {name: {"pairs": n, "precision": round(right[name] / n, 5)} for name, n in found.items()},
        "threshold": MATCH_THRESHOLD,
        "all_pairs": rates({(pair.first, pair.second) for pair in pairs}, truth),
        "exact_rules_only": rates(exact_set, truth),
        "certain_only": rates(certain, truth),
        "group_pairs": rates(grouped, truth),
        "curve_rules_and_model": curve,
        "curve_model_only": model_only,
        "peak_rss_mb": peak_mb,
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
