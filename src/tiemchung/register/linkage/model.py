"""The Fellegi–Sunter model of the probabilistic path: Splink settings, training, persistence, scoring.

Splink trains the model (u by random sampling, m by EM, no labels) and scores batches. Online, one
subject's candidates are scored in Python by `scoring.PairScorer`, compiled from the same trained
model's levels, so a subject gets the same probability online and in batch.
"""

import json
import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from tiemchung.identity.comparisons import birth_date_comparison, residence_comparison

# Columns both sides of the model carry (the register and the prepared subjects).
MODEL_COLUMNS: tuple[str, ...] = (
    "unique_id",
    "name_canon",
    "name_fold",
    "name_sorted",
    "given_fold",
    "family_fold",
    "birth_date",
    "birth_year",
    "sex",
    "province_code",
    "district_code",
    "ward_code",
    "id_value",
    "old_id",
    # The register address of the typed ID's holder on the subject side, one's own address on the register
    # side: a typed ID that belongs to a housemate (a relative's, a twin's) is evidence for this person.
    "household",
    "blk_given_date",
    "blk_name_ward",
    "blk_date_ward",
    "blk_name_daymonth",
)

# The columns the model's comparisons read (MODEL_COLUMNS minus the id and blocking keys).
COMPARED_COLUMNS: tuple[str, ...] = tuple(
    column for column in MODEL_COLUMNS if column != "unique_id" and not column.startswith("blk_")
)

# Blocking keys, computed once per row as one column each: the same key serves Splink's batch
# blocking and the online index look-ups. Never the surname alone (Nguyễn is 38% of people).
# A key's pairs grow with the square of its block sizes, so each must stay small at national size:
# given name + birth *year* (the key before this one) had blocks of up to 5,259 people in a 10M register
# (sum of squares 1.9e10, 300x given name + birth date's) and filled 70 GB of disk at 10M people.
# Residence is evidence, never a gate: a person registered in one ward and vaccinated in another (millions of
# migrant workers) must meet their register row through a key without the ward. Given name + birth date does
# that for most; full name + day and month (a full date only) for a birth year typed one off, wherever the
# person lives now.
BLOCKING_KEYS: dict[str, str] = {
    "blk_given_date": "given_fold || '|' || birth_date",
    "blk_name_ward": "name_fold || '|' || ward_code",
    "blk_date_ward": "birth_date || '|' || ward_code",
    "blk_name_daymonth": "name_fold || '|' || CASE WHEN length(birth_date) = 10 THEN substr(birth_date, 6) END",
}

# The typed ID as a blocking key too: the holder of a typed ID is always a candidate (register
# column per model column; on the subject side id_value is a typed CCCD, old_id a typed CMND).
ID_BLOCKS: dict[str, str] = {"id_value": "person_id", "old_id": "old_id"}

# Chosen on the precision-recall curve (benchmarks/linkage_curve.py, docs/benchmarks.md): a false match puts a
# dose and a certificate on the wrong citizen, so the highest recall at a precision of at least 99.9 %.
MATCH_THRESHOLD = 0.8
# The best candidate must beat the runner-up by more than this many bits of match weight (a Bayes factor of
# 2**MATCH_MARGIN): two people agreeing on name, birth date and sex who differ only by where they live, or a
# typed date that happens to be a namesake's exact birth date, are two plausible people, and the answer is
# "unverifiable", not the slightly better one. 0 would only leave exact ties unmatched.
MATCH_MARGIN = 5.0


