"""The dose form's person: checked field by field, found in the registry before anyone new is created.

Four people once shared one CCCD because every submission created a person. Now the ID number finds the person
already registered (the dose goes to them), and without an ID the same folded name and birth date offer the likely
matches to choose from. A new person must live in a real commune of the facility's own province (else they would
vanish from its view) and is read by the identity rules every other door uses (`tiemchung.identity.typed`).
"""

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung import identity, reference
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Subject, User
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.access import area_clause, covers
from tiemchung.health.web.places import place_label
from tiemchung.reference.countries import VIET_NAM, parse_nationality

MAX_MATCHES = 10
REQUIRED = "Trường này bắt buộc."


@dataclass(frozen=True)
class PersonFields:
    """The person's part of the dose form, as typed (all text)."""

    full_name: str = ""
    birth_date: str = ""
    sex: str = ""
    id_number: str = ""
    nationality: str = VIET_NAM
    passport_number: str = ""
    phone: str = ""
    province_code: str = ""
    district_code: str = ""
    ward_code: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class CheckedPerson:
    columns: dict[str, Any] = field(default_factory=dict)  # the new subject's columns
    errors: dict[str, str] = field(default_factory=dict)  # form field -> message
    birth: identity.PartialDate | None = None


def check_person(user: User, fields: PersonFields) -> CheckedPerson:
    """Every field's problem at once (a form shows them all), and the columns when there are none."""
    checked = CheckedPerson()
    reads = {
        "full_name": identity.read_name(fields.full_name) if fields.full_name.strip() else None,
        "birth_date": identity.read_birth_date(fields.birth_date) if fields.birth_date.strip() else None,
        "sex": identity.read_sex(fields.sex) if fields.sex.strip() else None,
    }
    for name, read in reads.items():
        if read is None:
            checked.errors[name] = REQUIRED
        elif read.error:
            checked.errors[name] = read.error
        else:
            checked.columns.update(read.values)
    birth_read = reads["birth_date"]
    checked.birth = birth_read.birth if birth_read is not None else None
    _check_documents(fields, checked)
    _check_place(user, fields, checked)
    if fields.phone.strip():
        checked.columns["phone"] = fields.phone.strip()[:32]
    return checked


def _check_documents(fields: PersonFields, checked: CheckedPerson) -> None:
    nationality = parse_nationality(fields.nationality)
    if nationality.code is None:
        checked.errors["nationality"] = nationality.message
    checked.columns["nationality"] = nationality.code or VIET_NAM
    sex, year = checked.columns.get("sex"), checked.columns.get("birth_year")
    id_read = identity.read_id_number(fields.id_number, sex=sex, birth_year=year)
    if id_read.error:
        checked.errors["id_number"] = id_read.error
    checked.columns.update(id_read.values)
    passport = identity.read_passport(fields.passport_number)
    if passport.error:
        checked.errors["passport_number"] = passport.error
    checked.columns.update(passport.values)
    # Seed 000, data-entry rules 1 and 2: a Vietnamese needs the ID number, a foreigner the passport number.
    if nationality.code == VIET_NAM and not fields.id_number.strip():
        checked.errors["id_number"] = "Người Việt Nam bắt buộc có số CCCD/CMND (hoặc số định danh cá nhân)."
    elif nationality.code is not None and nationality.code != VIET_NAM and not fields.passport_number.strip():
        checked.errors["passport_number"] = "Người nước ngoài cần có số hộ chiếu."


def _check_place(user: User, fields: PersonFields, checked: CheckedPerson) -> None:
    """A real province, district and commune that belong together, inside the user's area."""
    province = reference.province(fields.province_code) if fields.province_code else None
    district = reference.district(fields.district_code) if fields.district_code else None
    ward = reference.ward(fields.ward_code) if fields.ward_code else None
    if province is None:
        checked.errors["province_code"] = (
            REQUIRED if not fields.province_code else "Tỉnh/thành phố không có trong danh mục."
        )
        return
    if not covers(user, province_code=province.code, district_code=fields.district_code, ward_code=fields.ward_code):
        area = place_label(user.area_code[:2], user.area_code[:3] if len(user.area_code) > 2 else "", "")
        checked.errors["province_code"] = (
            f"Cơ sở chỉ nhập được người cư trú trong địa bàn của mình ({area}): người ngoài địa bàn sẽ không còn thấy "
            "được sau khi lưu. Người ở tỉnh khác do cơ sở tiêm chủng nơi họ cư trú nhập."
        )
        return
    if district is None or district.province_code != province.code:
        checked.errors["district_code"] = (
            REQUIRED if not fields.district_code else f"Quận/huyện không thuộc {province.full_name}."
        )
        return
    if ward is None or ward.district_code != district.code:
        checked.errors["ward_code"] = (
            REQUIRED if not fields.ward_code else f"Xã/phường không thuộc {district.full_name}."
        )
        return
    checked.columns.update(province_code=province.code, district_code=district.code, ward_code=ward.code)


@dataclass
class Matches:
    """The registered people the typed person may be: by ID number, else by name and birth date."""

    by_id: list[Subject] = field(default_factory=list)
    by_name: list[Subject] = field(default_factory=list)
    id_elsewhere: bool = False  # the ID is registered, outside the user's area

    @property
    def people(self) -> list[Subject]:
        return self.by_id or self.by_name


