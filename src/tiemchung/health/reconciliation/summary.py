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

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Insert, event, func, insert, literal_column, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from tiemchung.health.reconciliation import changes
from tiemchung.health.reconciliation.models import EnteredDoseCount, LocalDoseCount
from tiemchung.health.reconciliation.queries import Statement, age_group_of, birth_key, dose_key, entered_cells_by_day
from tiemchung.health.registry.db import Base

TRANSACTION = {"postgresql": "CAST(CAST(pg_current_xact_id() AS text) AS bigint)", "sqlite": "0"}
DOSE_COLUMNS = ("subject_id", "facility_code", "vaccination_date", "dose_kind", "duplicate_of_id")


@dataclass(frozen=True)
class Grain:
    """One summary table: where a dose counts at which levels (`places`), and the subject and facility columns
    those places are read from (a change of one of them moves doses between cells)."""

    table: str
    places: tuple[str, ...]
    subject_columns: tuple[str, ...] = field(default=())
    facility_columns: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return ", ".join((*self.places, "age_group", "dose_kind", "day"))


# Per province (revision 0002's text: unchanged) and per province, district and ward (revision 0011).
PROVINCES = Grain(EnteredDoseCount.__tablename__, ("province_code",), ("id", "birth_date", "province_code"),
                  ("code", "province_code"))  # fmt: skip
LOCAL = Grain(
    LocalDoseCount.__tablename__,
    ("province_code", "district_code", "ward_code"),
    ("id", "birth_date", "province_code", "district_code", "ward_code"),
    ("code", "province_code", "district_code", "ward_code"),
)
GRAINS = (PROVINCES, LOCAL)
TABLE = PROVINCES.table
KEY = PROVINCES.key


def _place(level: str, facilities: bool) -> str:
    """Where a dose counts at `level`, as `queries.dose_place` says: the facility's unit when the facility is known,
    else the subject's residence ('' when unknown)."""
    if level == "province_code":
        return "coalesce(f.province_code, s.province_code, '')" if facilities else "coalesce(s.province_code, '')"
    if not facilities:
        return f"coalesce(s.{level}, '')"
    return f"coalesce(CASE WHEN f.province_code IS NOT NULL THEN f.{level} ELSE s.{level} END, '')"


def _sql(expression: Any, dialect: Dialect) -> str:
    return str(expression.compile(dialect=dialect))


def _row(record: str, columns: tuple[str, ...]) -> str:
    """A trigger's OLD or NEW row as a one-row relation, so that one query shape serves rows and tables."""
    return "(SELECT " + ", ".join(f"{record}.{column} AS {column}" for column in columns) + ")"


