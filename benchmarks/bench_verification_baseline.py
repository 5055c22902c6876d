"""Plain Splink with its documented defaults, on the same no-ID subjects as the engine (for comparison).

What the baseline gets: names as typed, birth dates parsed to ISO (so Splink's DateOfBirthComparison
can read them), sex parsed, ward code. What it does, following Splink's tutorial: NameComparison,
DateOfBirthComparison, exact sex and ward; blocking on full name and on birth date; λ from a
deterministic rule, u by random sampling, m by EM; predictions at 0.9; best candidate per subject;
no 1:1 constraint.
"""

import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tiemchung.identity import parse_date, parse_sex


def _f1(right: int, matched: int, findable: int) -> dict[str, float]:
    precision = right / matched if matched else 0.0
    recall = right / findable if findable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5)}


def _no_id_truth(data: Path) -> dict[str, dict[str, Any]]:
    rows = pq.read_table(data / "truth_subjects.parquet").to_pylist()
    return {row["subject_id"]: row for row in rows if str(row["expected_category"]).startswith("NO_ID")}


def _subjects_table(connection: duckdb.DuckDBPyConnection, data: Path, wanted: set[str]) -> pa.Table:
    rows = connection.execute(
        f"""SELECT subject_id, first(full_name) AS full_name, first(birth_date) AS birth_date,
                   first(sex) AS sex, first(ward_code) AS ward_code
            FROM read_parquet('{data / "records.parquet"}') GROUP BY subject_id"""
    ).fetchall()
    records = []
    for subject_id, name, birth, sex, ward in rows:
        if subject_id not in wanted:
            continue
        date = parse_date(str(birth or "")).value
        records.append(
            {
                "unique_id": subject_id,
                "full_name": name,
                "birth_date": date.iso() if date is not None and len(date.iso()) == 10 else None,
                "sex": parse_sex(str(sex or "")),
                "ward_code": ward,
            }
        )
    return pa.Table.from_pylist(records)


def plain_splink_best_matches(
    connection: duckdb.DuckDBPyConnection, subjects: str, register: str
) -> list[tuple[str, str]]:
    """What a user does with Splink's documented defaults: link the `subjects` table to the `register` table
    (unique_id, full_name, birth_date, sex, ward_code), train, predict at 0.9, keep each subject's best person.
    Shared by this benchmark and bench_operator_path.py, so both run the same plain Splink."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("full_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.ExactMatch("ward_code"),
        ],
        blocking_rules_to_generate_predictions=[block_on("full_name"), block_on("birth_date")],
    )
    db_api = DuckDBAPI(connection=connection)
    linker = Linker(
        [
            db_api.register(subjects, dataset_display_name="a_subjects"),
            db_api.register(register, dataset_display_name="b_register"),
        ],
        settings,
        log_level=None,
    )
    linker.training.estimate_probability_two_random_records_match([block_on("full_name", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("full_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=0.9)
    return connection.execute(
        f"""SELECT unique_id_l, arg_max(unique_id_r, match_probability)
            FROM {predictions.physical_name} GROUP BY unique_id_l"""
    ).fetchall()


def run_baseline(data: Path, workdir: Path, threads: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    truth = _no_id_truth(data)
    connection = duckdb.connect()
    connection.execute(f"SET threads = {threads}")
    started = time.perf_counter()
    connection.register("baseline_subjects_arrow", _subjects_table(connection, data, set(truth)))
    connection.execute("CREATE TABLE baseline_subjects AS SELECT * FROM baseline_subjects_arrow")
    connection.execute(
        f"""CREATE TABLE baseline_register AS
        SELECT person_id AS unique_id, full_name, CASE WHEN length(birth_date) = 10 THEN birth_date END AS birth_date,
               sex, ward_code FROM read_parquet('{data / "register.parquet"}')"""
    )
    best = plain_splink_best_matches(connection, "baseline_subjects", "baseline_register")
    seconds = time.perf_counter() - started
    right = sum(truth[subject]["person_id"] == person for subject, person in best)
    register = set(pq.read_table(data / "register.parquet", columns=["person_id"]).column(0).to_pylist())
    findable = sum(1 for row in truth.values() if row["person_id"] in register)
    engine = _engine_scores(workdir.parent / "engine" / "results.parquet", truth, findable)
    connection.close()
    return {"seconds": round(seconds, 2), "plain_splink": _f1(right, len(best), findable), "engine": engine}


def _engine_scores(results: Path, truth: dict[str, dict[str, Any]], findable: int) -> dict[str, float]:
    matched = right = 0
    for row in pq.read_table(results).to_pylist():
        if row["subject_id"] in truth and row["matched_person_id"]:
            matched += 1
            right += row["matched_person_id"] == truth[row["subject_id"]]["person_id"]
    return _f1(right, matched, findable)
