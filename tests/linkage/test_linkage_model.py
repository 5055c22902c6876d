"""The model's parameters stay finite and its SQL works in both dialects."""

import math

from tiemchung.register.linkage.model import (
    M_FLOOR,
    U_SAMPLE_PAIRS,
    default_model,
    for_dialect,
    regularised,
)


def test_unseen_u_and_vanishing_m_get_their_bounds() -> None:
    model = default_model()
    typed_id = next(c for c in model["comparisons"] if c["output_column_name"] == "typed_id")
    typed_id["comparison_levels"][1]["u_probability"] = None
    typed_id["comparison_levels"][2]["m_probability"] = 0.0
    patched = regularised(model)
    levels = next(c for c in patched["comparisons"] if c["output_column_name"] == "typed_id")["comparison_levels"]
    assert levels[1]["u_probability"] == 1 / U_SAMPLE_PAIRS
    assert levels[2]["m_probability"] == M_FLOOR
    assert all(
        math.isfinite(math.log2(level["m_probability"] / level["u_probability"]))
        for comparison in patched["comparisons"]
        for level in comparison["comparison_levels"]
        if not level.get("is_null_level")
    )


def test_conditions_transpile_to_spark() -> None:
    spark_model = for_dialect(default_model(), "spark")
    conditions = [level["sql_condition"] for c in spark_model["comparisons"] for level in c["comparison_levels"]]
    assert any("jaro_winkler(" in condition for condition in conditions)
    assert not any("jaro_winkler_similarity" in condition.lower() for condition in conditions)
