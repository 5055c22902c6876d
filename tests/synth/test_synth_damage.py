"""Each damage kind of the generator does what its name says, on people drawn by the generator itself."""

import numpy as np
import pytest

from tiemchung.synth import damage
from tiemchung.synth.geography import Area, load_geography
from tiemchung.synth.population import IdentityCounters, People, make_people

PEOPLE = 6_000


@pytest.fixture(scope="module")
def people() -> People:
    geography = load_geography(Area(("01", "79")))
    return make_people(np.random.default_rng(5), PEOPLE, geography, IdentityCounters(), seed=5)


def _only(kind: str, size: int) -> dict[str, np.ndarray]:
    """Every subject gets `kind` as its (only) primary error."""
    return {name: np.full(size, name == kind) for name in damage.ERROR_MIX}


def _errors(log: damage._Log) -> list[set[str]]:
    return [set(value.split(";")) - {""} for value in log.joined()]


def test_moves_go_to_another_ward_at_each_distance() -> None:
    geography = load_geography(Area(("01", "79", "48")))
    rng = np.random.default_rng(1)
    ward = geography.sample_wards(rng, rng.integers(0, 3, 40_000))
    moved, codes = damage.move_residences(rng, ward, geography)
    assert abs((codes != "").mean() - damage.MOVED_RATE) < 0.01
    district, province = geography.ward_district_index, geography.ward_province_index
    for kind, (_, share) in damage.MOVED_DISTANCES.items():
        rows = codes == kind
        assert abs(rows.mean() - damage.MOVED_RATE * share) < 0.01, kind
        assert (moved[rows] != ward[rows]).all()
        same_district = district[moved[rows]] == district[ward[rows]]
        same_province = province[moved[rows]] == province[ward[rows]]
        if kind == "MOVED_WARD":
            assert same_district.all()
        elif kind == "MOVED_DISTRICT":
            assert same_province.all() and not same_district.any()
        else:
            assert not same_province.any()
    assert (moved[codes == ""] == ward[codes == ""]).all()


def test_a_commune_has_nowhere_to_move_within_it() -> None:
    geography = load_geography(Area(("01",), "001", "00001"))
    rng = np.random.default_rng(2)
    ward = np.zeros(1_000, dtype=np.int64)
    moved, codes = damage.move_residences(rng, ward, geography)
    assert (codes == "").all() and (moved == ward).all()


def test_birth_year_off_keeps_day_and_month(people: People) -> None:
    person = np.arange(len(people))
    log = damage._Log(len(person))
    shown, _ = damage._type_births(np.random.default_rng(3), people, person, _only("BIRTH_YEAR_OFF", len(person)), log)
    true = np.datetime_as_string(people.birth, unit="D")
    assert all(len(value) == 10 for value in shown)
    assert all(abs(int(s[:4]) - int(t[:4])) == 1 for s, t in zip(shown, true, strict=True))
    same_day = [s[5:] == t[5:] for s, t in zip(shown, true, strict=True) if t[5:] != "02-29"]
    assert all(same_day)
    assert all("BIRTH_YEAR_OFF" in errors for errors in _errors(log))


def test_middle_name_added_and_dropped(people: People) -> None:
    person = np.arange(len(people))
    for kind in ("NAME_MIDDLE_ADDED", "NAME_MIDDLE_DROPPED"):
        log = damage._Log(len(person))
        meaning, _, _ = damage._type_names(np.random.default_rng(4), people, person, _only(kind, len(person)), log)
        marked = np.array([kind in errors for errors in _errors(log)])
        assert marked.mean() > 0.8  # only people without a middle name cannot lose it
        for typed, true in zip(meaning[marked], people.full_name[marked], strict=True):
            typed_words, true_words = typed.split(), true.split()
            assert (typed_words[0], typed_words[-1]) == (true_words[0], true_words[-1])
            if kind == "NAME_MIDDLE_ADDED":  # one more middle word, the person's own ones kept
                assert len(typed_words) == len(true_words) + 1 and typed_words[2:] == true_words[1:]
            else:  # the middle name(s) gone
                assert len(typed_words) == 2 < len(true_words)


def test_one_letter_typo_is_one_edit(people: People) -> None:
    person = np.arange(len(people))
    log = damage._Log(len(person))
    meaning, _, _ = damage._type_names(np.random.default_rng(6), people, person, _only("NAME_TYPO", len(person)), log)
    from rapidfuzz.distance import Levenshtein

    distances = [Levenshtein.distance(t, r) for t, r in zip(meaning, people.full_name, strict=True)]
    assert max(distances) <= 2 and np.mean([d >= 1 for d in distances]) > 0.95


def test_a_relatives_id_is_a_twins_when_there_is_one(people: People) -> None:
    household, birth = people.household, people.birth
    twin_of_previous = np.flatnonzero((household[1:] == household[:-1]) & (birth[1:] == birth[:-1])) + 1
    assert len(twin_of_previous) > 10
    person = np.concatenate([twin_of_previous, twin_of_previous - 1, np.arange(200)])
    typed = people.person_id[person].astype(object)
    log = damage._Log(len(person))
    damage._relatives_ids(np.random.default_rng(7), people, person, np.ones(len(person), bool), typed, log)
    errors = _errors(log)
    holder = {pid: index for index, pid in enumerate(people.person_id)}
    for row, own in enumerate(person):
        other = holder[typed[row]]
        assert other != own
        if "ID_TWIN" in errors[row]:
            assert household[other] == household[own] and birth[other] == birth[own]
        elif "ID_RELATIVE" in errors[row]:
            assert household[other] == household[own] and birth[other] != birth[own]
        else:
            assert errors[row] == {"ID_OTHER_PERSON"}
    twins = len(twin_of_previous)
    assert all("ID_TWIN" in e for e in errors[: 2 * twins])
