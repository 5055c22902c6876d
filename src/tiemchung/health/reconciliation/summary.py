"""The summary of entered doses (`entered_dose_counts`), kept right by the database itself.

Why triggers: every path that writes a dose or what a dose's cell depends on (the form, the workbook import, the
Parquet bulk load, cleaning corrections of a birth date or residence, duplicate resolution, a restore, an
operator's psql session) goes through the database, so the summary cannot miss one, and it changes in the same
transaction as the doses: a rolled-back import leaves no trace in it. The audit log's append-only rule is enforced
the same way. A dose's cell is (province where it counts, age group on the dose's day, dose kind, day); the age
and province expressions are compiled from `queries`, so the triggers and the reports count alike.

- PostgreSQL: doses inserted or deleted are summarised per statement from transition tables, one set-wise
  `INSERT ... SELECT ... GROUP BY ... ON CONFLICT` for a whole bulk load. Every writing transaction adds its own
  rows (`transaction_id`): two imports in one province and day never queue on a shared counter (nor deadlock),
  however long they run. `compact_summary` (a timer) folds committed rows into row 0.
- SQLite has no statement-level triggers: one upsert per changed dose, in-process; one writer at a time, so
  every row is row 0.
- Updates fire row by row, and only when a counted column changed (`UPDATE OF ... WHEN ...`): signing doses or
  storing the register's answers cost nothing.

Concurrency (PostgreSQL, READ COMMITTED): a dose written while another transaction corrects its subject's birth
date must land in the cell of the committed birth date. Inserting a dose takes a KEY SHARE lock on its subject
(the foreign key check), updating or deleting one takes it explicitly, and a birth date or residence change takes
FOR UPDATE on the subject, which waits for those; each trigger statement then reads the committed state. Not
covered: a facility registered or moved while another open transaction writes doses under its code; `check`
shows such a difference and `rebuild` repairs it without stopping the platform.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, event, func, insert, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from tiemchung.health.reconciliation.models import EnteredDoseCount
from tiemchung.health.reconciliation.queries import Statement, age_group_of, birth_key, dose_key, entered_cells_by_day
from tiemchung.health.registry.db import Base

TABLE = EnteredDoseCount.__tablename__
KEY = "province_code, age_group, dose_kind, day"
TRANSACTION = {"postgresql": "CAST(CAST(pg_current_xact_id() AS text) AS bigint)", "sqlite": "0"}
DOSE_COLUMNS = ("subject_id", "facility_code", "vaccination_date", "dose_kind", "duplicate_of_id")
SUBJECT_COLUMNS = ("id", "birth_date", "province_code")
FACILITY_COLUMNS = ("code", "province_code")


def _sql(expression: Any, dialect: Dialect) -> str:
    return str(expression.compile(dialect=dialect))


def _row(record: str, columns: tuple[str, ...]) -> str:
    """A trigger's OLD or NEW row as a one-row relation, so that one query shape serves rows and tables."""
    return "(SELECT " + ", ".join(f"{record}.{column} AS {column}" for column in columns) + ")"


def _cells(
    dialect: Dialect,
    sign: int,
    *,
    doses: str = "doses",
    subjects: str = "subjects",
    facilities: str | None = "facilities",
    where: str = "true",
) -> str:
    """Rows of (province_code, age_key, dose_kind, day, change) for the counted doses of `doses`, with the subject
    and facility rows given (`facilities=None`: as if the dose's facility were unknown)."""
    age_key = _sql(dose_key(literal_column("d.vaccination_date")) - birth_key(literal_column("s.birth_date")), dialect)
    province = "coalesce(f.province_code, s.province_code, '')" if facilities else "coalesce(s.province_code, '')"
    facility_join = f" LEFT JOIN {facilities} f ON f.code = d.facility_code" if facilities else ""
    return (
        f"SELECT {province} AS province_code, {age_key} AS age_key, d.dose_kind AS dose_kind, "
        f"d.vaccination_date AS day, {sign} AS change "
        f"FROM {doses} d JOIN {subjects} s ON s.id = d.subject_id{facility_join} "
        f"WHERE d.duplicate_of_id IS NULL AND {where}"
    )


