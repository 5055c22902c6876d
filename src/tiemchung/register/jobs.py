"""Resumable batch verification jobs: state and checkpoints on disk, so a killed service finishes what it started.

A job lives in `workdir/jobs/<job id>/`:
- `input.csv|parquet`: the file as submitted; `state.json`: the job's state, rewritten atomically;
- `chunks/NNNNN.parquet`: the input cut into chunks of whole subjects (all rows of one `subject_id` in one chunk, so a
  section-2 records file works as well as a subjects file);
- `chunks/NNNNN.results.parquet`: a chunk's section-3 results, the checkpoint: the engine writes to a temporary
  name and the file is renamed into place only when complete, so a chunk is either wholly done or redone;
- `results.parquet`: the concatenation, checked to hold every subject exactly once.

Every step can be repeated after a crash: cutting restarts from the input, a chunk without its results file is
verified again, and the query log ignores entries it already holds (unique request id + subject id).

A finished job's files (input, chunks, results) are deleted `retention` after it finished
(`delete_expired_files`); its `state.json` stays, so the job still answers, saying its files are gone.
"""

import json
import logging
import os
import queue
import shutil
import threading
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from tiemchung.interchange.results import RESULT_COLUMNS, SubjectQuery
from tiemchung.register.ledger import Clock, Ledger, LogEntry, utc_now
from tiemchung.register.verifier import Verifier

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SUBJECTS = 50_000
DEFAULT_JOB_RETENTION = timedelta(days=14)
ACCEPTED_SUFFIXES = (".csv", ".parquet")
REQUIRED_COLUMNS = ("subject_id", "full_name", "birth_date", "sex")
# What the query log's identity hash covers (in `SubjectQuery` order after subject_id).
_IDENTITY_COLUMNS = ("full_name", "birth_date", "sex", "id_number", "passport_number")
# What stays of a job once its files are deleted: its state (and the temporary name it is rewritten under).
_KEPT_FILES = frozenset({"state.json", "state.tmp"})


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobState:
    job_id: str
    caller: str
    input_name: str
    created_at: str
    status: JobStatus = JobStatus.QUEUED
    subjects: int | None = None
    chunks: int | None = None
    chunks_done: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    finished_at: str | None = None
    error_vi: str | None = None
    files_deleted_at: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def files_deleted_vi(self) -> str | None:
        """Why the job's results can no longer be downloaded, for the caller (None while they can)."""
        if self.files_deleted_at is None:
            return None
        return (
            f"Tệp gửi lên và kết quả của lô này đã được xóa lúc {self.files_deleted_at} do hết thời hạn lưu giữ "
            "sau khi lô kết thúc. Hãy gửi lại tệp nếu cần kết quả."
        )

    def public(self) -> dict[str, object]:
        """What the caller may see about its job (the caller name and file layout stay inside)."""
        data = asdict(self)
        data.pop("caller")
        data.pop("input_name")
        data["status"] = self.status.value
        data["note_vi"] = self.files_deleted_vi()
        return data


@dataclass(frozen=True)
class Rejection:
    """Why a submitted file is refused, in Vietnamese."""

    message_vi: str


