"""The verification result vocabulary (interchange spec, section 3) shared by both sides.

The register side writes `VerificationResult` rows; the health side reads them back. `SubjectQuery`
is what the health side sends for one subject, exactly as typed (repair happens in the engine).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum

# The Idempotency-Key both sides accept (the register service's requests, the registry's dose entries), so that one
# client can use one kind of key for both: a UUID, a ULID, a counter with a prefix...
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def valid_idempotency_key(value: str) -> bool:
    return IDEMPOTENCY_KEY_PATTERN.fullmatch(value) is not None


class Category(StrEnum):
    """The five classes of the seed report, in the spec's order."""

    VERIFIED = "VERIFIED"
    MISMATCH = "MISMATCH"
    NO_ID_VERIFIED = "NO_ID_VERIFIED"
    NO_ID_UNVERIFIABLE = "NO_ID_UNVERIFIABLE"
    FOREIGN_PASSPORT = "FOREIGN_PASSPORT"

    @property
    def label_vi(self) -> str:
        return _CATEGORY_LABELS_VI[self]


_CATEGORY_LABELS_VI: dict[Category, str] = {
    Category.VERIFIED: "Đã xác minh đúng",
    Category.MISMATCH: "Xác minh sai thông tin",
    Category.NO_ID_VERIFIED: "Không có/sai định dạng CCCD, đã xác minh",
    Category.NO_ID_UNVERIFIABLE: "Không có/sai định dạng CCCD, không xác minh được",
    Category.FOREIGN_PASSPORT: "Người nước ngoài (hộ chiếu)",
}


class Reason(StrEnum):
    """Why a `MISMATCH`: the disagreeing items, in the spec's order."""

    ID_NOT_FOUND = "ID_NOT_FOUND"
    NAME = "NAME"
    BIRTH_DATE = "BIRTH_DATE"
    SEX = "SEX"

    @property
    def label_vi(self) -> str:
        return _REASON_LABELS_VI[self]


_REASON_LABELS_VI: dict[Reason, str] = {
    Reason.ID_NOT_FOUND: "Số định danh không có trong CSDL dân cư",
    Reason.NAME: "Sai họ tên",
    Reason.BIRTH_DATE: "Sai ngày sinh",
    Reason.SEX: "Sai giới tính",
}

_REASON_ORDER = {reason: index for index, reason in enumerate(Reason)}

RESULT_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "category",
    "reasons",
    "matched_person_id",
    "match_probability",
)


def sort_reasons(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """Reasons without duplicates, in the spec's order (so rows compare equal across engines)."""
    return tuple(sorted(set(reasons), key=_REASON_ORDER.__getitem__))


@dataclass(frozen=True)
class VerificationResult:
    subject_id: str
    category: Category
    reasons: tuple[Reason, ...] = ()
    matched_person_id: str | None = None
    match_probability: float | None = None

    def to_row(self) -> dict[str, str]:
        """The section-3 row: every value as text, empty for absent."""
        return {
            "subject_id": self.subject_id,
            "category": self.category.value,
            "reasons": ";".join(reason.value for reason in self.reasons),
            "matched_person_id": self.matched_person_id or "",
            "match_probability": format_probability(self.match_probability),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> "VerificationResult":
        """Read a section-3 row (from CSV text or Parquet values); empty cells mean absent."""
        reasons_text = _text(row.get("reasons"))
        probability_text = _text(row.get("match_probability"))
        return cls(
            subject_id=_text(row.get("subject_id")),
            category=Category(_text(row.get("category"))),
            reasons=sort_reasons(Reason(part.strip()) for part in reasons_text.split(";") if part.strip()),
            matched_person_id=_text(row.get("matched_person_id")) or None,
            match_probability=float(probability_text) if probability_text else None,
        )


def format_probability(probability: float | None) -> str:
    """Probabilities as fixed 6-decimal text: stable across engines and platforms."""
    return "" if probability is None else f"{probability:.6f}"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas means an empty cell
        return ""
    return str(value).strip()


@dataclass(frozen=True)
class SubjectQuery:
    """One subject as the health side sends it: as typed, not yet repaired."""

    subject_id: str
    full_name: str
    birth_date: str
    sex: str
    id_number: str | None = None
    passport_number: str | None = None
    nationality: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    ward_code: str | None = None
    address: str | None = None


SUBJECT_COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(SubjectQuery))
