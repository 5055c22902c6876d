"""Merge the records of one person into one, and undo it: nothing is deleted, every step is audited.

The survivor is the record the register verified (VERIFIED, then NO_ID_VERIFIED), else the one with most doses,
else the oldest. Each other record's doses move to the survivor (their ids kept on the merge), and the record
points to the survivor through its `SubjectMerge`. An unmerge moves exactly those doses back. The summary of entered
doses follows by its triggers (a dose's subject is a counted column), so appendix 1 stays the count of the doses.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tiemchung.health.duplicates.detect import Evidence, dose_counts
from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Dose, Subject
from tiemchung.interchange.results import Category

VERIFIED_FIRST = {Category.VERIFIED.value: 0, Category.NO_ID_VERIFIED.value: 1}


class MergeRefused(Exception):
    """A merge or unmerge that cannot be done, with the reason in Vietnamese."""


@dataclass(frozen=True)
class MergeResult:
    survivor_id: int
    merges: list[SubjectMerge]
    moved_doses: int


def choose_survivor(session: Session, subjects: Sequence[Subject]) -> Subject:
    doses = dose_counts(session, [subject.id for subject in subjects])
    return min(
        subjects,
        key=lambda subject: (
            VERIFIED_FIRST.get(subject.verification_category or "", 2),
            -doses.get(subject.id, 0),
            subject.id,
        ),
    )


def merge_subjects(session: Session, subject_ids: Sequence[int], *, actor: str, evidence: Evidence) -> MergeResult:
    """Merge the subjects into one survivor; refused when fewer than two, unknown, or one is already merged."""
    ids = sorted(set(subject_ids))
    subjects = list(session.scalars(select(Subject).where(Subject.id.in_(ids)).with_for_update()))
    if len(ids) < 2 or len(subjects) != len(ids):
        raise MergeRefused("Cần ít nhất hai đối tượng có trong sổ tiêm để gộp.")
    already = session.scalars(
        select(SubjectMerge.merged_id).where(SubjectMerge.merged_id.in_(ids), SubjectMerge.unmerged_at.is_(None))
    ).all()
    if already:
        raise MergeRefused(f"Đối tượng {', '.join(map(str, already))} đã được gộp vào người khác.")
    survivor = choose_survivor(session, subjects)
    merges, moved = [], 0
    for subject in subjects:
        if subject.id != survivor.id:
            merge = _merge_one(session, survivor, subject, actor=actor, evidence=evidence)
            merges.append(merge)
            moved += len(merge.moved_dose_ids)
    return MergeResult(survivor.id, merges, moved)


def _merge_one(session: Session, survivor: Subject, merged: Subject, *, actor: str, evidence: Evidence) -> SubjectMerge:
    dose_ids = list(session.scalars(select(Dose.id).where(Dose.subject_id == merged.id).order_by(Dose.id)))
    session.execute(update(Dose).where(Dose.id.in_(dose_ids)).values(subject_id=survivor.id))
    merge = SubjectMerge(survivor_id=survivor.id, merged_id=merged.id, evidence=evidence.value,
                         moved_dose_ids=dose_ids, merged_by=actor)  # fmt: skip
    session.add(merge)
    session.flush()
    for subject_id in (survivor.id, merged.id):
        record(session, actor=actor, action="merge", entity="subject_merge", entity_id=merge.id, subject_id=subject_id,
               reason=f"Gộp hồ sơ trùng: {evidence.label_vi}",
               detail={"survivor": survivor.id, "merged": merged.id, "doses": dose_ids})  # fmt: skip
    return merge


def unmerge(session: Session, merge_id: int, *, actor: str) -> SubjectMerge:
    """Undo a merge: the doses it moved go back to the merged record, which stands on its own again."""
    merge = session.get(SubjectMerge, merge_id, with_for_update=True)
    if merge is None or merge.unmerged_at is not None:
        raise MergeRefused("Không có lần gộp này, hoặc đã được tách ra rồi.")
    session.execute(
        update(Dose)
        .where(Dose.id.in_(merge.moved_dose_ids), Dose.subject_id == merge.survivor_id)
        .values(subject_id=merge.merged_id)
    )
    merge.unmerged_by, merge.unmerged_at = actor, datetime.now(UTC)
    for subject_id in (merge.survivor_id, merge.merged_id):
        record(session, actor=actor, action="unmerge", entity="subject_merge", entity_id=merge.id,
               subject_id=subject_id, reason="Tách hồ sơ đã gộp (không phải cùng một người)",
               detail={"survivor": merge.survivor_id, "merged": merge.merged_id})  # fmt: skip
    return merge


@dataclass(frozen=True)
class MergeLinks:
    """A record's active merges: the survivor it was merged into, the records merged into it."""

    replaced_by: int | None = None
    replaces: tuple[int, ...] = ()

    def as_fhir(self) -> list[dict[str, object]]:
        """The links of a FHIR Patient (`replaced-by` on the merged record, `replaces` on the survivor)."""
        links: list[dict[str, object]] = []
        if self.replaced_by is not None:
            links.append({"other": {"reference": f"Patient/{self.replaced_by}"}, "type": "replaced-by"})
        links += [{"other": {"reference": f"Patient/{other}"}, "type": "replaces"} for other in self.replaces]
        return links


def merge_links(session: Session, subject_ids: Sequence[int] | None = None) -> dict[int, MergeLinks]:
    """The active merges of the given records (of every record when None), by record id."""
    query = select(SubjectMerge.survivor_id, SubjectMerge.merged_id).where(SubjectMerge.unmerged_at.is_(None))
    if subject_ids is not None:
        ids = list(subject_ids)
        query = query.where(SubjectMerge.survivor_id.in_(ids) | SubjectMerge.merged_id.in_(ids))
    replaced_by: dict[int, int] = {}
    replaces: dict[int, list[int]] = {}
    for survivor, merged in session.execute(query.order_by(SubjectMerge.id)):
        replaced_by[merged] = survivor
        replaces.setdefault(survivor, []).append(merged)
    return {
        subject_id: MergeLinks(replaced_by.get(subject_id), tuple(replaces.get(subject_id, ())))
        for subject_id in set(replaced_by) | set(replaces)
    }


def survivor_of(session: Session, subject_id: int) -> int:
    """The record a subject's doses now live on: itself, or the survivor it was merged into (followed to the end)."""
    seen = {subject_id}
    current = subject_id
    while True:
        survivor = session.scalar(
            select(SubjectMerge.survivor_id).where(
                SubjectMerge.merged_id == current, SubjectMerge.unmerged_at.is_(None)
            )
        )
        if survivor is None or survivor in seen:
            return current
        seen.add(survivor)
        current = survivor
