"""The registry's database: one declarative base for every domain's tables, engines for SQLite and PostgreSQL.

SQLite is the embedded default (WAL, foreign keys on); PostgreSQL is production. Every domain package
declares its tables on `Base` in its own `models` module; `import_all_models` makes them known to
Alembic and to `create_schema`.
"""

import importlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, MetaData, event
from sqlalchemy.engine import Connection, Engine, create_engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from tiemchung.health.registry.defaults import DEFAULT_DATABASE_URL

# Stable constraint names, so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MODEL_MODULES = (
    "tiemchung.health.registry.models",
    "tiemchung.health.registry.audit",
    "tiemchung.health.registry.name_search",
    "tiemchung.health.verification.models",
    "tiemchung.health.cleaning.models",
    "tiemchung.health.certificates.models",
    "tiemchung.health.reconciliation.models",
    "tiemchung.health.duplicates.models",
    "tiemchung.health.reconciliation.summary",
    "tiemchung.health.reconciliation.changes",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


def import_all_models() -> MetaData:
    """Import every domain's models so that `Base.metadata` holds all tables."""
    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as missing:
            if missing.name != module:
                raise
    return Base.metadata


def make_engine(url: str = DEFAULT_DATABASE_URL, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    # psycopg runs an executemany as one statement per row, so a statement-level trigger (the summary of entered
    # doses) would run once per row: SQLAlchemy sends such INSERTs as multi-row VALUES pages instead, as it
    # does for psycopg2 (its "insertmanyvalues"), and the trigger runs once per page of 1,000 rows.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_schema(engine: Engine) -> None:
    """Create every table (tests and the demo); production uses `tiemchung db upgrade` (Alembic)."""
    import_all_models().create_all(engine)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def write_rows(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Append plain rows (values as the driver takes them) to `table` in the connection's transaction: PostgreSQL
    `COPY ... FROM STDIN`, SQLite one executemany; no per-row work in SQLAlchemy (the set-based writes of issue 21).
    SQLite gets datetimes as SQLAlchemy stores them (`sqlite_datetime`), JSON as text."""
    raw = connection.connection.driver_connection
    assert raw is not None
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        placeholders = ", ".join("?" for _ in columns)
        raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)


def sqlite_datetime(moment: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite `DateTime` stores it: its wall time (the time zone dropped, so pass UTC),
    microseconds always written."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
