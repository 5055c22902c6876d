"""The set-based SQL of the verification engine, written once in DuckDB's dialect.

The same text runs on DuckDB and, transpiled by sqlglot, on Spark SQL; the online path runs the
same agreement expressions with one subject bound as parameters.
"""

from tiemchung.register.linkage.model import MATCH_MARGIN, MATCH_THRESHOLD, MODEL_COLUMNS

EXACT_KINDS = ("CCCD", "CMND")


def date_agreement_sql(subject: str, register: str) -> str:
    """Birth dates agree when equal; when either side holds only a year, the years must be equal.

    The SQL twin of `PartialDate.agrees_with` over ISO text ("YYYY", "YYYY-MM" or "YYYY-MM-DD").
    """
    left, right = f"{subject}.birth_date", f"{register}.birth_date"
    return (
        f"coalesce(CASE WHEN length({left}) = 4 OR length({right}) = 4 "
        f"THEN substr({left}, 1, 4) = substr({right}, 1, 4) ELSE {left} = {right} END, false)"
    )


def disagreement_columns_sql(subject: str, register: str) -> str:
    """The three disagreement flags of the spec's agreement rules (absent subject values disagree)."""
    return (
        f"NOT coalesce({subject}.name_canon = {register}.name_canon, false) AS name_differs, "
        f"NOT {date_agreement_sql(subject, register)} AS date_differs, "
        f"NOT coalesce({subject}.sex = {register}.sex, false) AS sex_differs"
    )


def _id_join(kind: str, register_column: str) -> str:
    return f"""
        SELECT s.subject_id, r.person_id, {disagreement_columns_sql("s", "r")}
        FROM subjects s JOIN register r ON r.{register_column} = s.id_value
        WHERE s.id_kind = '{kind}' AND NOT s.is_foreign"""


# One register row per ID-bearing subject. A CCCD is unique; a CMND is not, so among its holders
# the one agreeing on most items wins, then the smallest person_id (deterministic across engines).
# Only the CMND rows are ranked: the window is the costly part and CCCD rows never need it.
EXACT_SQL = f"""
WITH by_cmnd AS ({_id_join("CMND", "old_id")}
),
best_cmnd AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (
            PARTITION BY subject_id
            ORDER BY CAST(name_differs AS INTEGER) + CAST(date_differs AS INTEGER)
                + CAST(sex_differs AS INTEGER), person_id
        ) AS rank_in_subject
        FROM by_cmnd
    ) WHERE rank_in_subject = 1
),
best AS ({_id_join("CCCD", "person_id")}
    UNION ALL SELECT subject_id, person_id, name_differs, date_differs, sex_differs FROM best_cmnd
)
SELECT
    s.subject_id,
    CASE
        WHEN s.is_foreign THEN 'FOREIGN_PASSPORT'
        WHEN s.id_kind NOT IN ('CCCD', 'CMND') THEN 'NO_ID_UNVERIFIABLE'
        WHEN b.person_id IS NULL OR b.name_differs OR b.date_differs OR b.sex_differs THEN 'MISMATCH'
        ELSE 'VERIFIED'
    END AS category,
    concat_ws(';',
        CASE WHEN s.id_kind IN ('CCCD', 'CMND') AND NOT s.is_foreign AND b.person_id IS NULL
            THEN 'ID_NOT_FOUND' END,
        CASE WHEN b.name_differs THEN 'NAME' END,
        CASE WHEN b.date_differs THEN 'BIRTH_DATE' END,
        CASE WHEN b.sex_differs THEN 'SEX' END
    ) AS reasons,
    b.person_id AS id_holder
FROM subjects s
LEFT JOIN best b ON b.subject_id = s.subject_id
"""

# The subjects' side of the model once the exact path has found each typed ID's holder: `household` is the
# holder's register address (a relative's or twin's ID then counts for the housemate whose name and birth date
# agree). Columns listed, not `* REPLACE`, so that Spark SQL reads it too.
MODEL_LINKED_SQL = f"""
SELECT {", ".join("h.address AS household" if column == "household" else f"m.{column}" for column in MODEL_COLUMNS)}
FROM model_all m
LEFT JOIN exact e ON e.subject_id = m.unique_id
LEFT JOIN register h ON h.person_id = e.id_holder
"""

# The subjects the probabilistic path scores: no usable ID, or a MISMATCH (for a correction).
MODEL_SUBJECTS_SQL = """
SELECT m.* FROM model_linked m JOIN exact e ON e.subject_id = m.unique_id
WHERE e.category IN ('NO_ID_UNVERIFIABLE', 'MISMATCH')
"""


# The decision over scored pairs: a subject's best pair is kept when its probability reaches the threshold and
# it beats the subject's runner-up by more than `margin` bits (a tie or a close second leaves the subject
# unmatched). `pairs` must hold every pair within `margin` of the threshold's weight (model.runner_up_floor).
# Weights are rounded so that DuckDB and Spark floating-point sums decide identically. Not 1:1: a person
# entered twice (a second facility opened a new subject for the later doses, 1.2 % of subjects in the synthetic
# country) is rightly found by both subjects, and requiring each person's unique best dropped both
# (benchmarks/linkage_curve.py).
def best_of_subject_sql(threshold: float, margin: float) -> str:
    return f"""
WITH scored AS (
    SELECT subject_id, person_id, round(match_weight, 6) AS weight, match_probability FROM pairs
),
ranked AS (
    SELECT *,
        row_number() OVER (PARTITION BY subject_id ORDER BY weight DESC, person_id) AS rank_in_subject,
        lead(weight) OVER (PARTITION BY subject_id ORDER BY weight DESC, person_id) AS runner_up
    FROM scored
)
SELECT subject_id, person_id, match_probability, weight AS match_weight
FROM ranked
WHERE rank_in_subject = 1 AND match_probability >= {threshold}
  AND (runner_up IS NULL OR weight - runner_up > {margin})
"""


# The 1:1 rule (also the unique best of its register person), measured beside the rule in use.
def one_to_one_sql(threshold: float, margin: float) -> str:
    return f"""
WITH ranked AS (
    SELECT *,
        max(match_weight) OVER (PARTITION BY person_id) AS best_of_person,
        count(*) OVER (PARTITION BY person_id, match_weight) AS ties_of_person
    FROM ({best_of_subject_sql(threshold, margin)})
)
SELECT subject_id, person_id, match_probability, match_weight
FROM ranked WHERE match_weight = best_of_person AND ties_of_person = 1
"""


MATCHES_SQL = best_of_subject_sql(MATCH_THRESHOLD, MATCH_MARGIN)

# Final section-3 rows from the exact classes and the probabilistic matches.
RESULTS_SQL = """
SELECT
    e.subject_id,
    CASE
        WHEN e.category = 'NO_ID_UNVERIFIABLE' AND m.person_id IS NOT NULL THEN 'NO_ID_VERIFIED'
        ELSE e.category
    END AS category,
    e.reasons,
    m.person_id AS matched_person_id,
    m.match_probability
FROM exact e LEFT JOIN matches m ON m.subject_id = e.subject_id
"""
