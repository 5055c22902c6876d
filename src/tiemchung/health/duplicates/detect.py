"""Find the registry subjects that are one person: pairs by evidence, then groups (connected pairs).

The evidence, strongest first:
- `same_register_person` (certain): the population register identified both as the same person (a VERIFIED
  12-digit CCCD, or the person a NO_ID_VERIFIED answer found). The register is the authority on who is who.
- `same_id_same_identity` (certain): both carry the same valid ID number, and the same name and birth date.
- `register_proposes_person` (probable): the register answered MISMATCH for one record and proposed the person the
  other record was verified as (an ID typed wrong, a name misspelt): very likely, but the register only proposes.
- `same_id_other_identity` (probable): the same valid ID number, the same birth year and a similar name (a typo, a
  dropped middle name) whose given names are at most one letter apart (twins share ID, year and all but the given
  name: Nguyễn Văn Đạt and Nguyễn Văn Hải are 86 % alike). A same ID with an unrelated name or birth is not
  paired: that is a relative's ID typed for the person (parents' for children, twins'), which verification already
  reports as a mismatch.
- `same_name_birth_date` (probable): no shared ID, but the same name (folded), full birth date and sex in the same
  province: people without a usable ID registered twice; namesakes born the same day exist, so a person decides.
- `similar_identity` (probable): none of the above, but the probabilistic model (Splink `dedupe_only` on the
  registry's own subjects, `probabilistic.py`) scores the pair at least `MATCH_THRESHOLD`: a name, birth date and
  ID each typed with its own errors at each registration, in another province for a migrant worker.

Pairs are found in SQL (groups of a key with more than one subject), so the work grows with the registry, not with
its square; subjects already merged into another are left out. Groups are the connected pairs (union-find); a
group is `certain` when certain evidence alone connects it, otherwise `probable`.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.duplicates.probabilistic import find_scored_pairs, unrelated_given_names
from tiemchung.health.registry.models import Dose, Subject
from tiemchung.interchange.results import Category

SIMILAR_NAME = 85  # rapidfuzz ratio of the folded names: a typo or a dropped middle name, not another person


class Evidence(StrEnum):
    SAME_REGISTER_PERSON = "same_register_person"
    SAME_ID_SAME_IDENTITY = "same_id_same_identity"
    REGISTER_PROPOSES_PERSON = "register_proposes_person"
    SAME_ID_OTHER_IDENTITY = "same_id_other_identity"
    SAME_NAME_BIRTH_DATE = "same_name_birth_date"
    SIMILAR_IDENTITY = "similar_identity"
    CONFIRMED_BY_PERSON = "confirmed_by_person"  # a health worker decided (a citizen's request, a probable group)

    @property
    def certain(self) -> bool:
        return self in (Evidence.SAME_REGISTER_PERSON, Evidence.SAME_ID_SAME_IDENTITY)

    @property
    def label_vi(self) -> str:
        return _LABELS_VI[self]


_LABELS_VI = {
    Evidence.SAME_REGISTER_PERSON: "CSDL dân cư xác định là cùng một người",
    Evidence.SAME_ID_SAME_IDENTITY: "Cùng số CCCD/CMND, cùng họ tên và ngày sinh",
    Evidence.REGISTER_PROPOSES_PERSON: "CSDL dân cư đề xuất hồ sơ sai thông tin này thuộc về người đã xác minh kia",
    Evidence.SAME_ID_OTHER_IDENTITY: (
        "Cùng số CCCD/CMND nhưng khác họ tên hoặc ngày sinh (có thể nhập nhầm số của người thân)"
    ),
    Evidence.SAME_NAME_BIRTH_DATE: "Không có số định danh chung; cùng họ tên, ngày sinh, giới tính và tỉnh",
    Evidence.SIMILAR_IDENTITY: "Họ tên, ngày sinh, giới tính, số giấy tờ và nơi ở rất giống nhau (mô hình xác suất)",
    Evidence.CONFIRMED_BY_PERSON: "Cán bộ y tế xác nhận là cùng một người",
}


@dataclass(frozen=True)
class Pair:
    first: int
    second: int
    evidence: Evidence
    match_probability: float | None = None  # the probabilistic model's score, when it scored the pair


@dataclass
class Group:
    """Subjects (ids) found to be one person, with the strongest evidence seen for each."""

    subject_ids: list[int]
    evidence: dict[int, Evidence] = field(default_factory=dict)
    certain: bool = True

    @property
    def state(self) -> str:
        return "certain" if self.certain else "probable"

    @property
    def strongest(self) -> Evidence:
        return min(self.evidence.values(), key=list(Evidence).index)


def find_pairs(session: Session, *, probabilistic: bool = True) -> list[Pair]:
    """Every pair of active subjects with evidence of being one person, with the strongest evidence found for it.

    `probabilistic=False` leaves out the Splink model (`similar_identity`): the exact rules alone, in SQL."""
    found = find_exact_pairs(session)
    if probabilistic:
        found += [
            Pair(scored.first, scored.second, Evidence.SIMILAR_IDENTITY, scored.match_probability)
            for scored in find_scored_pairs(session)
        ]
    return strongest_pairs(found)


def find_exact_pairs(session: Session) -> list[Pair]:
    """The pairs of the exact rules (register answers, IDs, name + birth date), found in SQL."""
    return [
        *_pairs_by_key(session, _register_person(), Evidence.SAME_REGISTER_PERSON),
        *_proposed_pairs(session),
        *_pairs_by_id_number(session),
        *_pairs_by_key(session, _name_birth_key(), Evidence.SAME_NAME_BIRTH_DATE, without_shared_id=True),
    ]


def strongest_pairs(found: Iterable[Pair]) -> list[Pair]:
    """One pair per two subjects, with the strongest evidence found (and the model's score when it scored them)."""
    order = list(Evidence)
    strongest: dict[tuple[int, int], Pair] = {}
    scores: dict[tuple[int, int], float] = {}
    for pair in found:
        key = (pair.first, pair.second)
        if pair.match_probability is not None:
            scores[key] = pair.match_probability
        known = strongest.get(key)
        if known is None or order.index(pair.evidence) < order.index(known.evidence):
            strongest[key] = pair
    return [replace(pair, match_probability=scores.get(key)) for key, pair in sorted(strongest.items())]


def find_groups(session: Session, *, probabilistic: bool = True) -> list[Group]:
    """The pairs joined into groups (connected components), largest evidence first, in a stable order."""
    return group_pairs(find_pairs(session, probabilistic=probabilistic))


def _active() -> Select[int]:
    """Subjects not merged into another (an active merge)."""
    return select(SubjectMerge.merged_id).where(SubjectMerge.unmerged_at.is_(None))


def _register_person() -> object:
    """The register person a subject was identified as, when the register said so."""
    return case(
        (
            and_(Subject.verification_category == Category.VERIFIED.value, func.length(Subject.id_number) == 12),
            Subject.id_number,
        ),
        (Subject.verification_category == Category.NO_ID_VERIFIED.value, Subject.matched_person_id),
        else_=None,
    )


def _proposed_pairs(session: Session) -> list[Pair]:
    """MISMATCH records whose proposed person is the person another record was verified as."""
    mismatched = aliased(Subject)
    verified = aliased(Subject)
    rows = session.execute(
        select(mismatched.id, verified.id)
        .join(verified, verified.id_number == mismatched.matched_person_id)
        .where(
            mismatched.verification_category == Category.MISMATCH.value,
            verified.verification_category == Category.VERIFIED.value,
            mismatched.id != verified.id,
            mismatched.id.not_in(_active()),
            verified.id.not_in(_active()),
        )
    )
    return [Pair(min(first, second), max(first, second), Evidence.REGISTER_PROPOSES_PERSON) for first, second in rows]


def _name_birth_key() -> object:
    """Folded name, full birth date, sex and province; empty (no key) when the birth date is only a year."""
    full_date = func.length(Subject.birth_date) == 10
    key = Subject.name_folded + "|" + Subject.birth_date + "|" + Subject.sex + "|" + Subject.province_code
    return case((and_(full_date, Subject.sex.is_not(None), Subject.province_code.is_not(None)), key), else_=None)


def _pairs_by_key(session: Session, key: object, evidence: Evidence, *, without_shared_id: bool = False) -> list[Pair]:
    keyed = (
        select(Subject.id.label("id"), key.label("key"), Subject.id_number.label("id_number"))  # type: ignore[attr-defined]
        .where(Subject.id.not_in(_active()))
        .subquery()
    )
    shared = select(keyed.c.key).where(keyed.c.key.is_not(None)).group_by(keyed.c.key).having(func.count() > 1)
    rows = session.execute(
        select(keyed.c.key, keyed.c.id, keyed.c.id_number)
        .where(keyed.c.key.in_(shared))
        .order_by(keyed.c.key, keyed.c.id)
    )
    pairs = []
    for members in _by_key(rows):
        for index, (first, first_id_number) in enumerate(members):
            for second, second_id_number in members[index + 1 :]:
                both_have_ids = bool(first_id_number) and bool(second_id_number)
                if without_shared_id and both_have_ids:
                    continue  # two different valid IDs, or the same one (found by the ID rule): not this rule's case
                pairs.append(Pair(first, second, evidence))
    return pairs


def _pairs_by_id_number(session: Session) -> list[Pair]:
    valid = and_(Subject.id_status == "valid", Subject.id_number.is_not(None), Subject.id.not_in(_active()))
    shared = select(Subject.id_number).where(valid).group_by(Subject.id_number).having(func.count() > 1)
    rows = session.execute(
        select(Subject.id_number, Subject.id, Subject.name_folded, Subject.birth_date, Subject.birth_year)
        .where(valid, Subject.id_number.in_(shared))
        .order_by(Subject.id_number, Subject.id)
    )
    pairs = []
    for members in _by_key(rows):
        for index, (first, first_name, first_birth, first_year) in enumerate(members):
            for second, second_name, second_birth, second_year in members[index + 1 :]:
                if first_name == second_name and first_birth == second_birth:
                    pairs.append(Pair(first, second, Evidence.SAME_ID_SAME_IDENTITY))
                elif (
                    first_year == second_year
                    and fuzz.ratio(first_name, second_name) >= SIMILAR_NAME
                    and not unrelated_given_names(first_name, second_name)  # twins: Nguyễn Văn Đạt, Nguyễn Văn Hải
                ):
                    pairs.append(Pair(first, second, Evidence.SAME_ID_OTHER_IDENTITY))
    return pairs


def _by_key(rows: Iterable[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """Rows ordered by their first column, as lists of the other columns per key."""
    members: list[tuple[Any, ...]] = []
    current: object = None
    for key, *rest in rows:
        if members and key != current:
            yield members
            members = []
        current = key
        members.append(tuple(rest))
    if members:
        yield members


def group_pairs(pairs: Iterable[Pair]) -> list[Group]:
    """Connected components of the pairs; `certain` when the certain pairs alone connect the whole group."""
    pairs = list(pairs)
    everything, certain_only = _UnionFind(), _UnionFind()
    strongest: dict[int, Evidence] = {}
    order = list(Evidence)
    for pair in pairs:
        everything.union(pair.first, pair.second)
        if pair.evidence.certain:
            certain_only.union(pair.first, pair.second)
        for subject_id in (pair.first, pair.second):
            known = strongest.get(subject_id)
            if known is None or order.index(pair.evidence) < order.index(known):
                strongest[subject_id] = pair.evidence
    members: dict[int, list[int]] = defaultdict(list)
    for subject_id in strongest:
        members[everything.find(subject_id)].append(subject_id)
    groups = []
    for ids in members.values():
        ids.sort()
        certain = len({certain_only.find(subject_id) for subject_id in ids}) == 1
        groups.append(Group(ids, {subject_id: strongest[subject_id] for subject_id in ids}, certain))
    return sorted(groups, key=lambda group: group.subject_ids[0])


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, first: int, second: int) -> None:
        first_root, second_root = self.find(first), self.find(second)
        if first_root != second_root:
            self.parent[max(first_root, second_root)] = min(first_root, second_root)


def dose_counts(session: Session, subject_ids: Iterable[int]) -> dict[int, int]:
    ids = list(subject_ids)
    rows = session.execute(
        select(Dose.subject_id, func.count()).where(Dose.subject_id.in_(ids)).group_by(Dose.subject_id)
    )
    return {subject_id: count for subject_id, count in rows}
