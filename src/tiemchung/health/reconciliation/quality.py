"""Data-quality checks in the manner of WHO's immunization data-quality review (DQR).

- Drop-out from dose 1 to dose 2 and from the primary series to the first booster, per province and age
  group; a negative drop-out (more second doses than first) is flagged, as the DQR does.
- Outliers between provinces (gap rate, drop-out) and over time (a province's monthly doses), by the
  modified z-score (median and median absolute deviation, robust to the outliers it looks for).
- Doses dated before birth, and doses given sooner after the previous one than the schedule allows.
- Duplicate doses: one person, one vaccine family, one day. A simple duplicate (same dose, compatible
  lot) is resolved automatically: the later-entered copy gets `duplicate_of_id` and an audit
  event. Any other same-day pair is listed for review as a finding.
"""

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tiemchung.health.reconciliation.appendix1 import Appendix1Report, Appendix1Row
from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.queries import (
    doses_before_birth,
    monthly_doses,
    same_day_pairs,
    short_intervals,
    summarised_monthly_doses,
    summary_covers,
)
from tiemchung.health.reconciliation.sources import Source
from tiemchung.health.reconciliation.text import day
from tiemchung.health.registry import audit
from tiemchung.health.registry.models import Dose, Finding
from tiemchung.reference import AgeGroup, DoseKind, provinces, vaccine_by_name

# The modified z-score above which a value is an outlier (Iglewicz and Hoaglin's usual threshold).
OUTLIER_Z = 3.5
# Shortest intervals the schedules allow, minus WHO's 4-day grace period: 14 days between primary doses
# (Abdala's schedule, the shortest licensed in Viet Nam), 3 months before a booster (Ministry guidance).
GRACE_DAYS = 4
MINIMUM_INTERVALS: tuple[tuple[DoseKind, DoseKind, int], ...] = (
    (DoseKind.PRIMARY_1, DoseKind.PRIMARY_2, 14 - GRACE_DAYS),
    (DoseKind.PRIMARY_2, DoseKind.PRIMARY_3, 14 - GRACE_DAYS),
    (DoseKind.PRIMARY_2, DoseKind.BOOSTER_1, 90 - GRACE_DAYS),
    (DoseKind.BOOSTER_1, DoseKind.BOOSTER_2, 90 - GRACE_DAYS),
)
DROP_OUT_PAIRS: tuple[tuple[AgeGroup, DoseKind, DoseKind, str], ...] = (
    (AgeGroup.ADULT, DoseKind.PRIMARY_1, DoseKind.PRIMARY_2, "Mũi 1 → Mũi 2"),
    (AgeGroup.ADULT, DoseKind.PRIMARY_2, DoseKind.BOOSTER_1, "Mũi 2 → Liều nhắc 1"),
    (AgeGroup.TEEN, DoseKind.PRIMARY_1, DoseKind.PRIMARY_2, "Mũi 1 → Mũi 2"),
    (AgeGroup.TEEN, DoseKind.PRIMARY_2, DoseKind.BOOSTER_1, "Mũi 2 → Mũi 3"),
    (AgeGroup.CHILD, DoseKind.PRIMARY_1, DoseKind.PRIMARY_2, "Mũi 1 → Mũi 2"),
)
DUPLICATE_REVIEW = "duplicate_dose_review"


@dataclass(frozen=True)
class DropOut:
    province_code: str
    province_name: str
    age_group: str
    step: str
    first: int
    second: int

    @property
    def rate(self) -> float | None:
        return (self.first - self.second) / self.first if self.first else None

    @property
    def negative(self) -> bool:
        return self.second > self.first


def drop_outs(report: Appendix1Report, *, entered: bool = True) -> list[DropOut]:
    """Drop-out per province and age group, from the registry's doses (or from the reported figures)."""
    result = []
    for row in report.rows:
        cells = dict(zip(CELL_KEYS, row.entered_cells if entered else row.reported, strict=True))
        for age_group, first_kind, second_kind, step in DROP_OUT_PAIRS:
            first = cells.get((age_group.value, first_kind.value), 0)
            second = cells.get((age_group.value, second_kind.value), 0)
            if first or second:
                result.append(DropOut(row.province_code, row.province_name, age_group.value, step, first, second))
    return result


