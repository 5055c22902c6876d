"""The model's parameters stay finite, its SQL works in both dialects, and training it is repeatable."""

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tiemchung.register.linkage import engine
from tiemchung.register.linkage.engine import MODEL_FILE, RegisterIndex
from tiemchung.register.linkage.model import (
    M_FLOOR,
    U_SAMPLE_PAIRS,
    default_model,
    for_dialect,
    regularised,
)
from tiemchung.synth import generate


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


def test_training_twice_on_the_same_batch_gives_the_same_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Splink 5 and hash-chosen samples: the model no longer depends on the run (it did with DuckDB's parallel
    reservoir sample, whose u and λ differed by up to 30 % between two runs at 1M), whatever the number of threads."""
    generate(tmp_path / "country", people=1_500, seed=23, progress=False, xlsx_max_rows=0)
    monkeypatch.setattr(engine, "MIN_SUBJECTS_TO_TRAIN", 100)  # train on this small batch
    models = []
    for run, threads in enumerate((2, 2, 1)):
        workdir = tmp_path / f"run{run}"
        index = RegisterIndex.open(tmp_path / "country" / "register.parquet", workdir=workdir, threads=threads)
        index.verify_batch(tmp_path / "country" / "records.parquet", workdir / "results.parquet")
        index.close()
        models.append(json.loads((workdir / MODEL_FILE).read_text("utf-8")))
    # Equal up to the last bits of a float sum, whose order DuckDB's parallel aggregation may change (seen at 1M:
    # 1e-17; the answers were identical). The samples and counts are the same rows every time.
    for other in models[1:]:
        assert _parameters(other) == pytest.approx(_parameters(models[0]), rel=1e-12)
    assert models[0]["match_weight_column_prefix"] == "mw_" and "bayes_factor_column_prefix" not in models[0]


def _parameters(model: dict[str, Any]) -> list[float]:
    values = [float(model["probability_two_random_records_match"])]
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            values += [float(level.get("m_probability", -1)), float(level.get("u_probability", -1))]
    return values
