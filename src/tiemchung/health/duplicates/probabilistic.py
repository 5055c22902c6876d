"""Probabilistic de-duplication of the registry's own subjects: Splink `dedupe_only` on DuckDB.

For the records the exact rules of `detect` cannot pair: no usable ID on one side or both (missing, invalid, a
relative's, mistyped), and a name or birth date typed differently at each registration. The health side never holds
the register: this reads only the registry's subjects (name, birth date, sex, the typed ID, where they live).

The model is a Fellegi–Sunter model trained without labels (u by random sampling, m by EM, both seeded) on a
synthetic country (`benchmarks/bench_duplicates.py --train-model`), shipped as `model.json`. No term-frequency
adjustments: a commune's registry is far too small to estimate how common a name is, and a pair's score must not
depend on the size of the registry it sits in. The threshold was chosen on the precision–recall curve of
`benchmarks/bench_duplicates.py` (docs/benchmarks.md). Only Splink's public API is used (`Linker`,
`SettingsCreator`, the comparison libraries, `block_on`), so that the move to Splink 5 stays small. Splink and
DuckDB are imported inside the functions that use them: importing Splink takes seconds, and `detect` (imported by
the CLI and the web application) needs this module only for `unrelated_given_names` until it scores.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from rapidfuzz.distance import Levenshtein
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.registry.models import Subject
from tiemchung.identity.comparisons import birth_date_comparison, residence_comparison

MODEL_RESOURCE = "model.json"
# Chosen on the precision-recall curve (docs/benchmarks.md, "Duplicate registrations"): where precision stops rising
# steeply (from 0.99 to 0.995 the namesakes of one commune born the same year drop out); above it, recall is lost
# for almost no precision. The aim of 99.9 % is not reached at any threshold yet. A wrong pair only puts a group in
# the station's queue (a person decides), but a queue full of strangers is not read.
MATCH_THRESHOLD = 0.995
U_SAMPLE_PAIRS = 2_000_000
SEED = 18
M_FLOOR = 1e-3
MEMORY_LIMIT = "3GB"  # DuckDB's, spilling to a temporary folder beyond it

# Blocking keys, one column each. A pair is scored when it shares one. Each key's blocks must stay small at 1M
# subjects (the pairs grow with the square of a block): never the family name alone (Nguyễn is 38 % of people),
# never the residence (a migrant worker registered in another province must still meet their other record).
# - the name's words in any order + birth year: a wrong day or month, a swapped day and month, a year-only date,
#   the name typed given-name first;
# - family + given name + birth year + sex: a middle name dropped, added or misspelt, with any date error but the
#   year (the largest key: 6M pairs at 1M subjects, half of them without the sex);
# - family name + full birth date: a given or middle name misspelt;
# - given name + full birth date: a family name misspelt, a wrong birth year typed as another date's;
# - the name + ward: the birth date missing or typed as the 01/01/1900 placeholder, in one commune;
# - the typed ID (valid ones): the same ID whatever the name (the model then sees a relative's ID for what it is).
BLOCKING_KEYS: dict[str, str] = {
    "blk_sorted_year": "CASE WHEN birth_year IS NOT NULL THEN name_sorted || '|' || birth_year END",
    "blk_family_given_year": (
        "CASE WHEN birth_year IS NOT NULL THEN family || '|' || given || '|' || birth_year || '|' || sex END"
    ),
    "blk_family_date": "CASE WHEN length(birth_date) = 10 THEN family || '|' || birth_date END",
    "blk_given_date": "CASE WHEN length(birth_date) = 10 THEN given || '|' || birth_date END",
    "blk_name_ward": "name_folded || '|' || ward_code",
    "blk_id": "id_number",
}

SUBJECT_COLUMNS = ("unique_id", "name_canonical", "name_folded", "birth_date", "birth_year", "sex", "id_number",
                   "ward_code", "district_code", "province_code")  # fmt: skip


# What the model may never pair, whatever its score (the hard negatives of issue 18): birth years more than
# MAX_YEARS_APART apart (a father and son of one name; a relative's ID), and given names that are not one typo apart
# unless the same words were typed in another order (twins and siblings: same family, birth date, address, often one
# ID typed for both). Hardly any registration error makes either (a typo in a given name is one letter; a wrong
# birth date stays within 3 years).
MAX_YEARS_APART = 3
HARD_NEGATIVE = f"""
    (l.birth_year IS NOT NULL AND r.birth_year IS NOT NULL AND abs(l.birth_year - r.birth_year) > {MAX_YEARS_APART})
    OR (l.given <> r.given AND levenshtein(l.given, r.given) > 1 AND l.name_sorted <> r.name_sorted)
