"""The exact (ID) path at scale against its floor, a bare DuckDB hash join on the ID.

Generates a prepared register of N people and M prepared subjects directly in DuckDB (no Python per
row), then times the engine's EXACT_SQL and the bare join, both materialising their result.

    .venv/bin/python benchmarks/bench_verification_exact.py --register 10000000 --subjects 8000000
    # the issue's size, for a machine with time to spare:
    .venv/bin/python benchmarks/bench_verification_exact.py --register 100000000 --subjects 80000000 --workdir /big
"""

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from tiemchung.register.linkage.sql import EXACT_SQL

REGISTER_SQL = """
CREATE TABLE register AS
SELECT
    printf('%03d%09d', 1 + i % 96, i) AS person_id,
    CASE WHEN i % 3 = 0 THEN printf('%09d', i % 900000000) END AS old_id,
    'nguyen van ' || (i % 5000) AS name_canon,
    printf('%04d-%02d-%02d', 1930 + i % 90, 1 + i % 12, 1 + i % 28) AS birth_date,
    CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex
FROM range({n}) t(i)
"""

# Subjects: 90% carry an ID of the register (a few disagreeing), 5% unknown IDs, 5% CMNDs.
SUBJECTS_SQL = """
CREATE TABLE subjects AS
WITH picked AS (SELECT (i * 7919) % {n} AS i, i AS k FROM range({m}) t(i))
SELECT
    'S' || k AS subject_id,
    CASE WHEN k % 20 = 19 THEN 'CMND' ELSE 'CCCD' END AS id_kind,
    CASE
        WHEN k % 20 = 19 THEN printf('%09d', (i - i % 3) % 900000000)
        WHEN k % 20 = 18 THEN printf('%012d', 999999999999 - k)
        ELSE printf('%03d%09d', 1 + i % 96, i)
    END AS id_value,
    false AS is_foreign,
    'nguyen van ' || (i % 5000) AS name_canon,
    CASE WHEN k % 50 = 0 THEN '1900-01-01' ELSE printf('%04d-%02d-%02d', 1930 + i % 90, 1 + i % 12, 1 + i % 28) END
        AS birth_date,
    CASE WHEN i % 2 = 0 THEN 'M' ELSE 'F' END AS sex
FROM picked
"""

FLOOR_SQL = """
SELECT s.subject_id, r.person_id, r.name_canon = s.name_canon AS same_name
FROM subjects s LEFT JOIN register r ON r.person_id = s.id_value
"""


def timed(connection: duckdb.DuckDBPyConnection, label: str, sql: str) -> float:
    started = time.perf_counter()
    connection.execute(f"CREATE OR REPLACE TABLE {label} AS {sql}")
    seconds = time.perf_counter() - started
    rows = connection.execute(f"SELECT count(*) FROM {label}").fetchone()
    print(f"{label}: {seconds:.2f} s, {rows[0] if rows else 0:,} rows")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--register", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=800_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=2, help="each query is timed this many times; the best counts")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_exact_"))
    workdir.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(workdir / "bench.duckdb"))
    connection.execute(f"SET threads = {args.threads}")
    connection.execute(f"SET temp_directory = '{workdir / 'tmp'}'")
    started = time.perf_counter()
    connection.execute("DROP TABLE IF EXISTS register; DROP TABLE IF EXISTS subjects")
    connection.execute(REGISTER_SQL.format(n=args.register))
    connection.execute(SUBJECTS_SQL.format(n=args.register, m=args.subjects))
    print(f"generated {args.register:,} / {args.subjects:,} in {time.perf_counter() - started:.1f} s")
    floor = min(timed(connection, "floor", FLOOR_SQL) for _ in range(args.runs))
    engine = min(timed(connection, "engine", EXACT_SQL) for _ in range(args.runs))
    categories = connection.execute("SELECT category, count(*) FROM engine GROUP BY 1 ORDER BY 1").fetchall()
    print(f"categories: {categories}")
    print(
        f"RESULT register={args.register} subjects={args.subjects} floor={floor:.2f}s engine={engine:.2f}s "
        f"ratio={engine / floor:.2f}"
    )
    connection.close()


if __name__ == "__main__":
    main()
