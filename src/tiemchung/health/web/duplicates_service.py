"""What the duplicates pages and the duplicates API both do: the queue of the account's area, the side-by-side
comparison of a group, and the decisions (gộp, không phải cùng một người, tách, a citizen's request).

One function per action, called by the page and by the API alike; each checks the area of every record it touches
(403 outside it), writes the audit log, and returns an outcome with its message in Vietnamese. The caller commits.

A pair is in an account's area when both its records are: a station sees the pairs of its commune; a pair of two
communes goes to the district's or province's account that covers both.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from tiemchung.health.certificates.keys import DocumentSigner
from tiemchung.health.certificates.series import SeriesChange, renew_series
from tiemchung.health.duplicates import review
from tiemchung.health.duplicates.detect import Evidence, Pair, dose_counts, find_pairs, group_pairs
from tiemchung.health.duplicates.merge import MergeRefused, merge_subjects, survivor_of, unmerge
from tiemchung.health.duplicates.models import DuplicatePair, PairSource, PairState, SubjectMerge
from tiemchung.health.registry.audit import record, record_subject_read
from tiemchung.health.registry.models import Facility, Role, Subject, User
from tiemchung.health.web import access
from tiemchung.health.web.places import place_label
from tiemchung.health.web.subject_labels import SEX_LABELS, vaccine_label, verdict_label
from tiemchung.health.web.subject_search import SearchQuery, SearchResult, search
from tiemchung.health.web.subjects_service import load_subject
from tiemchung.identity.names import fold_name
from tiemchung.reference import DoseKind

# The station decides for its commune; the province (and the ministry, for pairs across provinces) for wider areas.
DECIDERS = frozenset({Role.HEALTH_STATION, Role.PROVINCE, Role.MINISTRY})
# Running the detection again reads the whole registry: the supervisors' button, not every station's.
REFRESHERS = frozenset({Role.PROVINCE, Role.MINISTRY})
PAGE_SIZE = 20
KINDS = {
    "": "Tất cả các nhóm chờ xem xét",
    "requested": "Người dân đề nghị gộp mũi tiêm",
    "certain": "Chắc chắn (CSDL dân cư hoặc cùng số định danh, họ tên, ngày sinh)",
    "probable": "Có thể trùng (cần cán bộ xác nhận)",
    **{evidence.value: evidence.label_vi for evidence in Evidence if evidence != Evidence.CONFIRMED_BY_PERSON},
}
MERGE_REASON = "Gộp hồ sơ trùng: chứng nhận cấp lại theo đủ các mũi tiêm của người này"
UNMERGE_REASON = "Tách hồ sơ đã gộp: chứng nhận cấp lại cho từng hồ sơ"


# --- the queue ---------------------------------------------------------------------------------------------


@dataclass
class QueueGroup:
    subject_ids: list[int]
    evidence: Evidence
    certain: bool
    requested: bool
    members: list[Subject] = field(default_factory=list)
    doses: dict[int, int] = field(default_factory=dict)

    @property
    def evidence_vi(self) -> str:
        return "Người dân đề nghị gộp mũi tiêm" if self.requested else self.evidence.label_vi


@dataclass
class QueuePage:
    groups: list[QueueGroup]
    total: int
    page: int
    kind: str
    text: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def queue(session: Session, user: User, *, kind: str = "", text: str = "", page: int = 1) -> QueuePage:
    """The open groups of the user's area, citizens' requests first, then the strongest evidence; one page of them."""
    kind = kind if kind in KINDS else ""
    rows = session.execute(_open_pairs_in_area(user, text)).all()
    requested = {member for first, second, _e, source in rows if source == PairSource.REQUESTED.value
                 for member in (first, second)}  # fmt: skip
    groups = [
        QueueGroup(group.subject_ids, group.strongest, group.certain, bool(requested & set(group.subject_ids)))
        for group in group_pairs(Pair(first, second, Evidence(evidence)) for first, second, evidence, _s in rows)
    ]
    groups = [group for group in groups if _of_kind(group, kind)]
    order = list(Evidence)
    groups.sort(key=lambda group: (not group.requested, not group.certain, order.index(group.evidence),
                                   group.subject_ids[0]))  # fmt: skip
    pages = max(1, -(-len(groups) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    _load_members(session, shown)
    record(session, actor=user.username, actor_role=user.role, action="list", entity="duplicate_group",
           reason="Danh sách hồ sơ trùng chờ xem xét",
           detail={"results": [group.subject_ids for group in shown], "kind": kind})  # fmt: skip
    return QueuePage(shown, len(groups), page, kind, text)


def _open_pairs_in_area(user: User, text: str) -> Any:
    first, second = aliased(Subject), aliased(Subject)
    query = (
        select(DuplicatePair.first_id, DuplicatePair.second_id, DuplicatePair.evidence, DuplicatePair.source)
        .join(first, first.id == DuplicatePair.first_id)
        .join(second, second.id == DuplicatePair.second_id)
        .where(
            DuplicatePair.state == PairState.OPEN.value,
            access.area_clause(user, first.province_code, first.district_code, first.ward_code),
            access.area_clause(user, second.province_code, second.district_code, second.ward_code),
            DuplicatePair.first_id.not_in(review.merged_away()),  # type: ignore[arg-type]
            DuplicatePair.second_id.not_in(review.merged_away()),  # type: ignore[arg-type]
        )
    )
    folded = fold_name(text.strip()) if text.strip() else ""
    if folded:
        query = query.where(or_(first.name_folded.contains(folded), second.name_folded.contains(folded)))
    return query.order_by(DuplicatePair.first_id, DuplicatePair.second_id)


def _of_kind(group: QueueGroup, kind: str) -> bool:
    if kind == "requested":
        return group.requested
    if kind in ("certain", "probable"):
        return group.certain == (kind == "certain")
    return not kind or group.evidence.value == kind


def _load_members(session: Session, groups: list[QueueGroup]) -> None:
    ids = [subject_id for group in groups for subject_id in group.subject_ids]
    subjects = {subject.id: subject for subject in session.scalars(select(Subject).where(Subject.id.in_(ids)))}
    doses = dose_counts(session, ids)
    for group in groups:
        group.members = [subjects[subject_id] for subject_id in group.subject_ids if subject_id in subjects]
        group.doses = {subject_id: doses.get(subject_id, 0) for subject_id in group.subject_ids}


def last_detection(session: Session) -> datetime | None:
    found: datetime | None = session.scalar(select(func.max(DuplicatePair.found_at)))
    return found


# --- the comparison ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRow:
    label: str
    values: list[str]
    differs: bool


@dataclass
class Comparison:
    subject: Subject
    members: list[Subject]
    rows: list[FieldRow]
    doses: dict[int, list[dict[str, str]]]
    evidence: list[str]
    requested: bool
    merges: list["MergeView"]


def comparison(session: Session, user: User, subject_id: int) -> Comparison:
    """The subject's open group, record beside record, every field that differs marked; reads are audited."""
    subject = load_subject(session, user, subject_id, reason="So sánh hồ sơ trùng")
    pairs = review.open_group_of(session, subject.id)
    ids = sorted({subject.id} | {member for pair in pairs for member in (pair.first_id, pair.second_id)})
    members = [member for member in session.scalars(select(Subject).where(Subject.id.in_(ids)).order_by(Subject.id))
               if _covers(user, member)]  # fmt: skip
    shown = {member.id for member in members}
    pairs = [pair for pair in pairs if {pair.first_id, pair.second_id} <= shown]
    for member in members:
        if member.id != subject.id:
            record_subject_read(session, actor=user.username, actor_role=user.role, subject_id=member.id,
                                reason="So sánh hồ sơ trùng")  # fmt: skip
    facilities = _facility_names(session, members)
    doses = {member.id: _dose_rows(member, facilities) for member in members}
    evidence = sorted({Evidence(pair.evidence).label_vi for pair in pairs if pair.source == PairSource.DETECTED.value})
    requested = any(pair.source == PairSource.REQUESTED.value for pair in pairs)
    return Comparison(subject, members, _field_rows(members, user, facilities), doses, evidence, requested,
                      merges_of(session, user, subject.id))  # fmt: skip


