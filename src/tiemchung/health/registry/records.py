"""Vaccination-record rows: from the cells of a file to a checked subject identity and dose, or row errors.

This is the one place where the identity rules (tiemchung.identity) and the reference tables (tiemchung.reference)
are applied to imported rows, so that `tiemchung check`, `tiemchung import` and the web upload agree exactly.
Damaged values that the rules can repair (lost leading zeros, swapped or serial dates, legacy font encodings) are
repaired and the repair is kept as a warning; values that cannot be repaired reject the row with a reason.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiemchung import identity, reference
from tiemchung.interchange.columns import COLUMNS_BY_KEY, REQUIRED_KEYS, header_label
from tiemchung.interchange.sources import FileProblem, RawCell, RawRow, open_source, text_of
from tiemchung.reference.countries import Nationality, parse_nationality

if TYPE_CHECKING:
    from tiemchung.identity import Finding

# Viet Nam's first COVID-19 vaccination: 8 March 2021. An earlier date is a typing error.
FIRST_VACCINATION_DATE = date(2021, 3, 8)
SHOWN_VALUE_CHARS = 100


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str  # the interchange key ("birth_date"), or "" for the whole row
    value: str
    message_vi: str

    @property
    def column_vi(self) -> str:
        return header_label(self.column) if self.column else ""


@dataclass(frozen=True, slots=True)
class Repair:
    """A value the identity rules changed or doubted, kept as a warning."""

    column: str
    code: str
    message_vi: str


@dataclass(frozen=True, slots=True)
class SubjectIdentity:
    subject_key: str
    full_name_raw: str
    full_name: str
    name_canonical: str
    name_folded: str
    birth_date_raw: str
    birth_date: str | None
    birth_year: int | None
    sex: str | None
    id_number_raw: str
    id_number: str | None
    id_kind: str
    id_status: str
    identity_findings: tuple[dict[str, str], ...]
    passport_number: str | None
    nationality: str
    phone: str | None
    province_code: str
    district_code: str
    ward_code: str
    address: str | None

    # The fields whose disagreement between two rows of one subject is a finding.
    COMPARED = ("name_canonical", "birth_date", "sex", "id_number", "passport_number", "nationality")

    def compared(self) -> tuple[Any, ...]:
        """The compared fields only: what an import keeps per subject to find disagreeing rows."""
        return tuple(getattr(self, name) for name in self.COMPARED)

    def disagreements(self, other: "SubjectIdentity") -> dict[str, tuple[Any, Any]]:
        return disagreements(self.compared(), other)


def disagreements(first: tuple[Any, ...], other: SubjectIdentity) -> dict[str, tuple[Any, Any]]:
    """The compared fields where `other` differs from a subject's first row (`SubjectIdentity.compared()`)."""
    return {
        name: (value, getattr(other, name))
        for name, value in zip(SubjectIdentity.COMPARED, first, strict=True)
        if value != getattr(other, name)
    }


@dataclass(frozen=True, slots=True)
class DoseEntry:
    record_id: str
    vaccine: str
    lot_number: str | None
    vaccination_date: date
    dose_kind: str
    facility_code: str


@dataclass(slots=True)
class RecordRow:
    row: int
    raw: dict[str, str]
    subject: SubjectIdentity | None = None
    dose: DoseEntry | None = None
    errors: list[RowError] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    birth: Any = None  # the parsed birth date (PartialDate): vaccination dates may not precede it

    @property
    def accepted(self) -> bool:
        return not self.errors and self.subject is not None and self.dose is not None


class RecordFileError(ValueError):
    """The whole file cannot be read (raised by `read_records` only; the importer returns it in its report)."""

    def __init__(self, message_vi: str) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi


