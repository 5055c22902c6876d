"""Alembic environment of the registry: every domain's tables (one metadata), SQLite and PostgreSQL.

Run through `tiemchung db upgrade` / `tiemchung db revision` (tiemchung.health.registry.migrate), which pass the
database URL, or an open connection, in the Alembic config.
"""

from alembic import context
from sqlalchemy.engine import Connection

from tiemchung.health.registry.db import import_all_models, make_engine

config = context.config
target_metadata = import_all_models()


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_with(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        run_with(new_connection)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
