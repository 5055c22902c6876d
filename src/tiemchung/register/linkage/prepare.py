"""Bringing both sides to one comparable form: the register in SQL, subjects in Python.

The register (up to 100M rows) is prepared once in DuckDB with the identity package's SQL name
functions; subjects arrive in batches and are repaired with the identity package's Python rules
(the two are equal by the identity package's contract).
"""

import contextlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tiemchung.identity import (
    IdKind,
    canonical_name,
    canonical_name_sql,
    check_id_number,
    decode_legacy,
    fold_name,
    fold_name_sql,
    parse_date,
    parse_sex,
)
from tiemchung.interchange.results import SUBJECT_COLUMNS, SubjectQuery
from tiemchung.register.linkage.model import BLOCKING_KEYS, COMPARED_COLUMNS, MODEL_COLUMNS

# Bump when the prepared register's layout changes: a prepared DuckDB file of another version is rebuilt.
PREPARED_LAYOUT_VERSION = "4"

REGISTER_TEXT_COLUMNS = (
    "person_id",
    "old_id",
    "full_name",
    "birth_date",
    "sex",
    "province_code",
    "district_code",
    "ward_code",
    "address",
)

NOTHING_KNOWN_YEAR = 1900

# The compared columns packed in one text column for the online path: fetching a few scattered rows
# from a column store decompresses one block per column, so one column instead of thirteen is ~10x
# cheaper per candidate. Unit separator: never in names, dates or codes.
PACK_SEPARATOR = "\x1f"
PACK_SEPARATOR_SQL = f"chr({ord(PACK_SEPARATOR)})"
VIETNAM_NATIONALITIES = frozenset({"", "vn", "vnm", "vietnam"})


def source_sql(path: Path) -> str:
    """A DuckDB table expression reading a CSV or Parquet file, every column as text."""
    quoted = str(path).replace("'", "''")
    if path.suffix.lower() == ".parquet":
        return f"read_parquet('{quoted}')"
    return f"read_csv('{quoted}', header = true, all_varchar = true)"


def _text(column: str) -> str:
    return f"nullif(trim(CAST({column} AS VARCHAR)), '')"


def register_select_sql(source: str) -> str:
    """The prepared register as one SELECT: canonical and folded names, year, blocking keys."""
    base = ", ".join(f"{_text(column)} AS {column}" for column in REGISTER_TEXT_COLUMNS)
    keys = ", ".join(f"{expression} AS {name}" for name, expression in BLOCKING_KEYS.items())
    source_of = {"id_value": "person_id", "household": "address"}  # model columns named otherwise here
    packed = ", ".join(f"coalesce(CAST({source_of.get(column, column)} AS VARCHAR), '')" for column in COMPARED_COLUMNS)
    return f"""
    WITH typed AS (SELECT {base} FROM {source}),
    named AS (
        SELECT *,
            {canonical_name_sql("full_name")} AS name_canon,
            {fold_name_sql("full_name")} AS name_fold,
            TRY_CAST(substr(birth_date, 1, 4) AS INTEGER) AS birth_year
        FROM typed
    ),
    parted AS (
        SELECT *,
            string_split(name_fold, ' ')[-1] AS given_fold,
            string_split(name_fold, ' ')[1] AS family_fold,
            array_to_string(list_sort(string_split(name_fold, ' ')), ' ') AS name_sorted
        FROM named
    )
    SELECT *, person_id AS unique_id, person_id AS id_value, address AS household, {keys},
        concat_ws({PACK_SEPARATOR_SQL}, {packed}) AS online_packed
    FROM parted
    """