class BatchJobs:
    """Accepts batch files, works through them one chunk at a time on a background thread, resumes on start."""

    def __init__(
        self,
        workdir: Path,
        verifier: Verifier,
        ledger: Ledger,
        *,
        chunk_subjects: int = DEFAULT_CHUNK_SUBJECTS,
        retention: timedelta = DEFAULT_JOB_RETENTION,
        clock: Clock = utc_now,
    ) -> None:
        self.root = workdir / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._verifier = verifier
        self._ledger = ledger
        self._chunk_subjects = chunk_subjects
        self._retention = retention
        self._clock = clock
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Queue every unfinished job found on disk (oldest first), then start the worker."""
        unfinished = [s for s in self._all_states() if not s.finished]
        for state in sorted(unfinished, key=lambda s: s.created_at):
            log.info("resuming batch job %s (%s/%s chunks done)", state.job_id, state.chunks_done, state.chunks)
            self._queue.put(state.job_id)
        self._thread = threading.Thread(target=self._work, name="batch-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current chunk (its checkpoint is written; the job resumes on the next start)."""
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()

    # --- API -------------------------------------------------------------------------------------------------

    def submit(self, caller: str, uploaded: Path, original_name: str) -> JobState | Rejection:
        """Take ownership of `uploaded` (moved into the job dir) and queue it; or say why it is refused."""
        suffix = Path(original_name).suffix.lower()
        if suffix not in ACCEPTED_SUFFIXES:
            return Rejection(f"Tệp phải là CSV hoặc Parquet (nhận được: {original_name!r}).")
        problem = _check_columns(uploaded, suffix)
        if problem is not None:
            return problem
        job_id = uuid.uuid4().hex
        job_dir = self.root / job_id
        job_dir.mkdir()
        shutil.move(uploaded, job_dir / f"input{suffix}")
        state = JobState(job_id, caller, f"input{suffix}", self._now())
        self._save(state)
        self._queue.put(job_id)
        return state

    def get(self, job_id: str, caller: str) -> JobState | None:
        """The job, if it exists and belongs to `caller` (another caller's job is as good as absent)."""
        if not _is_job_id(job_id):
            return None
        state = self._load(job_id)
        return state if state is not None and state.caller == caller else None

    def results_path(self, state: JobState) -> Path:
        return self.root / state.job_id / "results.parquet"

    def delete_expired_files(self) -> int:
        """Delete the files of the jobs that finished more than `retention` ago, keeping their state; return how
        many jobs lost files. Queued and running jobs are never touched, however old."""
        cutoff = self._clock() - self._retention
        return sum(self._delete_files(state) for state in self._all_states() if _expired(state, cutoff))

    def _delete_files(self, state: JobState) -> bool:
        """Delete everything of the job but its state; False when nothing was left to delete."""
        leftovers = [path for path in (self.root / state.job_id).iterdir() if path.name not in _KEPT_FILES]
        if not leftovers:
            return False
        if state.files_deleted_at is None:
            # Marked before deleting: from now on a download gets a clear answer, never a half-deleted file.
            self._update(state.job_id, files_deleted_at=self._now())
        for path in leftovers:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return True

    # --- the worker ------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception as error:  # an engine failure fails the job, never the service
                log.exception("batch job %s failed", job_id)
                self._update(
                    job_id, status=JobStatus.FAILED, error_vi=f"Lỗi khi xác minh lô: {error}", finished_at=self._now()
                )

    def _run(self, job_id: str) -> None:
        state = self._load(job_id)
        if state is None or state.finished:
            return
        job_dir = self.root / job_id
        state = self._update(job_id, status=JobStatus.RUNNING)
        if state.chunks is None:
            subjects, chunks = _cut_into_chunks(job_dir / state.input_name, job_dir / "chunks", self._chunk_subjects)
            state = self._update(job_id, subjects=subjects, chunks=chunks)
        assert state.chunks is not None
        for index in range(state.chunks):
            if self._stop.is_set():
                return
            self._verify_chunk(state, index)
            self._update(job_id, chunks_done=_count_done_chunks(job_dir / "chunks", state.chunks))
        self._finish(self._update(job_id))

    def _verify_chunk(self, state: JobState, index: int) -> None:
        chunks_dir = self.root / state.job_id / "chunks"
        chunk, results = _chunk_paths(chunks_dir, index)
        if not results.exists():
            partial = results.with_name(f"{index:05d}.partial.parquet")
            self._verifier.verify_batch(chunk, partial)
            os.replace(partial, results)
        # Logged after the checkpoint and again on a resume: the log ignores entries it already holds.
        self._ledger.answer(self._log_entries(state, chunk, results))

    def _log_entries(self, state: JobState, chunk: Path, results: Path) -> list[LogEntry]:
        import duckdb

        with duckdb.connect() as connection:
            described = connection.execute("select * from read_parquet(?) limit 0", [str(chunk)]).description or []
            present = {column[0] for column in described}
            identity = ", ".join(f"s.{c}" if c in present else "null" for c in _IDENTITY_COLUMNS)
            rows = connection.execute(
                f"select r.subject_id, r.category, {identity} "
                "from read_parquet(?) r left join (select * from read_parquet(?) qualify "
                "row_number() over (partition by subject_id) = 1) s using (subject_id)",
                [str(results), str(chunk)],
            ).fetchall()
        return [
            LogEntry(
                caller=state.caller,
                request_id=state.job_id,
                kind="batch",
                subject_id=str(subject_id),
                identity_hmac=self._ledger.identity_hmac(
                    SubjectQuery(str(subject_id), name or "", birth or "", sex or "", id_number, passport)
                ),
                category=str(category),
            )
            for subject_id, category, name, birth, sex, id_number, passport in rows
        ]

    def _finish(self, state: JobState) -> None:
        import duckdb

        job_dir = self.root / state.job_id
        final = self.results_path(state)
        partial = final.with_name("results.partial.parquet")
        with duckdb.connect() as connection:
            pattern = str(job_dir / "chunks" / "*.results.parquet")
            total, distinct = connection.execute(
                "select count(*), count(distinct subject_id) from read_parquet(?)", [pattern]
            ).fetchone() or (0, 0)
            if total != distinct or total != state.subjects:
                raise RuntimeError(f"{total} kết quả cho {state.subjects} đối tượng ({distinct} khác nhau)")
            # Only the section-3 columns leave the register, whatever else the engine writes for its own use.
            connection.execute(
                f"copy (select {', '.join(RESULT_COLUMNS)} from read_parquet('{_sql_literal(pattern)}') "
                "order by subject_id) "
                f"to '{_sql_literal(str(partial))}' (format parquet)"
            )
            by_category = dict(
                connection.execute(
                    "select category, count(*) from read_parquet(?) group by category order by category", [pattern]
                ).fetchall()
            )
        os.replace(partial, final)
        self._update(state.job_id, status=JobStatus.DONE, by_category=by_category, finished_at=self._now())

    # --- state on disk ---------------------------------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().astimezone(UTC).isoformat(timespec="seconds")

    def _update(self, job_id: str, **changes: object) -> JobState:
        with self._state_lock:
            state = self._load(job_id)
            assert state is not None, job_id
            state = replace(state, **changes)  # type: ignore[arg-type]
            self._save(state)
            return state

    def _save(self, state: JobState) -> None:
        path = self.root / state.job_id / "state.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(asdict(state), handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def _load(self, job_id: str) -> JobState | None:
        path = self.root / job_id / "state.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["status"] = JobStatus(data["status"])
        return JobState(**data)

    def _all_states(self) -> list[JobState]:
        states = (self._load(path.name) for path in self.root.iterdir() if path.is_dir())
        return [state for state in states if state is not None]


