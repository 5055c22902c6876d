"""API keys of the organisations allowed to query the register: issued once, stored only as hashes.

A key is `tcr_<key id>.<secret>`: the key id finds the entry without scanning, the secret is 256 random bits.
The store keeps SHA-256 of the whole key, not argon2: argon2 exists to slow down guessing of low-entropy
passwords, a 256-bit random secret cannot be guessed, and a ~50 ms argon2 check on every call would break the
online latency budget (p99 under 20 ms).

The store is a JSON file, rewritten atomically; the service re-reads it when it changes, so a key added or revoked
with `tiemchung register keys ...` takes effect without a restart.
"""

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_PREFIX = "tcr_"
DEFAULT_RATE_PER_SECOND = 200.0
DEFAULT_BURST = 400


@dataclass(frozen=True)
class Caller:
    """An authenticated calling organisation and its rate limit."""

    name: str
    key_id: str
    rate_per_second: float
    burst: int


@dataclass(frozen=True)
class _KeyEntry:
    caller: str
    sha256: str
    created_at: str
    rate_per_second: float = DEFAULT_RATE_PER_SECOND
    burst: int = DEFAULT_BURST
    revoked_at: str | None = None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """The hashed API keys in one JSON file (`{"keys": {key_id: entry}}`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, _KeyEntry] = {}
        self._loaded_version: tuple[int, int] | None = None

    def add(self, caller: str, *, rate_per_second: float = DEFAULT_RATE_PER_SECOND, burst: int = DEFAULT_BURST) -> str:
        """Create a key for `caller`, store its hash, return the key (the only time it exists in clear)."""
        key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(32)}"
        with self._lock:
            entries = self._read()
            entries[key_id] = _KeyEntry(
                caller=caller,
                sha256=_digest(key),
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                rate_per_second=rate_per_second,
                burst=burst,
            )
            self._write(entries)
        return key

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by its id; False when there is no such live key."""
        with self._lock:
            entries = self._read()
            entry = entries.get(key_id)
            if entry is None or entry.revoked_at is not None:
                return False
            entries[key_id] = _KeyEntry(**{**asdict(entry), "revoked_at": datetime.now(UTC).isoformat()})
            self._write(entries)
        return True

    def list(self) -> list[tuple[str, str, str, bool]]:
        """(key id, caller, created at, live) for every key ever issued."""
        with self._lock:
            entries = self._read()
        return [(key_id, e.caller, e.created_at, e.revoked_at is None) for key_id, e in sorted(entries.items())]

    def authenticate(self, key: str) -> Caller | None:
        """The caller owning `key`, or None for an unknown, malformed or revoked key."""
        key_id = _key_id(key)
        if key_id is None:
            return None
        entry = self._current_entries().get(key_id)
        if entry is None or entry.revoked_at is not None:
            return None
        if not hmac.compare_digest(entry.sha256, _digest(key)):
            return None
        return Caller(entry.caller, key_id, entry.rate_per_second, entry.burst)

    def _current_entries(self) -> dict[str, _KeyEntry]:
        """The entries, re-read only when the file changed (one stat per request). Every write replaces the file,
        so its inode changes even when two writes fall within one tick of the file system's clock."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (stat.st_ino, stat.st_mtime_ns)
        if version != self._loaded_version:
            with self._lock:
                self._entries = self._read()
                self._loaded_version = version
        return self._entries

    def _read(self) -> dict[str, _KeyEntry]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return {key_id: _KeyEntry(**entry) for key_id, entry in data.get("keys", {}).items()}

    def _write(self, entries: dict[str, _KeyEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        payload = {"keys": {key_id: asdict(entry) for key_id, entry in entries.items()}}
        # Only the register's operators may read even the hashes.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)


def _key_id(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX) or "." not in key:
        return None
    return key[len(KEY_PREFIX) :].split(".", 1)[0] or None
