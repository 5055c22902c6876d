"""Block sizes of candidate blocking keys on a prepared register: the largest block and the sum of squared sizes.

A key's candidate pairs grow with the sum of its squared block sizes (register × register here: an upper bound of
the pairs a batch of subjects meets), so a key fit for a national register keeps that sum near linear.

    .venv/bin/python benchmarks/blocking_blocks.py var/national-10m/work/register.duckdb
Reads the `register` table that `tiemchung verify --workdir W` prepares in `W/register.duckdb`.
"""

import argparse
from pathlib import Path

import duckdb

from tiemchung.register.linkage.model import BLOCKING_KEYS

# Keys considered and rejected, beside the ones in use (BLOCKING_KEYS).
CONSIDERED = {
    "given name + birth year (before 5 Dec 2026)": "given_fold || '|' || birth_year",
    "full name + birth year": "name_fold || '|' || birth_year",
    "given name + birth year + province": "given_fold || '|' || birth_year || '|' || province_code",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prepared", type=Path, help="a prepared register.duckdb")
    args = parser.parse_args()
    connection = duckdb.connect(str(args.prepared), read_only=True)
    print("| blocking key | largest block | sum of squared block sizes | blocks |\n|---|---:|---:|---:|")
    for name, expression in {**{f"{key} (in use)": sql for key, sql in BLOCKING_KEYS.items()}, **CONSIDERED}.items():
        squares, largest, blocks = connection.execute(
            f"""SELECT sum(n * n)::DOUBLE, max(n), count(*) FROM (
                SELECT count(*) AS n FROM register WHERE ({expression}) IS NOT NULL GROUP BY {expression})"""
        ).fetchall()[0]
        print(f"| {name} | {largest:,} | {squares:.2g} | {blocks:,} |")


if __name__ == "__main__":
    main()
