"""The precision–recall curve behind the match threshold and the 1:1 rule of the probabilistic path.

    .venv/bin/python benchmarks/linkage_curve.py --data D --workdir W

`D` holds a synthetic country or batch (`register.parquet`, `records.parquet`, `truth_subjects.parquet`, as
`bench_verification.py` writes them); `W` is the engine's workdir (its prepared register and trained model are
reused, or made). The batch is verified once as the engine does (which leaves its subjects loaded), then the same
subjects are scored again (down to weight -15) and every threshold × margin × rule is scored against the truth:

* `best`: a subject's best candidate above the threshold, when it beats the runner-up by more than the margin
  (bits of match weight; 0: ties unmatched) (`sql.best_of_subject_sql`, the engine's rule);
* `1:1`: the unique best of its subject *and* of its register person (`sql.one_to_one_sql`, the rule before).

For no-ID subjects: precision of the persons found, recall of the persons the truth expects (`NO_ID_VERIFIED`)
and of every no-ID subject whose person is in the register. For `MISMATCH`: precision of the corrections and
their coverage (right corrections / mismatched subjects whose person is in the register). Writes
`W/linkage_curve.csv` and prints a Markdown table.
"""

import argparse
import csv
import time
from pathlib import Path

from tiemchung.register.linkage import sql
from tiemchung.register.linkage.engine import RegisterIndex
from tiemchung.register.linkage.model import make_linker

THRESHOLDS = (0.2, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)
MARGINS = (0.0, 3.0, 5.0, 8.0)
# (rule name, SQL of the decision at a threshold and margin)
RULES = {"best": sql.best_of_subject_sql, "1:1": sql.one_to_one_sql}
LOWEST_WEIGHT = -15.0  # pairs scored down to here: every runner-up within the largest margin of any threshold

SCORE_SQL = """
WITH answered AS (
    SELECT e.subject_id, e.category, t.person_id AS true_person, t.expected_category, m.person_id AS found
    FROM exact e JOIN read_parquet($truth) t USING (subject_id) LEFT JOIN chosen m USING (subject_id)
    WHERE e.category IN ('NO_ID_UNVERIFIABLE', 'MISMATCH')
)
SELECT
    count(found) FILTER (WHERE category = 'NO_ID_UNVERIFIABLE') AS no_id_found,
    count(*) FILTER (WHERE category = 'NO_ID_UNVERIFIABLE' AND found = true_person) AS no_id_right,
    count(*) FILTER (WHERE category = 'NO_ID_UNVERIFIABLE' AND expected_category = 'NO_ID_VERIFIED') AS expected,
    count(*) FILTER (WHERE category = 'NO_ID_UNVERIFIABLE' AND expected_category = 'NO_ID_VERIFIED'
                     AND found = true_person) AS expected_right,
    count(*) FILTER (WHERE category = 'NO_ID_UNVERIFIABLE' AND true_person <> '') AS in_register,
    count(found) FILTER (WHERE category = 'MISMATCH') AS corrections,
    count(*) FILTER (WHERE category = 'MISMATCH' AND found = true_person) AS corrections_right,
    count(*) FILTER (WHERE category = 'MISMATCH' AND true_person <> '') AS mismatched_in_register
FROM answered
"""


def _ratio(part: int, whole: int) -> float:
    return round(100 * part / whole, 3) if whole else float("nan")


def curve(index: RegisterIndex, truth: Path) -> list[dict[str, object]]:
    """Score the loaded batch's subjects again and evaluate every threshold, margin and rule."""
    from splink import DuckDBAPI

    connection = index._connection
    linker = make_linker(DuckDBAPI(connection=connection), "model_subjects", "model_register", index._current_model())
    predictions = linker.inference.predict(threshold_match_weight=LOWEST_WEIGHT)
    connection.execute(
        f"""CREATE OR REPLACE TEMP TABLE pairs AS
        SELECT unique_id_l AS subject_id, unique_id_r AS person_id, match_weight, match_probability
        FROM {predictions.physical_name}"""
    )
    rows = []
    decisions = [(rule, margin) for margin in MARGINS for rule in RULES if rule == "best" or margin == 0]
    for threshold in THRESHOLDS:
        for rule, margin in decisions:
            connection.execute(f"CREATE OR REPLACE TEMP TABLE chosen AS {RULES[rule](threshold, margin)}")
            relation = connection.execute(SCORE_SQL, {"truth": str(truth)})
            counts = dict(zip([d[0] for d in relation.description], relation.fetchone() or (), strict=True))
            rows.append(
                {
                    "threshold": threshold,
                    "rule": rule,
                    "margin": margin,
                    "no_id_found": counts["no_id_found"],
                    "no_id_precision": _ratio(counts["no_id_right"], counts["no_id_found"]),
                    "no_id_recall_expected": _ratio(counts["expected_right"], counts["expected"]),
                    "no_id_recall_in_register": _ratio(counts["no_id_right"], counts["in_register"]),
                    "corrections": counts["corrections"],
                    "correction_precision": _ratio(counts["corrections_right"], counts["corrections"]),
                    "correction_coverage": _ratio(counts["corrections_right"], counts["mismatched_in_register"]),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    index = RegisterIndex.open(args.data / "register.parquet", workdir=args.workdir, threads=args.threads)
    index.verify_batch(args.data / "records.parquet", args.workdir / "curve-results.parquet")
    rows = curve(index, args.data / "truth_subjects.parquet")
    index.close()
    with (args.workdir / "linkage_curve.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{time.perf_counter() - started:.0f} s")
    print("| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(value) for value in row.values()) + " |")


if __name__ == "__main__":
    main()
