"""Load test of the web platform: N concurrent facility users browsing and entering doses, against PostgreSQL.

Each virtual user logs in through the JSON API, then loops for the duration: search a subject by folded name and
birth year (page), open the subject's page, read the subject through the API, enter a dose through the API (with
the online-verification step: no register is configured, so each dose queues a verification request), and
now and then open the dashboard. Latencies are measured per request kind on the client (httpx async, 127.0.0.1).

    .venv/bin/python benchmarks/bench_web_load.py --users 100 --seconds 300 --subjects 5000 --workers 2

The database is a fresh one created on the PostgreSQL server (dropped at the end); the app runs in a separate
`tiemchung serve` process with uvicorn workers.
"""

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tiemchung import identity
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, Subject, User
from tiemchung.health.web.security import hash_password

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ")
MIDDLE = ("Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh")
GIVEN = ("An", "Bình", "Cường", "Dung", "Hoa", "Hùng", "Lan", "Mai", "Nam", "Phương", "Quân", "Tâm", "Yến")
WARDS = (("01", "001", "00001"), ("01", "001", "00004"), ("01", "002", "00037"), ("01", "003", "00091"))
PASSWORD = "mat-khau-tai-thu"
VACCINES = ("Pfizer", "AstraZeneca", "Moderna", "Vero Cell")


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def prepare_database(admin_url: str, subjects: int, users: int) -> tuple[str, str]:
    name = f"tiemchung_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    create_schema(engine)
    rng = random.Random(7)
    password_hash = hash_password(PASSWORD)
    with make_session_factory(engine)() as session:
        session.add(Facility(code="BENCH", name="Cơ sở thử tải", province_code="01"))
        session.flush()
        for index in range(users):
            session.add(
                User(
                    username=f"coso{index}",
                    full_name=f"Cơ sở {index}",
                    password_hash=password_hash,
                    role=Role.FACILITY.value,
                    area_code="01",
                    facility_code="BENCH",
                    failed_logins=0,
                )
            )
        for index in range(subjects):
            session.add(_subject(rng, index))
        session.commit()
    engine.dispose()
    return url, name


def _subject(rng: random.Random, index: int) -> Subject:
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
    year = rng.randint(1940, 2010)
    province, district, ward = rng.choice(WARDS)
    return Subject(
        subject_key=f"BENCH-{index}",
        full_name_raw=name,
        full_name=name,
        name_canonical=identity.canonical_name(name),
        name_folded=identity.fold_name(name),
        birth_date_raw=f"{year}-01-15",
        birth_date=f"{year}-01-15",
        birth_year=year,
        sex=rng.choice("MF"),
        province_code=province,
        district_code=district,
        ward_code=ward,
        verification_category=rng.choice(("VERIFIED", "VERIFIED", "MISMATCH", "NO_ID_UNVERIFIABLE")),
    )


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIEMCHUNG_SECRET_KEY": uuid.uuid4().hex, "TIEMCHUNG_KEYS_DIR": "/tmp/tiemchung-bench-keys"}
    command = [sys.executable, "-m", "tiemchung", "serve", "--database", url, "--port", str(port)]
    # Its own process group, so that stopping it also stops the uvicorn worker processes.
    server = subprocess.Popen([*command, "--workers", str(workers)], env=env, start_new_session=True)
    deadline = time.monotonic() + 240  # two worker processes importing the app on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("the server did not start")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


async def timed(stats: Stats, kind: str, request: object) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response: httpx.Response = await request  # type: ignore[misc]
    except httpx.HTTPError:
        stats.errors[kind] += 1
        return None
    stats.latencies[kind].append(time.perf_counter() - started)
    if response.status_code >= 400:
        stats.errors[f"{kind} {response.status_code}"] += 1
    return response


async def log_in(client: httpx.AsyncClient, index: int, stats: Stats, gate: asyncio.Semaphore) -> dict[str, str] | None:
    """Log-ins go a few at a time: argon2 is deliberately expensive (64 MiB, several passes), and a hundred at
    once on a small machine is a password-cracking load, not an office morning."""
    body = {"username": f"coso{index}", "password": PASSWORD}
    async with gate:
        login = await timed(stats, "log-in (not in the measured window)", client.post("/api/v1/session", json=body))
    if login is None or login.status_code != 200:
        return None
    return {"X-CSRF-Token": login.json()["csrf_token"]}


async def virtual_user(base: str, index: int, args: argparse.Namespace, window: "Window", stats: Stats) -> None:
    rng = random.Random(index)
    subjects = args.subjects
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        headers = await log_in(client, index, stats, window.login_gate)
        window.logged_in += 1
        if window.logged_in == args.users:
            window.open()
        await window.opened.wait()
        if headers is None:
            return
        while time.monotonic() < window.until:
            subject_id = rng.randint(1, subjects)
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            await timed(stats, "search page", client.get("/subjects", params={"q": identity.fold_name(name)}))
            await timed(stats, "subject page", client.get(f"/subjects/{subject_id}"))
            await timed(stats, "subject API", client.get(f"/api/v1/subjects/{subject_id}"))
            dose = {
                "vaccine": rng.choice(VACCINES),
                "vaccination_date": f"2022-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "dose_kind": rng.choice(("1", "2", "booster_1")),
                "lot_number": f"L{rng.randint(1, 999)}",
            }
            await timed(
                stats, "dose entry API", client.post(f"/api/v1/subjects/{subject_id}/doses", json=dose, headers=headers)
            )
            if rng.random() < 0.1:
                await timed(stats, "dashboard", client.get("/"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(stats: Stats, seconds: float, args: argparse.Namespace) -> str:
    lines = [
        f"users={args.users} duration={seconds:.0f}s subjects={args.subjects} workers={args.workers}",
        "| request | count | p50 ms | p99 ms | mean ms |",
        "|---|---:|---:|---:|---:|",
    ]
    total = 0
    for kind, values in sorted(stats.latencies.items()):
        total += 0 if kind.startswith("log-in") else len(values)
        lines.append(
            f"| {kind} | {len(values)} | {1000 * statistics.median(values):.0f} | "
            f"{1000 * percentile(values, 0.99):.0f} | {1000 * statistics.fmean(values):.0f} |"
        )
    lines.append(f"\nthroughput: {total / seconds:.1f} requests/s; errors: {dict(stats.errors) or 'none'}")
    return "\n".join(lines)


class Window:
    """The measured window opens when every user has logged in (argon2 log-ins are deliberately slow)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.logged_in = 0
        self.opened = asyncio.Event()
        self.login_gate = asyncio.Semaphore(4)
        self.started = self.until = 0.0

    def open(self) -> None:
        self.started = time.monotonic()
        self.until = self.started + self.seconds
        self.opened.set()


async def run_load(base: str, args: argparse.Namespace) -> tuple[Stats, float]:
    stats = Stats()
    window = Window(args.seconds)
    await asyncio.gather(*(virtual_user(base, index, args, window, stats) for index in range(args.users)))
    return stats, time.monotonic() - window.started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, help="append the result table to this file")
    args = parser.parse_args()
    url, name = prepare_database(args.postgres, args.subjects, args.users)
    server = None
    try:
        server = start_server(url, args.port, args.workers)
        stats, elapsed = asyncio.run(run_load(f"http://127.0.0.1:{args.port}", args))
    finally:
        if server is not None:
            stop_server(server)
        admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
    summary = report(stats, elapsed, args)
    print(summary)
    if args.out:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(summary + "\n\n")


if __name__ == "__main__":
    main()