def find_matches(session: Session, user: User, columns: dict[str, Any]) -> Matches:
    """Who is already registered with this ID number (anywhere: an ID is one person); else, with this name and
    birth date in the user's area (registered without the ID, or with a wrong one): the indexed name + birth
    year, then the dates compared as the agreement rule does."""
    matches = Matches()
    in_area = area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code)
    if number := columns.get("id_number"):
        same_id = list(session.scalars(select(Subject).where(Subject.id_number == number).limit(MAX_MATCHES)))
        matches.by_id = [subject for subject in same_id if _in_area(user, subject)]
        matches.id_elsewhere = bool(same_id) and not matches.by_id
        if same_id:
            return matches
    if columns.get("name_folded") and columns.get("birth_year"):
        query = select(Subject).where(
            in_area, Subject.name_folded == columns["name_folded"], Subject.birth_year == columns["birth_year"]
        )
        typed = identity.PartialDate.from_iso(columns["birth_date"])
        for subject in session.scalars(query.order_by(Subject.id).limit(MAX_MATCHES)):
            stored = identity.PartialDate.from_iso(subject.birth_date) if subject.birth_date else None
            if typed is None or stored is None or typed.agrees_with(stored):
                matches.by_name.append(subject)
    return matches


def _in_area(user: User, subject: Subject) -> bool:
    return covers(
        user, province_code=subject.province_code, district_code=subject.district_code, ward_code=subject.ward_code
    )


def create_subject(session: Session, user: User, columns: dict[str, Any]) -> Subject:
    """A person not yet in the registry, entered at the facility, stored as an import would store them."""
    subject = Subject(
        subject_key=f"{user.facility_code or 'web'}-{uuid.uuid4().hex[:16]}",
        facility_code=user.facility_code,
        **columns,
    )
    session.add(subject)
    session.flush()
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="create",
        entity="subject",
        entity_id=subject.id,
        subject_id=subject.id,
        reason="Nhập đối tượng mới tại cơ sở tiêm",
    )
    return subject


@dataclass
class PersonEntry:
    """What became of a dose form for a person: saved (to a found or a new person), replayed (the same form sent
    again), to choose (likely matches to pick from), or refused (`errors` per field)."""

    status: str  # "saved", "replayed", "choose", "refused"
    subject: Subject | None = None
    dose: Any = None
    created: bool = False
    matches: Matches = field(default_factory=Matches)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""


NEW_PERSON = "new"


def enter_for_person(
    session: Session,
    user: User,
    fields: PersonFields,
    entry: service.DoseEntry,
    choice: str = "",
    key: service.EntryKey | None = None,
) -> PersonEntry:
    """The dose of the form, for the person it describes: the one registered with that ID number, the one chosen
    among the likely matches (`choice`: a subject's id), or a new person (`choice` "new", only when no one has the
    ID). `service.EntryKeyReused` when the form's key came with another request. The caller verifies and commits."""
    if (previous := service.entered_before(session, user, key)) is not None:
        return PersonEntry(
            "replayed", session.get(Subject, previous.subject_id), previous, message=service.ENTERED_BEFORE
        )
    if choice not in ("", NEW_PERSON):
        return _for_chosen(session, user, choice, entry, key)
    checked = check_person(user, fields)
    _values, dose_errors = service.check_dose(entry, checked.birth)
    errors = {**checked.errors, **dose_errors}
    if errors:
        return PersonEntry("refused", errors=errors)
    matches = find_matches(session, user, checked.columns)
    if matches.id_elsewhere:
        message = ("Số CCCD/CMND này đã có trong sổ tiêm chủng, ở địa bàn khác: không tạo người thứ hai cùng số. "
                   "Kiểm tra lại số, hoặc báo Trạm Y tế nơi người này cư trú.")  # fmt: skip
        return PersonEntry("refused", errors={"id_number": message})
    if len(matches.by_id) == 1:
        return _add(session, user, matches.by_id[0], entry, key, created=False)
    if matches.people and choice != NEW_PERSON:
        return PersonEntry("choose", matches=matches)
    if matches.by_id:
        message = "Số CCCD/CMND này đã có trong sổ: hãy chọn người đó trong danh sách bên dưới."
        return PersonEntry("choose", matches=matches, errors={"id_number": message})
    return _add(session, user, create_subject(session, user, checked.columns), entry, key, created=True)


def _for_chosen(
    session: Session, user: User, choice: str, entry: service.DoseEntry, key: service.EntryKey | None
) -> PersonEntry:
    if not choice.isdigit() or int(choice) > 2_147_483_647:
        return PersonEntry("refused", errors={"subject_choice": "Lựa chọn không hợp lệ; hãy chọn lại."})
    subject = service.load_subject(session, user, int(choice), reason="Nhập mũi tiêm")
    return _add(session, user, subject, entry, key, created=False)


def _add(
    session: Session,
    user: User,
    subject: Subject,
    entry: service.DoseEntry,
    key: service.EntryKey | None,
    *,
    created: bool,
) -> PersonEntry:
    outcome = service.add_dose(session, user, subject, entry, key)
    if not outcome.ok:
        return PersonEntry("refused", errors=outcome.errors or {"vaccine": outcome.message})
    if outcome.replayed and outcome.dose is not None:  # a concurrent request with the same form won the race
        return PersonEntry("replayed", session.get(Subject, outcome.dose.subject_id), outcome.dose,
                           message=service.ENTERED_BEFORE)  # fmt: skip
    message = (
        "Đã lưu đối tượng và mũi tiêm." if created else f"Đã lưu mũi tiêm cho {subject.full_name} (đã có trong sổ)."
    )
    return PersonEntry("saved", subject, outcome.dose, created=created, message=message)
