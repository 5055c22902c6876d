"""The national-scale run (issue 9): generation, batch verification, the bare DuckDB floor, appendix 1.

Each stage runs as its own process, so that its wall time and peak memory (os.wait4's ru_maxrss) are its own.
Usage:
    .venv/bin/python benchmarks/national.py --people 100000000 --out /data/national   # the whole country
    .venv/bin/python benchmarks/national.py --people 1000000 --out var/bench-1m       # a quick check
Results: printed as a Markdown table and written to <out>/national-results.json; copy them into
docs/benchmarks.md with the machine and the data size.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TIEMCHUNG = [sys.executable, "-m", "tiemchung"]

# The floor the exact path is compared with: one hash join of subjects' IDs against the register, nothing else.
BARE_JOIN = """
import duckdb, sys
out = sys.argv[1]
con = duckdb.connect()
con.execute(f'''
    copy (
        select r.subject_id, p.person_id
        from (select distinct subject_id, id_number from read_parquet('{out}/records.parquet')) r
        left join read_parquet('{out}/register.parquet') p on p.person_id = r.id_number
    ) to '{out}/bare-join.parquet' (format parquet)
''')
"""


# Accuracy of the verification against the generator's truth, computed in DuckDB (the truth of a national run is
# too big for Python objects). The same measures as bench_verification.py's.
ACCURACY_SQL = """
WITH joined AS (
    SELECT t.*, r.category, r.reasons, nullif(r.matched_person_id, '') AS matched
    FROM read_parquet('{out}/truth_subjects.parquet') t JOIN read_parquet('{out}/results.parquet') r USING (subject_id)
)
SELECT
    avg(CAST(category = expected_category AND reasons = coalesce(expected_reasons, '') AS INTEGER))
        FILTER (WHERE expected_category IN ('VERIFIED', 'MISMATCH')) AS id_bearing_category_accuracy,
    avg(CAST(matched = person_id AS INTEGER)) FILTER (WHERE expected_category LIKE 'NO_ID%' AND matched IS NOT NULL)
        AS no_id_precision,
    avg(CAST(coalesce(matched = expected_matched_person_id, false) AS INTEGER))
        FILTER (WHERE expected_category = 'NO_ID_VERIFIED') AS no_id_recall,
    avg(CAST(matched = person_id AS INTEGER)) FILTER (WHERE expected_category = 'MISMATCH' AND matched IS NOT NULL)
        AS correction_precision,
    count(*) FILTER (WHERE expected_category = 'MISMATCH' AND matched IS NOT NULL) AS corrections_proposed,
    count(*) AS subjects
FROM joined
"""


def accuracy(out: Path) -> dict[str, float]:
    import duckdb

    relation = duckdb.sql(ACCURACY_SQL.format(out=out))
    [row] = relation.fetchall()
    return {
        column: round(value, 5) if isinstance(value, float) else value
        for column, value in zip(relation.columns, row, strict=True)
    }


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    exit_code: int


def run_stage(name: str, command: list[str]) -> Stage:
    print(f"== {name}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stage = Stage(name, round(seconds, 1), round(usage.ru_maxrss / 1024, 1), os.waitstatus_to_exitcode(status))
    print(f"   {stage.seconds} s, peak {stage.peak_rss_mb} MB, exit {stage.exit_code}", flush=True)
    return stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data already in --out")
    parser.add_argument("--memory-limit", default="12GB", help="DuckDB's cap in the verification stage")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    stages = []
    if not args.skip_generate:
        stages.append(
            run_stage(
                "generate",
                [
                    *TIEMCHUNG,
                    "synth",
                    "--people",
                    str(args.people),
                    "--seed",
                    str(args.seed),
                    "--out",
                    str(out),
                    "--xlsx-max-rows",
                    "0",
                    "--quiet",
                ],
            )
        )
    stages.append(run_stage("bare DuckDB join (floor)", [sys.executable, "-c", BARE_JOIN, str(out)]))
    stages.append(
        run_stage(
            "verification (exact + probabilistic)",
            [
                *TIEMCHUNG,
                "verify",
                "--register",
                str(out / "register.parquet"),
                "--records",
                str(out / "records.parquet"),
                "--out",
                str(out / "results.parquet"),
                "--workdir",
                str(out / "work"),
                "--memory-limit",
                args.memory_limit,
            ],
        )
    )
    stages.append(
        run_stage(
            "appendix 1",
            [
                *TIEMCHUNG,
                "report",
                "appendix1",
                "--synth",
                str(out),
                "--format",
                "csv",
                "--out",
                str(out / "appendix1.csv"),
            ],
        )
    )
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "people": args.people,
        "counts": manifest.get("counts", {}),
        "stages": [asdict(stage) for stage in stages],
        "accuracy": accuracy(out) if (out / "results.parquet").exists() else None,
    }
    (out / "national-results.json").write_text(json.dumps(result, indent=2))
    print("\n| stage | seconds | peak memory (MB) |\n|---|---:|---:|")
    for stage in stages:
        print(f"| {stage.name} | {stage.seconds} | {stage.peak_rss_mb} |")
    print(json.dumps(result["accuracy"], indent=2))
    if any(stage.exit_code for stage in stages):
        sys.exit(1)


if __name__ == "__main__":
    main()
