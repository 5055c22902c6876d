"""The decisions of the people who review duplicates: the stored pairs, "not the same person", a citizen's request.

`store_pairs` writes what the detection found into `duplicate_pairs`, keeping every decision already taken: a pair
decided "không phải cùng một người" stays decided however often it is found again. The queue reads the open pairs
(`open_group_of`, and the pages' own query), so the detection never runs while a page is shown. Merging and
unmerging stay in `merge.py`; the functions here record what a person decided about the pairs around them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tiemchung.health.duplicates.detect import Evidence, Pair
from tiemchung.health.duplicates.models import DuplicatePair, PairSource, PairState, SubjectMerge
from tiemchung.health.registry.audit import record


@dataclass(frozen=True)
class StoredPairs:
    new: int
    kept: int
    closed: int  # open pairs the detection no longer finds (an identity corrected, a record merged)


def store_pairs(session: Session, found: Iterable[Pair]) -> StoredPairs:
    """Make the stored pairs the ones just found, without touching a decided pair or a citizen's request."""
    stored = {(pair.first_id, pair.second_id): pair for pair in session.scalars(select(DuplicatePair))}
    new = kept = 0
    seen = set()
    for pair in found:
        key = (min(pair.first, pair.second), max(pair.first, pair.second))
        seen.add(key)
        known = stored.get(key)
        if known is None:
            values = {"evidence": pair.evidence.value, "source": PairSource.DETECTED.value, "note": ""}
            session.add(DuplicatePair(first_id=key[0], second_id=key[1], state=PairState.OPEN.value, **values))
            new += 1
            continue
        kept += 1
        if known.state == PairState.OPEN.value and known.source == PairSource.DETECTED.value:
            known.evidence = pair.evidence.value
    closed = 0
    for key, known in stored.items():
        if key not in seen and known.state == PairState.OPEN.value and known.source == PairSource.DETECTED.value:
            session.delete(known)
            closed += 1
    session.flush()
    return StoredPairs(new, kept, closed)


def ordered(first: int, second: int) -> tuple[int, int]:
    return (first, second) if first < second else (second, first)


def pair_of(session: Session, first: int, second: int) -> DuplicatePair | None:
    low, high = ordered(first, second)
    return session.scalar(select(DuplicatePair).where(DuplicatePair.first_id == low, DuplicatePair.second_id == high))


def merged_away() -> object:
    """Subjects merged into another (an active merge): they leave the queue with their pairs."""
    return select(SubjectMerge.merged_id).where(SubjectMerge.unmerged_at.is_(None))


def open_pairs_touching(session: Session, subject_ids: Iterable[int]) -> list[DuplicatePair]:
    ids = list(subject_ids)
    query = select(DuplicatePair).where(
        DuplicatePair.state == PairState.OPEN.value,
        or_(DuplicatePair.first_id.in_(ids), DuplicatePair.second_id.in_(ids)),
        DuplicatePair.first_id.not_in(merged_away()),  # type: ignore[arg-type]
        DuplicatePair.second_id.not_in(merged_away()),  # type: ignore[arg-type]
    )
    return list(session.scalars(query.order_by(DuplicatePair.id)))


def open_group_of(session: Session, subject_id: int, *, allowed: Sequence[int] | None = None) -> list[DuplicatePair]:
    """The open pairs connected to the subject (its group in the queue); through `allowed` subjects only, if given.

    Groups are small (two or three records of one person), so a few rounds of one query each find the whole group.
    """
    members, frontier, pairs = {subject_id}, {subject_id}, {}
    while frontier:
        touching = open_pairs_touching(session, frontier)
        frontier = set()
        for pair in touching:
            if allowed is not None and not {pair.first_id, pair.second_id} <= set(allowed) | members:
                continue
            pairs[pair.id] = pair
            for other in (pair.first_id, pair.second_id):
                if other not in members:
                    members.add(other)
                    frontier.add(other)
    return sorted(pairs.values(), key=lambda pair: pair.id)


def decide(pair: DuplicatePair, state: PairState, *, actor: str, note: str = "") -> None:
    pair.state, pair.decided_by, pair.decided_at = state.value, actor, datetime.now(UTC)
    if note:
        pair.note = note[:255]


def mark_distinct(
    session: Session, subject_id: int, other_ids: Iterable[int], *, actor: str, actor_role: str = "", note: str = ""
) -> list[DuplicatePair]:
    """ "Không phải cùng một người": the subject and each other record are remembered as two people."""
    decided = []
    for other in sorted(set(other_ids) - {subject_id}):
        pair = pair_of(session, subject_id, other)
        if pair is None:
            low, high = ordered(subject_id, other)
            pair = DuplicatePair(first_id=low, second_id=high, evidence=Evidence.CONFIRMED_BY_PERSON.value,
                                 source=PairSource.DETECTED.value, note="")  # fmt: skip
            session.add(pair)
        decide(pair, PairState.DISTINCT, actor=actor, note=note)
        decided.append(pair)
    session.flush()
    for pair in decided:
        for member in (pair.first_id, pair.second_id):
            record(session, actor=actor, actor_role=actor_role, action="not_duplicate", entity="duplicate_pair",
                   entity_id=pair.id, subject_id=member, reason="Không phải cùng một người",
                   detail={"first": pair.first_id, "second": pair.second_id, "note": note})  # fmt: skip
    return decided


def mark_merged(session: Session, subject_ids: Sequence[int], *, actor: str) -> None:
    """The open pairs among the merged records are decided: merged."""
    ids = list(subject_ids)
    query = select(DuplicatePair).where(
        DuplicatePair.state == PairState.OPEN.value, DuplicatePair.first_id.in_(ids), DuplicatePair.second_id.in_(ids)
    )
    for pair in session.scalars(query):
        decide(pair, PairState.MERGED, actor=actor)


def request_pair(
    session: Session, subject_id: int, other_id: int, *, actor: str, actor_role: str = "", note: str = ""
) -> DuplicatePair:
    """A citizen showed both records ("gộp mũi tiêm"): the pair goes to the queue, even if once decided otherwise."""
    pair = pair_of(session, subject_id, other_id)
    if pair is None:
        low, high = ordered(subject_id, other_id)
        pair = DuplicatePair(first_id=low, second_id=high, evidence=Evidence.CONFIRMED_BY_PERSON.value, note="")
        session.add(pair)
    pair.source, pair.state, pair.requested_by = PairSource.REQUESTED.value, PairState.OPEN.value, actor
    pair.decided_by = pair.decided_at = None
    pair.note = note[:255]
    session.flush()
    for member in (pair.first_id, pair.second_id):
        record(session, actor=actor, actor_role=actor_role, action="merge_request", entity="duplicate_pair",
               entity_id=pair.id, subject_id=member, reason="Người dân đề nghị gộp mũi tiêm",
               detail={"first": pair.first_id, "second": pair.second_id, "note": note})  # fmt: skip
    return pair