def drop_out_totals(drops: list[DropOut]) -> list[DropOut]:
    """One "Tổng cộng" line per age group and step: the doses of every province added up, in the table's order."""
    sums: dict[tuple[str, str], list[int]] = {}
    for drop in drops:
        pair = sums.setdefault((drop.age_group, drop.step), [0, 0])
        pair[0] += drop.first
        pair[1] += drop.second
    return [DropOut("", "Tổng cộng", age, step, first, second) for (age, step), (first, second) in sums.items()]


@dataclass(frozen=True)
class Outlier:
    subject: str  # what is measured, in Vietnamese
    where: str
    value: float
    median: float
    z: float


def modified_z_scores(values: list[float]) -> list[float]:
    """0.6745·(x − median)/MAD for each value; all zeros when the MAD is 0 (no spread to judge by)."""
    if len(values) < 3:
        return [0.0] * len(values)
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    if mad == 0:
        return [0.0] * len(values)
    return [0.6745 * (v - median) / mad for v in values]


def _outliers(subject: str, labelled: list[tuple[str, float]]) -> list[Outlier]:
    values = [value for _, value in labelled]
    median = statistics.median(values) if values else 0.0
    return [
        Outlier(subject, where, value, median, z)
        for (where, value), z in zip(labelled, modified_z_scores(values), strict=True)
        if abs(z) > OUTLIER_Z
    ]


def province_outliers(report: Appendix1Report) -> list[Outlier]:
    """Provinces whose gap rate (p/n) or adult dose-1→2 drop-out stands out from the others."""
    reported: list[Appendix1Row] = [r for r in report.rows if r.tt is not None and r.reported_total]
    gap_rates = [(r.province_name, r.gap / r.reported_total) for r in reported]
    adult_drop = [
        (d.province_name, d.rate)
        for d in drop_outs(report)
        if d.age_group == AgeGroup.ADULT.value and d.step == DROP_OUT_PAIRS[0][3] and d.rate is not None
    ]
    return _outliers("Tỷ lệ chênh lệch (p/n)", gap_rates) + _outliers("Tỷ lệ bỏ mũi 1 → 2 (18+)", adult_drop)


def monthly_outliers(
    source: Source,
    area: Area | None = None,
    minimum_months: int = 6,
    since: date | None = None,
    until: date | None = None,
) -> list[Outlier]:
    """Months in which a province entered far more or fewer doses than in its usual month."""
    names = {p.code: p.name for p in provinces()}
    series: dict[str, list[tuple[str, float]]] = {}
    statement = summarised_monthly_doses if source.summarised and summary_covers(area) else monthly_doses
    for code, year, month, count in source.rows(statement(area, since, until)):
        label = f"{names.get(code or '', 'Không rõ tỉnh')} {int(month):02d}/{int(year)}"
        series.setdefault(code or "", []).append((label, float(count)))
    found = []
    for months in series.values():
        if len(months) >= minimum_months:
            found.extend(_outliers("Số mũi nhập trong tháng", sorted(months)))
    return found


@dataclass(frozen=True)
class DoseProblem:
    dose_id: int
    subject_key: str
    message: str


def dose_problems(
    source: Source,
    area: Area | None = None,
    limit: int = 1000,
    since: date | None = None,
    until: date | None = None,
) -> list[DoseProblem]:
    """Doses before birth and doses sooner than the schedule allows (at most `limit` of each kind)."""
    found = [
        DoseProblem(int(dose_id), key, f"Ngày tiêm {day(when)} trước ngày sinh {day(birth)}.")
        for dose_id, key, birth, when in source.rows(doses_before_birth(area, limit, since, until))
    ]
    for earlier_kind, later_kind, minimum in MINIMUM_INTERVALS:
        query = short_intervals(earlier_kind.value, later_kind.value, minimum, area, limit, since, until)
        for dose_id, key, earlier_day, later_day, days in source.rows(query):
            found.append(
                DoseProblem(
                    int(dose_id),
                    key,
                    f"{later_kind.label_vi} ngày {day(later_day)} chỉ cách {earlier_kind.label_vi} ngày "
                    f"{day(earlier_day)} "
                    f"{int(days)} ngày (tối thiểu {minimum + GRACE_DAYS} ngày theo lịch tiêm).",
                )
            )
    return found


