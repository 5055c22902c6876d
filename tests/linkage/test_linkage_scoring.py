"""The online path's Python scoring is the twin of Splink's SQL: same levels, same weights."""

import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tiemchung.register.linkage.engine import unpack
from tiemchung.register.linkage.model import COMPARED_COLUMNS, MODEL_COLUMNS, default_model, make_linker
from tiemchung.register.linkage.prepare import prepare_subject_files, register_select_sql, source_sql
from tiemchung.register.linkage.scoring import PairScorer, UnsupportedCondition, compile_condition

CONDITIONS = sorted(
    {
        level["sql_condition"]
        for comparison in default_model()["comparisons"]
        for level in comparison["comparison_levels"]
        if level["sql_condition"] != "ELSE"
    }
    | {
        'NOT ("sex_l" = "sex_r")',
        '"sex_l" <> "sex_r"',
        'length("ward_code_l") > 4',
        "substr(\"birth_date_l\", 6) < '05'",
    }
)

NAMES = ["nguyen van hung", "nguyen van hung anh", "tran thi mai", "tran thi mai anh", "le minh", "pham thi thu ha"]


def _mutated(text: str, rng: random.Random) -> str:
    """A near miss: one substitution, deletion, insertion or transposition (Jaro–Winkler near its thresholds)."""
    if not text:
        return text
    position = rng.randrange(len(text))
    match rng.randrange(4):
        case 0:
            return text[:position] + rng.choice("aehnt ") + text[position + 1 :]
        case 1:
            return text[:position] + text[position + 1 :]
        case 2:
            return text[:position] + rng.choice("aehnt") + text[position:]
        case _:
            return (
                text[:position]
                + text[position + 1 : position + 2]
                + text[position : position + 1]
                + text[position + 2 :]
            )


def _date(rng: random.Random) -> str | None:
    year, month, day = rng.choice([1960, 1990, 1991]), rng.choice([1, 5, 12]), rng.choice([1, 5, 12])
    return rng.choice([f"{year}-{month:02d}-{day:02d}", f"{year}-{day:02d}-{month:02d}", str(year), None])


def _row(rng: random.Random) -> dict[str, Any]:
    name = rng.choice([None, *NAMES])
    if name is not None and rng.random() < 0.7:
        for _ in range(rng.randrange(1, 4)):
            name = _mutated(name, rng)
    birth_date = _date(rng)
    return {
        "name_canon": name,
        "name_fold": name,
        "name_sorted": " ".join(sorted(name.split())) if name else None,
        "given_fold": name.split()[-1] if name and name.split() else None,
        "family_fold": name.split()[0] if name and name.split() else None,
        "birth_date": birth_date,
        "birth_year": int(birth_date[:4]) if birth_date else None,
        "sex": rng.choice(["M", "F", None]),
        "province_code": rng.choice(["01", "79", None]),
        "district_code": rng.choice(["001", "002", None]),
        "ward_code": rng.choice(["00001", "00004", None]),
        "id_value": rng.choice(["001090000001", "001090000011", "001090000110", None]),
        "old_id": rng.choice(["012345678", "012345687", None]),
        "household": rng.choice(["12 Tổ 3", "Thôn 2", None]),
    }


@pytest.fixture(scope="module")
def pairs() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rng = random.Random(20211)
    return [(_row(rng), _row(rng)) for _ in range(4_000)]


def _duckdb_truth(condition: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[bool | None]:
    """DuckDB's own value of the condition per pair: true, false or NULL."""
    columns: dict[str, list[Any]] = {"pair": list(range(len(pairs)))}
    for name in COMPARED_COLUMNS:
        columns[f"{name}_l"] = [left[name] for left, _ in pairs]
        columns[f"{name}_r"] = [right[name] for _, right in pairs]
    connection = duckdb.connect()
    connection.register("pairs", pa.table(columns))
    query = f"SELECT CASE WHEN {condition} THEN true WHEN NOT ({condition}) THEN false END FROM pairs ORDER BY pair"
    return [value for (value,) in connection.execute(query).fetchall()]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_condition_agrees_with_duckdb_on_every_pair(
    condition: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    compiled = compile_condition(condition)
    python = [compiled(left, right) for left, right in pairs]
    assert python == _duckdb_truth(condition, pairs)


def test_near_misses_reach_both_sides_of_the_jaro_winkler_thresholds(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    # Otherwise the agreement above would not test the thresholds that matter.
    for threshold in (0.95, 0.88):
        verdicts = set(_duckdb_truth(f'jaro_winkler_similarity("name_fold_l", "name_fold_r") >= {threshold}', pairs))
        assert verdicts == {True, False, None}


def test_an_unknown_sql_function_is_refused_when_the_model_loads() -> None:
    with pytest.raises(UnsupportedCondition):
        compile_condition('soundex("name_fold_l") = soundex("name_fold_r")')


def test_everything_agreeing_weighs_far_above_the_threshold() -> None:
    rng = random.Random(3)
    row = _row(rng) | {"name_fold": "nguyen van hung", "birth_date": "1990-05-12", "birth_year": 1990, "sex": "M"}
    assert PairScorer(default_model()).weight(row, dict(row)) > 20


@pytest.fixture(scope="module")
def country(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiemchung.synth import generate

    folder = tmp_path_factory.mktemp("scoring-country")
    generate(folder, people=2_000, seed=5, progress=False)
    return folder


def test_weights_equal_splinks_on_every_blocked_pair_of_a_synthetic_country(country: Path, tmp_path: Path) -> None:
    from splink import DuckDBAPI

    connection = duckdb.connect()
    register = register_select_sql(source_sql(country / "register.parquet"))
    connection.execute(f"CREATE TABLE register AS {register}")
    connection.execute(f"CREATE VIEW model_register AS SELECT {', '.join(MODEL_COLUMNS)} FROM register")
    files = prepare_subject_files(connection, country / "records.parquet", tmp_path)
    model_subjects = pq.read_table(files.model)
    connection.register("model_subjects", model_subjects)
    model = default_model()
    linker = make_linker(DuckDBAPI(connection=connection), "model_subjects", "model_register", model)
    splink_weights = linker.inference.predict().as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_weight"]]
    packed = dict(connection.execute("SELECT person_id, online_packed FROM register").fetchall())
    left_rows = {row["unique_id"]: row for row in model_subjects.to_pylist()}
    scorer = PairScorer(model)

    differences = [
        abs(scorer.weight(left_rows[left], unpack(packed[right])) - weight)
        for left, right, weight in splink_weights.itertuples(index=False)
    ]
    assert len(differences) > 1_000
    assert max(differences) < 1e-9