def _add(dialect: Dialect, *changes: str) -> str:
    """One upsert of the net change per cell of the `changes` (see `_cells`) into this transaction's rows."""
    age_group = _sql(age_group_of(literal_column("age_key")), dialect)
    return (
        f"INSERT INTO {TABLE} ({KEY}, transaction_id, doses) "
        f"SELECT {KEY}, {TRANSACTION[dialect.name]}, sum(change) FROM ("
        f"SELECT province_code, {age_group} AS age_group, dose_kind, day, change "
        f"FROM ({' UNION ALL '.join(changes)}) AS changes) AS cells "
        f"WHERE true GROUP BY {KEY} HAVING sum(change) <> 0 "
        f"ON CONFLICT ({KEY}, transaction_id) DO UPDATE SET doses = {TABLE}.doses + excluded.doses"
    )


def _changed(columns: tuple[str, ...], dialect: Dialect) -> str:
    different = "IS DISTINCT FROM" if dialect.name == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{column} {different} NEW.{column}" for column in columns)


# A dose's counted columns; for duplicate_of_id only whether it is set matters.
def _dose_changed(dialect: Dialect) -> str:
    different = "IS DISTINCT FROM" if dialect.name == "postgresql" else "IS NOT"
    return (
        _changed(DOSE_COLUMNS[:-1], dialect)
        + f" OR (OLD.duplicate_of_id IS NULL) {different} (NEW.duplicate_of_id IS NULL)"
    )


def _dose_update(dialect: Dialect) -> str:
    return _add(
        dialect,
        _cells(dialect, -1, doses=_row("OLD", DOSE_COLUMNS)),
        _cells(dialect, 1, doses=_row("NEW", DOSE_COLUMNS)),
    )


def _subject_update(dialect: Dialect) -> str:
    return _add(
        dialect,
        _cells(dialect, -1, subjects=_row("OLD", SUBJECT_COLUMNS), where="d.subject_id = OLD.id"),
        _cells(dialect, 1, subjects=_row("NEW", SUBJECT_COLUMNS), where="d.subject_id = NEW.id"),
    )


def _facility_added(dialect: Dialect, record: str) -> tuple[str, str]:
    """The doses under the facility's code move from the subjects' residence to the facility's province."""
    where = f"d.facility_code = {record}.code"
    return (
        _cells(dialect, -1, facilities=None, where=where),
        _cells(dialect, 1, facilities=_row(record, FACILITY_COLUMNS), where=where),
    )


def _facility_removed(dialect: Dialect, record: str) -> tuple[str, str]:
    where = f"d.facility_code = {record}.code"
    return (
        _cells(dialect, -1, facilities=_row(record, FACILITY_COLUMNS), where=where),
        _cells(dialect, 1, facilities=None, where=where),
    )


def sqlite_ddl() -> tuple[str, ...]:
    dialect = sqlite.dialect()
    trigger = f"CREATE TRIGGER IF NOT EXISTS {TABLE}"
    return (
        f"{trigger}_dose_insert AFTER INSERT ON doses WHEN NEW.duplicate_of_id IS NULL BEGIN "
        f"{_add(dialect, _cells(dialect, 1, doses=_row('NEW', DOSE_COLUMNS)))}; END",
        f"{trigger}_dose_delete AFTER DELETE ON doses WHEN OLD.duplicate_of_id IS NULL BEGIN "
        f"{_add(dialect, _cells(dialect, -1, doses=_row('OLD', DOSE_COLUMNS)))}; END",
        f"{trigger}_dose_update AFTER UPDATE OF {', '.join(DOSE_COLUMNS)} ON doses "
        f"WHEN {_dose_changed(dialect)} BEGIN {_dose_update(dialect)}; END",
        f"{trigger}_subject_update AFTER UPDATE OF birth_date, province_code ON subjects "
        f"WHEN {_changed(SUBJECT_COLUMNS[1:], dialect)} BEGIN {_subject_update(dialect)}; END",
        f"{trigger}_facility_insert AFTER INSERT ON facilities BEGIN "
        f"{_add(dialect, *_facility_added(dialect, 'NEW'))}; END",
        f"{trigger}_facility_delete AFTER DELETE ON facilities BEGIN "
        f"{_add(dialect, *_facility_removed(dialect, 'OLD'))}; END",
        f"{trigger}_facility_update AFTER UPDATE OF code, province_code ON facilities "
        f"WHEN {_changed(FACILITY_COLUMNS, dialect)} BEGIN "
        f"{_add(dialect, *_facility_removed(dialect, 'OLD'), *_facility_added(dialect, 'NEW'))}; END",
    )


