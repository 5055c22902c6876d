"""Records of one person found by their evidence, merged into one history, and the merge undone exactly.

The exact rules alone (`probabilistic=False`): the model's own tests are in test_probabilistic.py; the subjects here
share the factory's default birth date and ward, which the model rightly finds alike."""

import csv
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.support.cleaning_factories import add_subject
from tiemchung.cli import app
from tiemchung.health.duplicates.detect import Evidence, find_groups, find_pairs
from tiemchung.health.duplicates.merge import MergeRefused, merge_subjects, survivor_of, unmerge
from tiemchung.health.reconciliation import summary
from tiemchung.health.reconciliation.sources import RegistrySource
from tiemchung.health.reconciliation.verification_report import build_verification_report
from tiemchung.health.registry.models import AuditEvent, Dose, Facility, Subject

CCCD_A, CCCD_B, CCCD_C = "001080000111", "001080000222", "001080000333"
NAMES = {"an": ("Nguyễn Văn An", "nguyen van an"), "anh": ("Nguyễn Văn Anh", "nguyen van anh"),
         "binh": ("Trần Thị Bình", "tran thi binh")}  # fmt: skip


def person(session: Session, key: str, name: str = "an", **fields: object) -> Subject:
    full_name, folded = NAMES[name]
    values: dict[str, object] = {"full_name": full_name, "name_folded": folded, "name_canonical": full_name.lower(),
                                 "sex": "M", "verification_category": "NO_ID_UNVERIFIABLE"}  # fmt: skip
    values.update(fields)
    return add_subject(session, key, **values)


def with_id(number: str, category: str = "NO_ID_UNVERIFIABLE") -> dict[str, object]:
    return {"id_number": number, "id_kind": "cccd", "id_status": "valid", "verification_category": category}


def dose(session: Session, subject: Subject, day: int, kind: str = "1") -> Dose:
    given = Dose(record_id=f"R-{subject.subject_key}-{day}", subject_id=subject.id, vaccine="Pfizer",
                 vaccination_date=date(2021, 9, day), dose_kind=kind, facility_code="F1")  # fmt: skip
    session.add(given)
    session.flush()
    return given


@pytest.fixture
def registry(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        session.add(Facility(code="F1", name="Trạm Y tế", province_code="01", ward_code="00001"))
        people = {
            # the register verified both as one person: certain
            "verified_1": person(session, "verified-1", **with_id(CCCD_A, "VERIFIED")),
            "verified_2": person(session, "verified-2", **with_id(CCCD_A, "VERIFIED")),
            # the register's proposal for a mismatch is the person verified above: probable
            "mismatch": person(session, "mismatch", matched_person_id=CCCD_A, **with_id("001080009999", "MISMATCH")),
            # same valid ID, same name and birth date, never verified: certain
            "same_id_1": person(session, "same-id-1", "binh", **with_id(CCCD_B)),
            "same_id_2": person(session, "same-id-2", "binh", **with_id(CCCD_B)),
            # same ID, similar name, same birth year (a typo): probable; an unrelated name with that ID: not paired
            "typo_1": person(session, "typo-1", "an", **with_id(CCCD_C)),
            "typo_2": person(session, "typo-2", "anh", **with_id(CCCD_C)),
            "relative": person(session, "relative", "binh", birth_date="1955-01-01", birth_year=1955,
                               **with_id(CCCD_C)),
            # no ID: same name, birth date, sex and province: probable; a year-only birth date: never
            "no_id_1": person(session, "no-id-1", "binh", birth_date="1990-02-03", birth_year=1990),
            "no_id_2": person(session, "no-id-2", "binh", birth_date="1990-02-03", birth_year=1990),
            "year_1": person(session, "year-1", "binh", birth_date="1970", birth_year=1970),
            "year_2": person(session, "year-2", "binh", birth_date="1970", birth_year=1970),
        }  # fmt: skip
        for day, key in enumerate(("verified_1", "verified_2", "verified_2", "mismatch"), start=1):
            dose(session, people[key], day)
        session.commit()
        return {key: subject.id for key, subject in people.items()}


def evidence_of(session: Session) -> dict[frozenset[int], Evidence]:
    return {frozenset((pair.first, pair.second)): pair.evidence for pair in find_pairs(session, probabilistic=False)}


def test_each_kind_of_evidence(session_factory: sessionmaker[Session], registry: dict[str, int]) -> None:
    with session_factory() as session:
        found = evidence_of(session)
    ids = registry
    assert found == {
        frozenset((ids["verified_1"], ids["verified_2"])): Evidence.SAME_REGISTER_PERSON,
        frozenset((ids["mismatch"], ids["verified_1"])): Evidence.REGISTER_PROPOSES_PERSON,
        frozenset((ids["mismatch"], ids["verified_2"])): Evidence.REGISTER_PROPOSES_PERSON,
        frozenset((ids["same_id_1"], ids["same_id_2"])): Evidence.SAME_ID_SAME_IDENTITY,
        frozenset((ids["typo_1"], ids["typo_2"])): Evidence.SAME_ID_OTHER_IDENTITY,
        frozenset((ids["no_id_1"], ids["no_id_2"])): Evidence.SAME_NAME_BIRTH_DATE,
    }


def test_groups_are_certain_only_when_certain_evidence_connects_them(
    session_factory: sessionmaker[Session], registry: dict[str, int]
) -> None:
    with session_factory() as session:
        groups = {tuple(group.subject_ids): group for group in find_groups(session, probabilistic=False)}
    verified = tuple(sorted((registry["verified_1"], registry["verified_2"], registry["mismatch"])))
    assert groups[verified].state == "probable"  # the mismatch joins through a proposal only
    assert groups[(registry["same_id_1"], registry["same_id_2"])].state == "certain"
    assert groups[(registry["no_id_1"], registry["no_id_2"])].state == "probable"
    assert len(groups) == 4


def test_merge_moves_the_doses_and_unmerge_puts_back_exactly_those(
    engine: Engine, session_factory: sessionmaker[Session], registry: dict[str, int]
) -> None:
    first, second = registry["verified_1"], registry["verified_2"]
    with session_factory() as session:
        result = merge_subjects(session, [second, first], actor="tram", evidence=Evidence.SAME_REGISTER_PERSON)
        session.commit()
        assert result.moved_doses == 1  # the survivor keeps more doses: verified_2 (two) over verified_1 (one)
        assert result.survivor_id == second
        assert survivor_of(session, first) == second
        counts = dict(session.execute(select(Dose.subject_id, func.count()).group_by(Dose.subject_id)).all())
        assert counts[second] == 3 and first not in counts
        exact = find_pairs(session, probabilistic=False)
        assert exact and all(first not in (p.first, p.second) for p in exact)
        # a dose entered on the survivor after the merge stays with it when unmerged: only the moved doses go back
        late = dose(session, session.get(Subject, second), 20)  # type: ignore[arg-type]
        session.commit()
    assert summary.differences(engine) == []
    with session_factory() as session:
        with pytest.raises(MergeRefused):
            merge_subjects(session, [first, registry["mismatch"]], actor="tram", evidence=Evidence.CONFIRMED_BY_PERSON)
        unmerge(session, result.merges[0].id, actor="tram")
        session.commit()
        counts = dict(session.execute(select(Dose.subject_id, func.count()).group_by(Dose.subject_id)).all())
        assert counts[first] == 1 and counts[second] == 3  # its own two, and the one entered after the merge
        assert session.get(Dose, late.id).subject_id == second  # type: ignore[union-attr]
        assert survivor_of(session, first) == first
        with pytest.raises(MergeRefused):
            unmerge(session, result.merges[0].id, actor="tram")
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "subject_merge")))
    assert actions == ["merge", "merge", "unmerge", "unmerge"]
    assert summary.differences(engine) == []


