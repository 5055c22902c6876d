"""Appendix 1 over a national-size registry in Parquet (issues 8 and 9), measured rather than extrapolated.

A national synthetic country (100M people) takes hours to generate on 2 cores, so the registry tables of a
smaller one (`registry-parquet/` as `tiemchung report appendix1 --synth` lays it out, e.g. from national.py's
10M run) are copied `--copies` times with new subject and dose ids: the same distribution of provinces, ages,
doses and dates, at national volume (10M people's ~23M doses × 9 ≈ 210M doses). Then the user's own command,
`tiemchung report appendix1 --backup <folder>`, runs over it as a separate process (wall time, peak memory).

    .venv/bin/python benchmarks/national_appendix1.py --laid-out var/national-10m/registry-parquet \
        --copies 9 --out var/national-appendix1
"""

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

from national import TIEMCHUNG, run_stage


def replicate(laid_out: Path, copies: int, out: Path) -> dict[str, int]:
    """Write subjects, doses and facilities `copies` times over, ids shifted so that every copy is new people."""
    out.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    connection.execute(f"SET temp_directory = '{out / 'duckdb.tmp'}'")
    subjects, doses = laid_out / "subjects.parquet", laid_out / "doses.parquet"
    [(subject_span,)] = connection.execute(f"SELECT max(id) FROM read_parquet('{subjects}')").fetchall()
    [(dose_span,)] = connection.execute(f"SELECT max(id) FROM read_parquet('{doses}')").fetchall()
    copy_numbers = f"range({copies}) c(k)"
    connection.execute(
        f"""COPY (SELECT * REPLACE (id + k * {subject_span} AS id, subject_key || '#' || k AS subject_key)
        FROM read_parquet('{subjects}'), {copy_numbers}) TO '{out / "subjects.parquet"}' (FORMAT parquet)"""
    )
    connection.execute(
        f"""COPY (SELECT * REPLACE (id + k * {dose_span} AS id, record_id || '#' || k AS record_id,
                                    subject_id + k * {subject_span} AS subject_id)
        FROM read_parquet('{doses}'), {copy_numbers}) TO '{out / "doses.parquet"}' (FORMAT parquet)"""
    )
    connection.execute(
        f"COPY (SELECT * FROM read_parquet('{laid_out / 'facilities.parquet'}')) "
        f"TO '{out / 'facilities.parquet'}' (FORMAT parquet)"
    )
    counts = {
        name: connection.execute(f"SELECT count(*) FROM read_parquet('{out / name}.parquet')").fetchall()[0][0]
        for name in ("subjects", "doses")
    }
    connection.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--laid-out", type=Path, required=True, help="registry-parquet/ of a synthetic country")
    parser.add_argument("--copies", type=int, default=9)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    started = time.perf_counter()
    counts = replicate(args.laid_out, args.copies, args.out)
    replicate_seconds = round(time.perf_counter() - started, 1)
    print(f"replicated in {replicate_seconds} s: {counts}", flush=True)
    report = [*TIEMCHUNG, "report", "appendix1", "--backup", str(args.out), "--format", "csv"]
    stages = [
        run_stage(f"appendix 1, run {run}", [*report, "--out", str(args.out / "appendix1.csv")]) for run in (1, 2)
    ]
    result = {"counts": counts, "replicate_seconds": replicate_seconds, "stages": [vars(stage) for stage in stages]}
    (args.out / "appendix1-results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if any(stage.exit_code for stage in stages):
        sys.exit(1)


if __name__ == "__main__":
    main()