def read_records(path: Path, *, facility_code: str | None = None, today: date | None = None) -> Iterator[RecordRow]:
    """Every data row of a records file, parsed and repaired; usable without a database.

    Raises RecordFileError when the file as a whole is unusable (wrong type, missing columns, too large...).
    """
    source = open_source(path)
    if isinstance(source, FileProblem):
        raise RecordFileError(source.message_vi)
    parser = RowParser(facility_code=facility_code, today=today)
    yield from (parser.parse(raw) for raw in source.rows())
    if source.problem is not None:
        raise RecordFileError(source.problem.message_vi)


# The cells a subject's identity is read from: rows repeating them exactly share one parsed identity.
IDENTITY_CELLS = ("subject_id", "full_name", "birth_date", "sex", "id_number", "passport_number", "nationality",
                  "phone", "province_code", "district_code", "ward_code", "address")  # fmt: skip


@dataclass(frozen=True, slots=True)
class _ParsedIdentity:
    cells: tuple[RawCell | None, ...]
    subject: SubjectIdentity
    repairs: tuple[Repair, ...]
    birth: Any


class RowParser:
    """Turns raw rows into RecordRows; caches the reference look-ups that repeat on every row, and the identity of
    the previous row (the rows of one subject usually follow each other: its identity is parsed once)."""

    def __init__(self, *, facility_code: str | None = None, today: date | None = None) -> None:
        self.reference = reference
        self.facility_code = facility_code
        self.today = today or date.today()
        self._vaccines: dict[str, str | None] = {}
        self._dose_kinds: dict[str, str | None] = {}
        self._areas: dict[tuple[str, str, str], tuple[str, str, str] | str] = {}
        self._nationalities: dict[str, Nationality] = {}
        self._last: _ParsedIdentity | None = None

    def parse(self, raw: RawRow) -> RecordRow:
        texts = {key: text_of(cell.value) for key, cell in raw.cells.items()}
        record = RecordRow(raw.number, texts)
        _check_cells(record, raw)
        if record.errors:
            return record
        subject = self._identity(record, raw.cells)
        dose = self._dose(record, raw.cells)
        if not record.errors:
            record.subject, record.dose = subject, dose
        return record

    def _identity(self, record: RecordRow, cells: dict[str, RawCell]) -> SubjectIdentity | None:
        key = tuple(cells.get(name) for name in IDENTITY_CELLS)
        last = self._last
        if last is not None and last.cells == key:
            record.repairs.extend(last.repairs)
            record.birth = last.birth
            return last.subject
        known_repairs = len(record.repairs)
        subject = self._subject(record, cells)
        if subject is not None and not record.errors:
            self._last = _ParsedIdentity(key, subject, tuple(record.repairs[known_repairs:]), record.birth)
        return subject

    def _error(self, record: RecordRow, column: str, message_vi: str) -> None:
        value = record.raw.get(column, "")[:SHOWN_VALUE_CHARS]
        record.errors.append(RowError(record.row, column, value, message_vi))

    def _subject(self, record: RecordRow, cells: dict[str, RawCell]) -> SubjectIdentity | None:
        texts = record.raw
        name = _name(record, cells.get("full_name"))
        birth = self._birth_date(record, cells["birth_date"].value)
        sex = identity.parse_sex(texts["sex"])
        if sex is None:
            self._error(record, "sex", "Giới tính không hợp lệ (dùng Nam/Nữ hoặc M/F).")
        id_fields = _id_number(record, cells.get("id_number"), sex, birth[1] if birth else None)
        passport = _passport(record, texts.get("passport_number", ""))
        nationality = self._nationality(texts.get("nationality", ""))
        if nationality.code is None:
            self._error(record, "nationality", nationality.message)
        area = self._area(record)
        if record.errors or name is None or birth is None or area is None:
            return None
        return SubjectIdentity(
            subject_key=texts["subject_id"],
            full_name_raw=texts["full_name"],
            full_name=name[0],
            name_canonical=name[1],
            name_folded=name[2],
            birth_date_raw=texts["birth_date"],
            birth_date=birth[0],
            birth_year=birth[1],
            sex=sex,
            passport_number=passport,
            nationality=nationality.code or "VN",
            phone=texts.get("phone") or None,
            province_code=area[0],
            district_code=area[1],
            ward_code=area[2],
            address=texts.get("address") or None,
            **id_fields,
        )

    def _birth_date(self, record: RecordRow, value: object) -> tuple[str | None, int | None] | None:
        """(ISO date or year, year), (None, None) for the "unknown" placeholder 01/01/1900, None on error."""
        read = identity.read_birth_date(_date_input(value), today=self.today)
        record.birth = read.birth
        _keep_findings(record, "birth_date", read.findings)
        if read.error:
            self._error(record, "birth_date", read.error)
            return None
        return read.values["birth_date"], read.values["birth_year"]

    def _dose(self, record: RecordRow, cells: dict[str, RawCell]) -> DoseEntry | None:
        texts = record.raw
        vaccine = self._lookup(self._vaccines, texts["vaccine"], self._vaccine_key)
        if vaccine is None:
            self._error(record, "vaccine", "Tên vắc xin không có trong danh mục vắc xin được cấp phép tại Việt Nam.")
        dose_kind = self._lookup(self._dose_kinds, texts["dose"], self._dose_kind)
        if dose_kind is None:
            self._error(record, "dose", "Mũi tiêm không hợp lệ (1, 2, 3, Liều bổ sung, Nhắc lại 1, Nhắc lại 2).")
        when = self._vaccination_date(record, cells["vaccination_date"].value)
        facility = self._facility(record)
        if vaccine is None or dose_kind is None or when is None or facility is None:
            return None
        lot = texts.get("lot_number") or None
        return DoseEntry(texts["record_id"], vaccine, lot, when, dose_kind, facility)

    def _vaccination_date(self, record: RecordRow, value: object) -> date | None:
        check = identity.parse_date(
            _date_input(value), today=self.today, not_before=record.birth, year_placeholder=False
        )
        _keep_findings(record, "vaccination_date", check.findings)
        parsed = check.value
        if parsed is None or parsed.month is None or parsed.day is None:
            message = _first_message(check.findings, "Ngày tiêm phải có đủ ngày, tháng, năm.")
            self._error(record, "vaccination_date", message)
            return None
        when = date(parsed.year, parsed.month, parsed.day)
        if not FIRST_VACCINATION_DATE <= when <= self.today:
            self._error(
                record, "vaccination_date", f"Ngày tiêm {when:%d/%m/%Y} nằm ngoài thời gian tiêm chủng COVID-19."
            )
            return None
        return when

    def _facility(self, record: RecordRow) -> str | None:
        code = record.raw["facility_code"]
        if self.facility_code is not None and code != self.facility_code:
            self._error(record, "facility_code", f"Mã cơ sở khác với cơ sở đang nhập dữ liệu ({self.facility_code}).")
            return None
        return code

    def _area(self, record: RecordRow) -> tuple[str, str, str] | None:
        """The residence codes, zero-padded as the GSO writes them (Excel drops the zeros of "01")."""
        typed = (record.raw["province_code"], record.raw["district_code"], record.raw["ward_code"])
        if typed not in self._areas:
            self._areas[typed] = self._area_codes(*typed)
        found = self._areas[typed]
        if isinstance(found, str):
            self._error(record, "ward_code", found)
            return None
        return found

    def _area_codes(self, province_code: str, district_code: str, ward_code: str) -> tuple[str, str, str] | str:
        province = self.reference.province(province_code)
        district = self.reference.district(district_code)
        ward = self.reference.ward(ward_code)
        if province is None:
            return f"Mã tỉnh {province_code} không có trong danh mục 63 tỉnh (mã GSO 2021–2023)."
        if district is None or district.province_code != province.code:
            return f"Mã huyện {district_code} không thuộc tỉnh {province.code}."
        if ward is None or ward.district_code != district.code:
            return f"Mã xã {ward_code} không thuộc huyện {district.code}."
        return province.code, district.code, ward.code

    def _nationality(self, text: str) -> Nationality:
        found = self._nationalities.get(text)
        if found is None:
            found = self._nationalities[text] = parse_nationality(text)
        return found

    @staticmethod
    def _lookup(cache: dict[str, str | None], text: str, resolve: Any) -> str | None:
        if text not in cache:
            cache[text] = resolve(text)
        return cache[text]

    def _vaccine_key(self, text: str) -> str | None:
        vaccine = self.reference.vaccine_by_name(text)
        return None if vaccine is None else str(vaccine.key)

    def _dose_kind(self, text: str) -> str | None:
        kind = self.reference.parse_dose_kind(text)
        return None if kind is None else str(kind.value)


