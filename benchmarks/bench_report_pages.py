"""Report pages at a district's real scale: every report URL (dashboard, four reports × page, xlsx, csv, JSON) timed
as the district-, province- and ministry-scoped accounts of the scale world (tests/support/scale_world.py: a
generated district of ~110,000 people, ≈ 88,000 subjects, 250,000 doses, on SQLite; with `--postgres URL` the
same registry copied into that PostgreSQL database through `db backup` / `db restore`).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_report_pages.py --runs 20 [--people 110000] [--workdir DIR]
        [--reuse] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/NAME]

Requests go through the application in-process (Starlette's TestClient: no network, one request at a time), so the
numbers are the server's work. Per URL: the first request (cold: the report is built from the registry) and p50/p95
of the next `--runs` (warm: built reports are cached per area and filters until the data changes, at most 5 minutes).
`--reuse` times the registry a previous run left in `--workdir` instead of generating it again (after giving it
what later revisions add: `create_schema`, the models' indexes it lacks, and a recount of the summaries, as
`alembic upgrade` would; an index a later revision dropped stays). The PostgreSQL database must exist and be empty
(`createdb -h 127.0.0.1 -U postgres NAME`).
"""

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.support.scale_world import PASSWORD, ScaleWorld, build_scale_world

from tiemchung.health.reconciliation import summary
from tiemchung.health.registry.backup import backup, restore
from tiemchung.health.registry.db import create_schema, import_all_models, make_engine, make_session_factory
from tiemchung.health.registry.models import Subject, User
from tiemchung.health.web.app import create_app

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


def time_urls(world: ScaleWorld, workdir: Path, runs: int) -> list[tuple[str, str, float, float, float]]:
    app = create_app(world.settings(workdir / "keys"), session_factory=world.session_factory)
    results = []
    for label in ("district", "province", "ministry"):
        client = logged_in(TestClient(app, follow_redirects=False), world.usernames[label], world.password)
        for url in URLS:
            start = time.perf_counter()
            first = client.get(url)
            cold = 1000 * (time.perf_counter() - start)
            assert first.status_code == 200, (label, url, first.status_code, first.text[:200])
            timings = []
            for _ in range(runs):
                start = time.perf_counter()
                client.get(url)
                timings.append(1000 * (time.perf_counter() - start))
            timings.sort()
            p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
            results.append((label, url, cold, statistics.median(timings), p95))
            print(f"{label:9} {url:34} cold {cold:7.0f} ms  warm p50 {results[-1][3]:6.1f} ms  p95 {p95:6.1f} ms")
    return results


def reused_world(directory: Path) -> ScaleWorld:
    """The scale world a previous run left in `directory` (its registry and accounts), with the tables and
    triggers of later revisions and its summaries recounted."""
    url = f"sqlite:///{directory / 'registry.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    for table in import_all_models().sorted_tables:  # create_all adds no index to a table that exists
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    summary.rebuild(engine)
    factory = make_session_factory(engine)
    return _world_of(url, factory)


def copied_to_postgres(world: ScaleWorld, postgres_url: str, folder: Path) -> ScaleWorld:
    """The same registry in PostgreSQL: a backup of the SQLite one restored into an empty database (the triggers
    count the summaries as the rows arrive), then ANALYZE so that the planner knows the tables' sizes."""
    started = time.perf_counter()
    backup(make_engine(world.database_url), folder)
    engine = make_engine(postgres_url)
    create_schema(engine)
    restore(engine, folder)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    print(f"copied to PostgreSQL in {time.perf_counter() - started:.0f} s")
    return _world_of(postgres_url, make_session_factory(engine))


def _world_of(url: str, factory: Any) -> ScaleWorld:
    with factory() as session:
        district = session.scalar(select(User.area_code).where(User.username == "qm-district")) or ""
        province = session.scalar(select(User.area_code).where(User.username == "qm-province")) or ""
        subjects = session.scalar(select(func.count()).where(Subject.district_code == district)) or 0
    labels = ("district", "province", "ministry")
    return ScaleWorld(url, factory, province, district, "", 0, 0, subjects, "",
                      usernames={label: f"qm-{label}" for label in labels}, password=PASSWORD)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--people", type=int, default=110_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench-report-pages"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--postgres", help="an empty PostgreSQL database's URL: time the same registry there")
    arguments = parser.parse_args()
    started = time.perf_counter()
    directory = arguments.workdir / "world"
    world = reused_world(directory) if arguments.reuse else build_scale_world(directory, people=arguments.people)
    if arguments.postgres:
        world = copied_to_postgres(world, arguments.postgres, arguments.workdir / "backup")
    print(f"scale world: {world.district_subjects} subjects in district {world.district_code}, "
          f"built in {time.perf_counter() - started:.0f} s")  # fmt: skip
    results = time_urls(world, arguments.workdir, arguments.runs)
    slow = [(label, url, round(cold)) for label, url, cold, _p50, _p95 in results if cold >= 500]
    print(f"warm p95 ≤ {max(p95 for *_, p95 in results):.0f} ms; cold ≥ 500 ms: {slow}")


if __name__ == "__main__":
    main()
