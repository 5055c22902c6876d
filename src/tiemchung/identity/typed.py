"""Identity items as a person or a file gives them, read into the subject's stored columns: the one path.

The import, the dose form, the cleaning steps and the direct edit all read a name, a birth date, a sex, an ID
number, a passport number or a nationality through these functions, so that a person is stored the same way
whichever door they came through: `1080000456` is the repaired `001080000456` everywhere, `01.05.1980` a date,
`female` a sex, and an ID with a province prefix that does not exist is refused (or, by the import, kept as typed
for cleaning) everywhere.

Each reader returns a `FieldRead`: the columns to store (`values`), an `error` in Vietnamese when the item cannot be
used, and the warnings (`findings`, e.g. "leading zeros restored"). What to do with an error is the caller's: a
form refuses, the import keeps an invalid ID as typed.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tiemchung.identity.dates import DateStatus, PartialDate, parse_date
from tiemchung.identity.findings import Finding
from tiemchung.identity.ids import IdStatus, check_id_number, check_passport, cross_check_cccd
from tiemchung.identity.legacy import decode_legacy
from tiemchung.identity.names import canonical_name, display_name, fold_name
from tiemchung.identity.sex import parse_sex

OLDEST_BIRTH_YEAR = 1900
MAX_NAME_CHARS = 255


@dataclass(frozen=True, slots=True)
class FieldRead:
    values: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    findings: tuple[Finding, ...] = ()
    # The birth date as a partial date, for the rules that compare with it (a vaccination before the birth).
    birth: PartialDate | None = None

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def warnings(self) -> list[str]:
        return [finding.message for finding in self.findings if finding.severity != "error"]


def _first_error(findings: tuple[Finding, ...], default: str) -> str:
    return next((finding.message for finding in findings if finding.severity == "error"), default)


def read_name(text: str, font: str | None = None) -> FieldRead:
    """Display, canonical and folded forms; a legacy encoding (TCVN3, VNI, VIQR) is decoded, with a warning."""
    typed = text.strip()
    decoded = decode_legacy(typed, font)
    display = display_name(decoded.text)
    if not display:
        return FieldRead(error="Họ tên không được để trống.")
    if len(display) > MAX_NAME_CHARS:
        return FieldRead(error=f"Họ tên quá dài (tối đa {MAX_NAME_CHARS} ký tự).")
    findings: tuple[Finding, ...] = ()
    if decoded.encoding != "unicode" and decoded.text != typed:
        findings = (Finding("name.legacy_encoding", f"Họ tên được giải mã từ bảng mã {decoded.encoding}.", "warning"),)
    values = {"full_name_raw": typed, "full_name": display, "name_canonical": canonical_name(decoded.text),
              "name_folded": fold_name(decoded.text)}  # fmt: skip
    return FieldRead(values, findings=findings)


def read_birth_date(value: object, *, today: date | None = None) -> FieldRead:
    """ISO date or year and the year; the "unknown" placeholder 01/01/1900 gives no date (and no error)."""
    raw = value.strip() if isinstance(value, str) else value
    check = parse_date(raw, today=today)
    typed = "" if raw is None else str(raw)
    if check.status == DateStatus.PLACEHOLDER and check.value is None:
        return FieldRead({"birth_date_raw": typed, "birth_date": None, "birth_year": None}, findings=check.findings)
    if check.value is None:
        return FieldRead(error=_first_error(check.findings, "Ngày sinh không đọc được (dùng dd/mm/yyyy)."))
    if check.value.year < OLDEST_BIRTH_YEAR:
        return FieldRead(error=f"Năm sinh {check.value.year} không hợp lý.")
    values = {"birth_date_raw": typed, "birth_date": check.value.iso(), "birth_year": check.value.year}
    return FieldRead(values, findings=check.findings, birth=check.value)


def read_sex(text: str) -> FieldRead:
    sex = parse_sex(text)
    if sex is None:
        return FieldRead(error="Giới tính không hợp lệ (dùng Nam/Nữ hoặc M/F).")
    return FieldRead({"sex": sex})


NO_ID: dict[str, Any] = {
    "id_number_raw": "", "id_number": None, "id_kind": "none", "id_status": "missing", "identity_findings": []
}  # fmt: skip


def read_id_number(value: object, *, typed: str | None = None, sex: str | None = None,
                   birth_year: int | None = None) -> FieldRead:  # fmt: skip
    """The ID as typed and as the rules read it. An invalid one has an `error` and is kept as typed in `values`
    (`id_number` None): the import keeps such a subject for cleaning, a form refuses it."""
    check = check_id_number(value.strip() if isinstance(value, str) else value)
    if check.status == IdStatus.MISSING:
        return FieldRead(dict(NO_ID))
    findings = check.findings
    if check.valid_format and check.value is not None:
        findings = (*findings, *cross_check_cccd(check.value, sex, birth_year))
    values = {
        "id_number_raw": typed if typed is not None else str(value).strip(),
        "id_number": check.value if check.valid_format else None,
        "id_kind": str(check.kind),
        "id_status": str(check.status),
        "identity_findings": [
            {"code": finding.code, "message": finding.message, "severity": finding.severity} for finding in findings
        ],
    }
    error = "" if check.valid_format else _first_error(findings, "Số CCCD/CMND sai định dạng.")
    return FieldRead(values, error, findings)


def read_passport(text: str) -> FieldRead:
    """A passport number (ICAO 9303); an invalid one is kept as typed with an `error`."""
    if not text.strip():
        return FieldRead({"passport_number": None})
    check = check_passport(text)
    if not check.valid_format:
        return FieldRead({"passport_number": text.strip()}, _first_error(check.findings, "Số hộ chiếu sai định dạng."),
                         check.findings)  # fmt: skip
    return FieldRead({"passport_number": check.value}, findings=check.findings)


@dataclass(frozen=True)
class Checked:
    """The items given, as a person would see them stored (`values`), or why each cannot be accepted."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # item -> message
    warnings: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return list(self.errors.values())


@dataclass(frozen=True)
class IdentityInput:
    """Identity items typed in a form (cleaning steps, dose form, direct edit); an empty item is not given."""

    full_name: str = ""
    birth_date: str = ""
    sex: str = ""
    id_number: str = ""

    def validated(self) -> Checked:
        """The items given in the form every door stores them (name as displayed, ISO date or year, M/F, the
        repaired ID digits), or the reason each is refused."""
        values: dict[str, str] = {}
        errors: dict[str, str] = {}
        warnings: list[str] = []
        reads = {}
        if self.full_name.strip():
            reads["full_name"] = read_name(self.full_name)
        if self.birth_date.strip():
            reads["birth_date"] = read_birth_date(self.birth_date)
        if self.sex.strip():
            reads["sex"] = read_sex(self.sex)
        if self.id_number.strip():
            sex = reads["sex"].values.get("sex") if "sex" in reads else None
            year = reads["birth_date"].values.get("birth_year") if "birth_date" in reads else None
            reads["id_number"] = read_id_number(self.id_number, sex=sex, birth_year=year)
        for key, read in reads.items():
            if read.error:
                errors[key] = read.error
                continue
            warnings.extend(read.warnings)
            stored = {"full_name": "full_name", "birth_date": "birth_date", "sex": "sex", "id_number": "id_number"}
            if read.values.get(stored[key]):
                values[key] = str(read.values[stored[key]])
        return Checked(values, errors, warnings)
