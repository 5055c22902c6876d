"""The verification report of a district and the dashboard's bars read indexes only (migration 0013): no row of the
district's subjects or of their doses is read, which is what made them slow cold (docs/benchmarks.md, issue 15).
SQLite's plans are fixed by the schema (no statistics needed); PostgreSQL's depend on its statistics and are
measured by benchmarks/bench_report_pages.py instead."""

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.queries import Statement, verification_by_unit, verification_counts
from tiemchung.health.registry.db import create_schema, make_engine

DISTRICT = Area("771")


def plan(engine: Engine, statement: Statement) -> list[str]:
    compiled = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        return [str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    create_schema(engine)
    return engine


def reads_of(steps: list[str], table: str) -> list[str]:
    return [step for step in steps if step.startswith(("SEARCH", "SCAN")) and step.split()[1] == table]


def test_a_districts_verification_counts_read_only_indexes(sqlite_engine: Engine) -> None:
    steps = plan(sqlite_engine, verification_counts(DISTRICT))
    for table in ("subjects", "doses"):
        assert reads_of(steps, table), steps
        assert all("COVERING INDEX" in step for step in reads_of(steps, table)), steps


def test_a_districts_people_by_ward_and_result_read_only_an_index(sqlite_engine: Engine) -> None:
    steps = reads_of(plan(sqlite_engine, verification_by_unit(DISTRICT)), "subjects")
    assert steps and all("COVERING INDEX" in step for step in steps), steps
