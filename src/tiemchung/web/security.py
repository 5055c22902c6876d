"""Passwords (argon2id), log-in with lock-out, CSRF tokens.

Log-in never says whether the user name exists: unknown names cost the same argon2 verification as known ones
and get the same message.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.registry.audit import record
from tiemchung.registry.models import User

HASHER = PasswordHasher()
# Verified against when the user name is unknown, so that the answer takes as long as for a real account.
_DUMMY_HASH = HASHER.hash("tiemchung-no-such-user")
WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


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


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int = 5, lockout_minutes: int = 15
) -> LoginResult:
    """Check a log-in; count failures and lock the account for `lockout_minutes` after `max_failures` in a row.

    The caller commits (the failure counter must be saved even when the log-in fails).
    """
    account = session.execute(
        select(User.id, User.password_hash, User.active, User.locked_until).where(User.username == username.strip())
    ).first()
    # Release the database connection while argon2 works (tens of milliseconds, far more under load): many
    # simultaneous log-ins must not exhaust the connection pool.
    session.rollback()
    if account is None or not account.active:
        password_matches(_DUMMY_HASH, password)
        return LoginResult(None, WRONG_CREDENTIALS)
    now = datetime.now(UTC)
    locked_until = _aware(account.locked_until)
    if locked_until and locked_until > now:
        minutes = max(1, round((locked_until - now).total_seconds() / 60))
        return LoginResult(None, f"Tài khoản đang bị khóa do đăng nhập sai nhiều lần. Thử lại sau {minutes} phút.")
    matches = password_matches(account.password_hash, password)
    user = session.get(User, account.id)
    if user is None:
        return LoginResult(None, WRONG_CREDENTIALS)
    if not matches:
        return _count_failure(session, user, now, max_failures, lockout_minutes)
    user.failed_logins = 0
    user.locked_until = None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record(session, actor=user.username, actor_role=user.role, action="login", entity="user", entity_id=user.id)
    return LoginResult(user)


def _count_failure(session: Session, user: User, now: datetime, max_failures: int, minutes: int) -> LoginResult:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < max_failures:
        return LoginResult(None, WRONG_CREDENTIALS)
    user.failed_logins = 0
    user.locked_until = now + timedelta(minutes=minutes)
    record(session, actor=user.username, actor_role=user.role, action="lockout", entity="user", entity_id=user.id)
    return LoginResult(None, f"Đăng nhập sai {max_failures} lần liên tiếp: tài khoản bị khóa {minutes} phút.")


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
