"""The verification engine of the register side: exact ID path in SQL, probabilistic path with Splink.

`RegisterIndex.open` prepares the register once into a DuckDB file (reused while the source is
unchanged); `verify_one` answers one subject in milliseconds with indexed look-ups; `verify_batch`
answers a whole file with set-based SQL and Splink.

Threads: `verify_one` may be called from many threads at once. A DuckDB connection serialises its
own queries, so each call in flight holds its own cursor (a connection to the same database, see
`_online_cursor`); the online queries only read the register, so they run in parallel with each
other and with a batch on the main connection. `verify_batch` and `close` must not overlap each
other (the batch's temporary tables live on the main connection).
"""

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tiemchung.interchange.results import Category, Reason, SubjectQuery, VerificationResult
from tiemchung.register.linkage import sql
from tiemchung.register.linkage.model import (
    BLOCKING_KEYS,
    COMPARED_COLUMNS,
    ID_BLOCKS,
    MATCH_MARGIN,
    MATCH_THRESHOLD,
    MIN_SUBJECTS_TO_TRAIN,
    MODEL_COLUMNS,
    load_model,
    make_linker,
    predict_chunks,
    probability_from_weight,
    runner_up_floor,
    train,
)
from tiemchung.register.linkage.prepare import (
    PACK_SEPARATOR,
    PREPARED_LAYOUT_VERSION,
    PreparedFiles,
    PreparedSubject,
    Progress,
    prepare_subject,
    prepare_subject_files,
    register_select_sql,
    source_sql,
)
from tiemchung.register.linkage.scoring import PairScorer

log = logging.getLogger(__name__)

PREPARED_FILE = "register.duckdb"
MODEL_FILE = "model.json"


@dataclass(frozen=True)
class BatchSummary:
    subjects: int
    by_category: dict[Category, int]
    seconds: float


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{PREPARED_LAYOUT_VERSION}"
    return hashlib.sha256(identity.encode()).hexdigest()


