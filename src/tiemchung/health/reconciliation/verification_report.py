"""The verification report of seed 000: subjects and doses sent to the population register, by result.

One SQL statement (`queries.verification_counts`) returns counts by (category, mismatch reasons,
province); every line of the report, national and provincial, is a sum of those rows, so the national
line is always the sum of its parts and the provincial rows (with one for an unknown province) always
add up to it. Subjects not sent (foreigners, and subjects the register has not answered yet) are
shown apart, so that the registry's whole count is explained too.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.queries import verification_counts
from tiemchung.health.reconciliation.sources import Source
from tiemchung.health.reconciliation.text import fmt
from tiemchung.interchange.results import Category, Reason
from tiemchung.reference import provinces

UNKNOWN_PROVINCE_NAME = "Không rõ tỉnh/thành phố"
NOT_ANSWERED = "NOT_ANSWERED"


@dataclass(frozen=True)
class Count:
    subjects: int = 0
    doses: int = 0

    def __add__(self, other: "Count") -> "Count":
        return Count(self.subjects + other.subjects, self.doses + other.doses)


ZERO = Count()


@dataclass(frozen=True)
class ProvinceVerificationRow:
    tt: int | None
    province_code: str
    province_name: str
    by_category: dict[str, Count]

    def count(self, *categories: str) -> Count:
        return sum((self.by_category.get(c, ZERO) for c in categories), ZERO)

    @property
    def no_or_invalid_id(self) -> int:
        return self.count(Category.NO_ID_VERIFIED, Category.NO_ID_UNVERIFIABLE).subjects

    @property
    def wrong_basic_information(self) -> int:
        return self.count(Category.MISMATCH).subjects

    @property
    def sent(self) -> Count:
        return self.count(*SENT)

    @property
    def verified(self) -> Count:
        return self.count(Category.VERIFIED, Category.NO_ID_VERIFIED)

    @property
    def verification_rate(self) -> float | None:
        sent = self.sent.subjects
        return self.verified.subjects / sent if sent else None


SENT = (Category.VERIFIED, Category.MISMATCH, Category.NO_ID_VERIFIED, Category.NO_ID_UNVERIFIABLE)


@dataclass
class VerificationReport:
    by_category: dict[str, Count]
    mismatch_by_reasons: dict[str, Count]  # key: the `;`-joined reasons, exactly as recorded
    provinces: list[ProvinceVerificationRow]
    findings: list[str] = field(default_factory=list)

    def count(self, *categories: str) -> Count:
        return sum((self.by_category.get(c, ZERO) for c in categories), ZERO)

    @property
    def sent(self) -> Count:
        return self.count(*SENT)

    @property
    def with_id(self) -> Count:
        return self.count(Category.VERIFIED, Category.MISMATCH)

    @property
    def without_id(self) -> Count:
        return self.count(Category.NO_ID_VERIFIED, Category.NO_ID_UNVERIFIABLE)

    def lines(self) -> list[tuple[str, str, Count]]:
        """The report's lines as (number, Vietnamese label, count), in the seed's order."""
        lines = [
            ("", "Tổng số đối tượng đã gửi sang CSDL quốc gia về dân cư", self.sent),
            ("1", "Số đối tượng có CCCD/CMND", self.with_id),
            ("1.1", "Đã xác minh thông tin đúng", self.count(Category.VERIFIED)),
            ("1.2", "Đã xác minh thông tin sai", self.count(Category.MISMATCH)),
        ]
        for index, (reasons, count) in enumerate(sorted(self.mismatch_by_reasons.items()), start=1):
            lines.append((f"1.2.{index}", reasons_label(reasons), count))
        lines += [
            ("2", "Số đối tượng không có CCCD/CMND hoặc sai định dạng", self.without_id),
            ("2.1", "Đã xác minh thông tin đúng", self.count(Category.NO_ID_VERIFIED)),
            ("2.2", "Không xác minh được với CSDL quốc gia về dân cư", self.count(Category.NO_ID_UNVERIFIABLE)),
            ("3", "Người nước ngoài (hộ chiếu), không gửi xác minh", self.count(Category.FOREIGN_PASSPORT)),
            ("4", "Chưa gửi hoặc chưa có kết quả xác minh", self.count(NOT_ANSWERED)),
        ]
        return lines

    def province_total(self) -> ProvinceVerificationRow:
        merged: dict[str, Count] = defaultdict(Count)
        for row in self.provinces:
            for category, count in row.by_category.items():
                merged[category] = merged[category] + count
        return ProvinceVerificationRow(None, "", "Tổng cộng", dict(merged))


def reasons_label(reasons: str) -> str:
    """`NAME;BIRTH_DATE` as `Sai họ tên; Sai ngày sinh`; unknown items are shown as they are."""
    labels = []
    for item in filter(None, reasons.split(";")):
        labels.append(Reason(item).label_vi if item in Reason.__members__ else item)
    return "; ".join(labels) or "Không ghi lý do"


def build_verification_report(source: Source, area: Area | None = None) -> VerificationReport:
    """The report over the subjects living in `area` (the whole registry when None)."""
    by_category: dict[str, Count] = defaultdict(Count)
    mismatch: dict[str, Count] = defaultdict(Count)
    by_province: dict[str, dict[str, Count]] = defaultdict(lambda: defaultdict(Count))
    for category, reasons, code, subjects, doses in source.rows(verification_counts(area)):
        key = category or NOT_ANSWERED
        count = Count(int(subjects), int(doses or 0))
        by_category[key] = by_category[key] + count
        if key == Category.MISMATCH:
            mismatch[reasons or ""] = mismatch[reasons or ""] + count
        by_province[code or ""][key] = by_province[code or ""][key] + count
    rows = _province_rows(by_province, area.province_code if area is not None else None)
    return VerificationReport(dict(by_category), dict(mismatch), rows)


def _province_rows(
    by_province: dict[str, dict[str, Count]], province_code: str | None
) -> list[ProvinceVerificationRow]:
    known = {p.code: p.name for p in provinces()}
    rows = []
    for tt, code in enumerate((c for c in known if province_code is None or c == province_code), start=1):
        rows.append(ProvinceVerificationRow(tt, code, known[code], dict(by_province.pop(code, {}))))
    unknown: dict[str, Count] = defaultdict(Count)
    for counts in by_province.values():
        for category, count in counts.items():
            unknown[category] = unknown[category] + count
    rows.append(ProvinceVerificationRow(None, "", UNKNOWN_PROVINCE_NAME, dict(unknown)))
    return rows


def seed_findings(stated_lines: dict[str, Count | None], province_rows: list[tuple[str, int, int]]) -> list[str]:
    """Where a hand-made verification report (seed 000) does not add up.

    `stated_lines` holds the seed's national lines (keys: sent, with_id, with_id_correct, with_id_wrong,
    without_id, without_id_verified, without_id_unverifiable); `province_rows` its per-province table as
    (name, no or invalid ID, wrong basic information).
    """
    found = []
    for whole, parts in (
        ("sent", ("with_id", "without_id")),
        ("with_id", ("with_id_correct", "with_id_wrong")),
        ("without_id", ("without_id_verified", "without_id_unverifiable")),
    ):
        found.extend(_sum_findings(whole, parts, stated_lines))
    for label, column, national in (
        ("không có hoặc sai định dạng CCCD", 1, stated_lines.get("without_id")),
        ("sai thông tin cơ bản", 2, stated_lines.get("with_id_wrong")),
    ):
        if national is None:
            continue
        provincial = sum(int(row[column]) for row in province_rows)
        if provincial != national.subjects:
            found.append(
                f"Bảng theo tỉnh: tổng số đối tượng {label} của {len(province_rows)} tỉnh là {fmt(provincial)}, "
                f"dòng toàn quốc là {fmt(national.subjects)} (tỉnh ít hơn {fmt(national.subjects - provincial)})."
            )
    return found


_LINE_LABELS = {
    "sent": "tổng số đã gửi",
    "with_id": "số có CCCD/CMND",
    "without_id": "số không có/sai định dạng CCCD",
    "with_id_correct": "đúng",
    "with_id_wrong": "sai",
    "without_id_verified": "đã xác minh",
    "without_id_unverifiable": "không xác minh được",
}


def _sum_findings(whole: str, parts: tuple[str, str], lines: dict[str, Count | None]) -> list[str]:
    total, first, second = lines.get(whole), lines.get(parts[0]), lines.get(parts[1])
    if total is None or first is None or second is None:
        return []
    found = []
    for unit, attribute in (("đối tượng", "subjects"), ("mũi tiêm", "doses")):
        stated, summed = getattr(total, attribute), getattr(first, attribute) + getattr(second, attribute)
        if stated != summed:
            found.append(
                f"Dòng “{_LINE_LABELS[whole]}” ghi {fmt(stated)} {unit}, nhưng "
                f"{_LINE_LABELS[parts[0]]} + {_LINE_LABELS[parts[1]]} = {fmt(summed)} "
                f"(tổng {'lớn' if stated > summed else 'nhỏ'} hơn các phần {fmt(abs(stated - summed))})."
            )
    return found
