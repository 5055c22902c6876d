"""Finding subjects by any words of their name, with or without diacritics, fast at millions of subjects.

"nguyen thoai" must find "Nguyễn Văn Thoại": every typed word is a prefix of some word of the folded name, in any
order. A `LIKE '%thoai%'` cannot use an index and reads the whole table (a million rows per keystroke), so each
database gets its own full-text index of `subjects.name_folded`, the folded form every writer already stores:

- SQLite: an FTS5 table holding only the index (`content='subjects'`), kept in step by triggers, so that every
  writer (the import, the bulk load's upserts, the web, the cleaning steps) is covered without knowing of it;
- PostgreSQL: a GIN index on `to_tsvector('simple', name_folded)`, an expression index that needs no trigger.

Both answer a prefix query (`nguyen* AND thoai*`, `nguyen:* & thoai:*`) from the index. The DDL here is what
`create_schema` installs; migration 0009 holds a copy of the same text (as 0002 does for its triggers).
"""

import re

from sqlalchemy import DDL, ColumnElement, event, literal_column, text

from tiemchung.health.registry.models import Subject

FTS_TABLE = "subjects_name_fts"
SQLITE_DDL = (
    # prefix='2 3': the prefixes users type while the list follows their typing are indexed too.
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(name_folded, content='subjects', "
    "content_rowid='id', tokenize='ascii', prefix='2 3')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON subjects BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, name_folded) VALUES (NEW.id, NEW.name_folded); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON subjects BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name_folded) VALUES ('delete', OLD.id, OLD.name_folded); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF name_folded ON subjects BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, name_folded) VALUES ('delete', OLD.id, OLD.name_folded); "
    f"INSERT INTO {FTS_TABLE}(rowid, name_folded) VALUES (NEW.id, NEW.name_folded); END",
)
POSTGRES_DDL = (
    "CREATE INDEX IF NOT EXISTS ix_subjects_name_folded_words ON subjects "
    "USING gin (to_tsvector('simple', name_folded))",
)
# A search word: what `fold_name` leaves of a typed word (ASCII letters and digits).
_WORD = re.compile(r"[a-z0-9]+")
MAX_WORDS = 6

for _statement in SQLITE_DDL:
    event.listen(Subject.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_DDL:
    event.listen(Subject.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))


def search_words(folded: str) -> list[str]:
    """The words of a folded query, safe to put in a full-text query (nothing but [a-z0-9])."""
    return _WORD.findall(folded)[:MAX_WORDS]


def name_matches(words: list[str], dialect: str) -> ColumnElement[bool]:
    """The condition "every word is the start of a word of the subject's name", answered from the index."""
    if dialect == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        return literal_column("to_tsvector('simple', subjects.name_folded)").op("@@")(
            text("to_tsquery('simple', :name_query)").bindparams(name_query=query)
        )
    query = " AND ".join(f"{word}*" for word in words)
    return Subject.id.in_(
        text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :name_query").bindparams(name_query=query)
    )
