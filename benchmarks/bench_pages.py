"""Benchmark: the people pages (search, a person's page, the dose form) over a registry of a million subjects.

A synthetic province (`tiemchung.synth`, `scale="province"`: everyone in one province, so the facility's area holds
the whole registry, the worst case for its search) bulk-loaded into SQLite with `registry.bulk.load_parquet`; a
district of that province holds ~50,000 people. The web application runs in-process (FastAPI's TestClient: the
whole request — routing, session, SQL, template — without a network) as the province's facility, and each kind of
request is timed `--runs` times with inputs drawn from the registry itself (real ID numbers, real names).

The same requests are measured on PostgreSQL with `--database-url postgresql+psycopg://.../DB` (an empty database
of your own: the same generated records are bulk-loaded into it with `load_parquet`, then ANALYZEd as autovacuum
would; it is kept between runs too).

Usage:
    .venv/bin/python benchmarks/bench_pages.py --dir DIR [--database-url URL] [--people 1250000] [--seed 3] [--runs 200]
        [--prepare-only] [--replicate N [--without-dose-copies]]
--replicate N copies the loaded subjects (and their doses) by SQL until the registry is N times as big (once).
DIR keeps the generated data and the SQLite registry between runs (delete it to start again). Prints one JSON line per
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
from sqlalchemy import func, inspect, select, text

from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, Subject, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings
from tiemchung.synth import generate

PASSWORD = "bench-pages-password"


def prepare(directory: Path, people: int, seed: int, database_url: str | None) -> str:
    """The registry's URL; generated and loaded on first use (timed)."""
    records = directory / "synth" / "records.parquet"
    if not records.exists():
        started = time.perf_counter()
        generate(directory / "synth", people=people, seed=seed, progress=False, scale="province", xlsx_max_rows=0)
        report("generate", time.perf_counter() - started, people=people)
    url = database_url or f"sqlite:///{directory / 'registry.sqlite'}"
    engine = make_engine(url)
    if _loaded(engine):
        verify(engine)
        engine.dispose()
        return url
    create_schema(engine)
    started = time.perf_counter()
    load = load_parquet(engine, records, actor="bench-pages")
    report("load_parquet", time.perf_counter() - started, subjects=load.subjects, database=engine.dialect.name)
    if engine.dialect.name == "postgresql":
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        report("analyze", time.perf_counter() - started, database="postgresql")
    verify(engine)
    engine.dispose()
    return url


# The register's answers in the proportions of the full run over 8 million synthetic subjects (docs/benchmarks.md:
# 66 % VERIFIED, 23 % MISMATCH, 9 % NO_ID_VERIFIED, 1.7 % NO_ID_UNVERIFIABLE, 0.35 % FOREIGN_PASSPORT), given by SQL
# from each subject's identity (running the register over a million subjects is another benchmark's business); 3 %
# are left unverified, as the latest entries are. Deterministic: the same subjects get the same state on both engines.
VERIFY = """
UPDATE subjects SET verification_category = CASE
    WHEN id % 100 < 3 THEN NULL
    WHEN nationality <> 'VN' OR id_kind = 'passport' THEN 'FOREIGN_PASSPORT'
    WHEN id_number IS NULL THEN CASE WHEN id % 100 < 19 THEN 'NO_ID_UNVERIFIABLE' ELSE 'NO_ID_VERIFIED' END
    WHEN (id * 7919) % 100 < 26 THEN 'MISMATCH'
    ELSE 'VERIFIED' END
WHERE verification_category IS NULL
"""


def verify(engine: Any) -> None:
    """Give the subjects the register's answers once (the load leaves them all unverified)."""
    with engine.begin() as connection:
        if connection.scalar(select(func.count()).where(Subject.verification_category.is_not(None))):
            return
        started = time.perf_counter()
        connection.execute(text(VERIFY))
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE subjects"))
        states = dict(
            connection.execute(
                select(Subject.verification_category, func.count()).group_by(Subject.verification_category)
            ).all()
        )
    report("verification states", time.perf_counter() - started, database=engine.dialect.name,
           **{str(state): count for state, count in states.items()})  # fmt: skip


def replicate(engine: Any, times: int, doses: bool) -> None:
    """Make the loaded registry `times` as big by SQL (new ids, keys and record ids): a million subjects without
    generating and parsing 1,250,000 people (an hour and more on a loaded machine). Once: skipped when done."""
    subject_columns = [
        c["name"] for c in inspect(engine).get_columns("subjects") if c["name"] not in ("id", "subject_key")
    ]
    dose_columns = [c["name"] for c in inspect(engine).get_columns("doses")
                    if c["name"] not in ("id", "record_id", "subject_id", "duplicate_of_id")]  # fmt: skip
    started = time.perf_counter()
    with engine.begin() as connection:
        if connection.scalar(text("SELECT count(*) FROM subjects WHERE subject_key LIKE '%#1'")):
            return  # replicated already
        top = connection.scalar(text("SELECT max(id) FROM subjects"))
        listed, dose_listed = ", ".join(subject_columns), ", ".join(dose_columns)
        for copy in range(1, times):
            connection.execute(text(
                f"INSERT INTO subjects (id, subject_key, {listed}) SELECT id + {copy * top}, "
                f"subject_key || '#{copy}', {listed} FROM subjects WHERE id <= {top} ORDER BY id"))  # fmt: skip
            if doses:
                connection.execute(text(
                    f"INSERT INTO doses (record_id, subject_id, {dose_listed}) SELECT record_id || '#{copy}', "
                    f"subject_id + {copy * top}, {dose_listed} FROM doses WHERE subject_id <= {top}"))  # fmt: skip
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    report("replicate", time.perf_counter() - started, times=times, database=engine.dialect.name)


