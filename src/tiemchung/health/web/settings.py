"""The web application's settings, read once from `TIEMCHUNG_*` environment variables and injected into the app.

Nothing reads the environment after `create_app`: tests and the demo build a `Settings` directly.
"""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL
from tiemchung.health.web.security import Limits

ENV_PREFIX = "TIEMCHUNG_"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Signs the session cookie; a random one per process means every restart logs everybody out (fine for a demo,
    # set TIEMCHUNG_SECRET_KEY in production so that several workers share sessions).
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    register_url: str | None = None
    register_api_key: str | None = None
    # The keys directory, laid out as `tiemchung.health.certificates.keys.KeyLayout` says (the same for the CLI).
    keys_dir: Path = Path("var/keys")
    # A file holding the passphrase of the certificate keys (else TIEMCHUNG_KEY_PASSPHRASE is read).
    key_passphrase_file: Path | None = None
    # Where the FHIR Bulk Data exports write their NDJSON files (one folder per export job).
    export_dir: Path = Path("var/exports")
    session_max_age_seconds: int = 8 * 3600
    https_only: bool = False
    # Database connections per worker process (SQLAlchemy pool size + overflow); also the number of request
    # threads, so that a busy server queues requests instead of timing them out waiting for a connection.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Wrong passwords from one client address (any user names) before it is throttled for `lockout_minutes`.
    max_failed_logins_per_address: int = 30

    @property
    def login_limits(self) -> Limits:
        return Limits(self.max_failed_logins, self.lockout_minutes, self.max_failed_logins_per_address)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Settings from `TIEMCHUNG_DATABASE_URL`, `TIEMCHUNG_SECRET_KEY`, `TIEMCHUNG_REGISTER_URL`,
        `TIEMCHUNG_REGISTER_API_KEY`, `TIEMCHUNG_KEYS_DIR`, `TIEMCHUNG_KEY_PASSPHRASE_FILE`, `TIEMCHUNG_EXPORT_DIR`,
        `TIEMCHUNG_HTTPS_ONLY`; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in ("database_url", "secret_key", "register_url", "register_api_key"):
            if value := env.get(ENV_PREFIX + name.upper()):
                values[name] = value
        if keys_dir := env.get(ENV_PREFIX + "KEYS_DIR"):
            values["keys_dir"] = Path(keys_dir)
        if passphrase_file := env.get(ENV_PREFIX + "KEY_PASSPHRASE_FILE"):
            values["key_passphrase_file"] = Path(passphrase_file)
        if export_dir := env.get(ENV_PREFIX + "EXPORT_DIR"):
            values["export_dir"] = Path(export_dir)
        if https_only := env.get(ENV_PREFIX + "HTTPS_ONLY"):
            values["https_only"] = https_only.lower() in {"1", "true", "yes"}
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