def weight_from_probability(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def runner_up_floor() -> float:
    """The lowest match weight a pair must have to matter to a decision: the threshold's, less the margin."""
    return weight_from_probability(MATCH_THRESHOLD) - MATCH_MARGIN


DEFAULT_MODEL_RESOURCE = "default_model.json"

U_SAMPLE_PAIRS = 1_000_000
# A level never seen among the random pairs has u below about 1/U_SAMPLE_PAIRS: that bound is used
# (conservative: the true weight is higher). EM may drive an m to 0 when the training data never
# shows a level among matches (synthetic subjects who never moved); a floor keeps such evidence a
# strong penalty instead of a veto, and keeps every Bayes factor finite for Splink and online alike.
M_FLOOR = 1e-3


def build_settings() -> Any:
    """The Splink settings (dialect-neutral creators) of the verification model."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_fold"),
            cll.ExactMatchLevel("name_canon").configure(label_for_charts="same name"),
            cll.ExactMatchLevel("name_fold").configure(label_for_charts="same name without diacritics"),
            cll.ExactMatchLevel("name_sorted").configure(label_for_charts="same words, other order"),
            cll.LevenshteinLevel("name_fold", 1).configure(label_for_charts="one letter differs"),
            cll.CustomLevel(
                '"family_fold_l" = "family_fold_r" AND "given_fold_l" = "given_fold_r" '
                'AND length("name_fold_l") <> length("name_fold_r")',
                label_for_charts="middle name dropped or added",
            ),
            cll.JaroWinklerLevel("name_fold", 0.95),
            cll.JaroWinklerLevel("name_fold", 0.88),
            cll.And(cll.ExactMatchLevel("given_fold"), cll.ExactMatchLevel("family_fold")).configure(
                label_for_charts="same family and given name"
            ),
            cll.ElseLevel(),
        ],
    )
    birth_date = birth_date_comparison()
    residence = residence_comparison()
    typed_id = cl.CustomComparison(
        output_column_name="typed_id",
        comparison_levels=[
            cll.And(cll.NullLevel("id_value"), cll.NullLevel("old_id")).configure(is_null_level=True),
            cll.And(
                cll.Or(cll.ExactMatchLevel("id_value"), cll.ExactMatchLevel("old_id")),
                cll.ExactMatchLevel("given_fold"),
            ).configure(label_for_charts="typed ID is this person's"),
            # A typed ID whose holder has another given name is often a relative's or a twin's (same address,
            # family, often the birth date): the ID then points at a household, not a person, so the holder and
            # every housemate get the same weight here and the names and birth dates decide who it is.
            cll.Or(
                cll.ExactMatchLevel("id_value"), cll.ExactMatchLevel("old_id"), cll.ExactMatchLevel("household")
            ).configure(label_for_charts="typed ID is a housemate's, or this person's under another given name"),
            cll.Or(cll.LevenshteinLevel("id_value", 1), cll.LevenshteinLevel("old_id", 1)).configure(
                label_for_charts="one digit differs"
            ),
            cll.Or(cll.LevenshteinLevel("id_value", 2), cll.LevenshteinLevel("old_id", 2)).configure(
                label_for_charts="two digits differ (transposition)"
            ),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        comparisons=[name, birth_date, cl.ExactMatch("sex"), residence, typed_id],
        blocking_rules_to_generate_predictions=[block_on(key) for key in (*BLOCKING_KEYS, *ID_BLOCKS)],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
    )


# The two sides of every pair, as registered with Splink: in a two-table link Splink puts the dataset whose name
# sorts first on the left, so the subjects are `_l` and the register `_r` (the online scorer relies on it).
SUBJECTS_DATASET = "a_subjects"
REGISTER_DATASET = "b_register"

# Below this many subjects EM has too few pairs to be stable: the shipped model is used instead.
MIN_SUBJECTS_TO_TRAIN = 5_000
TRAINING_SAMPLE = 50_000
TRAINING_SEED = 42
# Splink scores the subjects in slices of about this many (chunked predict): the blocked pairs of one slice
# are materialised at a time, so a national batch does not hold every candidate pair at once.
PREDICT_CHUNK_SUBJECTS = 250_000


def predict_chunks(subjects: int) -> int:
    """How many slices of the subjects Splink's `predict` scores one after the other."""
    return max(1, math.ceil(subjects / PREDICT_CHUNK_SUBJECTS))


def make_linker(db_api: Any, subjects_table: str, register_table: str, settings: Any) -> Any:
    """A Splink `Linker` of subjects (left) to the register (right), both already tables of `db_api`'s database.

    Splink 5 takes its inputs as `SplinkDataFrame`s registered through the database API (the API is derived from
    them). A database API registers each name once, so every linker gets its own API object."""
    from splink import Linker

    subjects = db_api.register(subjects_table, dataset_display_name=SUBJECTS_DATASET)
    register = db_api.register(register_table, dataset_display_name=REGISTER_DATASET)
    return Linker([subjects, register], settings, log_level=None)


def sample_sql(table: str, rows: int, seed: int) -> str:
    """`rows` rows of `table` chosen by a hash of their id (DuckDB dialect, transpiled for Spark).

    The same rows on every run and every number of threads (DuckDB's parallel reservoir, used before, was not
    repeatable), and a hash Spark computes alike (Splink's seeded sampling buckets by the backend's own `hash()`:
    xxhash on DuckDB, murmur3 on Spark)."""
    return f"SELECT * FROM {table} ORDER BY md5(concat(unique_id, '|{seed}')) LIMIT {rows}"


def train(
    new_db_api: Callable[[], Any],
    create_table: Callable[[str, str], int],
    count_rows: Callable[[str], int],
    batch_table: str,
    register_table: str,
    *,
    seed: int = TRAINING_SEED,
) -> dict[str, Any]:
    """Estimate the model without labels: λ from a near-certain rule, u by random sampling, m by EM; regularised.

    Repeatable: the same batch and register give the same model on every run (only DuckDB trains today: written
    against the database API so Spark can, but a Spark training did not yet reproduce DuckDB's parameters).
    `create_table(name, duckdb_sql)` materialises a query on the engine as a table and returns its row count;
    `count_rows(table)` counts a table's rows.
    """
    from splink import block_on

    subjects_rows = create_table("model_training", sample_sql(batch_table, TRAINING_SAMPLE, seed))
    register_rows = count_rows(register_table)
    u_model = _estimate_u(new_db_api, create_table, subjects_rows, register_rows, register_table, seed=seed)
    linker = make_linker(new_db_api(), "model_training", register_table, u_model)
    # The rule's recall: people who moved (about 15 %) and those with a name or date error miss it.
    linker.training.estimate_probability_two_random_records_match(
        [block_on("name_fold", "birth_date", "ward_code")], recall=0.7
    )
    # Two EM passes, each blocking on what the other one estimates, so every comparison gets m.
    # Blocking on the typed ID gives about one pair per ID-bearing subject, mostly true matches with
    # the real mix of name/date/sex/residence errors: cheap, and far smaller than a name block
    # (a common full name has thousands of holders in a 1M register).
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("id_value"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date", "ward_code"), estimate_without_term_frequencies=True
    )
    return regularised(in_duckdb_dialect(linker.misc.save_model_to_json()))


def in_duckdb_dialect(trained: dict[str, Any]) -> dict[str, Any]:
    """The trained parameters on the DuckDB text of the same settings: every saved model is in DuckDB's dialect
    (the online scorer compiles it); `for_dialect` converts it for Spark."""
    model: dict[str, Any] = build_settings().get_settings("duckdb").as_dict()
    model["probability_two_random_records_match"] = trained["probability_two_random_records_match"]
    for comparison, trained_comparison in zip(model["comparisons"], trained["comparisons"], strict=True):
        levels = zip(comparison["comparison_levels"], trained_comparison["comparison_levels"], strict=True)
        for level, trained_level in levels:
            for key in ("m_probability", "u_probability"):
                if key in trained_level:
                    level[key] = trained_level[key]
    return model


def _estimate_u(
    new_db_api: Callable[[], Any],
    create_table: Callable[[str, str], int],
    subjects_rows: int,
    register_rows: int,
    register_table: str,
    *,
    seed: int,
) -> dict[str, Any]:
    """u from every pair of a hash-chosen sample of each side, about U_SAMPLE_PAIRS pairs in all.

    The same design as Splink's random sampling (the same proportion of records of each side, then all their
    pairs), with the records chosen by `sample_sql` so every run sees the same pairs; Splink is then given
    a budget that covers every pair of the samples, so it samples nothing itself and does not stop early."""
    proportion = min(1.0, math.sqrt(U_SAMPLE_PAIRS / max(1, subjects_rows * register_rows)))
    left = create_table("u_subjects", sample_sql("model_training", max(1, round(subjects_rows * proportion)), seed))
    right = create_table("u_register", sample_sql(register_table, max(1, round(register_rows * proportion)), seed))
    linker = make_linker(new_db_api(), "u_subjects", "u_register", build_settings())
    linker.training.estimate_u_using_random_sampling(
        max_pairs=left * right, seed=seed, min_count_per_level=None, num_chunks=1
    )
    return dict(linker.misc.save_model_to_json())


def default_model() -> dict[str, Any]:
    """The model trained on synthetic data that ships with the package."""
    text = resources.files("tiemchung.register.linkage").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")
    return regularised(json.loads(text))


def load_model(path: Path | None) -> dict[str, Any]:
    """A trained model from `path` when it exists, else the shipped default (both regularised)."""
    if path is not None and path.exists():
        return regularised(json.loads(path.read_text("utf-8")))
    return default_model()


def regularised(model: dict[str, Any]) -> dict[str, Any]:
    """The model with unseen u and vanishing m replaced by their bounds (see U_SAMPLE_PAIRS, M_FLOOR), and
    this release's blocking rules (a model trained before a change of BLOCKING_KEYS keeps its weights)."""
    patched = json.loads(json.dumps(model))
    # Splink 5 names the per-comparison columns by match weight (mw_), no longer by Bayes factor (bf_); a model
    # saved by Splink 4 loads unchanged (the key is ignored), this only keeps saved files in Splink 5's terms.
    patched.pop("bayes_factor_column_prefix", None)
    patched.setdefault("match_weight_column_prefix", "mw_")
    patched["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f'l."{key}" = r."{key}"', "sql_dialect": "duckdb"} for key in (*BLOCKING_KEYS, *ID_BLOCKS)
    ]
    for comparison in patched["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            if not level.get("u_probability"):
                level["u_probability"] = 1 / U_SAMPLE_PAIRS
            level["m_probability"] = max(level.get("m_probability") or 0.0, M_FLOOR)
    return patched


def for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The same trained model with its SQL conditions in another engine's dialect (e.g. spark)."""
    import sqlglot

    source = model.get("sql_dialect", "duckdb")
    converted = json.loads(json.dumps(model))
    converted["sql_dialect"] = dialect
    for comparison in converted["comparisons"]:
        for level in comparison["comparison_levels"]:
            if is_else_level(level):
                continue
            sql = sqlglot.transpile(level["sql_condition"], read=source, write=dialect)[0]
            # Splink's Spark jar registers the function as jaro_winkler; sqlglot writes another name.
            level["sql_condition"] = re.sub(r"JARO_?WINKLER_SIMILARITY\(", "jaro_winkler(", sql, flags=re.I)
    return converted


def level_weight(level: dict[str, Any]) -> float:
    """log2 Bayes factor of one level; null levels and untrained levels are neutral."""
    m, u = level.get("m_probability"), level.get("u_probability")
    if level.get("is_null_level") or m is None or u is None or m <= 0 or u <= 0:
        return 0.0
    return math.log2(m / u)


def prior_weight(model: dict[str, Any]) -> float:
    prior = float(model["probability_two_random_records_match"])
    return math.log2(prior / (1 - prior))


def is_else_level(level: dict[str, Any]) -> bool:
    return str(level["sql_condition"]).strip().upper() == "ELSE"


def probability_from_weight(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-weight))