def _covers(user: User, subject: Subject) -> bool:
    places = {"province_code": subject.province_code, "district_code": subject.district_code}
    return access.covers(user, **places, ward_code=subject.ward_code)


def _facility_names(session: Session, members: list[Subject]) -> dict[str, str]:
    codes = {member.facility_code for member in members if member.facility_code}
    codes |= {dose.facility_code for member in members for dose in member.doses}
    rows = session.execute(select(Facility.code, Facility.name).where(Facility.code.in_(codes)))
    return {code: name for code, name in rows}


def _dose_rows(member: Subject, facilities: dict[str, str]) -> list[dict[str, str]]:
    return [
        {
            "date": dose.vaccination_date.isoformat(),
            "vaccine": vaccine_label(dose.vaccine),
            "kind": DoseKind(dose.dose_kind).label_vi if dose.dose_kind in DoseKind else "Không rõ mũi",
            "facility": facilities.get(dose.facility_code, "Cơ sở chưa có trong danh mục"),
        }
        for dose in sorted(member.doses, key=lambda dose: (dose.vaccination_date, dose.id))
    ]


def _field_rows(members: list[Subject], user: User, facilities: dict[str, str]) -> list[FieldRow]:
    def row(label: str, raw: Sequence[object], shown: list[str]) -> FieldRow:
        return FieldRow(label, shown, len({str(value or "") for value in raw}) > 1)

    ids = [member.id_number or member.id_number_raw for member in members]
    places = [place_label(member.province_code, member.district_code, member.ward_code) for member in members]
    registered = [facilities.get(member.facility_code or "", "Không rõ") for member in members]
    return [
        row("Họ và tên", [member.name_folded for member in members], [member.full_name for member in members]),
        row("Ngày sinh", [member.birth_date for member in members],
            [_birth(member.birth_date or member.birth_date_raw) for member in members]),
        row("Giới tính", [member.sex for member in members],
            [SEX_LABELS.get(member.sex or "", "Không rõ") for member in members]),
        row("Số CCCD/CMND", ids, [access.mask_id_number(value, user) or "Chưa có" for value in ids]),
        row("Số hộ chiếu", [member.passport_number for member in members],
            [member.passport_number or "Không có" for member in members]),
        row("Nơi cư trú", places, places),
        row("Xác minh với CSDL dân cư", [member.verification_category for member in members],
            [verdict_label(member.verification_category) for member in members]),
        row("Cơ sở đăng ký hồ sơ", registered, registered),
        row("Số mũi tiêm", [len(member.doses) for member in members], [str(len(member.doses)) for member in members]),
    ]  # fmt: skip