def _plpgsql(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
    )


def _postgres_trigger(name: str, timing: str, table: str, rest: str, function: str = "") -> tuple[str, str]:
    return (
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"CREATE TRIGGER {name} {timing} ON {table} {rest} EXECUTE FUNCTION {function or name}()",
    )


def postgres_ddl() -> tuple[str, ...]:
    dialect = postgresql.dialect()
    name = TABLE
    lock_deleted = (
        "PERFORM 1 FROM subjects WHERE id IN "
        "(SELECT subject_id FROM old_rows WHERE duplicate_of_id IS NULL) FOR KEY SHARE;"
    )
    facility_body = (
        f"IF TG_OP = 'INSERT' THEN {_add(dialect, *_facility_added(dialect, 'NEW'))}; "
        f"ELSIF TG_OP = 'DELETE' THEN {_add(dialect, *_facility_removed(dialect, 'OLD'))}; "
        f"ELSE {_add(dialect, *_facility_removed(dialect, 'OLD'), *_facility_added(dialect, 'NEW'))}; END IF;"
    )
    return (
        _plpgsql(f"{name}_doses_added", f"{_add(dialect, _cells(dialect, 1, doses='new_rows'))};"),
        *_postgres_trigger(
            f"{name}_doses_added", "AFTER INSERT", "doses", "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        ),
        _plpgsql(f"{name}_doses_removed", f"{lock_deleted} {_add(dialect, _cells(dialect, -1, doses='old_rows'))};"),
        *_postgres_trigger(
            f"{name}_doses_removed", "AFTER DELETE", "doses", "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
        ),
        _plpgsql(
            f"{name}_dose_changed",
            "PERFORM 1 FROM subjects WHERE id IN (OLD.subject_id, NEW.subject_id) FOR KEY SHARE; "
            f"{_dose_update(dialect)};",
        ),
        *_postgres_trigger(
            f"{name}_dose_changed",
            f"AFTER UPDATE OF {', '.join(DOSE_COLUMNS)}",
            "doses",
            f"FOR EACH ROW WHEN ({_dose_changed(dialect)})",
        ),
        _plpgsql(
            f"{name}_subject_changed",
            f"PERFORM 1 FROM subjects WHERE id = NEW.id FOR UPDATE; {_subject_update(dialect)};",
        ),
        *_postgres_trigger(
            f"{name}_subject_changed",
            "AFTER UPDATE OF birth_date, province_code",
            "subjects",
            f"FOR EACH ROW WHEN ({_changed(SUBJECT_COLUMNS[1:], dialect)})",
        ),
        _plpgsql(f"{name}_facility_changed", facility_body),
        *_postgres_trigger(f"{name}_facility_changed", "AFTER INSERT OR DELETE", "facilities", "FOR EACH ROW"),
        *_postgres_trigger(
            f"{name}_facility_moved",
            "AFTER UPDATE OF code, province_code",
            "facilities",
            f"FOR EACH ROW WHEN ({_changed(FACILITY_COLUMNS, dialect)})",
            function=f"{name}_facility_changed",
        ),
    )


DDL = {"sqlite": sqlite_ddl(), "postgresql": postgres_ddl()}


@event.listens_for(Base.metadata, "after_create")
def _install_triggers(_metadata: Any, connection: Connection, **_kw: Any) -> None:
    """`create_schema` (tests, demo) gets the triggers too; Alembic's revision 0002 installs the same text."""
    for statement in DDL.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


@dataclass(frozen=True)
class CellDifference:
    province_code: str
    age_group: str
    dose_kind: str
    day: Any
    summary: int
    doses: int


def differences(engine: Engine, limit: int = 1000) -> list[CellDifference]:
    """Cells where the summary and a fresh count of the doses disagree (none when all is right), read in one
    statement, so both sides see the same moment while doses keep being written."""
    fresh = entered_cells_by_day().subquery("fresh")
    stored: Statement = select(
        EnteredDoseCount.province_code,
        EnteredDoseCount.age_group,
        EnteredDoseCount.dose_kind,
        EnteredDoseCount.day,
        EnteredDoseCount.doses.label("summary"),
        literal_column("0").label("doses"),
    )
    counted = select(
        fresh.c.province_code,
        fresh.c.age_group,
        fresh.c.dose_kind,
        fresh.c.day,
        literal_column("0").label("summary"),
        fresh.c.doses,
    )
    both = stored.union_all(counted).subquery("both_sides")
    keys = (both.c.province_code, both.c.age_group, both.c.dose_kind, both.c.day)
    in_summary, in_doses = func.sum(both.c.summary), func.sum(both.c.doses)
    statement = (
        select(*keys, in_summary, in_doses).group_by(*keys).having(in_summary != in_doses).order_by(*keys).limit(limit)
    )
    with engine.connect() as connection:
        return [CellDifference(*row) for row in connection.execute(statement)]


def count_all() -> Insert:
    """The summary counted afresh from the doses, as compacted rows (transaction 0)."""
    fresh = entered_cells_by_day().subquery("fresh")
    columns = ("province_code", "age_group", "dose_kind", "day", "doses")
    counted = select(*(fresh.c[name] for name in columns), literal_column("0"))
    return insert(EnteredDoseCount).from_select([*columns, "transaction_id"], counted)


def rebuild(engine: Engine) -> int:
    """Recount the summary from the doses (after a repair, or to check the triggers); returns the cells written.

    Safe while the platform runs: on PostgreSQL the old rows are deleted and the new ones counted in one snapshot,
    and rows that transactions still open at that moment add on top are theirs, not in the snapshot; the lock
    only keeps `compact`/`rebuild` from running twice at once.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            _lock(connection)
            connection.execute(text(f"DELETE FROM {TABLE}"))
            connection.execute(count_all())
            written = connection.scalar(text(f"SELECT count(*) FROM {TABLE}"))
    return int(written or 0)


def compact(engine: Engine) -> tuple[int, int]:
    """Fold the rows of committed transactions into each cell's row 0 and drop empty cells: (rows before, after).

    Readers add a cell's rows up, so compaction never changes a total; it keeps the summary a few rows per cell
    day however many transactions wrote doses (run it from a timer, like the outbox drain).
    """
    with engine.begin() as connection:
        _lock(connection)
        before = connection.scalar(text(f"SELECT count(*) FROM {TABLE}")) or 0
        if connection.dialect.name == "postgresql":
            connection.execute(
                text(
                    f"WITH moved AS (DELETE FROM {TABLE} WHERE transaction_id <> 0 "
                    f"RETURNING {KEY}, doses) "
                    f"INSERT INTO {TABLE} ({KEY}, transaction_id, doses) "
                    f"SELECT {KEY}, 0, sum(doses) FROM moved GROUP BY {KEY} "
                    f"ON CONFLICT ({KEY}, transaction_id) DO UPDATE SET doses = {TABLE}.doses + excluded.doses"
                )
            )
        connection.execute(text(f"DELETE FROM {TABLE} WHERE doses = 0"))
        after = connection.scalar(text(f"SELECT count(*) FROM {TABLE}")) or 0
    return int(before), int(after)


def _lock(connection: Connection) -> None:
    """Compaction and rebuild one at a time; the triggers' inserts (ROW EXCLUSIVE) are not blocked."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE"))