def _cells(
    grain: Grain,
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
    places = ", ".join(f"{_place(level, facilities is not None)} AS {level}" for level in grain.places)
    facility_join = f" LEFT JOIN {facilities} f ON f.code = d.facility_code" if facilities else ""
    return (
        f"SELECT {places}, {age_key} AS age_key, d.dose_kind AS dose_kind, "
        f"d.vaccination_date AS day, {sign} AS change "
        f"FROM {doses} d JOIN {subjects} s ON s.id = d.subject_id{facility_join} "
        f"WHERE d.duplicate_of_id IS NULL AND {where}"
    )


def _add(grain: Grain, dialect: Dialect, *changes: str) -> str:
    """One upsert of the net change per cell of the `changes` (see `_cells`) into this transaction's rows."""
    age_group = _sql(age_group_of(literal_column("age_key")), dialect)
    table, key = grain.table, grain.key
    return (
        f"INSERT INTO {table} ({key}, transaction_id, doses) "
        f"SELECT {key}, {TRANSACTION[dialect.name]}, sum(change) FROM ("
        f"SELECT {', '.join(grain.places)}, {age_group} AS age_group, dose_kind, day, change "
        f"FROM ({' UNION ALL '.join(changes)}) AS changes) AS cells "
        f"WHERE true GROUP BY {key} HAVING sum(change) <> 0 "
        f"ON CONFLICT ({key}, transaction_id) DO UPDATE SET doses = {table}.doses + excluded.doses"
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


def _dose_update(grain: Grain, dialect: Dialect) -> str:
    return _add(
        grain,
        dialect,
        _cells(grain, dialect, -1, doses=_row("OLD", DOSE_COLUMNS)),
        _cells(grain, dialect, 1, doses=_row("NEW", DOSE_COLUMNS)),
    )


def _subject_update(grain: Grain, dialect: Dialect) -> str:
    columns = grain.subject_columns
    return _add(
        grain,
        dialect,
        _cells(grain, dialect, -1, subjects=_row("OLD", columns), where="d.subject_id = OLD.id"),
        _cells(grain, dialect, 1, subjects=_row("NEW", columns), where="d.subject_id = NEW.id"),
    )


def _facility_added(grain: Grain, dialect: Dialect, record: str) -> tuple[str, str]:
    """The doses under the facility's code move from the subjects' residence to the facility's place."""
    where = f"d.facility_code = {record}.code"
    return (
        _cells(grain, dialect, -1, facilities=None, where=where),
        _cells(grain, dialect, 1, facilities=_row(record, grain.facility_columns), where=where),
    )


def _facility_removed(grain: Grain, dialect: Dialect, record: str) -> tuple[str, str]:
    where = f"d.facility_code = {record}.code"
    return (
        _cells(grain, dialect, -1, facilities=_row(record, grain.facility_columns), where=where),
        _cells(grain, dialect, 1, facilities=None, where=where),
    )


def sqlite_ddl(grain: Grain = PROVINCES) -> tuple[str, ...]:
    dialect = sqlite.dialect()
    trigger = f"CREATE TRIGGER IF NOT EXISTS {grain.table}"
    subject_changes, facility_changes = grain.subject_columns[1:], grain.facility_columns
    moved = _add(grain, dialect, *_facility_removed(grain, dialect, "OLD"), *_facility_added(grain, dialect, "NEW"))
    return (
        f"{trigger}_dose_insert AFTER INSERT ON doses WHEN NEW.duplicate_of_id IS NULL BEGIN "
        f"{_add(grain, dialect, _cells(grain, dialect, 1, doses=_row('NEW', DOSE_COLUMNS)))}; END",
        f"{trigger}_dose_delete AFTER DELETE ON doses WHEN OLD.duplicate_of_id IS NULL BEGIN "
        f"{_add(grain, dialect, _cells(grain, dialect, -1, doses=_row('OLD', DOSE_COLUMNS)))}; END",
        f"{trigger}_dose_update AFTER UPDATE OF {', '.join(DOSE_COLUMNS)} ON doses "
        f"WHEN {_dose_changed(dialect)} BEGIN {_dose_update(grain, dialect)}; END",
        f"{trigger}_subject_update AFTER UPDATE OF {', '.join(subject_changes)} ON subjects "
        f"WHEN {_changed(subject_changes, dialect)} BEGIN {_subject_update(grain, dialect)}; END",
        f"{trigger}_facility_insert AFTER INSERT ON facilities BEGIN "
        f"{_add(grain, dialect, *_facility_added(grain, dialect, 'NEW'))}; END",
        f"{trigger}_facility_delete AFTER DELETE ON facilities BEGIN "
        f"{_add(grain, dialect, *_facility_removed(grain, dialect, 'OLD'))}; END",
        f"{trigger}_facility_update AFTER UPDATE OF {', '.join(facility_changes)} ON facilities "
        f"WHEN {_changed(facility_changes, dialect)} BEGIN "
        f"{moved}; END",
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


def postgres_ddl(grain: Grain = PROVINCES) -> tuple[str, ...]:
    dialect = postgresql.dialect()
    name = grain.table
    subject_changes, facility_changes = grain.subject_columns[1:], grain.facility_columns
    lock_deleted = (
        "PERFORM 1 FROM subjects WHERE id IN "
        "(SELECT subject_id FROM old_rows WHERE duplicate_of_id IS NULL) FOR KEY SHARE;"
    )
    moved = _add(grain, dialect, *_facility_removed(grain, dialect, "OLD"), *_facility_added(grain, dialect, "NEW"))
    facility_body = (
        f"IF TG_OP = 'INSERT' THEN {_add(grain, dialect, *_facility_added(grain, dialect, 'NEW'))}; "
        f"ELSIF TG_OP = 'DELETE' THEN {_add(grain, dialect, *_facility_removed(grain, dialect, 'OLD'))}; "
        f"ELSE {moved}; END IF;"
    )
    return (
        _plpgsql(f"{name}_doses_added", f"{_add(grain, dialect, _cells(grain, dialect, 1, doses='new_rows'))};"),
        *_postgres_trigger(
            f"{name}_doses_added", "AFTER INSERT", "doses", "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        ),
        _plpgsql(
            f"{name}_doses_removed",
            f"{lock_deleted} {_add(grain, dialect, _cells(grain, dialect, -1, doses='old_rows'))};",
        ),
        *_postgres_trigger(
            f"{name}_doses_removed", "AFTER DELETE", "doses", "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
        ),
        _plpgsql(
            f"{name}_dose_changed",
            "PERFORM 1 FROM subjects WHERE id IN (OLD.subject_id, NEW.subject_id) FOR KEY SHARE; "
            f"{_dose_update(grain, dialect)};",
        ),
        *_postgres_trigger(
            f"{name}_dose_changed",
            f"AFTER UPDATE OF {', '.join(DOSE_COLUMNS)}",
            "doses",
            f"FOR EACH ROW WHEN ({_dose_changed(dialect)})",
        ),
        _plpgsql(
            f"{name}_subject_changed",
            f"PERFORM 1 FROM subjects WHERE id = NEW.id FOR UPDATE; {_subject_update(grain, dialect)};",
        ),
        *_postgres_trigger(
            f"{name}_subject_changed",
            f"AFTER UPDATE OF {', '.join(subject_changes)}",
            "subjects",
            f"FOR EACH ROW WHEN ({_changed(subject_changes, dialect)})",
        ),
        _plpgsql(f"{name}_facility_changed", facility_body),
        *_postgres_trigger(f"{name}_facility_changed", "AFTER INSERT OR DELETE", "facilities", "FOR EACH ROW"),
        *_postgres_trigger(
            f"{name}_facility_moved",
            f"AFTER UPDATE OF {', '.join(facility_changes)}",
            "facilities",
            f"FOR EACH ROW WHEN ({_changed(facility_changes, dialect)})",
            function=f"{name}_facility_changed",
        ),
    )


DDL = {
    "sqlite": tuple(statement for grain in GRAINS for statement in sqlite_ddl(grain)),
    "postgresql": tuple(statement for grain in GRAINS for statement in postgres_ddl(grain)),
}


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
    district_code: str | None = None  # None: a cell of the province summary
    ward_code: str | None = None


def _model(grain: Grain) -> type[EnteredDoseCount] | type[LocalDoseCount]:
    return LocalDoseCount if grain is LOCAL else EnteredDoseCount


def differences(engine: Engine, limit: int = 1000) -> list[CellDifference]:
    """Cells where a summary (per province, or per district and ward) and a fresh count of the doses disagree (none
    when all is right), each summary read in one statement, so both sides see the same moment while doses keep
    being written."""
    found: list[CellDifference] = []
    for grain in GRAINS:
        found += _differences(engine, grain, limit - len(found))
    return found


def _differences(engine: Engine, grain: Grain, limit: int) -> list[CellDifference]:
    model = _model(grain)
    fresh = entered_cells_by_day(local=grain is LOCAL).subquery("fresh")
    names = (*grain.places, "age_group", "dose_kind", "day")
    stored: Statement = select(
        *(getattr(model, name) for name in names), model.doses.label("summary"), literal_column("0").label("doses")
    )
    counted = select(*(fresh.c[name] for name in names), literal_column("0").label("summary"), fresh.c.doses)
    both = stored.union_all(counted).subquery("both_sides")
    keys = [both.c[name] for name in names]
    in_summary, in_doses = func.sum(both.c.summary), func.sum(both.c.doses)
    statement = (
        select(*keys, in_summary, in_doses).group_by(*keys).having(in_summary != in_doses).order_by(*keys).limit(limit)
    )
    with engine.connect() as connection:
        rows = [dict(zip((*names, "summary", "doses"), row, strict=True)) for row in connection.execute(statement)]
    return [CellDifference(**row) for row in rows]


def count_all(grain: Grain = PROVINCES) -> Insert:
    """A summary counted afresh from the doses, as compacted rows (transaction 0)."""
    fresh = entered_cells_by_day(local=grain is LOCAL).subquery("fresh")
    columns = (*grain.places, "age_group", "dose_kind", "day", "doses")
    counted = select(*(fresh.c[name] for name in columns), literal_column("0"))
    return insert(_model(grain)).from_select([*columns, "transaction_id"], counted)


def rebuild(engine: Engine) -> int:
    """Recount both summaries from the doses (after a repair, or to check the triggers); returns the rows written.

    Safe while the platform runs: on PostgreSQL the old rows are deleted and the new ones counted in one snapshot,
    and rows that transactions still open at that moment add on top are theirs, not in the snapshot; the lock
    only keeps `compact`/`rebuild` from running twice at once.
    """
    written = 0
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            for grain in GRAINS:
                _lock(connection, grain)
                connection.execute(text(f"DELETE FROM {grain.table}"))
                connection.execute(count_all(grain))
                written += int(connection.scalar(text(f"SELECT count(*) FROM {grain.table}")) or 0)
    return written


def compact(engine: Engine, grain: Grain | None = None) -> tuple[int, int]:
    """Fold the rows of committed transactions into each cell's row 0 and drop empty cells: (rows before, after),
    of `grain`'s summary or of both.

    Readers add a cell's rows up, so compaction never changes a total; it keeps the summary a few rows per cell
    day however many transactions wrote doses (run it from a timer, like the outbox drain).
    """
    before = after = 0
    for each in [grain] if grain else GRAINS:
        rows = _compact(engine, each)
        before, after = before + rows[0], after + rows[1]
    with engine.begin() as connection:  # the report changes' counter needs only its last row
        connection.execute(text(changes.PRUNE))
    return before, after


def _compact(engine: Engine, grain: Grain) -> tuple[int, int]:
    table, key = grain.table, grain.key
    with engine.begin() as connection:
        _lock(connection, grain)
        before = connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0
        if connection.dialect.name == "postgresql":
            connection.execute(
                text(
                    f"WITH moved AS (DELETE FROM {table} WHERE transaction_id <> 0 "
                    f"RETURNING {key}, doses) "
                    f"INSERT INTO {table} ({key}, transaction_id, doses) "
                    f"SELECT {key}, 0, sum(doses) FROM moved GROUP BY {key} "
                    f"ON CONFLICT ({key}, transaction_id) DO UPDATE SET doses = {table}.doses + excluded.doses"
                )
            )
        connection.execute(text(f"DELETE FROM {table} WHERE doses = 0"))
        after = connection.scalar(text(f"SELECT count(*) FROM {table}")) or 0
    return int(before), int(after)


def _lock(connection: Connection, grain: Grain) -> None:
    """Compaction and rebuild one at a time; the triggers' inserts (ROW EXCLUSIVE) are not blocked."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {grain.table} IN SHARE ROW EXCLUSIVE MODE"))