def _birth(value: str | None) -> str:
    if value and len(value) == 10:
        return f"{value[8:10]}/{value[5:7]}/{value[:4]}"
    return value or "Không rõ"


# --- a record's merges (the "tách" action) ------------------------------------------------------------------


@dataclass(frozen=True)
class MergeView:
    merge: SubjectMerge
    other: Subject
    survivor: bool  # the viewed record is the survivor (the other was merged into it)


def merges_of(session: Session, user: User, subject_id: int) -> list[MergeView]:
    """The active merges of the record, with the other record (only those inside the user's area)."""
    query = select(SubjectMerge).where(
        SubjectMerge.unmerged_at.is_(None),
        or_(SubjectMerge.survivor_id == subject_id, SubjectMerge.merged_id == subject_id),
    )
    views = []
    for merge in session.scalars(query.order_by(SubjectMerge.id)):
        survivor = merge.survivor_id == subject_id
        other = session.get(Subject, merge.merged_id if survivor else merge.survivor_id)
        if other is not None and _covers(user, other):
            views.append(MergeView(merge, other, survivor))
    return views


# --- the decisions -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    message: str
    survivor_id: int | None = None
    merge_ids: list[int] = field(default_factory=list)
    certificates: SeriesChange | None = None


def merge_group(
    session: Session, user: User, subject_id: int, chosen: list[int], signer: DocumentSigner | None
) -> Outcome:
    """ "Gộp": the chosen records of the subject's open group become one; certificates follow the whole series."""
    subject = load_subject(session, user, subject_id, reason="Gộp hồ sơ trùng")
    ids = sorted(set(chosen) | {subject.id})
    if len(ids) < 2:
        return Outcome(False, "Hãy chọn ít nhất hai hồ sơ để gộp.")
    group = {member for pair in review.open_group_of(session, subject.id) for member in (pair.first_id, pair.second_id)}
    if not set(ids) <= group:
        return Outcome(False, "Các hồ sơ đã chọn không cùng một nhóm trong danh sách chờ gộp: hãy đề nghị gộp trước.")
    for other in ids:
        if other != subject.id:
            load_subject(session, user, other, reason="Gộp hồ sơ trùng")
    try:
        result = merge_subjects(session, ids, actor=user.username, evidence=Evidence.CONFIRMED_BY_PERSON)
    except MergeRefused as refused:
        return Outcome(False, str(refused))
    review.mark_merged(session, ids, actor=user.username)
    series = renew_series(session, ids, signer=signer, actor=user.username, reason=MERGE_REASON)
    survivor = session.get(Subject, result.survivor_id)
    name = survivor.full_name if survivor else ""
    message = (f"Đã gộp {len(ids)} hồ sơ thành một (hồ sơ giữ lại: {name}); {result.moved_doses} mũi tiêm đã chuyển về "
               f"hồ sơ này. {series.message_vi}").strip()  # fmt: skip
    return Outcome(True, message, result.survivor_id, [merge.id for merge in result.merges], series)


