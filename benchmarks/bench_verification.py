"""Accuracy and speed of the verification engine on synthetic data with ground truth, beside plain Splink.

    .venv/bin/python benchmarks/bench_verification.py --people 100000 --seed 7
    .venv/bin/python benchmarks/bench_verification.py --people 1000000 --workdir /tmp/bv1m --baseline

Generates register/records/truth with `tiemchung.synth.generate`, runs `RegisterIndex` end to end
(register preparation, model training on the batch, exact path, Splink, 1:1), and scores the answers
against the truth per expected category and per error kind. With --baseline it also runs Splink with
its documented defaults (raw columns, NameComparison/DateOfBirth-like comparisons, EM, 0.9 threshold,
no 1:1) on the same no-ID subjects, and prints both F1 scores and times.
"""

import argparse
import json
import logging
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tiemchung.register.linkage.engine import RegisterIndex


def generate(folder: Path, people: int, seed: int) -> float:
    if (folder / "truth_subjects.parquet").exists():
        return 0.0
    from tiemchung.synth import generate as synth_generate

    started = time.perf_counter()
    synth_generate(folder, people=people, seed=seed, progress=False)
    return time.perf_counter() - started


def kinds_of(value: Any) -> list[str]:
    if value is None:
        return ["none"]
    if isinstance(value, str):
        return [part for part in value.split(";") if part] or ["none"]
    return list(value) or ["none"]


class Score:
    """Counts for one slice: category accuracy, and matched-person precision/recall."""

    def __init__(self) -> None:
        self.subjects = 0
        self.category_right = 0
        self.matched = 0
        self.matched_right = 0
        self.findable = 0
        self.found = 0
        self.in_register = 0

    def add(self, truth: dict[str, Any], answer: dict[str, str], in_register: bool) -> None:
        self.subjects += 1
        self.category_right += answer["category"] == truth["expected_category"]
        expected_person = truth.get("expected_matched_person_id") or None
        given = answer["matched_person_id"] or None
        if given:
            self.matched += 1
            self.matched_right += given == truth.get("person_id")
        if expected_person:
            self.findable += 1
            self.found += given == expected_person
        self.in_register += in_register

    def as_dict(self) -> dict[str, float | int]:
        return {
            "subjects": self.subjects,
            "category_accuracy": _ratio(self.category_right, self.subjects),
            "match_precision": _ratio(self.matched_right, self.matched),
            "match_recall": _ratio(self.found, self.findable),
            "match_recall_of_all_in_register": _ratio(self.matched_right, self.in_register),
            "matched": self.matched,
            "findable": self.findable,
            "in_register": self.in_register,
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 5) if whole else float("nan")


def evaluate(truth_path: Path, results_path: Path, register_path: Path) -> dict[str, Any]:
    """Scores per expected category and per error kind.

    match_recall counts the persons the spec's rules expect to be found (expected_matched_person_id);
    match_recall_of_all_in_register counts every subject whose person is in the register at all.
    """
    answers = {row["subject_id"]: row for row in pq.read_table(results_path).to_pylist()}
    register = set(pq.read_table(register_path, columns=["person_id"]).column(0).to_pylist())
    by_category: dict[str, Score] = defaultdict(Score)
    by_kind: dict[str, Score] = defaultdict(Score)
    no_id_by_kind: dict[str, Score] = defaultdict(Score)  # the no-ID subjects alone, per damage kind
    no_id = Score()
    confusion: Counter[tuple[str, str]] = Counter()
    for truth in pq.read_table(truth_path).to_pylist():
        answer = answers[truth["subject_id"]]
        in_register = truth["person_id"] in register
        by_category[truth["expected_category"]].add(truth, answer, in_register)
        without_id = str(truth["expected_category"]).startswith("NO_ID")
        if without_id:
            no_id.add(truth, answer, in_register)
        for kind in kinds_of(truth.get("errors", truth.get("error_kinds"))):
            by_kind[kind].add(truth, answer, in_register)
            if without_id:
                no_id_by_kind[kind].add(truth, answer, in_register)
        if answer["category"] != truth["expected_category"]:
            confusion[(truth["expected_category"], answer["category"])] += 1
    id_bearing = Score()
    for name in ("VERIFIED", "MISMATCH"):
        score = by_category.get(name)
        if score:
            id_bearing.subjects += score.subjects
            id_bearing.category_right += score.category_right
    return {
        "id_bearing_category_accuracy": id_bearing.as_dict()["category_accuracy"],
        "no_id": no_id.as_dict(),
        "by_category": {name: score.as_dict() for name, score in sorted(by_category.items())},
        "no_id_by_error_kind": {name: score.as_dict() for name, score in sorted(no_id_by_kind.items())},
        "by_error_kind": {name: score.as_dict() for name, score in sorted(by_kind.items())},
        "confusion": {f"{expected}->{got}": count for (expected, got), count in confusion.most_common(20)},
    }


def subset(data: Path, folder: Path, subjects: int) -> Path:
    """A batch of `subjects` subjects (all their dose rows) against the whole register, with its truth."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "register.parquet").unlink(missing_ok=True)
    (folder / "register.parquet").symlink_to(data / "register.parquet")
    with duckdb.connect() as connection:
        connection.execute(
            f"""CREATE TABLE picked AS SELECT subject_id FROM read_parquet('{data / "truth_subjects.parquet"}')
            ORDER BY hash(subject_id) LIMIT {subjects}"""
        )
        for name in ("records", "truth_subjects"):
            connection.execute(
                f"""COPY (SELECT * FROM read_parquet('{data / name}.parquet') WHERE subject_id IN (FROM picked))
                TO '{folder / name}.parquet' (FORMAT parquet)"""
            )
    return folder


def run_engine(folder: Path, workdir: Path, threads: int) -> dict[str, float]:
    started = time.perf_counter()
    index = RegisterIndex.open(folder / "register.parquet", workdir=workdir, threads=threads)
    opened = time.perf_counter() - started
    summary = index.verify_batch(folder / "records.parquet", workdir / "results.parquet")
    index.close()
    return {"prepare_register_s": round(opened, 2), "verify_batch_s": round(summary.seconds, 2)}


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("tiemchung").setLevel(logging.INFO)  # the engine's phase timings
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--subjects", type=int, default=None, help="verify only this many subjects (a batch)")
    parser.add_argument("--baseline", action="store_true", help="also run plain Splink with its defaults")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_verification_"))
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "people": args.people,
        "seed": args.seed,
        "generate_s": generate(data, args.people, args.seed),
    }
    if args.subjects:
        data = subset(data, workdir / f"batch_{args.subjects}", args.subjects)
    report["register_rows"] = pq.read_metadata(data / "register.parquet").num_rows
    report["subjects"] = pq.read_metadata(data / "truth_subjects.parquet").num_rows
    report["engine"] = run_engine(data, workdir / "engine", args.threads)
    report["accuracy"] = evaluate(
        data / "truth_subjects.parquet", workdir / "engine" / "results.parquet", data / "register.parquet"
    )
    if args.baseline:
        from bench_verification_baseline import run_baseline

        report["baseline"] = run_baseline(data, workdir / "baseline", args.threads)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    (workdir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
