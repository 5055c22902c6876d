"""Report pages at a district's real scale: every report URL (dashboard, four reports × page, xlsx, csv, JSON) timed
as the district-, province- and ministry-scoped accounts of the scale world (tests/support/scale_world.py: a
generated district of ~110,000 people, ≈ 88,000 subjects, 250,000 doses, on SQLite).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_report_pages.py --runs 20 [--people 110000] [--workdir DIR]

Requests go through the application in-process (Starlette's TestClient: no network, one request at a time), so the
numbers are the server's work: building the report from the registry and rendering it. p50 and p95 per URL.
"""

import argparse
import re
import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient
from tests.support.scale_world import ScaleWorld, build_scale_world

from tiemchung.web.app import create_app

REPORTS = ("verification", "appendix1", "units", "quality")
URLS = [
    "/reports",
    *(f"/reports/{name}{suffix}" for name in REPORTS for suffix in ("", ".xlsx", ".csv")),
    *(f"/api/v1/reports/{name}" for name in REPORTS),
]


def logged_in(client: TestClient, username: str, password: str) -> TestClient:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    return client


def time_urls(world: ScaleWorld, workdir: Path, runs: int) -> list[tuple[str, str, float, float, int]]:
    app = create_app(world.settings(workdir / "keys"), session_factory=world.session_factory)
    results = []
    for label in ("district", "province", "ministry"):
        client = logged_in(TestClient(app, follow_redirects=False), world.usernames[label], world.password)
        for url in URLS:
            first = client.get(url)
            assert first.status_code == 200, (label, url, first.status_code, first.text[:200])
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get(url)
                timings.append(1000 * (time.perf_counter() - start))
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            results.append((label, url, statistics.median(timings), p95, len(first.content)))
            print(f"{label:9} {url:34} p50 {results[-1][2]:7.1f} ms  p95 {p95:7.1f} ms  {len(first.content):>9} B")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--people", type=int, default=110_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-report-pages"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    world = build_scale_world(arguments.workdir / "world", people=arguments.people)
    print(f"scale world: {world.district_subjects} subjects in district {world.district_code}, "
          f"built in {time.perf_counter() - started:.0f} s")  # fmt: skip
    results = time_urls(world, arguments.workdir, arguments.runs)
    slow = [(label, url, p95) for label, url, _p50, p95, _size in results if p95 >= 500]
    print("every URL p95 < 500 ms" if not slow else f"p95 ≥ 500 ms: {slow}")


if __name__ == "__main__":
    main()
