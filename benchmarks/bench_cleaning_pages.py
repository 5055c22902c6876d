"""Timings of the cleaning pages at a commune's real size: p50/p95 per page and the SQL statements it costs.

The data: the cleaning world of the tests (`tests/support/cleaning_world.py`: a 2,000-line list in Phúc Xá with
three villages, 300 lines with the police next door) plus `--people` verified people in the same district, so that
the subjects table has a district's size. Each page is asked `--requests` times in turn by one logged-in user through
the ASGI app in-process (the whole FastAPI stack and the templates; no network), after two warm-up requests.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_cleaning_pages.py --people 50000 --requests 60
    PYTHONPATH=. .venv/bin/python benchmarks/bench_cleaning_pages.py --database postgresql+psycopg://postgres@127.0.0.1:5432/tc_x
"""

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from tests.support.cleaning_factories import HOME_WARD
from tests.support.cleaning_world import NEXT_WARD, CleaningWorld, build_cleaning_world, person_name
from tests.support.web_world import World

from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Subject
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings
from tiemchung.identity import canonical_name, fold_name

CHUNK = 5_000


def add_district_people(engine: Engine, people: int) -> None:
    """Verified people in the commune and its neighbour: not on any list, but in every subjects query's way."""
    for start in range(0, people, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, people)):
            name = person_name(index)
            ward = HOME_WARD if index % 2 else NEXT_WARD
            rows.append(
                {
                    "subject_key": f"district-{index}",
                    "full_name_raw": name,
                    "full_name": name,
                    "name_canonical": canonical_name(name),
                    "name_folded": fold_name(name),
                    "birth_date_raw": f"{1940 + index % 70}-01-01",
                    "birth_date": f"{1940 + index % 70}-01-01",
                    "birth_year": 1940 + index % 70,
                    "sex": "M" if index % 2 else "F",
                    "id_number_raw": f"0{index:011d}",
                    "id_number": f"0{index:011d}",
                    "id_kind": "cccd",
                    "id_status": "valid",
                    "province_code": ward[0],
                    "district_code": ward[1],
                    "ward_code": ward[2],
                    "verification_category": "VERIFIED",
                    "verification_reasons": "",
                }
            )
        with engine.begin() as connection:
            connection.execute(insert(Subject), rows)


def timed(engine: Engine, request: Callable[[], object], repeat: int) -> tuple[list[float], int]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    for _ in range(2):
        request()
    event.listen(engine, "before_cursor_execute", count)
    try:
        request()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = request()
        durations.append((time.perf_counter() - started) * 1000)
        assert getattr(answer, "status_code", 200) == 200, getattr(answer, "text", "")[:300]
    return durations, len(statements)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def scenarios(world: World, cleaning: CleaningWorld) -> dict[str, Callable[[], object]]:
    station, team, police = world.client("tram"), world.client("thon"), world.client("congan2")
    worklist = f"/cleaning/worklists/{cleaning.open_worklist_id}"
    police_list = f"/cleaning/worklists/{cleaning.police_worklist_id}"
    line_id = _first_assigned_line(team, worklist)
    htmx = {"HX-Request": "true", "HX-Target": f"line-{line_id}"}
    family = {"outcome": "corrected", "id_number": "001085012345", "note": "Đã xem thẻ CCCD"}
    return {
        "station: list of lists": lambda: station.get("/cleaning"),
        "station: worklist, page 1": lambda: station.get(worklist),
        "station: worklist, last page": lambda: station.get(f"{worklist}?page=40"),
        "station: worklist, filtered by problem and step": lambda: station.get(
            f"{worklist}?problem=WRONG_INFO&state=listed"
        ),
        "station: worklist, name search": lambda: station.get(f"{worklist}?q=nguyen+van"),
        "station: a line's history": lambda: station.get(f"/cleaning/lines/{line_id}"),
        "village team: home": lambda: team.get("/cleaning"),
        "village team: its lines": lambda: team.get(f"{worklist}?state=assigned"),
        "village team: save a line (htmx)": lambda: team.post(
            f"/cleaning/lines/{line_id}/family", data=family, headers=htmx
        ),
        "police: worklist of 300 lines": lambda: police.get(police_list),
    }


def _first_assigned_line(team: TestClient, worklist: str) -> int:
    page = team.get(f"{worklist}?state=assigned").text
    marker = 'id="line-'
    start = page.index(marker) + len(marker)
    return int(page[start : page.index('"', start)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="", help="SQLAlchemy URL of an EMPTY database (default: a new SQLite)")
    parser.add_argument("--people", type=int, default=50_000, help="verified people added to the district")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    arguments = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-cleaning-"))
    url = arguments.database or f"sqlite:///{workdir / 'registry.sqlite'}"
    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    factory = make_session_factory(engine)
    with factory() as session:
        cleaning = build_cleaning_world(session)
    add_district_people(engine, arguments.people)
    print(f"data ready in {time.perf_counter() - started:.0f} s: 2,000 + 300 worklist lines, "
          f"{arguments.people + 2300:,} subjects ({engine.dialect.name})")  # fmt: skip
    world = World(create_app(Settings(secret_key="bench", keys_dir=workdir / "keys"), session_factory=factory))
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} at start")  # fmt: skip
    print("| page | p50 ms | p95 ms | max ms | SQL statements |\n|---|---:|---:|---:|---:|")
    for name, request in scenarios(world, cleaning).items():
        durations, statements = timed(engine, request, arguments.requests)
        print(f"| {name} | {statistics.median(durations):.0f} | {percentile(durations, 0.95):.0f} "
              f"| {max(durations):.0f} | {statements} |")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    engine.dispose()


if __name__ == "__main__":
    main()
