"""Schema migrations (Alembic), shipped inside the package in `tiemchung/health/registry/migrations/`.

- `upgrade(url)`: bring a database to the newest schema (`tiemchung db upgrade`).
- `revision(url, message)`: autogenerate the next migration from the models (`tiemchung db revision`).

Revisions are stacked, never rewritten: a deployed registry upgrades through each of them (`0001_initial` holds the
schema as first deployed, with the audit log's triggers; `0002_entered_dose_counts` the summary of entered doses
and its triggers; `0003_dose_entry_keys` the idempotency keys of dose entries; `0004_dose_entry_keys_created_at`
an index on their creation time, for pruning; `0007_security_login_throttle` the failed log-ins of unknown names and
client addresses; `0008_security_audit_chain` the audit log's hash chain and its guards). A revision that adds
triggers or SQL keeps their text literally, as it was when written.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from tiemchung.health.registry.db import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, on a URL or an open connection (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def ensure_schema(url: str) -> None:
    """Give a brand-new database the schema through Alembic (so later upgrades apply); leave others alone."""
    from sqlalchemy import inspect

    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if "subjects" not in tables and "alembic_version" not in tables:
        upgrade(url)


def new_revision(url: str, message: str) -> None:
    """Autogenerate the next migration by comparing the models with the database at `url` (kept at head)."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
