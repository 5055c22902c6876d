"""Bringing both sides to one comparable form: the register in SQL, subjects in Python.

The register (up to 100M rows) is prepared once in DuckDB with the identity package's SQL name
functions; subjects arrive in batches and are repaired with the identity package's Python rules
(the two are equal by the identity package's contract).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from tiemchung.verification.model import BLOCKING_KEYS, COMPARED_COLUMNS
from tiemchung.verification.results import SUBJECT_COLUMNS, SubjectQuery

# Bump when the prepared register's layout changes: a prepared DuckDB file of another version is rebuilt.
PREPARED_LAYOUT_VERSION = "2"

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
    packed = ", ".join(
        "coalesce(CAST(person_id AS VARCHAR), '')"
        if column == "id_value"
        else f"coalesce(CAST({column} AS VARCHAR), '')"
        for column in COMPARED_COLUMNS
    )
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
    SELECT *, person_id AS unique_id, person_id AS id_value, {keys},
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
            "blk_given_year": _join(self.given_fold, self.birth_year if model_birth_date else None),
            "blk_name_ward": _join(self.name_fold, self.ward_code),
            "blk_date_ward": _join(model_birth_date, self.ward_code),
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


@dataclass(frozen=True)
class SubjectBatch:
    """Subjects read from a file, with the fields whose values disagreed between a subject's dose rows."""

    queries: list[SubjectQuery]
    disagreements: dict[str, tuple[str, ...]]


def read_subjects(connection: Any, path: Path) -> SubjectBatch:
    """Read a subjects file or a section-2 records file, one query per subject_id (first non-empty value)."""
    source = source_sql(path)
    columns = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    present = [column for column in SUBJECT_COLUMNS if column in columns]
    # Records files have one row per dose; a subjects file may repeat a subject too: both are grouped,
    # so every subject is answered exactly once.
    sql, checked = _grouping_sql(source, present)
    cursor = connection.execute(sql)
    names = [description[0] for description in cursor.description]
    queries: list[SubjectQuery] = []
    disagreements: dict[str, tuple[str, ...]] = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        differing = tuple(column for column in checked if record.pop(f"n_{column}", 1) > 1)
        if differing:
            disagreements[str(record["subject_id"])] = differing
        queries.append(_query_from(record))
    return SubjectBatch(queries, disagreements)


def _grouping_sql(source: str, present: list[str]) -> tuple[str, list[str]]:
    """One row per subject_id: first non-empty value per field in file order, and distinct counts."""
    fields = [column for column in present if column != "subject_id"]
    firsts = ", ".join(
        f"first({column} ORDER BY row_number) FILTER (WHERE {column} IS NOT NULL) AS {column}" for column in fields
    )
    counts = ", ".join(f"count(DISTINCT {column}) AS n_{column}" for column in fields)
    typed = ", ".join(f"{_text(column)} AS {column}" for column in present)
    sql = f"""
    WITH typed AS (SELECT {typed}, row_number() OVER () AS row_number FROM {source})
    SELECT subject_id, {firsts}, {counts}
    FROM typed WHERE subject_id IS NOT NULL
    GROUP BY subject_id ORDER BY min(row_number)
    """
    return sql, fields


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


def prepared_subjects(queries: Iterable[SubjectQuery]) -> Iterator[PreparedSubject]:
    return (prepare_subject(query) for query in queries)