@dataclass(frozen=True)
class PreparedSubject:
    """A subject repaired by the identity rules; `None` means absent or unreadable."""

    subject_id: str
    id_kind: str  # CCCD, CMND, INVALID (typed but invalid format) or NONE
    id_value: str | None
    id_findings: str
    is_foreign: bool
    name_canon: str | None
    name_fold: str | None
    given_fold: str | None
    family_fold: str | None
    birth_date: str | None
    birth_year: int | None
    sex: str | None
    province_code: str | None
    district_code: str | None
    ward_code: str | None

    def model_row(self) -> dict[str, Any]:
        """The subject as one side of the Fellegi–Sunter model (MODEL_COLUMNS).

        A birth year at or before NOTHING_KNOWN_YEAR is the "nothing known" placeholder (01/01/1900):
        no evidence either way, so the model sees it as absent.
        """
        known = self.birth_year is not None and self.birth_year > NOTHING_KNOWN_YEAR
        model_birth_date = self.birth_date if known else None
        return {
            "unique_id": self.subject_id,
            "name_canon": self.name_canon,
            "name_fold": self.name_fold,
            "name_sorted": " ".join(sorted(self.name_fold.split())) if self.name_fold else None,
            "given_fold": self.given_fold,
            "family_fold": self.family_fold,
            "birth_date": model_birth_date,
            "birth_year": self.birth_year if model_birth_date else None,
            "sex": self.sex,
            "province_code": self.province_code,
            "district_code": self.district_code,
            "ward_code": self.ward_code,
            "id_value": self.id_value if self.id_kind == "CCCD" else None,
            "old_id": self.id_value if self.id_kind == "CMND" else None,
            "household": None,  # the typed ID holder's address, known after the exact path (sql.MODEL_LINKED_SQL)
            "blk_given_date": _join(self.given_fold, model_birth_date),
            "blk_name_ward": _join(self.name_fold, self.ward_code),
            "blk_date_ward": _join(model_birth_date, self.ward_code),
            "blk_name_daymonth": _join(
                self.name_fold, model_birth_date[5:] if model_birth_date and len(model_birth_date) == 10 else None
            ),
        }


def _join(*parts: object) -> str | None:
    """Python twin of the SQL `a || '|' || b`: NULL when any part is NULL."""
    if any(part is None for part in parts):
        return None
    return "|".join(str(part) for part in parts)


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def is_foreign_nationality(nationality: str | None) -> bool:
    """ISO alpha-2/alpha-3 or Vietnamese name; empty means Viet Nam (spec section 2)."""
    folded = "".join(ch for ch in fold_name(nationality or "") if ch.isalnum())
    return folded not in VIETNAM_NATIONALITIES


def _id_fields(raw: str | None) -> tuple[str, str | None, str]:
    if _clean(raw) is None:
        return "NONE", None, ""
    check = check_id_number(raw or "")
    findings = ";".join(finding.code for finding in check.findings)
    if not check.valid_format or check.kind == IdKind.NONE:
        return "INVALID", None, findings
    kind = "CCCD" if check.kind == IdKind.CCCD else "CMND"
    return kind, check.value, findings


def _name_fields(raw: str | None) -> tuple[str | None, str | None]:
    text = _clean(raw)
    if text is None:
        return None, None
    decoded = decode_legacy(text).text
    return canonical_name(decoded) or None, fold_name(decoded) or None


def prepare_subject(query: SubjectQuery) -> PreparedSubject:
    """Repair one subject as typed into the comparable form; never raises on bad data."""
    id_kind, id_value, id_findings = _id_fields(query.id_number)
    name_canon, name_fold = _name_fields(query.full_name)
    tokens = name_fold.split() if name_fold else []
    checked = parse_date(query.birth_date or "")
    date = checked.value if checked.usable else None
    birth_date = date.iso() if date is not None else None
    return PreparedSubject(
        subject_id=query.subject_id,
        id_kind=id_kind,
        id_value=id_value,
        id_findings=id_findings,
        is_foreign=is_foreign_nationality(query.nationality),
        name_canon=name_canon,
        name_fold=name_fold,
        given_fold=tokens[-1] if tokens else None,
        family_fold=tokens[0] if tokens else None,
        birth_date=birth_date,
        birth_year=int(birth_date[:4]) if birth_date else None,
        sex=parse_sex(query.sex or ""),
        province_code=_clean(query.province_code),
        district_code=_clean(query.district_code),
        ward_code=_clean(query.ward_code),
    )


# Subjects are repaired in Python this many at a time and written out, so a national batch (tens of
# millions) never holds more than one chunk of Python objects (at 10M people, holding them all was
# 10+ GB on top of DuckDB's own memory, and the process was killed).
PREPARE_CHUNK = 250_000

Progress = Callable[[int, int], None]

