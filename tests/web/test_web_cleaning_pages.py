"""The cleaning pages and API at a commune's size (2,000 lines), on SQLite and PostgreSQL: a page costs the same
few SQL statements whatever the list's size, a bulk action does not load each line's history, the JSON API takes
the same "every line matching the filter" as the pages."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_world import CleaningWorld, build_cleaning_world
from tests.support.web_world import World
from tiemchung.health.cleaning.models import CleaningLine, LineState
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def commune(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> tuple[World, CleaningWorld, Engine]:
    with session_factory() as session:
        cleaning = build_cleaning_world(session)
    app = create_app(Settings(secret_key="test-secret", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    return World(app), cleaning, engine


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_of_the_list_costs_the_same_statements_at_2000_lines_as_at_300(commune) -> None:  # type: ignore[no-untyped-def]
    world, cleaning, engine = commune
    station, station2 = world.client("tram"), world.client("tram2")
    with counting(engine) as big:
        page = station.get(f"/cleaning/worklists/{cleaning.open_worklist_id}?page=3")
    with counting(engine) as small:
        other = station2.get(f"/cleaning/worklists/{cleaning.police_worklist_id}?page=3")
    assert page.status_code == 200 and other.status_code == 200
    assert "Dòng 101–150 trong 2.000 dòng" in page.text
    assert len(big) == len(small) <= 12, big


def test_the_list_of_lists_and_a_lines_history_do_not_load_every_line(commune) -> None:  # type: ignore[no-untyped-def]
    world, cleaning, engine = commune
    station = world.client("tram")
    with counting(engine) as statements:
        home = station.get("/cleaning")
    assert home.status_code == 200 and ">2.000<" in home.text
    assert not [sql for sql in statements if "FROM cleaning_lines" in sql and "count" not in sql.lower()], statements
    with counting(engine) as statements:
        assert station.get(f"/cleaning/lines/{cleaning.open_worklist_id}").status_code == 200
    assert len(statements) <= 10, statements


def test_giving_every_matching_line_to_a_village_does_not_query_line_by_line(commune, session_factory) -> None:  # type: ignore[no-untyped-def]
    world, cleaning, engine = commune
    station = world.client("tram")
    with counting(engine) as statements:
        answer = station.post(
            f"/api/v1/cleaning/worklists/{cleaning.open_worklist_id}/assign",
            json={"village_id": cleaning.village_ids["Thôn Nam"], "matching": {"state": "listed"}},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"message": "Đã giao 1.860 dòng cho Thôn Nam.", "changed": 1860}
    # Reads: a handful, not one per line (appending to each line's history loaded it first: 1,860 SELECTs). The
    # writes are one UPDATE for all lines and the history rows (one INSERT each on SQLite, whose ORM inserts
    # cannot be batched with RETURNING; batched on PostgreSQL).
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(reads) < 10, reads
    with session_factory() as session:
        assigned = session.scalar(
            select(func.count()).where(
                CleaningLine.worklist_id == cleaning.open_worklist_id, CleaningLine.state == LineState.ASSIGNED.value
            )
        )
    assert assigned == 2000


def test_the_police_confirm_every_waiting_line_through_the_api(commune) -> None:  # type: ignore[no-untyped-def]
    world, cleaning, _engine = commune
    police = world.client("congan2")
    answer = police.post(
        f"/api/v1/cleaning/worklists/{cleaning.police_worklist_id}/confirm", json={"matching": {"problem": "NO_ID"}}
    )
    assert answer.status_code == 200 and answer.json()["message"] == "Đã xác thực đúng 100 dòng.", answer.text
    again = police.post(f"/api/v1/cleaning/worklists/{cleaning.police_worklist_id}/confirm", json={"line_ids": []})
    assert again.status_code == 409
    signing = police.post(f"/api/v1/cleaning/worklists/{cleaning.police_worklist_id}/sign")
    assert signing.status_code == 409 and "Còn 200 dòng chưa được xác thực" in signing.json()["detail"]