class RegisterIndex:
    """The population register prepared for verification (one per register file)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, workdir: Path | None) -> None:
        self._connection = connection
        self._workdir = workdir
        # The prepared table itself, not the main connection's TEMP view over it: temporary objects are
        # private to a connection (the cursors would not see them), and a view costs ~0.2 ms per look-up.
        self._register_table = "prepared.register" if workdir is not None else "memory.main.register"
        self._model: dict[str, Any] | None = None  # loaded on first use (a trained one may appear in workdir)
        self._scorer: PairScorer | None = None
        self._model_lock = threading.Lock()
        self._idle_cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        register: Path,
        *,
        workdir: Path | None = None,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> "RegisterIndex":
        """`memory_limit` (e.g. "8GB") caps DuckDB, which otherwise takes up to 80 % of the machine's memory and
        only then spills to the workdir; a register service sharing its machine should set it."""
        connection = duckdb.connect()
        connection.execute(f"SET threads = {threads or os.cpu_count() or 1}")
        if memory_limit:
            connection.execute("SET memory_limit = $limit", {"limit": memory_limit})
        connection.execute("SET preserve_insertion_order = false")
        connection.execute("SET enable_progress_bar = false")
        if workdir is None:
            _prepare(connection, register)
            _create_model_view(connection)
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            connection.execute(f"SET temp_directory = '{workdir / 'duckdb.tmp'}'")
            _attach_prepared(connection, register, workdir / PREPARED_FILE)
        return cls(connection, workdir)

    def close(self) -> None:
        with self._cursors_lock:
            for cursor in self._idle_cursors:
                cursor.close()
            self._idle_cursors.clear()
        self._connection.close()

    @contextmanager
    def _online_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the register database for this call alone, taken from the idle ones or opened.

        A pool rather than one cursor per thread: the service's worker threads come and go (anyio ends
        idle ones), and a pool never holds more cursors than calls were ever in flight at once.
        """
        with self._cursors_lock:
            cursor = self._idle_cursors.pop() if self._idle_cursors else None
        if cursor is None:
            cursor = self._connection.cursor()
        try:
            yield cursor
        finally:
            with self._cursors_lock:
                self._idle_cursors.append(cursor)

    # --- online -----------------------------------------------------------------------------------

    def verify_one(self, query: SubjectQuery) -> VerificationResult:
        """One subject, answered with index look-ups and in-process scoring (a few ms)."""
        subject = prepare_subject(query)
        if subject.is_foreign:
            return VerificationResult(subject.subject_id, Category.FOREIGN_PASSPORT)
        with self._online_cursor() as cursor:
            return self._verify_prepared(cursor, subject)

    def _verify_prepared(self, cursor: duckdb.DuckDBPyConnection, subject: PreparedSubject) -> VerificationResult:
        household = None
        if subject.id_kind in sql.EXACT_KINDS:
            category, reasons, household = self._exact_one(cursor, subject)
            if category is Category.VERIFIED:
                return VerificationResult(subject.subject_id, category)
        else:
            category, reasons = Category.NO_ID_UNVERIFIABLE, ()
        match = self._best_candidate(cursor, subject, household)
        if match is None:
            return VerificationResult(subject.subject_id, category, reasons)
        person_id, probability = match
        if category is Category.NO_ID_UNVERIFIABLE:
            category = Category.NO_ID_VERIFIED
        return VerificationResult(subject.subject_id, category, reasons, person_id, probability)

    def _exact_one(
        self, cursor: duckdb.DuckDBPyConnection, subject: PreparedSubject
    ) -> tuple[Category, tuple[Reason, ...], str | None]:
        """The exact path's category and reasons, and the register address of the typed ID's holder."""
        column = "person_id" if subject.id_kind == "CCCD" else "old_id"
        rows = cursor.execute(
            f"""
            WITH s AS (SELECT CAST($name AS VARCHAR) AS name_canon, CAST($date AS VARCHAR) AS birth_date,
                              CAST($sex AS VARCHAR) AS sex)
            SELECT r.person_id, {sql.disagreement_columns_sql("s", "r")}, r.address
            FROM {self._register_table} r, s WHERE r.{column} = $id
            """,
            {"name": subject.name_canon, "date": subject.birth_date, "sex": subject.sex, "id": subject.id_value},
        ).fetchall()
        if not rows:
            return Category.MISMATCH, (Reason.ID_NOT_FOUND,), None
        _, *flags, address = min(rows, key=lambda row: (sum(row[1:4]), row[0]))
        reasons = tuple(
            reason
            for reason, differs in zip((Reason.NAME, Reason.BIRTH_DATE, Reason.SEX), flags, strict=True)
            if differs
        )
        return (Category.MISMATCH, reasons, address) if reasons else (Category.VERIFIED, (), address)

    def _best_candidate(
        self, cursor: duckdb.DuckDBPyConnection, subject: PreparedSubject, household: str | None
    ) -> tuple[str, float] | None:
        """The unique best register person above the threshold, or None (ties stay unmatched); `household` is
        the register address of the typed ID's holder."""
        row = subject.model_row() | {"household": household}
        candidates = self._online_candidates(cursor, row)
        if not candidates:
            return None
        scored = self._current_scorer().best_two(row, [(pid, unpack(packed)) for pid, packed in candidates.items()])
        best_id, best_weight = scored[0]
        weight = round(best_weight, 6)
        if len(scored) > 1 and not weight - round(scored[1][1], 6) > MATCH_MARGIN:
            return None  # a tie or a close runner-up: two plausible people
        probability = probability_from_weight(weight)
        # Rounded as the batch writes it (six decimals), so both channels give the same answer.
        return (best_id, round(probability, 6)) if probability >= MATCH_THRESHOLD else None

    def _online_candidates(self, cursor: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> dict[str, str]:
        """Blocked candidates, one indexed equality look-up per key (a UNION of them would scan instead)."""
        candidates: dict[str, str] = {}
        for key, column in ONLINE_LOOKUPS.items():
            if row[key] is not None:
                sql_text = f"SELECT person_id, online_packed FROM {self._register_table} WHERE {column} = $value"
                candidates.update(cursor.execute(sql_text, {"value": row[key]}).fetchall())
        return candidates

    # --- batch ------------------------------------------------------------------------------------

    def verify_batch(self, subjects: Path, out: Path, *, progress: Progress | None = None) -> BatchSummary:
        """Answer every subject of a subjects or records file once; write section-3 rows to `out`."""
        started = time.perf_counter()
        report = progress or (lambda done, total: None)
        with tempfile.TemporaryDirectory(dir=self._workdir, prefix="batch-") as scratch:
            # Repairing subjects is the first quarter of the work; the files are deleted with the batch.
            files = prepare_subject_files(
                self._connection, subjects, Path(scratch), progress=lambda done, total: report(done // 4, total)
            )
            total = files.count
            log.info("read and prepared %d subjects at %.1f s", total, time.perf_counter() - started)
            self._load_subjects(files)
        log.info("loaded subjects at %.1f s", time.perf_counter() - started)
        self._connection.execute(f"CREATE OR REPLACE TEMP TABLE exact AS {sql.EXACT_SQL}")
        self._connection.execute(f"CREATE OR REPLACE TEMP TABLE model_linked AS {sql.MODEL_LINKED_SQL}")
        report(total // 2, total)
        log.info("exact path done at %.1f s", time.perf_counter() - started)
        self._maybe_train(files.not_foreign)
        log.info("model ready at %.1f s", time.perf_counter() - started)
        self._match_probabilistic()
        report(total * 9 // 10, total)
        log.info("probabilistic path done at %.1f s", time.perf_counter() - started)
        self._connection.execute(f"CREATE OR REPLACE TEMP TABLE results AS {sql.RESULTS_SQL}")
        _write_results(self._connection, out)
        _write_evidence(self._connection, out)
        counts = dict(self._connection.execute("SELECT category, count(*) FROM results GROUP BY 1").fetchall())
        report(total, total)
        by_category = {category: int(counts.get(category.value, 0)) for category in Category}
        return BatchSummary(total, by_category, time.perf_counter() - started)

    def _load_subjects(self, files: PreparedFiles) -> None:
        for table, path in (
            ("subjects", files.subjects),
            ("model_all", files.model),
            ("row_disagreements", files.disagreements),
        ):
            self._connection.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet($path)", {"path": str(path)}
            )

    def _current_model(self) -> dict[str, Any]:
        with self._model_lock:  # several threads may ask for it first at once: load it once
            if self._model is None:
                self._use_model(load_model(self._workdir / MODEL_FILE if self._workdir else None))
            assert self._model is not None
            return self._model

    def _current_scorer(self) -> PairScorer:
        self._current_model()
        assert self._scorer is not None
        return self._scorer

    def _use_model(self, model: dict[str, Any]) -> None:
        self._scorer = PairScorer(model)
        self._model = model

    def _maybe_train(self, not_foreign: int) -> None:
        """Train on this batch when the workdir has no model yet and the batch is large enough."""
        if self._workdir is None or (self._workdir / MODEL_FILE).exists():
            return
        if not_foreign < MIN_SUBJECTS_TO_TRAIN:
            return
        self.train_model(self._workdir / MODEL_FILE)

    def train_model(self, out: Path) -> dict[str, Any]:
        """Train the Fellegi–Sunter model on the loaded batch against the register; save and use it."""
        from splink import DuckDBAPI

        def create_table(name: str, query: str) -> int:
            self._connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {query}")
            return self._count_rows(name)

        model = train(
            lambda: DuckDBAPI(connection=self._connection),
            create_table,
            self._count_rows,
            "model_linked",
            "model_register",
        )
        out.write_text(json.dumps(model, indent=2), encoding="utf-8")
        self._use_model(model)
        return model

    def _count_rows(self, table: str) -> int:
        # fetchall, not fetchone: DuckDB refuses further work on a connection with an unfinished result.
        return int(self._connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def _match_probabilistic(self) -> None:
        """Score no-ID and mismatched subjects with Splink; keep each subject's unique best pair over the threshold."""
        from splink import DuckDBAPI

        self._connection.execute(f"CREATE OR REPLACE TEMP TABLE model_subjects AS {sql.MODEL_SUBJECTS_SQL}")
        linker = make_linker(
            DuckDBAPI(connection=self._connection), "model_subjects", "model_register", self._current_model()
        )
        predictions = linker.inference.predict(
            threshold_match_weight=runner_up_floor(),
            num_chunks_left=predict_chunks(self._count_rows("model_subjects")),
            num_chunks_right=1,
        )
        self._connection.execute(
            f"""CREATE OR REPLACE TEMP TABLE pairs AS
            SELECT unique_id_l AS subject_id, unique_id_r AS person_id, match_weight, match_probability
            FROM {predictions.physical_name}"""
        )
        self._connection.execute(f"CREATE OR REPLACE TEMP TABLE matches AS {sql.MATCHES_SQL}")
        predictions.drop_table_from_database_and_remove_from_cache()


ONLINE_LOOKUPS: dict[str, str] = {key: key for key in BLOCKING_KEYS} | ID_BLOCKS


def unpack(packed: str) -> dict[str, Any]:
    """A candidate's `online_packed` text as a right-hand model row (COMPARED_COLUMNS; empty is NULL)."""
    values = packed.split(PACK_SEPARATOR)
    row: dict[str, Any] = {column: value or None for column, value in zip(COMPARED_COLUMNS, values, strict=True)}
    if row["birth_year"] is not None:
        row["birth_year"] = int(row["birth_year"])
    return row


def _prepare(connection: duckdb.DuckDBPyConnection, register: Path) -> None:
    """Build the prepared register in the connection's current database, with its look-up indexes."""
    connection.execute(f"CREATE OR REPLACE TABLE register AS {register_select_sql(source_sql(register))}")
    for column in ("person_id", "old_id", *BLOCKING_KEYS):
        connection.execute(f"CREATE INDEX idx_register_{column} ON register ({column})")


def _attach_prepared(connection: duckdb.DuckDBPyConnection, register: Path, prepared: Path) -> None:
    """Reuse the prepared file when it was built from this very source; rebuild it otherwise."""
    fingerprint = _fingerprint(register)
    if prepared.exists():
        connection.execute(f"ATTACH '{prepared}' AS prepared (READ_ONLY)")
        stored = connection.execute("SELECT value FROM prepared.meta WHERE key = 'fingerprint'").fetchall()
        if stored == [(fingerprint,)]:
            _use_prepared(connection)
            return
        connection.execute("DETACH prepared")
        prepared.unlink()
    connection.execute(f"ATTACH '{prepared}' AS prepared")
    connection.execute("USE prepared")
    _prepare(connection, register)
    connection.execute("CREATE TABLE meta AS SELECT 'fingerprint' AS key, $f AS value", {"f": fingerprint})
    connection.execute("USE memory")
    connection.execute("CHECKPOINT prepared")
    _use_prepared(connection)


def _use_prepared(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("CREATE OR REPLACE TEMP VIEW register AS SELECT * FROM prepared.register")
    _create_model_view(connection)


def _create_model_view(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"CREATE OR REPLACE TEMP VIEW model_register AS SELECT {', '.join(MODEL_COLUMNS)} FROM register")


def _write_results(connection: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Section-3 rows, all text; probabilities with six decimals (stable across engines)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    query = """
        SELECT subject_id, category, reasons, coalesce(matched_person_id, '') AS matched_person_id,
               coalesce(printf('%.6f', match_probability), '') AS match_probability
        FROM results ORDER BY subject_id
    """
    _copy(connection, query, out)


def _copy(connection: duckdb.DuckDBPyConnection, query: str, out: Path) -> None:
    target = str(out).replace("'", "''")
    if out.suffix.lower() == ".parquet":
        connection.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet)")
    else:
        connection.execute(f"COPY ({query}) TO '{target}' (FORMAT csv, HEADER true)")


def evidence_path(out: Path) -> Path:
    """Where the evidence behind each answer is written, beside the results file."""
    return out.with_name(f"{out.stem}.evidence{out.suffix}")


def _write_evidence(connection: duckdb.DuckDBPyConnection, out: Path) -> None:
    """Per subject: the ID repair findings, fields that disagreed between dose rows, the matched pair's weight."""
    query = """
        SELECT s.subject_id, r.category, s.id_kind, s.id_value AS id_repaired, s.id_findings,
               e.id_holder, coalesce(d.row_disagreements, '') AS row_disagreements,
               r.matched_person_id, round(m.match_weight, 3) AS match_weight,
               CASE
                   WHEN r.matched_person_id IS NULL OR s.id_value IS NULL THEN ''
                   WHEN s.id_value IN (r.matched_person_id, p.old_id) THEN 'same_id'
                   WHEN length(s.id_value) = length(r.matched_person_id)
                        AND levenshtein(s.id_value, r.matched_person_id) = 1 THEN 'one_digit_typo'
                   WHEN damerau_levenshtein(s.id_value, r.matched_person_id) = 1 THEN 'transposition'
                   WHEN h.address = p.address THEN 'id_of_a_housemate'
                   WHEN e.id_holder IS NOT NULL THEN 'id_of_another_person'
                   ELSE 'id_not_in_register'
               END AS id_relation
        FROM subjects s
        JOIN results r USING (subject_id)
        JOIN exact e USING (subject_id)
        LEFT JOIN matches m USING (subject_id)
        LEFT JOIN row_disagreements d USING (subject_id)
        LEFT JOIN register p ON p.person_id = r.matched_person_id
        LEFT JOIN register h ON h.person_id = e.id_holder
        ORDER BY s.subject_id
    """
    _copy(connection, query, evidence_path(out))
