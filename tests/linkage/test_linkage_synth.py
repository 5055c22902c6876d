"""End to end on a small synthetic country with ground truth: categories, reasons and persons found."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tiemchung.register.linkage.engine import RegisterIndex
from tiemchung.synth import generate

ID_BEARING = {"VERIFIED", "MISMATCH"}


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("country")
    generate(folder, people=6_000, seed=11, progress=False, xlsx_max_rows=0)
    return folder


@pytest.fixture(scope="module")
def answers(country: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    out = tmp_path_factory.mktemp("answers") / "results.parquet"
    index = RegisterIndex.open(country / "register.parquet", threads=1)
    index.verify_batch(country / "records.parquet", out)
    index.close()
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == len({row["subject_id"] for row in rows})  # every subject exactly once
    return {row["subject_id"]: row for row in rows}


@pytest.fixture(scope="module")
def truth(country: Path) -> list[dict[str, str]]:
    return pq.read_table(country / "truth_subjects.parquet").to_pylist()


def test_every_subject_is_answered(answers: dict[str, dict[str, str]], truth: list[dict[str, str]]) -> None:
    assert set(answers) == {row["subject_id"] for row in truth}


def test_id_bearing_subjects_get_the_spec_category_and_reasons(
    answers: dict[str, dict[str, str]], truth: list[dict[str, str]]
) -> None:
    bearing = [row for row in truth if row["expected_category"] in ID_BEARING]
    right = sum(
        (answers[row["subject_id"]]["category"], answers[row["subject_id"]]["reasons"])
        == (row["expected_category"], row["expected_reasons"] or "")
        for row in bearing
    )
    assert right / len(bearing) >= 0.999


def test_persons_found_are_the_right_people(answers: dict[str, dict[str, str]], truth: list[dict[str, str]]) -> None:
    matched = [row for row in truth if answers[row["subject_id"]]["matched_person_id"]]
    wrong = [row for row in matched if answers[row["subject_id"]]["matched_person_id"] != row["person_id"]]
    assert len(wrong) / len(matched) <= 0.01
    findable = [row for row in truth if row["expected_category"] == "NO_ID_VERIFIED"]
    found = [row for row in findable if answers[row["subject_id"]]["matched_person_id"] == row["person_id"]]
    assert len(found) / len(findable) >= 0.95


def _no_id_with(truth: list[dict[str, str]], kinds: set[str]) -> list[dict[str, str]]:
    """No-ID subjects of the register carrying one of `kinds` and no other identity error."""
    from tiemchung.synth.damage import HARMLESS_KINDS, MOVED_DISTANCES

    allowed = HARMLESS_KINDS | set(MOVED_DISTANCES) | {"ID_MISSING", "ID_INVALID"}
    rows = []
    for row in truth:
        errors = set(filter(None, str(row["errors"]).split(";")))
        if row["person_id"] and errors & {"ID_MISSING", "ID_INVALID"} and errors & kinds and errors - kinds <= allowed:
            rows.append(row)
    return rows


def test_no_id_people_who_moved_are_found(answers: dict[str, dict[str, str]], truth: list[dict[str, str]]) -> None:
    """Residence is evidence, not a gate: moved people whose name, birth date and sex the register holds are found."""
    moved = [
        row
        for row in _no_id_with(truth, {"MOVED_WARD", "MOVED_DISTRICT", "MOVED_PROVINCE"})
        if row["expected_category"] == "NO_ID_VERIFIED"
    ]
    assert len(moved) >= 10
    found = [row for row in moved if answers[row["subject_id"]]["matched_person_id"] == row["person_id"]]
    assert len(found) / len(moved) >= 0.95


def test_no_id_near_misses_are_found(answers: dict[str, dict[str, str]], truth: list[dict[str, str]]) -> None:
    """A birth year one off, a middle name dropped or added, a one-letter typo: graded, and found."""
    near = _no_id_with(truth, {"BIRTH_YEAR_OFF", "NAME_MIDDLE_DROPPED", "NAME_MIDDLE_ADDED", "NAME_TYPO"})
    assert len(near) >= 5
    found = [row for row in near if answers[row["subject_id"]]["matched_person_id"] == row["person_id"]]
    assert len(found) / len(near) >= 0.8
