"""The operator's path against what a user would do instead (issue 21), on the same files.

    .venv/bin/python benchmarks/bench_operator_path.py --people 1000000 --subjects 200000 --workdir /tmp/op1m \
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/NEWDB]

Data: the project's generator (`tiemchung.synth.generate`) makes a country of `--people` (the register); a batch of
`--subjects` subjects with all their dose rows is drawn from it (as `bench_verification.py --subjects` does) and
written as two workbooks (`RecordsWorkbook`, the generator's Excel writer, Vietnamese headers, dates as date cells),
the subjects split in two halves.

The operator's path, each stage a real process:
1. `tiemchung import <part> --database URL` for each workbook (the command line's unscoped import);
2. the register service, `python -m tiemchung.register serve` over the register (ready when `/healthz` answers,
   its register prepared);
3. `verify-all`: export, the register's batch, the answers written into the registry (timed stage by stage).

Plain Splink, in one process: both workbooks read with pandas (`read_excel`, openpyxl), one row per subject, birth
dates to ISO, then Splink on DuckDB with its documented defaults (as `bench_verification_baseline.py`: name, date of
birth, exact sex and ward; blocking on name and on birth date; λ, u by sampling, m by EM; predictions at 0.9;
best candidate per subject).

Each stage's wall time and peak resident memory (`VmHWM` of its process, sampled) are printed as JSON, with the load
average, and the accuracy of both (matched person against the truth).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PYTHON = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--database", default=None, help="registry URL (default: a new SQLite file in --workdir)")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--skip-operator", action="store_true")
    parser.add_argument("--answers-only", type=int, default=0, help="only write this many answers into --database")
    parser.add_argument("--child", choices=["prepare", "verify", "splink"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.answers_only:
        return _answers_only(args.database, args.answers_only)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="operator-path-"))
    if args.child == "prepare":
        return _prepare(workdir, args.people, args.subjects, args.seed)
    if args.child == "verify":
        return _verify_child(workdir, args.database)
    if args.child == "splink":
        return _splink_child(workdir)
    report: dict[str, Any] = {"people": args.people, "subjects": args.subjects, "seed": args.seed}
    report["prepare"] = _run([PYTHON, __file__, "--child", "prepare", *_sizes(args), "--workdir", str(workdir)])
    batch = workdir / "batch"
    report["dose_rows"] = json.loads((batch / "parts.json").read_text())["rows"]
    if not args.skip_operator:
        database = args.database or f"sqlite:///{workdir / 'registry.sqlite'}"
        report["operator"] = _operator_path(workdir, batch, database)
        report["operator"]["accuracy"] = _accuracy_of_registry(database, batch)
    if not args.skip_splink:
        report["plain_splink"] = _run([PYTHON, __file__, "--child", "splink", "--workdir", str(workdir)])
    report["load_average_end"] = os.getloadavg()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    (workdir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


def _sizes(args: argparse.Namespace) -> list[str]:
    return ["--people", str(args.people), "--subjects", str(args.subjects), "--seed", str(args.seed)]


# --- measuring a process ----------------------------------------------------------------------------------------


def _run(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `command`, return its wall seconds, peak memory (MB) and, when it prints JSON last, that JSON."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True)
    peak = _PeakMemory(process.pid)
    output, _ = process.communicate()
    seconds = time.perf_counter() - started
    peak.stop()
    if process.returncode != 0:
        raise SystemExit(f"{command} failed ({process.returncode}): {output[-2000:]}")
    result: dict[str, Any] = {"seconds": round(seconds, 2), "peak_mb": peak.mb, "load_average": os.getloadavg()[0]}
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if last.startswith("{"):
        result.update(json.loads(last))
    return result


class _PeakMemory:
    """`VmHWM` of a process (its own high-water mark, reset at exec), sampled until it ends."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.mb = max(self.mb, int(line.split()[1]) / 1024)
            except (FileNotFoundError, ProcessLookupError):
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        self.mb = round(self.mb, 1)


# --- the data ---------------------------------------------------------------------------------------------------


