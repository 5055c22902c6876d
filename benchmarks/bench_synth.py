"""Generation speed and peak memory of `tiemchung synth` for a given number of people.

Runs `generate` in a child process per size (so each peak RSS is its own) and prints one JSON line per size:
people, seconds, peak resident memory, output counts and sizes.

    .venv/bin/python benchmarks/bench_synth.py --people 1000000 --people 100000 --out /tmp/synth-bench
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def run_one(people: int, out_dir: Path, seed: int) -> dict[str, object]:
    """Generate in this process and measure (called in the child)."""
    from tiemchung.synth.country import generate

    if out_dir.exists():
        shutil.rmtree(out_dir)
    started = time.perf_counter()
    manifest = generate(out_dir, people=people, seed=seed, progress=False, xlsx_max_rows=0)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sizes = {path.name: path.stat().st_size for path in out_dir.iterdir()}
    return {
        "people": people,
        "seconds": round(seconds, 1),
        "people_per_second": round(people / seconds),
        "peak_rss_mib": round(peak_kib / 1024),
        "counts": manifest.counts,
        "rates": manifest.rates,
        "output_mib": round(sum(sizes.values()) / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, action="append", required=True)
    parser.add_argument("--out", type=Path, default=Path("/tmp/synth-bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_one(arguments.people[0], arguments.out, arguments.seed)))
        return
    for people in arguments.people:
        command = [
            sys.executable,
            __file__,
            "--child",
            "--people",
            str(people),
            "--out",
            str(arguments.out / str(people)),
        ]
        result = subprocess.run(command, check=True, capture_output=True, text=True)
        print(result.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
