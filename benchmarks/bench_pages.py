"""Benchmark: the people pages (search, a person's page, the dose form) over a registry of a million subjects.

A synthetic province (`tiemchung.synth`, `scale="province"`: everyone in one province, so the facility's area holds
the whole registry, the worst case for its search) bulk-loaded into SQLite with `registry.bulk.load_parquet`; a
district of that province holds ~50,000 people. The web application runs in-process (FastAPI's TestClient: the
whole request — routing, session, SQL, template — without a network) as the province's facility, and each kind of
request is timed `--runs` times with inputs drawn from the registry itself (real ID numbers, real names).

Usage:
    .venv/bin/python benchmarks/bench_pages.py --dir DIR [--people 1250000] [--seed 3] [--runs 200]
DIR keeps the generated data and the registry between runs (delete it to start again). Prints one JSON line per
measurement: p50/p95/max in milliseconds, the sizes, the load average (the machine is shared).
"""

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, Subject, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings
from tiemchung.synth import generate

PASSWORD = "bench-pages-password"


def prepare(directory: Path, people: int, seed: int) -> str:
    """The registry's URL; generated and loaded on first use (timed)."""
    url = f"sqlite:///{directory / 'registry.sqlite'}"
    if (directory / "registry.sqlite").exists():
        return url
    started = time.perf_counter()
    generate(directory / "synth", people=people, seed=seed, progress=False, scale="province", xlsx_max_rows=0)
    report("generate", time.perf_counter() - started, people=people)
    engine = make_engine(url)
    create_schema(engine)
    started = time.perf_counter()
    load = load_parquet(engine, directory / "synth" / "records.parquet", actor="bench-pages")
    report("load_parquet", time.perf_counter() - started, subjects=load.subjects)
    engine.dispose()
    return url


def report(step: str, seconds: float, **sizes: Any) -> None:
    print(json.dumps({"step": step, "seconds": round(seconds, 1), **sizes, "load": os.getloadavg()[0]}), flush=True)


def facility_user(factory: Any) -> tuple[str, str]:
    """A facility account of the province (its area: the whole registry) and the biggest district's code."""
    with factory() as session:
        province = session.scalar(select(Subject.province_code).limit(1))
        district = session.execute(
            select(Subject.district_code, func.count()).group_by(Subject.district_code).order_by(func.count().desc())
        ).first()
        assert province and district
        if session.scalar(select(User).where(User.username == "bench-facility")) is None:
            session.merge(Facility(code="BENCH", name="Cơ sở đo", province_code=province))
            session.add(User(username="bench-facility", full_name="Đo", password_hash=hash_password(PASSWORD),
                             role=Role.FACILITY.value, area_code=province, facility_code="BENCH"))  # fmt: skip
            session.commit()
        print(json.dumps({"district": district[0], "district_subjects": district[1]}), flush=True)
        return province, str(district[0])


def logged_in(app: Any) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"username": "bench-facility", "password": PASSWORD,
                                         "csrf_token": token.group(1)})  # fmt: skip
    assert answer.status_code == 303, answer.text
    client.headers["X-CSRF-Token"] = token.group(1)
    return client


def samples(factory: Any, count: int, seed: int) -> dict[str, list[Any]]:
    """Inputs drawn from the registry: ID numbers, names as people type them (no diacritics, family + given
    name), subject ids."""
    rng = random.Random(seed)
    with factory() as session:
        top = session.scalar(select(func.max(Subject.id))) or 1
        ids = [rng.randint(1, top) for _ in range(count * 3)]
        rows = session.execute(
            select(Subject.id, Subject.id_number, Subject.name_folded, Subject.birth_year).where(Subject.id.in_(ids))
        ).all()
    rng.shuffle(rows)
    words = [row.name_folded.split() for row in rows if row.name_folded]
    return {
        "id_numbers": [row.id_number for row in rows if row.id_number][:count],
        "family_given": [f"{name[0]} {name[-1]}" for name in words if len(name) >= 2][:count],
        "name_year": [(row.name_folded, row.birth_year) for row in rows if row.birth_year][:count],
        "subject_ids": [row.id for row in rows][:count],
    }


def timed(label: str, runs: list[Callable[[], Any]], **sizes: Any) -> None:
    durations = []
    for run in runs:
        started = time.perf_counter()
        answer = run()
        durations.append((time.perf_counter() - started) * 1000)
        assert answer.status_code in (200, 303), (label, answer.status_code, answer.text[:300])
    durations.sort()
    print(json.dumps({
        "page": label, "runs": len(durations), "p50_ms": round(statistics.median(durations), 1),
        "p95_ms": round(durations[int(len(durations) * 0.95) - 1], 1), "max_ms": round(durations[-1], 1),
        **sizes, "load": os.getloadavg()[0],
    }), flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--people", type=int, default=1_250_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200)
    options = parser.parse_args()
    url = prepare(options.dir, options.people, options.seed)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _province, district = facility_user(factory)
    with factory() as session:
        subjects = session.scalar(select(func.count()).select_from(Subject))
    app = create_app(Settings(secret_key="bench-pages", keys_dir=options.dir / "keys"), session_factory=factory)
    client = logged_in(app)
    drawn = samples(factory, options.runs, options.seed)
    size = {"subjects": subjects, "database": "sqlite"}
    htmx = {"HX-Request": "true"}
    timed("search: ID number", [lambda n=n: client.get("/subjects", params={"q": n}, headers=htmx)
                                for n in drawn["id_numbers"]], **size)  # fmt: skip
    timed("search: family + given name, no diacritics", [lambda q=q: client.get("/subjects", params={"q": q},
                                                                                headers=htmx)
                                                         for q in drawn["family_given"]], **size)  # fmt: skip
    timed("search: full name + birth year", [
        lambda q=q, y=y: client.get("/subjects", params={"q": q, "birth_year": y}, headers=htmx)
        for q, y in drawn["name_year"]], **size)  # fmt: skip
    timed("search: 'nguyen', page 1 to 20 (thousands of results)", [
        lambda p=p: client.get("/subjects", params={"q": "nguyen", "page": p % 20 + 1}, headers=htmx)
        for p in range(min(options.runs, 100))], **size)  # fmt: skip
    timed("search: a district's MISMATCH people, pages 1-20", [
        lambda p=p: client.get("/subjects", params={"district_code": district, "state": "MISMATCH",
                                                     "page": p % 20 + 1}, headers=htmx)
        for p in range(min(options.runs, 100))], **size)  # fmt: skip
    timed("person page", [lambda s=s: client.get(f"/subjects/{s}") for s in drawn["subject_ids"]], **size)
    forms = [lambda: client.get("/doses/new") for _ in range(min(options.runs, 100))]
    timed("dose form (GET /doses/new)", forms, **size)
    engine.dispose()


if __name__ == "__main__":
    main()