_SUBJECT_SCHEMA = pa.schema(
    [
        ("subject_id", pa.string()),
        ("id_kind", pa.string()),
        ("id_value", pa.string()),
        ("id_findings", pa.string()),
        ("is_foreign", pa.bool_()),
        ("name_canon", pa.string()),
        ("name_fold", pa.string()),
        ("given_fold", pa.string()),
        ("family_fold", pa.string()),
        ("birth_date", pa.string()),
        ("birth_year", pa.int32()),
        ("sex", pa.string()),
        ("province_code", pa.string()),
        ("district_code", pa.string()),
        ("ward_code", pa.string()),
    ]
)
_MODEL_SCHEMA = pa.schema([(column, pa.int32() if column == "birth_year" else pa.string()) for column in MODEL_COLUMNS])
_DISAGREEMENT_SCHEMA = pa.schema([("subject_id", pa.string()), ("row_disagreements", pa.string())])


def subjects_table(prepared: list[PreparedSubject]) -> pa.Table:
    """Prepared subjects as Arrow (the `subjects` table of the SQL)."""
    columns = {name: [getattr(subject, name) for subject in prepared] for name in _SUBJECT_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=_SUBJECT_SCHEMA)


def model_table(prepared: list[PreparedSubject]) -> pa.Table:
    """Prepared subjects as one side of the model (MODEL_COLUMNS)."""
    rows = [subject.model_row() for subject in prepared]
    columns = {name: [row[name] for row in rows] for name in _MODEL_SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=_MODEL_SCHEMA)


@dataclass(frozen=True)
class PreparedFiles:
    """A batch's subjects, repaired, as Parquet files that any engine reads (DuckDB, Spark)."""

    subjects: Path  # the `subjects` table of the SQL
    model: Path  # the subjects' side of the model (MODEL_COLUMNS)
    disagreements: Path  # fields whose values differed between a subject's dose rows
    count: int
    not_foreign: int


