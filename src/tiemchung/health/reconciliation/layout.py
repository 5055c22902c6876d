"""The ministry's report layouts: which column of appendix 1 (seed 001) holds which age group and dose.

Appendix 1 letters its columns a–q; c–m are the eleven (age group, dose) cells the provinces report,
n = c+…+m, o the doses entered, p = n − o and q the province's review result. Teenagers' third dose
("Mũi 3" under 12–17) is their booster: the only third dose licensed for 12–17 year-olds in 2022 was a
booster, while adults' Abdala third dose is a separate column.
"""

from dataclasses import dataclass

from tiemchung.reference import AgeGroup, DoseKind


@dataclass(frozen=True)
class ReportedColumn:
    letter: str
    age_group: AgeGroup
    dose_kind: DoseKind
    header_vi: str


APPENDIX1_COLUMNS: tuple[ReportedColumn, ...] = (
    ReportedColumn("c", AgeGroup.ADULT, DoseKind.PRIMARY_1, "Mũi 1"),
    ReportedColumn("d", AgeGroup.ADULT, DoseKind.PRIMARY_2, "Mũi 2"),
    ReportedColumn("e", AgeGroup.ADULT, DoseKind.PRIMARY_3, "Mũi 3 (vx Abdala)"),
    ReportedColumn("f", AgeGroup.ADULT, DoseKind.ADDITIONAL, "Liều bổ sung"),
    ReportedColumn("g", AgeGroup.ADULT, DoseKind.BOOSTER_1, "Liều nhắc 1 (Mũi 3)"),
    ReportedColumn("h", AgeGroup.ADULT, DoseKind.BOOSTER_2, "Liều nhắc 2 (Mũi 4)"),
    ReportedColumn("i", AgeGroup.TEEN, DoseKind.PRIMARY_1, "Mũi 1"),
    ReportedColumn("j", AgeGroup.TEEN, DoseKind.PRIMARY_2, "Mũi 2"),
    ReportedColumn("k", AgeGroup.TEEN, DoseKind.BOOSTER_1, "Mũi 3"),
    ReportedColumn("l", AgeGroup.CHILD, DoseKind.PRIMARY_1, "Mũi 1"),
    ReportedColumn("m", AgeGroup.CHILD, DoseKind.PRIMARY_2, "Mũi 2"),
)

CELL_KEYS: tuple[tuple[str, str], ...] = tuple((c.age_group.value, c.dose_kind.value) for c in APPENDIX1_COLUMNS)

AGE_GROUP_HEADERS_VI: dict[AgeGroup, str] = {
    AgeGroup.ADULT: "Kết quả tiêm cho nhóm từ 18 tuổi trở lên",
    AgeGroup.TEEN: "Kết quả tiêm nhóm 12-17 tuổi",
    AgeGroup.CHILD: "Kết quả tiêm nhóm 5-11 tuổi",
}

TOTAL_HEADERS_VI = {
    "a": "TT",
    "b": "Tỉnh/TP",
    "n": "Tổng số mũi tiêm địa phương báo cáo về Viện VSDT TU",
    "o": "Tổng số mũi tiêm địa phương nhập liệu trên Hệ thống tiêm chủng vắc xin phòng COVID-19",
    "p": "So sánh chênh lệch số liệu chưa nhập lên Hệ thống",
    "q": "Kết quả rà soát của địa phương",
}

FORMULA_LABELS = {"n": "n=c+...+m", "p": "p=n-o"}

# Where a dose outside the eleven cells is counted: still entered (column o), never silently dropped.
OUTSIDE_LAYOUT = ("other", "other")