def _check_cells(record: RecordRow, raw: RawRow) -> None:
    """Problems of the cells themselves: merged, formulas, too long, missing."""
    if raw.merged:
        record.errors.append(RowError(raw.number, "", "", "Dòng có ô gộp (merge): hãy bỏ gộp ô và điền đủ từng ô."))
    for key, cell in raw.cells.items():
        if cell.formula:
            record.errors.append(
                RowError(raw.number, key, "", "Ô chứa công thức Excel: hãy dán giá trị (Paste Values) thay công thức.")
            )
            continue
        text = record.raw[key]
        limit = COLUMNS_BY_KEY[key].max_length
        if len(text) > limit:
            record.errors.append(
                RowError(
                    raw.number, key, text[:SHOWN_VALUE_CHARS], f"Giá trị quá dài ({len(text):,} ký tự; tối đa {limit})."
                )
            )
    for key in REQUIRED_KEYS:
        if not record.raw.get(key) and not raw.cells.get(key, RawCell(None)).formula:
            record.errors.append(RowError(raw.number, key, "", f"Thiếu {header_label(key)} (cột bắt buộc)."))


def _name(record: RecordRow, cell: RawCell | None) -> tuple[str, str, str] | None:
    text = record.raw["full_name"]
    read = identity.read_name(text, cell.font if cell else None)
    if read.error:
        record.errors.append(RowError(record.row, "full_name", text, read.error))
        return None
    record.repairs.extend(Repair("full_name", "NAME_LEGACY_ENCODING", message) for message in read.warnings)
    return read.values["full_name"], read.values["name_canonical"], read.values["name_folded"]