def _prepare(workdir: Path, people: int, subjects: int, seed: int) -> None:
    """Generate the country, draw the batch, write the two workbooks (skipped when already there)."""
    import duckdb

    full, batch = workdir / "full", workdir / "batch"
    started = time.perf_counter()
    if not (full / "truth_subjects.parquet").exists():
        from tiemchung.synth import generate

        generate(full, people=people, seed=seed, progress=False, xlsx_max_rows=0)
    generated = time.perf_counter() - started
    if not (batch / "parts.json").exists():
        batch.mkdir(parents=True, exist_ok=True)
        (batch / "register.parquet").unlink(missing_ok=True)
        (batch / "register.parquet").symlink_to(full / "register.parquet")
        with duckdb.connect() as connection:
            connection.execute(
                f"""CREATE TABLE picked AS SELECT subject_id, row_number() OVER (ORDER BY hash(subject_id)) AS n
                FROM read_parquet('{full / "truth_subjects.parquet"}') ORDER BY hash(subject_id) LIMIT {subjects}"""
            )
            for name in ("records", "truth_subjects"):
                connection.execute(
                    f"""COPY (SELECT * FROM read_parquet('{full / name}.parquet')
                    WHERE subject_id IN (SELECT subject_id FROM picked)) TO '{batch / name}.parquet' (FORMAT parquet)"""
                )
            rows = []
            for part, (low, high) in enumerate(((0, subjects // 2), (subjects // 2, subjects)), start=1):
                table = connection.execute(
                    f"""SELECT r.* FROM read_parquet('{batch / "records.parquet"}') r JOIN picked p USING (subject_id)
                    WHERE p.n > {low} AND p.n <= {high} ORDER BY p.n, r.record_id"""
                ).to_arrow_table()
                _write_workbook(batch / f"records-{part}.xlsx", table)
                rows.append(table.num_rows)
        (batch / "parts.json").write_text(json.dumps({"rows": sum(rows), "parts": rows}))
    print(
        json.dumps({"generate_s": round(generated, 2), "batch_s": round(time.perf_counter() - started - generated, 2)})
    )


def _write_workbook(path: Path, records: Any) -> None:
    import pyarrow as pa

    from tiemchung.synth.xlsx import HEADERS, RecordsWorkbook

    rows = records.num_rows
    hints = pa.table(
        {
            "name_font": pa.array([""] * rows),
            "id_numeric": pa.array([False] * rows),
            "birth_style": pa.array([0] * rows),
            "vaccination_date_as_text": pa.array([False] * rows),
        }
    )
    workbook = RecordsWorkbook(path, max_rows=rows + 1)
    for start in range(0, rows, 50_000):
        workbook.append(records.select(list(HEADERS)).slice(start, 50_000), hints.slice(start, 50_000))
    assert workbook.close()


# --- the operator's path ----------------------------------------------------------------------------------------


def _operator_path(workdir: Path, batch: Path, database: str) -> dict[str, Any]:
    from tiemchung.register.keys import KeyStore
    from tiemchung.register.process import ServiceProcess

    stages: dict[str, Any] = {}
    for part in (1, 2):
        workbook = batch / f"records-{part}.xlsx"
        stages[f"import_{part}"] = _run([PYTHON, "-m", "tiemchung", "import", str(workbook), "--database", database])
    service_dir = workdir / "register-service"
    key = KeyStore(service_dir / "keys.json").add("Bộ Y tế (benchmark)", rate_per_second=1000, burst=1000)
    started = time.perf_counter()
    service = ServiceProcess(batch / "register.parquet", service_dir).start(timeout=3600)
    try:
        stages["register_ready"] = {"seconds": round(time.perf_counter() - started, 2), "peak_mb": _hwm(service)}
        env = {"TIEMCHUNG_REGISTER_URL": service.base_url, "TIEMCHUNG_REGISTER_API_KEY": key}
        command = [PYTHON, __file__, "--child", "verify", "--workdir", str(workdir), "--database", database]
        stages["verify_all"] = _run(command, env)
        stages["register_peak_mb"] = _hwm(service)
    finally:
        service.stop()
    stages["import_s"] = round(stages["import_1"]["seconds"] + stages["import_2"]["seconds"], 2)
    stages["path_s"] = round(stages["import_s"] + stages["verify_all"]["seconds"], 2)
    stages["path_with_register_start_s"] = round(stages["path_s"] + stages["register_ready"]["seconds"], 2)
    return stages


def _hwm(service: Any) -> float:
    process = service._process
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _verify_child(workdir: Path, database: str) -> None:
    """`verify-all` in this process, with the time of each of its stages (export, the register's batch, apply)."""
    from tiemchung.health.registry.db import make_engine, make_session_factory
    from tiemchung.health.verification.client import RegisterClient
    from tiemchung.health.verification.store import verify_registry_batch

    marks: dict[str, list[float]] = {}
    started = time.perf_counter()
    last = [started]  # the end of the previous stage: a stage's first report comes after its first chunk

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault(stage, [last[0], now, total])[1] = now
        last[0] = now

    factory = make_session_factory(make_engine(database))
    url, key = os.environ["TIEMCHUNG_REGISTER_URL"], os.environ["TIEMCHUNG_REGISTER_API_KEY"]
    with RegisterClient(url, key) as client:
        report = verify_registry_batch(factory, client, workdir / "verify-all", poll_interval=0.5, progress=progress)
    seconds = time.perf_counter() - started
    first = min(mark[1] for mark in marks.values())
    names = {"Xuất danh sách đối tượng": "export", "CSDL dân cư đang xác minh": "register_batch",
             "Cập nhật kết quả": "apply"}  # fmt: skip
    stages = {names.get(stage, stage): round(end - begin, 2) for stage, (begin, end, _total) in marks.items()}
    apply_s = stages.get("apply", 0.0)
    print(
        json.dumps(
            {
                "inner_s": round(seconds, 2),
                "until_first_progress_s": round(first - started, 2),
                "stages_s": stages,
                "applied": report.applied,
                "answers_per_s": round(report.applied / apply_s) if apply_s else None,
            }
        )
    )


def _accuracy_of_registry(database: str, batch: Path) -> dict[str, Any]:
    """The register's answers against the truth: the category, and the matched person where one is expected."""
    import pyarrow.parquet as pq
    from sqlalchemy import select

    from tiemchung.health.registry.db import make_engine
    from tiemchung.health.registry.models import Subject

    engine = make_engine(database)
    with engine.connect() as connection:
        query = select(Subject.subject_key, Subject.verification_category, Subject.matched_person_id)
        answers = {key: (category, person or "") for key, category, person in connection.execute(query)}
    engine.dispose()
    truth = pq.read_table(batch / "truth_subjects.parquet").to_pylist()
    right = sum(1 for row in truth if answers.get(row["subject_id"], ("", ""))[0] == row["expected_category"])
    exact = sum(
        1
        for row in truth
        if answers.get(row["subject_id"]) == (row["expected_category"], row["expected_matched_person_id"] or "")
    )
    return {"subjects": len(answers), "category_accuracy": round(right / len(truth), 4),
            "category_and_person_accuracy": round(exact / len(truth), 4)}  # fmt: skip


def _score(answers: dict[str, str | None], truth: list[dict[str, Any]], batch: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    register = set(pq.read_table(batch / "register.parquet", columns=["person_id"]).column(0).to_pylist())
    matched = sum(1 for person in answers.values() if person)
    right = sum(1 for row in truth if row["person_id"] and answers.get(row["subject_id"]) == row["person_id"])
    findable = sum(1 for row in truth if row["person_id"] in register)
    precision = right / matched if matched else 0.0
    recall = right / findable if findable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"subjects": len(answers), "matched": matched, "right": right, "findable": findable,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip


def _answers_only(database: str, count: int) -> None:
    """The answers' write alone: `count` subjects in a fresh registry, a results file of `count` answers applied
    by `apply_results_file`, wall and CPU time of this process (SQLite's work is in it, PostgreSQL's is not)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sqlalchemy import insert

    from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
    from tiemchung.health.registry.models import Subject
    from tiemchung.health.verification.store import apply_results_file

    engine = make_engine(database)
    create_schema(engine)
    subjects = [
        {"subject_key": f"K{i:08d}", "full_name_raw": "Lê Văn An", "full_name": "Lê Văn An",
         "name_canonical": "le van an", "name_folded": "le van an", "birth_date": "1980-01-02", "birth_year": 1980,
         "sex": "M", "ward_code": f"{i % 500:05d}"}
        for i in range(count)
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Subject.__table__), subjects)  # type: ignore[arg-type]
    categories = ["VERIFIED", "MISMATCH", "NO_ID_VERIFIED", "NO_ID_UNVERIFIABLE"]
    results = pa.table(
        {
            "subject_id": [f"K{i:08d}" for i in range(count)],
            "category": [categories[i % 4] for i in range(count)],
            "reasons": ["NAME" if i % 4 == 1 else "" for i in range(count)],
            "matched_person_id": [f"P{i:011d}" for i in range(count)],
            "match_probability": ["0.900000"] * count,
        }
    )
    path = Path(tempfile.mkdtemp(prefix="answers-")) / "results.parquet"
    pq.write_table(results, path)
    started, cpu = time.perf_counter(), time.process_time()
    report = apply_results_file(make_session_factory(engine), path, batch_job_id="benchmark")
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"answers": report.applied, "seconds": round(seconds, 2), "cpu_s": round(cpu_seconds, 2),
                      "answers_per_s": round(count / seconds), "load_average": os.getloadavg()[0]}))  # fmt: skip


# --- plain Splink -----------------------------------------------------------------------------------------------


def _splink_child(workdir: Path) -> None:
    """What a user would do: pandas reads the workbooks, Splink (DuckDB) links them to the register."""
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq

    from bench_verification_baseline import plain_splink_best_matches  # the same plain Splink as that benchmark

    batch = workdir / "batch"
    started = time.perf_counter()
    frames = [pd.read_excel(batch / f"records-{part}.xlsx", dtype=str, engine="openpyxl") for part in (1, 2)]
    read = time.perf_counter() - started
    records = pd.concat(frames, ignore_index=True)
    columns = {"Mã đối tượng": "unique_id", "Họ và tên": "full_name", "Ngày sinh": "birth_date", "Giới tính": "sex",
               "Mã xã": "ward_code"}  # fmt: skip
    subjects = records[list(columns)].rename(columns=columns).drop_duplicates("unique_id")
    births = pd.to_datetime(subjects["birth_date"], errors="coerce", dayfirst=True, format="mixed")
    subjects["birth_date"] = births.dt.strftime("%Y-%m-%d")
    subjects["sex"] = subjects["sex"].map({"Nam": "M", "Nữ": "F", "nam": "M", "nữ": "F"})
    connection = duckdb.connect()
    connection.execute(f"SET threads = {os.cpu_count() or 2}")
    connection.register("subjects_frame", subjects)
    connection.execute("CREATE TABLE splink_subjects AS SELECT * FROM subjects_frame")
    connection.execute(
        f"""CREATE TABLE splink_register AS
        SELECT person_id AS unique_id, full_name, CASE WHEN length(birth_date) = 10 THEN birth_date END AS birth_date,
               sex, ward_code FROM read_parquet('{batch / "register.parquet"}')"""
    )
    prepared = time.perf_counter()
    best = plain_splink_best_matches(connection, "splink_subjects", "splink_register")
    linked = time.perf_counter()
    answers: dict[str, str | None] = dict.fromkeys(subjects["unique_id"], None)
    answers.update({subject: person for subject, person in best})
    accuracy = _score(answers, pq.read_table(batch / "truth_subjects.parquet").to_pylist(), batch)
    print(
        json.dumps(
            {
                "read_workbooks_s": round(read, 2),
                "prepare_s": round(prepared - started - read, 2),
                "link_s": round(linked - prepared, 2),
                "total_s": round(linked - started, 2),
                "accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