def _expired(state: JobState, cutoff: datetime) -> bool:
    """Finished before `cutoff`. A failed job saved before failures recorded their time counts from its submission."""
    return state.finished and datetime.fromisoformat(state.finished_at or state.created_at) <= cutoff


def _check_columns(path: Path, suffix: str) -> Rejection | None:
    """Why the file cannot be a batch: unreadable, required columns missing, no rows, rows without a subject id."""
    import duckdb

    try:
        with duckdb.connect() as connection:
            described = connection.execute(f"select * from {_reader(path, suffix)} limit 0").description or []
            columns = {column[0] for column in described}
            missing = [column for column in REQUIRED_COLUMNS if column not in columns]
            if missing:
                return Rejection(f"Tệp thiếu cột bắt buộc: {', '.join(missing)}.")
            rows, without_id = connection.execute(
                "select count(*), count(*) filter (where coalesce(trim(subject_id::varchar), '') = '') "
                f"from {_reader(path, suffix)}"
            ).fetchone() or (0, 0)
    except duckdb.Error as error:
        return Rejection(f"Không đọc được tệp: {str(error).splitlines()[0]}")
    if rows == 0:
        return Rejection("Tệp không có dòng dữ liệu nào.")
    if without_id:
        return Rejection(f"Có {without_id} dòng thiếu mã đối tượng (subject_id).")
    return None


def _cut_into_chunks(source: Path, chunks_dir: Path, chunk_subjects: int) -> tuple[int, int]:
    """Write the chunks (all as text columns, whole subjects per chunk); return (subjects, chunks)."""
    import duckdb

    building = chunks_dir.with_name("chunks.building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(chunks_dir, ignore_errors=True)
    building.mkdir()
    with duckdb.connect() as connection:
        # Text everywhere: IDs and dates must reach the engine as typed (a leading zero is data).
        connection.execute(
            "create temp table numbered as select (dense_rank() over (order by subject_id::varchar) - 1) "
            f"// {int(chunk_subjects)} as chunk_index, columns(*)::varchar from {_reader(source, source.suffix)}"
        )
        subjects, chunks = connection.execute(
            "select count(distinct subject_id), coalesce(max(chunk_index) + 1, 0) from numbered"
        ).fetchone() or (0, 0)
        for index in range(chunks):
            chunk, _ = _chunk_paths(building, index)
            connection.execute(
                f"copy (select * exclude (chunk_index) from numbered where chunk_index = {index}) "
                f"to '{_sql_literal(str(chunk))}' (format parquet)"
            )
    os.replace(building, chunks_dir)
    return int(subjects), int(chunks)


def _reader(path: Path, suffix: str) -> str:
    literal = _sql_literal(str(path))
    if suffix == ".csv":
        return f"read_csv('{literal}', header = true, all_varchar = true)"
    return f"read_parquet('{literal}')"


def _chunk_paths(chunks_dir: Path, index: int) -> tuple[Path, Path]:
    return chunks_dir / f"{index:05d}.parquet", chunks_dir / f"{index:05d}.results.parquet"


def _count_done_chunks(chunks_dir: Path, chunks: int) -> int:
    return sum(_chunk_paths(chunks_dir, index)[1].exists() for index in range(chunks))


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def _is_job_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(character in "0123456789abcdef" for character in job_id)
