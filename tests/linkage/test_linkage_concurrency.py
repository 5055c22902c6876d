"""verify_one from many threads at once (one DuckDB cursor per thread) gives the answers of serial calls."""

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tiemchung.interchange.results import SUBJECT_COLUMNS, Category, SubjectQuery
from tiemchung.register.linkage.engine import RegisterIndex
from tiemchung.synth import generate

THREADS = 8


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("country")
    generate(folder, people=1_000, seed=29, progress=False)
    return folder


@pytest.fixture(scope="module")
def queries(country: Path) -> list[SubjectQuery]:
    """The first dose row of each subject, as typed (errors included), in a fixed order."""
    first_rows: dict[str, dict[str, object]] = {}
    for row in pq.read_table(country / "records.parquet", columns=list(SUBJECT_COLUMNS)).to_pylist():
        first_rows.setdefault(str(row["subject_id"]), row)
    return [
        SubjectQuery(**{name: (str(value) if value not in (None, "") else None) for name, value in row.items()})
        for _, row in sorted(first_rows.items())
    ]


@pytest.fixture(scope="module", params=["prepared file", "in memory"])
def index(
    request: pytest.FixtureRequest, country: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegisterIndex]:
    workdir = tmp_path_factory.mktemp("index") if request.param == "prepared file" else None
    opened = RegisterIndex.open(country / "register.parquet", workdir=workdir, threads=2)
    yield opened
    opened.close()


def test_concurrent_answers_equal_serial_answers(index: RegisterIndex, queries: list[SubjectQuery]) -> None:
    serial = [index.verify_one(query) for query in queries]
    # Both paths must be exercised for the comparison to mean anything.
    categories = {answer.category for answer in serial}
    assert {Category.VERIFIED, Category.MISMATCH, Category.NO_ID_VERIFIED} <= categories
    assert any(answer.matched_person_id for answer in serial if answer.category is Category.MISMATCH)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        concurrent = list(pool.map(index.verify_one, queries))
    assert concurrent == serial


def test_calls_in_flight_hold_distinct_cursors_that_are_reused(index: RegisterIndex) -> None:
    all_holding = threading.Barrier(THREADS)  # every worker holds a cursor at the same moment

    def hold_a_cursor(_: int) -> int:
        with index._online_cursor() as cursor:
            all_holding.wait(timeout=30)
            return id(cursor)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        first = set(pool.map(hold_a_cursor, range(THREADS)))
        second = set(pool.map(hold_a_cursor, range(THREADS)))
    assert len(first) == THREADS
    assert id(index._connection) not in first
    assert second == first  # idle cursors are taken again, not opened anew


def test_close_releases_every_cursor(country: Path, queries: list[SubjectQuery]) -> None:
    index = RegisterIndex.open(country / "register.parquet", threads=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(index.verify_one, queries[:40]))
    index.close()
    with pytest.raises(Exception, match="closed"):
        index.verify_one(queries[0])
