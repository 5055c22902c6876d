"""Small real registry rows for the cleaning and web tests (two communes in two provinces)."""

from sqlalchemy.orm import Session

from tiemchung.health.registry.models import Role, Subject, User, Village
from tiemchung.health.web.security import hash_password

HOME_WARD = ("01", "001", "00001")
OTHER_WARD = ("79", "760", "26734")
PASSWORD = "mat-khau-thu-nghiem"
_HASH = hash_password(PASSWORD)


def add_subject(session: Session, key: str, *, ward: tuple[str, str, str] = HOME_WARD, **fields: object) -> Subject:
    province, district, ward_code = ward
    values: dict[str, object] = {
        "subject_key": key,
        "full_name_raw": "Nguyễn Văn An",
        "full_name": "Nguyễn Văn An",
        "name_canonical": "nguyễn văn an",
        "name_folded": "nguyen van an",
        "birth_date_raw": "1980-05-01",
        "birth_date": "1980-05-01",
        "birth_year": 1980,
        "sex": "M",
        "id_number_raw": "",
        "id_number": None,
        "id_kind": "none",
        "id_status": "missing",
        "province_code": province,
        "district_code": district,
        "ward_code": ward_code,
        "verification_category": "NO_ID_UNVERIFIABLE",
        "verification_reasons": "",
    }
    values.update(fields)
    subject = Subject(**values)
    session.add(subject)
    session.flush()
    return subject


def add_village(session: Session, name: str = "Thôn Đông", ward_code: str = HOME_WARD[2]) -> Village:
    village = Village(ward_code=ward_code, name=name)
    session.add(village)
    session.flush()
    return village


def add_user(session: Session, username: str, role: Role, area: str, **fields: object) -> User:
    user = User(
        username=username,
        full_name=username,
        password_hash=_HASH,
        role=role.value,
        area_code=area,
        failed_logins=0,
        **fields,
    )
    session.add(user)
    session.flush()
    return user