def _id_number(record: RecordRow, cell: RawCell | None, sex: str | None, birth_year: int | None) -> dict[str, Any]:
    """The ID number as typed and as the rules read it. An invalid format does not reject the row: the subject is
    kept, and verification classes it (NO_ID_...); the findings stay on the subject for the cleaning worklists."""
    value = None if cell is None else cell.value
    read = identity.read_id_number(value, typed=record.raw.get("id_number", ""), sex=sex, birth_year=birth_year)
    _keep_findings(record, "id_number", read.findings)
    return {**read.values, "identity_findings": tuple(read.values["identity_findings"])}


def _passport(record: RecordRow, text: str) -> str | None:
    read = identity.read_passport(text)
    if read.error:
        # Kept as typed, like an invalid ID number: the facility answers for passports (seed 000), not the register.
        record.repairs.extend(Repair("passport_number", f.code, f.message) for f in read.findings)
    else:
        _keep_findings(record, "passport_number", read.findings)
    passport: str | None = read.values["passport_number"]
    return passport


def _keep_findings(record: RecordRow, column: str, findings: "Iterable[Finding]") -> None:
    for finding in findings:
        if finding.severity != "error":
            record.repairs.append(Repair(column, finding.code, finding.message))


def _first_message(findings: "Iterable[Finding]", default: str) -> str:
    for finding in findings:
        if finding.severity == "error":
            return finding.message
    return default


def _date_input(value: object) -> object:
    """Excel date cells arrive as datetimes; the identity rules take dates, numbers (serials) and text."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return value
