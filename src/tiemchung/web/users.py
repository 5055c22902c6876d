"""Creating accounts (CLI, admin page, demo): validated, hashed, and never raising on bad input."""

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.registry.models import Facility, Role, User, Village
from tiemchung.web.security import hash_password

AREA_LENGTHS = {
    Role.FACILITY: {2, 3, 5},
    Role.HEALTH_STATION: {5},
    Role.VILLAGE_TEAM: {5},
    Role.COMMUNE_POLICE: {5},
    Role.PROVINCE: {2, 3},
    Role.MINISTRY: {0},
    Role.ADMIN: {0},
}
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class NewUser:
    username: str
    role: str
    area_code: str = ""
    password: str = ""
    full_name: str = ""
    facility_code: str | None = None
    village_id: int | None = None


@dataclass(frozen=True)
class UserOutcome:
    user: User | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None


def validate(session: Session, new_user: NewUser) -> str:
    """Why the account cannot be created (in Vietnamese), or '' when it can."""
    if new_user.role not in set(Role):
        return f"Vai trò không hợp lệ: {new_user.role!r}."
    role = Role(new_user.role)
    area = new_user.area_code.strip()
    if not new_user.username.strip() or len(new_user.username) > 64:
        return "Tên đăng nhập không được trống và tối đa 64 ký tự."
    if (area and not area.isdigit()) or len(area) not in AREA_LENGTHS[role]:
        return f"Mã địa bàn {area!r} không phù hợp với vai trò {role.label_vi}."
    if len(new_user.password) < MIN_PASSWORD_LENGTH:
        return f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự."
    if session.scalar(select(User.id).where(User.username == new_user.username.strip())) is not None:
        return f"Tên đăng nhập {new_user.username!r} đã tồn tại."
    if new_user.facility_code and session.get(Facility, new_user.facility_code) is None:
        return f"Không có cơ sở tiêm chủng mã {new_user.facility_code!r}."
    if new_user.village_id is not None:
        village = session.get(Village, new_user.village_id)
        if village is None or village.ward_code != area:
            return "Thôn/ấp không tồn tại hoặc không thuộc xã/phường của tài khoản."
    return ""


def create_user(session: Session, new_user: NewUser) -> UserOutcome:
    """Add the account to the session (the caller commits), or say why not."""
    problem = validate(session, new_user)
    if problem:
        return UserOutcome(None, problem)
    user = User(
        username=new_user.username.strip(),
        full_name=new_user.full_name.strip() or new_user.username.strip(),
        password_hash=hash_password(new_user.password),
        role=new_user.role,
        area_code=new_user.area_code.strip(),
        facility_code=new_user.facility_code,
        village_id=new_user.village_id,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return UserOutcome(user)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


DEMO_ROLES = (
    Role.FACILITY,
    Role.HEALTH_STATION,
    Role.VILLAGE_TEAM,
    Role.COMMUNE_POLICE,
    Role.PROVINCE,
    Role.MINISTRY,
    Role.ADMIN,
)


def seed_demo_users(
    session: Session,
    ward_code: str,
    *,
    province_code: str | None = None,
    facility_code: str | None = None,
    password: str | None = None,
    prefix: str = "demo",
) -> list[tuple[str, str, str]]:
    """One account per role for the commune `ward_code` (username, password, role); existing names are skipped.

    The village team gets the commune's first village (created as "Thôn 1" if the commune has none); the facility
    account is attached to `facility_code` when given (it must exist). Passwords are random unless `password`
    (10 characters or more) is given. The caller commits.
    """
    province = province_code or _province_of(ward_code)
    village = session.scalar(select(Village).where(Village.ward_code == ward_code).order_by(Village.id))
    if village is None:
        village = Village(ward_code=ward_code, name="Thôn 1")
        session.add(village)
        session.flush()
    areas = {
        Role.FACILITY: province,
        Role.HEALTH_STATION: ward_code,
        Role.VILLAGE_TEAM: ward_code,
        Role.COMMUNE_POLICE: ward_code,
        Role.PROVINCE: province,
        Role.MINISTRY: "",
        Role.ADMIN: "",
    }
    created = []
    for role in DEMO_ROLES:
        username = f"{prefix}_{role.value}"
        chosen = password or generate_password()
        new_user = NewUser(
            username=username,
            role=role.value,
            area_code=areas[role],
            password=chosen,
            full_name=f"{role.label_vi} (tài khoản thử nghiệm)",
            facility_code=facility_code if role == Role.FACILITY else None,
            village_id=village.id if role == Role.VILLAGE_TEAM else None,
        )
        if create_user(session, new_user).ok:
            created.append((username, chosen, role.value))
    return created


def _province_of(ward_code: str) -> str:
    """The province of a 2021–2023 ward code, from the reference package's administrative units."""
    from tiemchung.reference import admin

    ward = admin.ward(ward_code)
    return ward.province_code if ward else ward_code[:0]