"""


def unrelated_given_names(first_name_folded: str, second_name_folded: str) -> bool:
    """The rule of HARD_NEGATIVE on names, in Python (for the exact rules of `detect`): given names (the last word)
    more than one letter apart, unless the same words were typed in another order."""
    first, second = first_name_folded.split(), second_name_folded.split()
    if not first or not second or sorted(first) == sorted(second):
        return False
    return Levenshtein.distance(first[-1], second[-1]) > 1


@dataclass(frozen=True)
class ScoredPair:
    first: int
    second: int
    match_probability: float


def subjects_table(session: Session) -> pa.Table:
    """The active subjects (not merged into another), the columns the model compares; a valid ID only."""
    merged: Select[int] = select(SubjectMerge.merged_id).where(SubjectMerge.unmerged_at.is_(None))
    query = select(
        Subject.id, Subject.name_canonical, Subject.name_folded, Subject.birth_date, Subject.birth_year, Subject.sex,
        Subject.id_number, Subject.id_status, Subject.ward_code, Subject.district_code, Subject.province_code,
    ).where(Subject.id.not_in(merged))  # fmt: skip
    columns: dict[str, list[Any]] = {name: [] for name in SUBJECT_COLUMNS}
    for row in session.execute(query.execution_options(yield_per=50_000)):
        values = tuple(row)
        id_number = values[6] if values[7] == "valid" else None
        for name, value in zip(SUBJECT_COLUMNS, (*values[:6], id_number, *values[8:]), strict=True):
            columns[name].append(value)
    return pa.table(
        {
            name: pa.array(values, pa.int64() if name in ("unique_id", "birth_year") else pa.string())
            for name, values in columns.items()
        }
    )


def prepared(connection: Any, subjects: pa.Table) -> Any:
    """The subjects with the derived columns the model reads (family, given, sorted words) and the blocking keys,
    as a DuckDB table `dupes_subjects`."""
    connection.register("dupes_raw", subjects)
    words = "string_split(trim(name_folded), ' ')"
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE dupes_words AS
        SELECT * REPLACE (nullif(name_folded, '') AS name_folded),
               nullif({words}[1], '') AS family,
               nullif({words}[-1], '') AS given,
               nullif(array_to_string(list_sort({words}), ' '), '') AS name_sorted
        FROM dupes_raw
        """
    )
    keys = ", ".join(f"{sql} AS {name}" for name, sql in BLOCKING_KEYS.items())
    connection.execute(f"CREATE OR REPLACE TEMP TABLE dupes_subjects AS SELECT *, {keys} FROM dupes_words")
    connection.unregister("dupes_raw")
    return connection.table("dupes_subjects")


