"""The probabilistic path (Splink `dedupe_only` on the registry's own subjects): one person registered again with the
identity typed anew is found; twins, namesakes of one commune and year, and a father and son of one name are not."""

from itertools import combinations
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import add_subject
from tests.support.scale_world import answer_as_the_truth_says
from tiemchung.health.duplicates.detect import Evidence, find_pairs
from tiemchung.health.duplicates.probabilistic import MATCH_THRESHOLD, find_scored_pairs
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Subject
from tiemchung.identity import canonical_name, fold_name
from tiemchung.synth import generate

HOME = ("01", "001", "00001")
NEXT_DISTRICT = ("01", "002", "00037")
OTHER_PROVINCE = ("74", "718", "25747")  # Bình Dương: industrial zones, migrant workers


def typed(session: Session, key: str, name: str, birth: str | None, sex: str = "M", *,
          id_number: str | None = None, ward: tuple[str, str, str] = HOME) -> int:  # fmt: skip
    fields: dict[str, object] = {
        "full_name": name, "full_name_raw": name, "name_canonical": canonical_name(name),
        "name_folded": fold_name(name), "birth_date": birth, "birth_date_raw": birth or "",
        "birth_year": int(birth[:4]) if birth else None, "sex": sex,
    }  # fmt: skip
    if id_number:
        fields.update(id_number=id_number, id_number_raw=id_number, id_kind="cccd", id_status="valid")
    return add_subject(session, key, ward=ward, **fields).id


@pytest.fixture
def people(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        ids = {
            # one person, registered twice with the identity typed anew: each pair must be found
            "van_1": typed(session, "van-1", "Lê Thanh Vân", "1995-01-14", "F", id_number="082195813283"),
            # a migrant worker: registered in another province without diacritics, the ID one digit off
            "van_2": typed(session, "van-2", "Le Thanh Van", "1995-01-14", "F", id_number="082195813288",
                           ward=OTHER_PROVINCE),
            "tuan_1": typed(session, "tuan-1", "Phan Văn Tuấn", "1971-04-04", id_number="060071225894"),
            "tuan_2": typed(session, "tuan-2", "Phan Tuấn", "1971-04-04"),  # middle name dropped, no ID
            "lan_1": typed(session, "lan-1", "Trần Thị Lan", "1987-03-05", "F"),
            "lan_2": typed(session, "lan-2", "Tran Thi Lan", "1987-05-03", "F"),  # day and month swapped
            "vinh_1": typed(session, "vinh-1", "Trần Tuấn Vinh", "1984-07-26", id_number="031084677841"),
            "vinh_2": typed(session, "vinh-2", "Trầm Tuấn Vinh", "1984-07-26", id_number="031084677814",
                            ward=NEXT_DISTRICT),  # family name misspelt, two digits transposed
            # twins: one family, birth date and address; the second typed with the first's ID
            "twin_1": typed(session, "twin-1", "Nguyễn Văn Đạt", "1958-04-07", id_number="082058728380"),
            "twin_2": typed(session, "twin-2", "Nguyễn Văn Hải", "1958-04-07", id_number="082058728380"),
            # namesakes of one commune, born the same year, without IDs
            "huong_1": typed(session, "huong-1", "Nguyễn Thị Hương", "1980-03-02", "F"),
            "huong_2": typed(session, "huong-2", "Nguyễn Thị Hương", "1980-11-19", "F"),
            # a father and his son of the same name; the son registered with his father's ID
            "father": typed(session, "father", "Trần Văn Hùng", "1960-05-10", id_number="001060123456"),
            "son": typed(session, "son", "Trần Văn Hùng", "1988-09-21", id_number="001060123456"),
        }  # fmt: skip
        session.commit()
    return ids


def test_one_person_typed_anew_is_found_and_hard_negatives_are_not(
    session_factory: sessionmaker[Session], people: dict[str, int]
) -> None:
    with session_factory() as session:
        pairs = {frozenset((pair.first, pair.second)): pair for pair in find_pairs(session)}
    same_person = [(f"{name}_1", f"{name}_2") for name in ("van", "tuan", "lan", "vinh")]
    for first, second in same_person:
        pair = pairs.get(frozenset((people[first], people[second])))
        assert pair is not None, f"{first} and {second} are one person"
        assert pair.evidence == Evidence.SIMILAR_IDENTITY and not pair.evidence.certain
        assert pair.match_probability is not None and pair.match_probability >= MATCH_THRESHOLD
    found = {people_key for pair in pairs for people_key, subject_id in people.items() if subject_id in pair}
    for hard_negative in ("twin_1", "twin_2", "huong_1", "huong_2", "father", "son"):
        assert hard_negative not in found, hard_negative
    assert len(pairs) == len(same_person)


def test_the_model_can_be_left_out_and_scores_above_its_threshold(
    session_factory: sessionmaker[Session], people: dict[str, int]
) -> None:
    with session_factory() as session:
        assert find_pairs(session, probabilistic=False) == []  # none of these is found by the exact rules
        scored = find_scored_pairs(session, threshold=0.5)
    assert {(pair.first, pair.second) for pair in scored} >= {
        (people["van_1"], people["van_2"]), (people["lan_1"], people["lan_2"])
    }  # fmt: skip
    assert all(0.5 <= pair.match_probability <= 1 and pair.first < pair.second for pair in scored)


def test_on_a_generated_country_the_pairs_found_are_right(tmp_path: Path) -> None:
    """A small synthetic country (people registered 2-3 times, each typing with its own errors), loaded as the bulk
    loader does, with the register's answers: the pairs found are the truth's, and the model adds to the rules."""
    synth = tmp_path / "country"
    generate(synth, people=4_000, seed=3, progress=False, xlsx_max_rows=0)
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    create_schema(engine)
    load_parquet(engine, synth / "records.parquet", actor="test")
    factory = make_session_factory(engine)
    answer_as_the_truth_says(factory, synth / "truth_subjects.parquet")
    with factory() as session:
        pairs = find_pairs(session)
        ids = dict(session.execute(select(Subject.subject_key, Subject.id)).all())
    truth_rows = pq.read_table(synth / "truth_subjects.parquet", columns=["subject_id", "is_duplicate_of"]).to_pylist()
    persons: dict[str, list[int]] = {}
    for row in truth_rows:
        first = row["is_duplicate_of"] or row["subject_id"]
        persons.setdefault(first, []).append(ids[row["subject_id"]])
    truth = {pair for members in persons.values() for pair in combinations(sorted(members), 2)}
    found = {(pair.first, pair.second) for pair in pairs}
    exact = {(pair.first, pair.second) for pair in pairs if pair.match_probability is None}
    by_model = {(pair.first, pair.second) for pair in pairs if pair.evidence == Evidence.SIMILAR_IDENTITY}
    assert len(truth) > 100
    assert len(by_model & truth) >= 0.8 * len(by_model) > 0
    assert len(found & truth) / len(found) >= 0.97
    assert len(found & truth) / len(truth) >= 0.9
    assert len(found & truth) > len(exact & truth)  # the model finds people the exact rules miss