def _loaded(engine: Any) -> bool:
    """Whether the database already holds the subjects (a load that was interrupted left nothing: it is atomic)."""
    if not inspect(engine).has_table("subjects"):
        return False
    with engine.connect() as connection:
        return bool(connection.scalar(select(func.count()).select_from(Subject)))


def report(step: str, seconds: float, **sizes: Any) -> None:
    print(json.dumps({"step": step, "seconds": round(seconds, 1), **sizes, "load": os.getloadavg()[0]}), flush=True)


def facility_user(factory: Any) -> tuple[str, str]:
    """A facility account of the province (its area: the whole registry) and the biggest district's code; a commune
    health station's account of the biggest commune."""
    with factory() as session:
        province = session.scalar(select(Subject.province_code).limit(1))
        district = session.execute(
            select(Subject.district_code, func.count()).group_by(Subject.district_code).order_by(func.count().desc())
        ).first()
        ward = session.execute(
            select(Subject.ward_code, func.count()).group_by(Subject.ward_code).order_by(func.count().desc())
        ).first()
        assert province and district and ward
        if session.scalar(select(User).where(User.username == "bench-station")) is None:
            session.add(User(username="bench-station", full_name="Đo", password_hash=hash_password(PASSWORD),
                             role=Role.HEALTH_STATION.value, area_code=ward[0]))  # fmt: skip
            session.commit()
        if session.scalar(select(User).where(User.username == "bench-facility")) is None:
            session.merge(Facility(code="BENCH", name="Cơ sở đo", province_code=province))
            session.add(User(username="bench-facility", full_name="Đo", password_hash=hash_password(PASSWORD),
                             role=Role.FACILITY.value, area_code=province, facility_code="BENCH"))  # fmt: skip
            session.commit()
        print(json.dumps({"district": district[0], "district_subjects": district[1], "ward": ward[0],
                          "ward_subjects": ward[1]}), flush=True)  # fmt: skip
        return province, str(district[0])


def logged_in(app: Any, username: str = "bench-facility") -> TestClient:
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
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
    parser.add_argument("--database-url", help="PostgreSQL: an empty database of your own (loaded on first use)")
    parser.add_argument("--prepare-only", action="store_true", help="generate and load, measure nothing")
    parser.add_argument("--replicate", type=int, default=1, help="copy the loaded subjects N times in all (by SQL)")
    parser.add_argument("--without-dose-copies", action="store_true", help="--replicate copies the subjects only")
    options = parser.parse_args()
    url = prepare(options.dir, options.people, options.seed, options.database_url)
    if options.replicate > 1:
        replicated = make_engine(url)
        replicate(replicated, options.replicate, doses=not options.without_dose_copies)
        replicated.dispose()
    if options.prepare_only:
        return
    engine = make_engine(url)
    factory = make_session_factory(engine)
    _province, district = facility_user(factory)
    with factory() as session:
        subjects = session.scalar(select(func.count()).select_from(Subject))
    app = create_app(Settings(secret_key="bench-pages", keys_dir=options.dir / "keys"), session_factory=factory)
    client = logged_in(app)
    drawn = samples(factory, options.runs, options.seed)
    size = {"subjects": subjects, "database": engine.dialect.name}
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
    timed("search: a district's NO_ID_UNVERIFIABLE people (~1.7 %), pages 1-20", [
        lambda p=p: client.get("/subjects", params={"district_code": district, "state": "NO_ID_UNVERIFIABLE",
                                                     "page": p % 20 + 1}, headers=htmx)
        for p in range(min(options.runs, 100))], **size)  # fmt: skip
    timed("search: family + given name in the district", [
        lambda q=q: client.get("/subjects", params={"q": q, "district_code": district}, headers=htmx)
        for q in drawn["family_given"]], **size)  # fmt: skip
    station = logged_in(app, "bench-station")
    timed("commune station: 'nguyen', pages 1-20", [
        lambda p=p: station.get("/subjects", params={"q": "nguyen", "page": p % 20 + 1}, headers=htmx)
        for p in range(min(options.runs, 100))], **size)  # fmt: skip
    timed("commune station: family + given name", [
        lambda q=q: station.get("/subjects", params={"q": q}, headers=htmx) for q in drawn["family_given"]],
          **size)  # fmt: skip
    timed("person page", [lambda s=s: client.get(f"/subjects/{s}") for s in drawn["subject_ids"]], **size)
    forms = [lambda: client.get("/doses/new") for _ in range(min(options.runs, 100))]
    timed("dose form (GET /doses/new)", forms, **size)
    engine.dispose()


if __name__ == "__main__":
    main()
