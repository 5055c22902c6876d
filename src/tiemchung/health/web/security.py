"""Passwords (argon2id), log-in with lock-out, CSRF tokens.

Log-in never says whether the user name exists: an unknown name is counted and locked exactly like an account
(its counter lives in `login_throttle`), gets the same messages, and every answer costs one argon2 verification,
locked or not (issue 16 item 4: a locked account answered in 28 ms against 130 ms).

The lock-out cannot be outrun by parallel requests: an attempt first *reserves* its place with one conditional
UPDATE ("failures + 1 where failures < limit"), committed before the password is checked, so that however many
requests arrive at once, no more than the limit of passwords is ever checked between two lock-outs. The database
serialises the UPDATEs (a row lock on PostgreSQL, the write lock on SQLite). A client address is throttled the same
way, with a larger limit (a success gives its place back, so that an office behind one address is not locked out
by its own users).
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Table, and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import LoginThrottle, User

HASHER = PasswordHasher()
# Verified against when no real hash may be checked (unknown name, locked account), so that every answer takes
# as long as a real verification.
_DUMMY_HASH = HASHER.hash("tiemchung-no-such-user")
WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."
USERS: Table = User.__table__  # type: ignore[assignment]
THROTTLE: Table = LoginThrottle.__table__  # type: ignore[assignment]


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None


@dataclass(frozen=True)
class Limits:
    max_failures: int = 5
    lockout_minutes: int = 15
    max_failures_per_address: int = 30


@dataclass(frozen=True)
class _Counter:
    """One failure counter: an account's row in `users`, or a `login_throttle` row."""

    table: Table
    where: ColumnElement[bool]
    limit: int


def authenticate(
    session: Session, username: str, password: str, *, address: str = "", limits: Limits = Limits()
) -> LoginResult:
    """Check a log-in; lock the name for `lockout_minutes` after `max_failures` failures in a row.

    Commits its own short transactions (the counters must be saved, and no connection is held while argon2 works).
    """
    name = username.strip()
    now = datetime.now(UTC)
    account = session.execute(
        select(User.id, User.password_hash).where(User.username == name, User.active.is_(True))
    ).first()
    by_name = (
        _Counter(USERS, USERS.c.id == account.id, limits.max_failures)
        if account is not None
        else _throttle_counter(session, f"name:{name.casefold()[:150]}", limits.max_failures)
    )
    by_address = _throttle_counter(session, f"addr:{address[:150]}", limits.max_failures_per_address)
    window = timedelta(minutes=limits.lockout_minutes)
    address_reserved = _reserve(session, by_address, now, window)
    name_reserved = address_reserved and _reserve(session, by_name, now, window)
    session.commit()
    if not name_reserved:
        if address_reserved:
            _give_back(session, by_address)
            session.commit()
        password_matches(_DUMMY_HASH, password)
        return LoginResult(None, _locked_message(session, by_name if address_reserved else by_address, now, limits))
    matches = account is not None and password_matches(account.password_hash, password)
    if account is None:
        password_matches(_DUMMY_HASH, password)
    if account is None or not matches:
        return _count_failure(session, name, by_name, now, limits)
    session.execute(update(USERS).where(by_name.where).values(failed_logins=0, locked_until=None))
    _give_back(session, by_address)
    user = session.get(User, account.id)
    assert user is not None  # it was just read and users are never deleted
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(session, actor=user.username, actor_role=user.role, action="login", entity="user", entity_id=user.id)
    return LoginResult(user)


def _throttle_counter(session: Session, key: str, limit: int) -> _Counter:
    """The `login_throttle` row of `key`, created empty if missing (no error when two requests create it)."""
    insert = postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(THROTTLE).values(key=key, failed_logins=0).on_conflict_do_nothing(index_elements=["key"]))
    return _Counter(THROTTLE, THROTTLE.c.key == key, limit)


def _reserve(session: Session, counter: _Counter, now: datetime, window: timedelta) -> bool:
    """Take one attempt's place atomically; False when the counter is locked or all places are taken."""
    columns = counter.table.c
    expired = and_(columns.locked_until.is_not(None), columns.locked_until <= now)
    if "last_failure_at" in columns:  # a throttle row starts again after a quiet period
        expired = or_(expired, and_(columns.locked_until.is_(None), columns.last_failure_at <= now - window))
    values: dict[str, object] = {
        "failed_logins": case((expired, 1), else_=columns.failed_logins + 1),
        "locked_until": case((expired, None), else_=columns.locked_until),
    }
    if "last_failure_at" in columns:
        values["last_failure_at"] = now
    statement = update(counter.table).where(counter.where, or_(columns.failed_logins < counter.limit, expired))
    return bool(session.execute(statement.values(values)).rowcount)  # type: ignore[attr-defined]


def _give_back(session: Session, counter: _Counter) -> None:
    columns = counter.table.c
    statement = update(counter.table).where(counter.where, columns.failed_logins > 0, columns.locked_until.is_(None))
    session.execute(statement.values(failed_logins=columns.failed_logins - 1))


def _count_failure(session: Session, name: str, counter: _Counter, now: datetime, limits: Limits) -> LoginResult:
    """The failure stays counted; the attempt that used the last place locks the name."""
    columns = counter.table.c
    lock = update(counter.table).where(
        counter.where, columns.failed_logins >= counter.limit, columns.locked_until.is_(None)
    )
    locked = session.execute(lock.values(locked_until=now + timedelta(minutes=limits.lockout_minutes))).rowcount  # type: ignore[attr-defined]
    if locked:
        record(session, actor=name[:64], action="lockout", entity="user", entity_id=name[:64])
    session.commit()
    if locked:
        return LoginResult(None, _locked_message(session, counter, now, limits))
    return LoginResult(None, WRONG_CREDENTIALS)


def _locked_message(session: Session, counter: _Counter, now: datetime, limits: Limits) -> str:
    until = _aware(session.scalar(select(counter.table.c.locked_until).where(counter.where)))
    session.commit()
    minutes = round((until - now).total_seconds() / 60) if until else limits.lockout_minutes
    return (
        f"Đăng nhập sai quá nhiều lần: tạm khóa đăng nhập. Thử lại sau {max(1, minutes)} phút "
        "hoặc nhờ quản trị hệ thống mở khóa."
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
