"""Triggers that count every change a cached report must follow (`report_changes`, `models.ReportChange`).

The report cache (`web/report_cache.py`) keeps a built report while the data's version is the same. New doses,
answers, imports and figures show in the highest ids of their tables, but a change that adds no row — a merge
(`subject_merges`), a cleaning correction (`subjects`), a duplicate marked or a dose corrected (`doses`), a facility
moved, a reported figure or unit answer replaced — did not, and a report could stay stale for minutes. Every insert,
update or delete of those tables now adds to `report_changes` in the same transaction, so the version moves
exactly when the change commits (a reader never sees the new version before the new data).

- PostgreSQL: one row per statement (`FOR EACH STATEMENT`, a sequence: concurrent writers never wait on each other);
  `summary.compact` deletes all but the last row.
- SQLite (one writer at a time): one row, its id raised by each changed row.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from tiemchung.health.reconciliation.models import ReportChange
from tiemchung.health.registry.db import Base

TABLE = ReportChange.__tablename__
# Inserts of doses, answers, imports, figures and units' answers already show in their highest id (data_version);
# subjects, facilities and merges change reports whatever the statement.
WATCHED = {
    "subjects": ("INSERT", "UPDATE", "DELETE"),
    "facilities": ("INSERT", "UPDATE", "DELETE"),
    "subject_merges": ("INSERT", "UPDATE", "DELETE"),
    "doses": ("UPDATE", "DELETE"),
    "verification_results": ("UPDATE", "DELETE"),
    "import_batches": ("UPDATE", "DELETE"),
    "reported_aggregates": ("UPDATE", "DELETE"),
    "reported_totals": ("UPDATE", "DELETE"),
    "unit_reports": ("UPDATE", "DELETE"),
    "review_results": ("UPDATE", "DELETE"),
}
FIRST_ROW = f"INSERT INTO {TABLE} (id) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM {TABLE})"


def sqlite_ddl() -> tuple[str, ...]:
    return tuple(
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_{table}_{operation.lower()} AFTER {operation} ON {table} "
        f"BEGIN UPDATE {TABLE} SET id = id + 1; END"
        for table, operations in WATCHED.items()
        for operation in operations
    )


def postgres_ddl() -> tuple[str, ...]:
    statements = [
        f"CREATE OR REPLACE FUNCTION {TABLE}_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TABLE} DEFAULT VALUES; RETURN NULL; END $$"
    ]
    for table, operations in WATCHED.items():
        name = f"{TABLE}_{table}"
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"CREATE TRIGGER {name} AFTER {' OR '.join(operations)} ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION {TABLE}_count()",
        ]
    return tuple(statements)


DDL = {"sqlite": (FIRST_ROW, *sqlite_ddl()), "postgresql": postgres_ddl()}
PRUNE = f"DELETE FROM {TABLE} WHERE id < (SELECT max(id) FROM {TABLE})"


@event.listens_for(Base.metadata, "after_create")
def _install_triggers(_metadata: Any, connection: Connection, **_kw: Any) -> None:
    """`create_schema` (tests, demo) gets the triggers too; Alembic's revision 0011 installs the same text."""
    for statement in DDL.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)
