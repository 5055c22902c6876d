"""Applying a batch's results file (issue 21): set-based, and storing exactly what the one-answer path stores.

Runs on the registry database fixture (SQLite and PostgreSQL): the history of answers, the subject's latest answer,
one audit event per answer, unknown subjects, answers repeated in a file, and a re-apply after a crash half-way.
"""

import csv
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry import audit
from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.models import AuditEvent, Subject
from tiemchung.health.verification import store
from tiemchung.health.verification.models import VerificationRecord
from tiemchung.health.verification.store import apply_result, apply_results_file
from tiemchung.interchange.results import RESULT_COLUMNS, Category, Reason, VerificationResult


def _add_subjects(session_factory: sessionmaker[Session], keys: list[str]) -> dict[str, int]:
    with transaction(session_factory) as session:
        subjects = [
            Subject(subject_key=key, full_name_raw="Lê Văn An", full_name="Lê Văn An", name_canonical="lê văn an",
                    name_folded="le van an", birth_date="1980-01-02", birth_year=1980, sex="M")
            for key in keys
        ]  # fmt: skip
        session.add_all(subjects)
        session.flush()
        return {subject.subject_key: subject.id for subject in subjects}


def _results(keys: list[str], category: Category = Category.MISMATCH) -> list[VerificationResult]:
    return [
        VerificationResult(
            subject_id=key,
            category=category,
            reasons=(Reason.BIRTH_DATE, Reason.NAME) if category is Category.MISMATCH else (),
            matched_person_id=f"P{index:011d}",
            match_probability=0.987654,
        )
        for index, key in enumerate(keys)
    ]


def _write_csv(path: Path, results: list[VerificationResult]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        writer.writerows(result.to_row() for result in results)
    return path


def _write_parquet(path: Path, results: list[VerificationResult]) -> Path:
    rows = [result.to_row() for result in results]
    pq.write_table(pa.table({name: [row[name] for row in rows] for name in RESULT_COLUMNS}), path)
    return path


def test_a_batch_stores_what_one_answer_stores(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    """The set-based path and `apply_result` (the online path) leave the same history, subject and audit event."""
    ids = _add_subjects(session_factory, ["0012345", "B-1"])
    [online] = [VerificationResult.from_row(result.to_row()) for result in _results(["B-1"])]
    batch = replace(online, subject_id="0012345")
    with transaction(session_factory) as session:
        subject = session.get(Subject, ids["B-1"])
        assert subject is not None
        apply_result(session, subject, online, source="batch", batch_job_id="job-online")
    report = apply_results_file(session_factory, _write_csv(tmp_path / "r.csv", [batch]), batch_job_id="job-1")
    assert (report.applied, report.already_applied, report.unknown_subjects) == (1, 0, [])

    with session_factory() as session:
        records = {r.subject_id: r for r in session.scalars(select(VerificationRecord))}
        subjects = {s.id: s for s in session.scalars(select(Subject))}
        events = {e.subject_id: e for e in session.scalars(select(AuditEvent))}
    one, many = records[ids["B-1"]], records[ids["0012345"]]  # the key of digits kept its leading zeros
    columns = ("category", "reasons", "matched_person_id", "match_probability", "source", "request_id")
    assert [getattr(many, name) for name in columns] == [getattr(one, name) for name in columns]
    assert (many.batch_job_id, many.reasons) == ("job-1", "NAME;BIRTH_DATE")
    fields = ("verification_category", "verification_reasons", "matched_person_id", "match_probability")
    assert [getattr(subjects[ids["0012345"]], name) for name in fields] == [
        getattr(subjects[ids["B-1"]], name) for name in fields
    ]
    assert subjects[ids["0012345"]].verified_at is not None
    stored, expected = events[ids["0012345"]], events[ids["B-1"]]
    for name in ("actor", "action", "entity", "reason", "detail"):
        assert getattr(stored, name) == getattr(expected, name), name
    assert stored.entity_id == str(ids["0012345"])
    with session_factory() as session:
        assert audit.verify_chain(session.connection()).ok  # the batch's events are in the hash chain


def test_history_keeps_every_batch_and_the_subject_the_latest(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    keys = [f"S{index}" for index in range(30)]
    ids = _add_subjects(session_factory, keys)
    apply_results_file(session_factory, _write_parquet(tmp_path / "1.parquet", _results(keys)), batch_job_id="job-1")
    verified = _results(keys, Category.VERIFIED)
    apply_results_file(session_factory, _write_parquet(tmp_path / "2.parquet", verified), batch_job_id="job-2")
    with session_factory() as session:
        history = session.execute(select(VerificationRecord.subject_id, VerificationRecord.batch_job_id)).all()
        latest = {s.id: (s.verification_category, s.verification_reasons) for s in session.scalars(select(Subject))}
    assert sorted(history) == sorted((ids[key], job) for key in keys for job in ("job-1", "job-2"))
    assert set(latest.values()) == {(Category.VERIFIED.value, "")}


def test_unknown_and_repeated_subjects(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    ids = _add_subjects(session_factory, ["A", "B"])
    results = _results(["A", "GONE", "B", "A"])
    report = apply_results_file(session_factory, _write_csv(tmp_path / "r.csv", results), batch_job_id="job-1")
    assert (report.applied, report.already_applied, report.unknown_subjects) == (2, 1, ["GONE"])
    with session_factory() as session:
        stored = session.execute(select(VerificationRecord.subject_id, VerificationRecord.matched_person_id)).all()
    assert sorted(stored) == sorted([(ids["A"], results[0].matched_person_id), (ids["B"], "P00000000002")])


@pytest.mark.parametrize("chunk", [7, 10_000])
def test_a_reapply_after_a_crash_half_way_applies_the_rest_once(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(store, "APPLY_CHUNK", chunk)
    keys = [f"S{index}" for index in range(40)]
    _add_subjects(session_factory, keys)
    results = _results(keys)
    # The first run died after applying the first 15 answers (committed), the second applies the whole file.
    apply_results_file(session_factory, _write_csv(tmp_path / "part.csv", results[:15]), batch_job_id="job-1")
    report = apply_results_file(session_factory, _write_csv(tmp_path / "all.csv", results), batch_job_id="job-1")
    assert (report.applied, report.already_applied) == (25, 15)
    with session_factory() as session:
        assert len(session.scalars(select(VerificationRecord.id)).all()) == 40
        events = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "verification_result")).all()
        assert len(events) == 40
