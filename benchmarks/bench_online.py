"""Online verification over HTTP: latency of one request, and throughput under concurrent clients.

Starts the register service (`python -m tiemchung.register serve`) as a child process on 127.0.0.1 over a
synthetic register (`tiemchung.synth.generate`, cached in the output folder), then:
1. sequential: one keep-alive client sends `--requests` verifications one after another: p50/p90/p99/max latency,
   overall and per path (subjects with an ID: exact look-up; without: probabilistic scoring; foreigners);
2. concurrent: `--concurrency` clients (asyncio, one connection each) for `--seconds`: throughput and latency.
The subjects asked about are sampled from the synthetic records (as typed, with their errors), and each answer is
checked against the generator's truth as a sanity check (the engine's accuracy is measured in bench_verification).

    .venv/bin/python benchmarks/bench_online.py --people 1000000            # what fits on a shared machine
    .venv/bin/python benchmarks/bench_online.py --people 10000000 --seconds 60 --requests 10000   # the target
    .venv/bin/python benchmarks/bench_online.py --people 10000000 --data var/national-10m      # reuse a country

Results: printed, and written to `<out>/online-<people>.json`.
"""

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from tiemchung.interchange.results import SUBJECT_COLUMNS
from tiemchung.register.keys import KeyStore
from tiemchung.register.process import ServiceProcess

QUERY_FIELDS = [name for name in SUBJECT_COLUMNS if name != "subject_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20211)
    parser.add_argument("--requests", type=int, default=3000, help="sequential requests measured")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of the concurrent phase")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads of the service")
    parser.add_argument("--out", type=Path, default=Path("var/bench-online"))
    parser.add_argument(
        "--data", type=Path, default=None, help="a synthetic country already generated (e.g. by national.py)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="the service's workdir (reuse national.py's prepared index)"
    )
    args = parser.parse_args()

    data_dir = args.data or args.out / f"synth-{args.people}"
    synth_seconds = ensure_synthetic_country(data_dir, args.people, args.seed)
    queries = sample_queries(data_dir, args.requests + 500, args.seed)
    workdir = args.workdir or args.out / f"service-{args.people}"
    key = KeyStore(workdir / "keys.json").add("benchmark", rate_per_second=1e9, burst=10**9)

    started = time.perf_counter()
    service = ServiceProcess(data_dir / "register.parquet", workdir, threads=args.threads).start(timeout=3600)
    startup_seconds = time.perf_counter() - started
    try:
        headers = {"Authorization": f"Bearer {key}"}
        sequential = run_sequential(service.base_url, headers, queries, warmup=500)
        concurrent = asyncio.run(run_concurrent(service.base_url, headers, queries, args.concurrency, args.seconds))
    finally:
        service.stop()

    report = {
        "people": args.people,
        "load_average_1_5_15_at_end": [round(value, 2) for value in os.getloadavg()],
        "register_rows": register_rows(data_dir),
        "synthetic_data_seconds": synth_seconds,
        "service_startup_seconds": round(startup_seconds, 1),
        "sequential": sequential,
        "concurrent": concurrent,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"online-{args.people}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def ensure_synthetic_country(data_dir: Path, people: int, seed: int) -> float | None:
    """Generate the synthetic country once per size; None when it was already there."""
    if (data_dir / "manifest.json").exists():
        return None
    from tiemchung.synth.generate import generate

    started = time.perf_counter()
    generate(data_dir, people=people, seed=seed, xlsx_max_rows=0)
    return round(time.perf_counter() - started, 1)


def register_rows(data_dir: Path) -> int:
    [(rows,)] = duckdb.sql(f"select count(*) from read_parquet('{data_dir / 'register.parquet'}')").fetchall()
    return int(rows)


def sample_queries(data_dir: Path, count: int, seed: int) -> list[tuple[dict[str, str], str, str]]:
    """(request body, path label, expected category) for `count` subjects sampled from the records."""
    firsts = ", ".join(
        f"first({name} order by record_id) filter (where {name} is not null) as {name}" for name in QUERY_FIELDS
    )
    rows = duckdb.sql(
        f"""
        with subjects as (
            select subject_id, {firsts} from read_parquet('{data_dir / "records.parquet"}') group by subject_id
        )
        select s.*, t.expected_category
        from subjects s join read_parquet('{data_dir / "truth_subjects.parquet"}') t using (subject_id)
        using sample reservoir({int(count)} rows) repeatable ({int(seed)})
        """
    ).fetchall()
    columns = ["subject_id", *QUERY_FIELDS, "expected_category"]
    queries = []
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        expected = str(record.pop("expected_category"))
        body = {name: str(value) for name, value in record.items() if value not in (None, "")}
        queries.append((body, _path_label(expected), expected))
    return queries


def _path_label(expected_category: str) -> str:
    if expected_category.startswith("NO_ID"):
        return "no_id_probabilistic"
    if expected_category == "FOREIGN_PASSPORT":
        return "foreign"
    return "id_exact"


def run_sequential(
    base_url: str, headers: dict[str, str], queries: list[tuple[dict[str, str], str, str]], *, warmup: int
) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {}
    engine_ms: list[float] = []
    overhead_ms: list[float] = []
    agree = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for body, _, _ in queries[:warmup]:
            client.post("/v1/verify", json=body).raise_for_status()
        for body, label, expected in queries[warmup:]:
            started = time.perf_counter()
            response = client.post("/v1/verify", json=body)
            elapsed_ms = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            latencies.setdefault(label, []).append(elapsed_ms)
            engine_ms.append(_server_timing(response))
            overhead_ms.append(elapsed_ms - engine_ms[-1])
            agree += response.json()["category"] == expected
    everything = [value for values in latencies.values() for value in values]
    return {
        "requests": len(everything),
        "category_agrees_with_truth": round(agree / len(everything), 4),
        "all": _summary(everything),
        "engine_verify_one_server_side": _summary(engine_ms),
        "http_and_service_overhead": _summary(overhead_ms),
        **{label: _summary(values) for label, values in sorted(latencies.items())},
    }


def _server_timing(response: httpx.Response) -> float:
    """The service's own `verify` duration (Server-Timing header), in ms."""
    return float(response.headers["Server-Timing"].split("dur=", 1)[1])


async def run_concurrent(
    base_url: str,
    headers: dict[str, str],
    queries: list[tuple[dict[str, str], str, str]],
    concurrency: int,
    seconds: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def one_client(offset: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
            index = offset
            while time.perf_counter() < deadline:  # bounded by the deadline, one request in flight per client
                body = queries[index % len(queries)][0]
                started = time.perf_counter()
                response = await client.post("/v1/verify", json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                errors += response.status_code != 200
                index += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(one_client(offset) for offset in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "clients": concurrency,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": errors,
        "throughput_per_second": round(len(latencies) / elapsed, 1),
        "latency": _summary(latencies),
    }


def _summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def percentile(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return {
        "count": len(ordered),
        "p50_ms": percentile(0.50),
        "p90_ms": percentile(0.90),
        "p99_ms": percentile(0.99),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


if __name__ == "__main__":
    main()