def not_same_person(session: Session, user: User, subject_id: int, others: list[int], note: str = "") -> Outcome:
    """ "Không phải cùng một người": remembered for each pair; the records leave the queue and never come back to it."""
    subject = load_subject(session, user, subject_id, reason="Xem xét hồ sơ trùng")
    if not others:  # the rest of its group, as the comparison shows it: the records inside the user's area
        pairs = review.open_group_of(session, subject.id)
        group = {member for pair in pairs for member in (pair.first_id, pair.second_id)} - {subject.id}
        others = [member.id for member in session.scalars(select(Subject).where(Subject.id.in_(group)))
                  if _covers(user, member)]  # fmt: skip
    others = sorted(set(others) - {subject.id})
    if not others:
        return Outcome(False, "Hồ sơ này không còn trong danh sách chờ gộp.")
    for other in others:
        load_subject(session, user, other, reason="Xem xét hồ sơ trùng")
    review.mark_distinct(session, subject.id, others, actor=user.username, actor_role=user.role, note=note)
    return Outcome(True, "Đã ghi nhận: không phải cùng một người. Hệ thống sẽ không đề xuất gộp các hồ sơ này nữa.")


def request_merge(session: Session, user: User, subject_id: int, other_id: int, note: str = "") -> Outcome:
    """A citizen's request at the station ("gộp mũi tiêm"): the pair joins the queue for the same decision."""
    subject = load_subject(session, user, subject_id, reason="Người dân đề nghị gộp mũi tiêm")
    if other_id == subject.id:
        return Outcome(False, "Hãy chọn một hồ sơ khác của người này.")
    other = load_subject(session, user, other_id, reason="Người dân đề nghị gộp mũi tiêm")
    for record_id in (subject.id, other.id):
        if survivor_of(session, record_id) != record_id:
            return Outcome(False, "Một trong hai hồ sơ đã được gộp vào hồ sơ khác: hãy mở hồ sơ được giữ lại.")
    review.request_pair(session, subject.id, other.id, actor=user.username, actor_role=user.role, note=note)
    return Outcome(True, f"Đã đưa hai hồ sơ vào danh sách chờ gộp: {subject.full_name} và {other.full_name}. "
                         "Hãy so sánh rồi quyết định gộp.")  # fmt: skip


def unmerge_record(
    session: Session, user: User, subject_id: int, merge_id: int, signer: DocumentSigner | None, note: str = ""
) -> Outcome:
    """ "Tách": undo a merge of this record; the pair is remembered as two people and certificates follow."""
    subject = load_subject(session, user, subject_id, reason="Tách hồ sơ đã gộp")
    merge = session.get(SubjectMerge, merge_id)
    if merge is None or subject.id not in (merge.survivor_id, merge.merged_id) or merge.unmerged_at is not None:
        return Outcome(False, "Không có lần gộp này trong hồ sơ, hoặc đã được tách rồi.")
    other_id = merge.merged_id if merge.survivor_id == subject.id else merge.survivor_id
    load_subject(session, user, other_id, reason="Tách hồ sơ đã gộp")
    try:
        unmerge(session, merge.id, actor=user.username)
    except MergeRefused as refused:
        return Outcome(False, str(refused))
    review.mark_distinct(session, merge.survivor_id, [merge.merged_id], actor=user.username, actor_role=user.role,
                         note=note or "Tách hồ sơ đã gộp")  # fmt: skip
    ids = [merge.survivor_id, merge.merged_id]
    series = renew_series(session, ids, signer=signer, actor=user.username, reason=UNMERGE_REASON)
    moved = len(merge.moved_dose_ids)
    message = (f"Đã tách hai hồ sơ; {moved} mũi tiêm đã trả về hồ sơ cũ. Hai hồ sơ được ghi nhận là hai người khác "
               f"nhau. {series.message_vi}").strip()  # fmt: skip
    return Outcome(True, message, merge.survivor_id, [merge.id], series)


def search_other(session: Session, user: User, subject: Subject, text: str) -> SearchResult:
    """Records of the user's area matching what the citizen's other record is known by (the subject left out)."""
    result = search(session, user, SearchQuery(text=text))
    result.subjects = [found for found in result.subjects if found.id != subject.id]
    return result


def refresh(session: Session, user: User) -> review.StoredPairs:
    """Run the detection over the registry and store what it found (decisions kept)."""
    stored = review.store_pairs(session, find_pairs(session))
    detail = {"new": stored.new, "kept": stored.kept, "closed": stored.closed}
    record(session, actor=user.username, actor_role=user.role, action="detect", entity="duplicate_pair",
           reason="Tìm hồ sơ trùng", detail=detail)  # fmt: skip
    return stored


def open_pair_count(session: Session, subject_id: int) -> int:
    return len(review.open_pairs_touching(session, [subject_id]))
