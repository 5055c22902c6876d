"""Creating accounts (CLI, admin page, demo): validated, hashed, and never raising on bad input.

An account must not exist without the area its role acts on (issue 16, item 1: a facility account without a facility
could write anywhere). `check` is the one validation, used by `tiemchung users add`, the admin page and the demo:
the area must be a real administrative unit (tiemchung.reference) at the level the role works at, and a facility
account must name an existing facility that lies inside its area.
"""

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung import reference
from tiemchung.health.registry.models import Facility, Role, User, Village
from tiemchung.health.web.security import hash_password
from tiemchung.reference import admin

# The levels of area each role may have (web/access.py reads a code by its length): the commune roles work in one
# ward; a department ("province" role) supervises a province or, for a district health centre, a district; a
# facility enters doses for its own province, district or ward; the ministry and administrators are national.
AREA_LEVELS: dict[Role, tuple[str, ...]] = {
    Role.FACILITY: ("province", "district", "ward"),
    Role.HEALTH_STATION: ("ward",),
    Role.VILLAGE_TEAM: ("ward",),
    Role.COMMUNE_POLICE: ("ward",),
    Role.PROVINCE: ("province", "district"),
    Role.MINISTRY: ("national",),
    Role.ADMIN: ("national",),
}
LEVEL_LABELS = {"national": "toàn quốc", "province": "tỉnh/thành phố", "district": "quận/huyện", "ward": "xã/phường"}
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
    # Field name -> why its value was refused (Vietnamese), for the admin page to show beside the field.
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.user is not None

    @property
    def message(self) -> str:
        return " ".join(self.errors.values())


def check(session: Session, new_user: NewUser) -> dict[str, str]:
    """Why the account cannot be created, field by field (empty when it can)."""
    errors: dict[str, str] = {}
    username = new_user.username.strip()
    if not username or len(username) > 64:
        errors["username"] = "Tên đăng nhập không được trống và tối đa 64 ký tự."
    elif session.scalar(select(User.id).where(User.username == username)) is not None:
        errors["username"] = f"Tên đăng nhập {username} đã có người dùng."
    if len(new_user.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự."
    if new_user.role not in set(Role):
        errors["role"] = "Hãy chọn một vai trò trong danh sách."
        return errors
    role = Role(new_user.role)
    area = new_user.area_code.strip()
    area_problem = _area_problem(role, area)
    if area_problem:
        errors["area_code"] = area_problem
    facility_problem = _facility_problem(session, role, area, (new_user.facility_code or "").strip())
    if facility_problem:
        errors["facility_code"] = facility_problem
    if new_user.village_id is not None:
        village = session.get(Village, new_user.village_id) if role == Role.VILLAGE_TEAM else None
        if village is None or village.ward_code != area:
            errors["village_id"] = (
                "Thôn/ấp không tồn tại hoặc không thuộc xã/phường của tài khoản (chỉ dành cho tổ công tác thôn)."
            )
    return errors


def unit_level(code: str) -> str | None:
    """The level of a real administrative unit ('national' for the empty code), None when no such unit exists."""
    if code == "":
        return "national"
    if len(code) == 2 and reference.province(code) is not None:
        return "province"
    if len(code) == 3 and reference.district(code) is not None:
        return "district"
    if len(code) == 5 and reference.ward(code) is not None:
        return "ward"
    return None


def area_label(code: str) -> str:
    """The unit's full name for a person reading a list of accounts ("Phường Phúc Xá (00001)")."""
    unit = {2: reference.province, 3: reference.district, 5: reference.ward}.get(len(code), lambda _code: None)(code)
    if code == "":
        return "Toàn quốc"
    return f"{unit.full_name} ({code})" if unit else code


def _area_problem(role: Role, area: str) -> str:
    levels = AREA_LEVELS[role]
    wanted = " hoặc ".join(LEVEL_LABELS[level] for level in levels)
    if "national" in levels:
        return "" if area == "" else f"Vai trò {role.label_vi} làm việc trên toàn quốc: để trống địa bàn."
    if area == "":
        return f"Vai trò {role.label_vi} cần địa bàn cấp {wanted}."
    level = unit_level(area)
    if level is None:
        return f"Không có đơn vị hành chính mã {area}: hãy chọn địa bàn trong danh sách."
    if level not in levels:
        return f"Vai trò {role.label_vi} cần địa bàn cấp {wanted}, không phải cấp {LEVEL_LABELS[level]}."
    return ""


def _facility_problem(session: Session, role: Role, area: str, facility_code: str) -> str:
    if role != Role.FACILITY:
        return "Chỉ tài khoản cơ sở tiêm chủng mới gắn với một cơ sở." if facility_code else ""
    if not facility_code:
        return "Tài khoản cơ sở tiêm chủng phải gắn với một cơ sở tiêm chủng."
    facility = session.get(Facility, facility_code)
    if facility is None:
        return f"Không có cơ sở tiêm chủng mã {facility_code}."
    place = {"province": facility.province_code, "district": facility.district_code, "ward": facility.ward_code}
    level = unit_level(area)
    if level in place and place[level] != area:
        return f"Cơ sở {facility.name} không nằm trong địa bàn {area}."
    return ""


def create_user(session: Session, new_user: NewUser) -> UserOutcome:
    """Add the account to the session (the caller commits), or say why not."""
    errors = check(session, new_user)
    if errors:
        return UserOutcome(None, errors)
    user = User(
        username=new_user.username.strip(),
        full_name=new_user.full_name.strip() or new_user.username.strip(),
        password_hash=hash_password(new_user.password),
        role=new_user.role,
        area_code=new_user.area_code.strip(),
        facility_code=(new_user.facility_code or "").strip() or None,
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
    account is attached to `facility_code`, in the facility's province, and is not created without one (an account
    must not exist without the area its role needs). Passwords are random unless `password` (10 characters or
    more) is given. The caller commits.
    """
    province = province_code or _province_of(ward_code)
    village = session.scalar(select(Village).where(Village.ward_code == ward_code).order_by(Village.id))
    if village is None:
        village = Village(ward_code=ward_code, name="Thôn 1")
        session.add(village)
        session.flush()
    facility = session.get(Facility, facility_code) if facility_code else None
    areas = {
        Role.FACILITY: facility.province_code if facility else "",
        Role.HEALTH_STATION: ward_code,
        Role.VILLAGE_TEAM: ward_code,
        Role.COMMUNE_POLICE: ward_code,
        Role.PROVINCE: province,
        Role.MINISTRY: "",
        Role.ADMIN: "",
    }
    created = []
    for role in DEMO_ROLES:
        if role == Role.FACILITY and facility is None:
            continue
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

    ward = admin.ward(ward_code)
    return ward.province_code if ward else ward_code[:0]