def test_a_merge_needs_two_known_subjects(session_factory: sessionmaker[Session], registry: dict[str, int]) -> None:
    with session_factory() as session:
        for ids in ([registry["no_id_1"]], [registry["no_id_1"], 99_999_999]):
            with pytest.raises(MergeRefused):
                merge_subjects(session, ids, actor="tram", evidence=Evidence.CONFIRMED_BY_PERSON)


def test_the_command_writes_one_row_per_subject_and_merges_the_certain(
    engine: Engine, registry: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "groups.csv"
    url = engine.url.render_as_string(hide_password=False)
    answer = CliRunner().invoke(
        app, ["registry", "duplicates", "--database", url, "--out", str(out), "--merge-certain", "--without-model"]
    )
    assert answer.exit_code == 0, answer.output
    assert "4 nhóm" in answer.output and "Đã gộp 1 nhóm chắc chắn" in answer.output
    with out.open(encoding="utf-8") as rows:
        written = list(csv.DictReader(rows))
    assert list(written[0]) == ["subject_key", "group_key", "state", "evidence"]
    by_key = {row["subject_key"]: row for row in written}
    assert by_key["same-id-2"]["group_key"] == "same-id-1" and by_key["same-id-2"]["state"] == "certain"
    assert by_key["mismatch"]["evidence"] == "register_proposes_person"
    assert "relative" not in by_key and "year-1" not in by_key


def test_after_a_merge_the_verification_report_counts_the_person_once_and_every_dose(
    engine: Engine, session_factory: sessionmaker[Session], registry: dict[str, int]
) -> None:
    before = build_verification_report(RegistrySource(engine))
    with session_factory() as session:
        pair = [registry["verified_1"], registry["verified_2"]]
        merge_subjects(session, pair, actor="tram", evidence=Evidence.SAME_REGISTER_PERSON)
        session.commit()
    after = build_verification_report(RegistrySource(engine))
    assert after.count("VERIFIED").subjects == before.count("VERIFIED").subjects - 1
    assert after.count("VERIFIED").doses == before.count("VERIFIED").doses == 3
    assert after.sent.doses == before.sent.doses


def test_twins_typed_with_one_id_are_not_one_person(session_factory: sessionmaker[Session]) -> None:
    """Same ID, birth year and a 86 %-similar name: twins (Đạt and Hải), whose given names are not one typo apart;
    a given name one letter off with the same ID is a typo of one person's."""
    names = {"dat": ("Nguyễn Văn Đạt", "nguyen van dat"), "hai": ("Nguyễn Văn Hải", "nguyen van hai"),
             "dao": ("Nguyễn Văn Đạo", "nguyen van dao")}  # fmt: skip
    with session_factory() as session:
        ids = {}
        for key, (full_name, folded) in names.items():
            ids[key] = add_subject(session, key, full_name=full_name, name_folded=folded,
                                   name_canonical=full_name.lower(), **with_id(CCCD_A)).id  # fmt: skip
        session.commit()
        found = {
            frozenset((pair.first, pair.second)): pair.evidence for pair in find_pairs(session, probabilistic=False)
        }
    assert found == {frozenset((ids["dat"], ids["dao"])): Evidence.SAME_ID_OTHER_IDENTITY}
