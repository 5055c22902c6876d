"""Identity items typed by a village team or the police: checked on entry, applied to a subject at step 4.

Entry is strict (a form, not a spreadsheet): a 9- or 12-digit ID number (spaces and dots allowed), a birth date as
dd/mm/yyyy, yyyy-mm-dd or a year, the sex as Nam/Nữ. Applying uses the identity package's rules, so that the
corrected subject is stored exactly as an imported one would be.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tiemchung.registry.models import Subject

SEX_WORDS = {"m": "M", "nam": "M", "f": "F", "nữ": "F", "nu": "F"}
DATE_LAYOUTS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y")
IDENTITY_KEYS = ("full_name", "birth_date", "sex", "id_number")


@dataclass(frozen=True)
class Checked:
    values: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IdentityInput:
    full_name: str = ""
    birth_date: str = ""
    sex: str = ""
    id_number: str = ""

    def validated(self) -> Checked:
        """The items given, in stored form, or the reasons they cannot be accepted (in Vietnamese)."""
        values: dict[str, str] = {}
        problems: list[str] = []
        for key, parse in (
            ("full_name", _name),
            ("birth_date", _birth_date),
            ("sex", _sex),
            ("id_number", _id_number),
        ):
            text = getattr(self, key).strip()
            if not text:
                continue
            value, problem = parse(text)
            if problem:
                problems.append(problem)
            else:
                values[key] = value
        return Checked(values, problems)


def _name(text: str) -> tuple[str, str]:
    collapsed = " ".join(text.split())
    if len(collapsed) > 255 or any(ch.isdigit() for ch in collapsed):
        return "", "Họ tên không hợp lệ (không chứa chữ số, tối đa 255 ký tự)."
    return collapsed, ""


def _birth_date(text: str) -> tuple[str, str]:
    if text.isdigit() and len(text) == 4:
        year = int(text)
        return (text, "") if 1900 <= year <= date.today().year else ("", "Năm sinh không hợp lệ.")
    for layout in DATE_LAYOUTS:
        try:
            parsed = datetime.strptime(text, layout).date()
        except ValueError:
            continue
        if date(1900, 1, 1) <= parsed <= date.today():
            return parsed.isoformat(), ""
        return "", "Ngày sinh nằm ngoài khoảng hợp lệ."
    return "", "Ngày sinh phải theo dạng ngày/tháng/năm (dd/mm/yyyy) hoặc chỉ năm sinh."


def _sex(text: str) -> tuple[str, str]:
    value = SEX_WORDS.get(text.strip().lower())
    return (value, "") if value else ("", "Giới tính phải là Nam hoặc Nữ.")


def _id_number(text: str) -> tuple[str, str]:
    digits = text.replace(" ", "").replace(".", "")
    if digits.isdigit() and len(digits) in (9, 12):
        return digits, ""
    return "", "Số CCCD/CMND phải gồm 12 (CCCD) hoặc 9 (CMND) chữ số."


def apply_to_subject(subject: Subject, values: dict[str, Any]) -> list[str]:
    """Write the confirmed items onto the subject (typed and canonical forms); return the keys that changed."""
    from tiemchung import identity

    changed = []
    if name := values.get("full_name"):
        subject.full_name_raw = name
        subject.full_name = identity.display_name(name)
        subject.name_canonical = identity.canonical_name(name)
        subject.name_folded = identity.fold_name(name)
        changed.append("full_name")
    if birth := values.get("birth_date"):
        subject.birth_date_raw = birth
        subject.birth_date = birth
        subject.birth_year = int(birth[:4])
        changed.append("birth_date")
    if sex := values.get("sex"):
        subject.sex = sex
        changed.append("sex")
    if number := values.get("id_number"):
        check = identity.check_id_number(number)
        subject.id_number_raw = number
        subject.id_number = check.value if check.valid_format else None
        subject.id_kind = _enum_text(check.kind)
        subject.id_status = _enum_text(check.status)
        changed.append("id_number")
    return changed


def _enum_text(value: object) -> str:
    return str(getattr(value, "value", value))
