"""Subjects are repaired chunk by chunk (bounded memory for national batches), in one process or several, with the
same result as at once."""

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tiemchung.register.linkage.prepare import PreparedFiles, prepare_subject_files


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiemchung.synth import generate

    folder = tmp_path_factory.mktemp("prepare-country")
    generate(folder, people=600, seed=9, progress=False)
    return folder / "records.parquet"


def _prepared(
    records: Path, folder: Path, chunk: int, workers: int = 1
) -> tuple[PreparedFiles, list[list[dict[str, object]]]]:
    files = prepare_subject_files(duckdb.connect(), records, folder, chunk=chunk, workers=workers)
    tables = [pq.read_table(path).to_pylist() for path in (files.subjects, files.model, files.disagreements)]
    return files, tables


def test_small_chunks_give_the_same_files_as_one_chunk(records: Path, tmp_path: Path) -> None:
    whole, whole_tables = _prepared(records, tmp_path / "whole", chunk=1_000_000)
    chunked, chunked_tables = _prepared(records, tmp_path / "chunked", chunk=37)
    assert chunked_tables == whole_tables
    assert (chunked.count, chunked.not_foreign) == (whole.count, whole.not_foreign)


def test_worker_processes_give_the_same_files_in_the_same_order(records: Path, tmp_path: Path) -> None:
    whole, whole_tables = _prepared(records, tmp_path / "whole", chunk=1_000_000)
    parallel, parallel_tables = _prepared(records, tmp_path / "parallel", chunk=29, workers=3)
    assert parallel_tables == whole_tables
    assert (parallel.count, parallel.not_foreign) == (whole.count, whole.not_foreign)


def test_every_subject_once_with_progress_per_chunk(records: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    files = prepare_subject_files(duckdb.connect(), records, tmp_path, chunk=100, progress=lambda *p: seen.append(p))
    subject_ids = [row["subject_id"] for row in pq.read_table(files.subjects).to_pylist()]
    [(distinct,)] = duckdb.sql(f"SELECT count(DISTINCT subject_id) FROM read_parquet('{records}')").fetchall()
    assert len(subject_ids) == len(set(subject_ids)) == files.count == distinct
    assert [done for done, _ in seen] == [min(done, distinct) for done in range(100, distinct + 100, 100)]
    assert pq.read_table(files.disagreements).num_rows > 0  # the synthetic records do disagree between rows
