"""Latency of `RegisterIndex.verify_one` (in-process, no HTTP): ID subjects and no-ID subjects.

    .venv/bin/python benchmarks/bench_verification_online.py --register data/register.parquet --workdir /tmp/w

Queries are built from register rows (typed as a facility would: dd/mm/yyyy, Nam/Nữ), half with
their ID and half without; reports p50/p95/mean per kind.
"""

import argparse
import statistics
import time
from pathlib import Path

from tiemchung.interchange.results import SubjectQuery
from tiemchung.register.linkage.engine import RegisterIndex


def queries(index: RegisterIndex, count: int) -> tuple[list[SubjectQuery], list[SubjectQuery]]:
    rows = index._connection.execute(  # a benchmark may look inside: it samples the prepared register
        f"""SELECT person_id, full_name, birth_date, sex, province_code, district_code, ward_code
        FROM register USING SAMPLE {count} ROWS (reservoir, 1)"""
    ).fetchall()
    with_id, without_id = [], []
    for number, (person, name, birth, sex, province, district, ward) in enumerate(rows):
        typed_birth = "/".join(reversed(birth.split("-")))
        typed_sex = "Nam" if sex == "M" else "Nữ"
        place = {"province_code": province, "district_code": district, "ward_code": ward}
        with_id.append(SubjectQuery(f"I{number}", name, typed_birth, typed_sex, id_number=person, **place))
        without_id.append(SubjectQuery(f"N{number}", name, typed_birth, typed_sex, **place))
    return with_id, without_id


def measure(index: RegisterIndex, batch: list[SubjectQuery]) -> dict[str, float]:
    index.verify_one(batch[0])  # warm-up: model loading and first planning
    timings = []
    for query in batch:
        started = time.perf_counter()
        index.verify_one(query)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "p50_ms": round(timings[len(timings) // 2], 2),
        "p95_ms": round(timings[int(len(timings) * 0.95)], 2),
        "mean_ms": round(statistics.fmean(timings), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--register", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    index = RegisterIndex.open(args.register, workdir=args.workdir, threads=args.threads)
    with_id, without_id = queries(index, args.queries)
    # A trivial query on the same connection: how much the shared machine's load inflates everything.
    reference = index._connection
    started = time.perf_counter()
    for _ in range(100):
        reference.execute("SELECT 1").fetchall()
    trivial_ms = round((time.perf_counter() - started) * 10, 3)
    print({"with_id": measure(index, with_id), "without_id": measure(index, without_id), "select_1_ms": trivial_ms})
    index.close()


if __name__ == "__main__":
    main()