@dataclass(frozen=True)
class SameDayPair:
    first_id: int
    second_id: int
    subject_key: str
    day: date
    facilities: tuple[str, str]
    vaccines: tuple[str, str]
    dose_kinds: tuple[str, str]
    lots: tuple[str | None, str | None]

    @property
    def simple(self) -> bool:
        """The same event entered twice: (same vaccine family, as listed,) same dose, lots equal or one missing."""
        lots_agree = None in self.lots or "" in self.lots or self.lots[0] == self.lots[1]
        return self.dose_kinds[0] == self.dose_kinds[1] and lots_agree

    def description(self) -> str:
        return (
            f"Đối tượng {self.subject_key}: hai mũi cùng ngày {self.day} "
            f"(#{self.first_id} tại {self.facilities[0]}: {self.vaccines[0]}, mũi {self.dose_kinds[0]}; "
            f"#{self.second_id} tại {self.facilities[1]}: {self.vaccines[1]}, mũi {self.dose_kinds[1]})."
        )


def vaccine_family(vaccine: str) -> str:
    """The product a vaccine name belongs to (aliases such as "Comirnaty" and "Pfizer" are one family)."""
    known = vaccine_by_name(vaccine)
    return known.key if known is not None else vaccine.strip().casefold()


def same_day_duplicates(source: Source, area: Area | None = None) -> list[SameDayPair]:
    """Pairs of one person's doses on one day of one vaccine family."""
    pairs = []
    for row in source.rows(same_day_pairs(area)):
        pair = _pair(row)
        if vaccine_family(pair.vaccines[0]) == vaccine_family(pair.vaccines[1]):
            pairs.append(pair)
    return pairs


def _pair(row: tuple[Any, ...]) -> SameDayPair:
    first, second, key, day, fac1, fac2, vac1, vac2, kind1, kind2, lot1, lot2 = row
    return SameDayPair(int(first), int(second), key, day, (fac1, fac2), (vac1, vac2), (kind1, kind2), (lot1, lot2))


@dataclass(frozen=True)
class DuplicateOutcome:
    resolved: int
    listed_for_review: int


def resolve_duplicates(session: Session, pairs: Iterable[SameDayPair], actor: str) -> DuplicateOutcome:
    """Mark simple duplicates (the later-entered copy points at the earlier one) and list the others."""
    marked: set[int] = set()
    resolved = listed = 0
    for pair in pairs:
        if pair.first_id in marked or pair.second_id in marked:
            continue  # already settled through another pair of the same day
        if pair.simple:
            _mark_duplicate(session, pair, actor)
            marked.add(pair.second_id)
            resolved += 1
        elif _list_for_review(session, pair):
            listed += 1
    return DuplicateOutcome(resolved, listed)


def _mark_duplicate(session: Session, pair: SameDayPair, actor: str) -> None:
    session.execute(update(Dose).where(Dose.id == pair.second_id).values(duplicate_of_id=pair.first_id))
    subject_id = session.scalar(select(Dose.subject_id).where(Dose.id == pair.second_id))
    audit.record(
        session,
        actor=actor,
        action="mark_duplicate",
        entity="dose",
        entity_id=pair.second_id,
        subject_id=subject_id,
        reason="Mũi tiêm trùng lặp (cùng người, cùng vắc xin, cùng ngày, cùng mũi)",
        detail={"duplicate_of_id": pair.first_id, "facilities": list(pair.facilities)},
    )


def _list_for_review(session: Session, pair: SameDayPair) -> bool:
    """Add a review finding for the pair unless an open one exists; True when one was added."""
    existing = session.scalar(
        select(Finding.id).where(
            Finding.code == DUPLICATE_REVIEW, Finding.dose_id == pair.second_id, Finding.resolved_at.is_(None)
        )
    )
    if existing is not None:
        return False
    subject_id = session.scalar(select(Dose.subject_id).where(Dose.id == pair.second_id))
    session.add(
        Finding(
            code=DUPLICATE_REVIEW,
            message=pair.description(),
            subject_id=subject_id,
            dose_id=pair.second_id,
            detail={"other_dose_id": pair.first_id},
        )
    )
    return True