def build_settings() -> Any:
    """The Splink settings of the duplicates model (dialect-neutral creators)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_folded"),
            cll.ExactMatchLevel("name_canonical").configure(label_for_charts="same name", m_probability=0.7),
            cll.ExactMatchLevel("name_folded").configure(
                label_for_charts="same name without diacritics", m_probability=0.1
            ),
            cll.ExactMatchLevel("name_sorted").configure(
                label_for_charts="same words, other order", m_probability=0.02
            ),
            cll.LevenshteinLevel("name_folded", 1).configure(label_for_charts="one letter differs", m_probability=0.08),
            cll.CustomLevel(
                '"family_l" = "family_r" AND "given_l" = "given_r"',
                label_for_charts="middle name dropped, added or misspelt",
            ).configure(m_probability=0.04),
            cll.CustomLevel(
                '"given_l" = "given_r" AND levenshtein("family_l", "family_r") <= 1',
                label_for_charts="family name misspelt, same given name",
            ).configure(m_probability=0.01),
            cll.LevenshteinLevel("name_folded", 2).configure(label_for_charts="two letters differ", m_probability=0.01),
            cll.ElseLevel().configure(m_probability=0.02),
        ],
    )
    birth_date = birth_date_comparison()
    residence = residence_comparison()
    typed_id = cl.CustomComparison(
        output_column_name="typed_id",
        comparison_levels=[
            cll.NullLevel("id_number"),
            cll.And(cll.ExactMatchLevel("id_number"), cll.ExactMatchLevel("given")).configure(
                label_for_charts="same ID, same given name"
            ),
            # The same ID under another given name is most often a relative's typed for the person (a parent's for a
            # child, a twin's): evidence of a household, not of a person; the names and birth dates decide.
            cll.ExactMatchLevel("id_number").configure(label_for_charts="same ID, another given name"),
            cll.LevenshteinLevel("id_number", 1).configure(label_for_charts="one digit differs"),
            cll.LevenshteinLevel("id_number", 2).configure(label_for_charts="two digits differ (transposition)"),
            # Two personal IDs (12 digits) far apart are two citizens', unless one is a relative's typed for the
            # person; a CMND against a CCCD says little (many people have both).
            cll.CustomLevel(
                'length("id_number_l") = 12 AND length("id_number_r") = 12', label_for_charts="two other personal IDs"
            ),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[name, birth_date, cl.ExactMatch("sex"), residence, typed_id],
        blocking_rules_to_generate_predictions=[block_on(key) for key in BLOCKING_KEYS],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
    )


def train(linker: Any, *, seed: int = SEED) -> None:
    """Estimate the model without labels: λ from near-certain rules, u by seeded random sampling, m by EM."""
    from splink import block_on

    # Same name, birth date and ID, or same name and birth date in one ward: rarely strangers. Their recall among
    # duplicates is about a half (each registration types the identity with its own errors).
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name_folded", "birth_date", "id_number"), block_on("name_folded", "birth_date", "ward_code")],
        recall=0.5,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed)
    # Two EM passes, each blocking on what the other estimates, so that every comparison gets its m. The same name
    # and full birth date: nearly all one person, with the real mix of sex, residence and ID differences. The same
    # typed ID: one person typed twice, and relatives' IDs (another name, another birth date), which EM separates.
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_folded", "birth_date"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("id_number"), estimate_without_term_frequencies=True
    )


def shipped_model() -> dict[str, Any]:
    text = resources.files("tiemchung.health.duplicates").joinpath(MODEL_RESOURCE).read_text("utf-8")
    return regularised(json.loads(text))


def regularised(model: dict[str, Any]) -> dict[str, Any]:
    """The model with this release's BLOCKING_KEYS, and a level never seen in training given its bound: u never met
    among the random pairs is below about 1 / U_SAMPLE_PAIRS; m that EM drove to 0 (evidence the synthetic matches
    never showed) is floored at M_FLOOR, a strong penalty rather than a veto."""
    patched: dict[str, Any] = json.loads(json.dumps(model))
    # this release's blocking keys (a model trained before a change of BLOCKING_KEYS keeps its weights)
    patched["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f'l."{key}" = r."{key}"', "sql_dialect": "duckdb"} for key in BLOCKING_KEYS
    ]
    for comparison in patched["comparisons"]:
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)  # scores independent of the registry's size (see above)
            if level.get("is_null_level"):
                continue
            if not level.get("u_probability"):
                level["u_probability"] = 1 / U_SAMPLE_PAIRS
            level["m_probability"] = max(level.get("m_probability") or 0.0, M_FLOOR)
    return patched


def _linker(connection: Any, table: Any, settings: Any) -> Any:
    """Splink 5 takes its input registered through the database API (which the Linker derives from it)."""
    from splink import DuckDBAPI, Linker

    return Linker(DuckDBAPI(connection=connection).register(table), settings)


def _connection(work_dir: Path | None) -> Any:
    import duckdb

    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        connection.execute(f"SET temp_directory = '{work_dir}'")
    return connection


def train_model(subjects: pa.Table, out: Path, *, seed: int = SEED, work_dir: Path | None = None) -> None:
    """Train a model on `subjects` (see `subjects_table`) and write it as Splink's JSON."""
    connection = _connection(work_dir)
    linker = _linker(connection, prepared(connection, subjects), build_settings())
    train(linker, seed=seed)
    linker.misc.save_model_to_json(str(out), overwrite=True)


def score_pairs(
    subjects: pa.Table,
    *,
    threshold: float = MATCH_THRESHOLD,
    model: dict[str, Any] | None = None,
    work_dir: Path | None = None,
) -> Iterator[ScoredPair]:
    """Pairs of subjects (by id) whose match probability is at least `threshold`."""
    if subjects.num_rows < 2:
        return
    connection = _connection(work_dir)
    linker = _linker(connection, prepared(connection, subjects), model or shipped_model())
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    cursor = connection.execute(
        f"""
        SELECT p.unique_id_l, p.unique_id_r, p.match_probability
        FROM {predictions.physical_name} p
        JOIN dupes_subjects l ON l.unique_id = p.unique_id_l
        JOIN dupes_subjects r ON r.unique_id = p.unique_id_r
        WHERE NOT coalesce({HARD_NEGATIVE}, false)
        """
    )
    while batch := cursor.fetchmany(100_000):
        for left, right, probability in batch:
            yield ScoredPair(min(left, right), max(left, right), float(probability))
    connection.close()


def find_scored_pairs(session: Session, *, threshold: float = MATCH_THRESHOLD) -> list[ScoredPair]:
    """The registry's active subjects scored by the shipped model: pairs at or above `threshold`."""
    return list(score_pairs(subjects_table(session), threshold=threshold))