def prepare_subject_files(
    connection: Any,
    path: Path,
    folder: Path,
    *,
    chunk: int = PREPARE_CHUNK,
    workers: int = 0,
    progress: Progress | None = None,
) -> PreparedFiles:
    """Read a subjects file or a section-2 records file, one subject per subject_id (first non-empty value),
    repair each subject in Python, chunk by chunk, and write the three Parquet files of `PreparedFiles`.

    `workers` processes repair the chunks (0: one per core, 1: this process); the files are the same either way.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / "subjects.parquet", folder / "model_subjects.parquet", folder / "row_disagreements.parquet"]
    schemas = [_SUBJECT_SCHEMA, _MODEL_SCHEMA, _DISAGREEMENT_SCHEMA]
    total = _group_subjects(connection, path)
    count = not_foreign = 0
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(pq.ParquetWriter(f, schema)) for f, schema in zip(files, schemas, strict=True)]
        for repaired in _repaired_chunks(_grouped_chunks(connection, total, chunk), _workers(workers, total, chunk)):
            for writer, table in zip(writers, repaired.tables, strict=True):
                writer.write_table(table)
            count += repaired.count
            not_foreign += repaired.not_foreign
            if progress is not None:
                progress(count, total)
    connection.execute("DROP TABLE grouped_subjects")
    subjects_file, model_file, disagreements_file = files
    return PreparedFiles(subjects_file, model_file, disagreements_file, count, not_foreign)


ChunkRows = tuple[list[str], list[tuple[Any, ...]]]  # column names, rows


@dataclass(frozen=True)
class RepairedChunk:
    tables: tuple[pa.Table, pa.Table, pa.Table]  # subjects, model side, row disagreements
    count: int
    not_foreign: int


def repair_chunk(names: list[str], rows: list[tuple[Any, ...]]) -> RepairedChunk:
    """One chunk of grouped subjects (column names, rows) repaired into the three tables."""
    checked = [name[2:] for name in names if name.startswith("n_")]
    queries, disagreements = [], {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        differing = tuple(column for column in checked if record.pop(f"n_{column}", 1) > 1)
        if differing:
            disagreements[str(record["subject_id"])] = differing
        queries.append(_query_from(record))
    prepared = [prepare_subject(query) for query in queries]
    tables = (subjects_table(prepared), model_table(prepared), _disagreement_table(disagreements))
    return RepairedChunk(tables, len(prepared), sum(not subject.is_foreign for subject in prepared))


def _workers(requested: int, total: int, chunk: int) -> int:
    chunks = -(-total // chunk)
    return max(1, min(requested or os.cpu_count() or 1, chunks))


def _repaired_chunks(chunks: Iterator[ChunkRows], workers: int) -> Iterator[RepairedChunk]:
    """The chunks repaired, in file order. The repair is pure Python, so threads would share one core (the GIL):
    processes do it, while this one reads the next chunk and writes the last. At most `workers + 1` chunks are
    in flight, which bounds memory; at 10M people one process spent ~25 minutes here."""
    if workers == 1:
        yield from (repair_chunk(names, rows) for names, rows in chunks)
        return
    # spawn, not fork: the parent holds DuckDB's threads and locks, which a forked child would inherit mid-use.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[RepairedChunk]] = deque()
        for names, rows in chunks:
            pending.append(pool.submit(repair_chunk, names, rows))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _group_subjects(connection: Any, path: Path) -> int:
    """The file grouped to one row per subject, numbered in file order, in a temporary table; its size."""
    source = source_sql(path)
    columns = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    present = [column for column in SUBJECT_COLUMNS if column in columns]
    # Records files have one row per dose; a subjects file may repeat a subject too: both are grouped,
    # so every subject is answered exactly once.
    connection.execute(
        f"""CREATE OR REPLACE TEMP TABLE grouped_subjects AS
        SELECT row_number() OVER (ORDER BY first_row) - 1 AS ordinal, * FROM ({_grouping_sql(source, present)})"""
    )
    [(total,)] = connection.execute("SELECT count(*) FROM grouped_subjects").fetchall()
    return int(total)


def _grouped_chunks(connection: Any, total: int, chunk: int) -> Iterator[ChunkRows]:
    """(column names, rows) per `chunk` subjects, in file order; each chunk fetched whole before it is used."""
    for start in range(0, total, chunk):
        cursor = connection.execute(
            "SELECT * EXCLUDE (ordinal, first_row) FROM grouped_subjects "
            "WHERE ordinal >= $start AND ordinal < $end ORDER BY ordinal",
            {"start": start, "end": start + chunk},
        )
        yield [description[0] for description in cursor.description], cursor.fetchall()


def _disagreement_table(disagreements: dict[str, tuple[str, ...]]) -> pa.Table:
    columns = {"subject_id": list(disagreements), "row_disagreements": [";".join(f) for f in disagreements.values()]}
    return pa.Table.from_pydict(columns, schema=_DISAGREEMENT_SCHEMA)


def _grouping_sql(source: str, present: list[str]) -> str:
    """One row per subject_id: first non-empty value per field in file order, distinct counts (n_<field>),
    and the subject's first row in the file (first_row)."""
    fields = [column for column in present if column != "subject_id"]
    firsts = ", ".join(
        f"first({column} ORDER BY row_number) FILTER (WHERE {column} IS NOT NULL) AS {column}" for column in fields
    )
    counts = ", ".join(f"count(DISTINCT {column}) AS n_{column}" for column in fields)
    typed = ", ".join(f"{_text(column)} AS {column}" for column in present)
    return f"""
    WITH typed AS (SELECT {typed}, row_number() OVER () AS row_number FROM {source})
    SELECT subject_id, {firsts}, {counts}, min(row_number) AS first_row
    FROM typed WHERE subject_id IS NOT NULL
    GROUP BY subject_id
    """


def _query_from(record: dict[str, Any]) -> SubjectQuery:
    values = {column: _clean(record.get(column)) for column in SUBJECT_COLUMNS}
    return SubjectQuery(
        subject_id=values["subject_id"] or "",
        full_name=values["full_name"] or "",
        birth_date=values["birth_date"] or "",
        sex=values["sex"] or "",
        id_number=values["id_number"],
        passport_number=values["passport_number"],
        nationality=values["nationality"],
        province_code=values["province_code"],
        district_code=values["district_code"],
        ward_code=values["ward_code"],
        address=values["address"],
    )
