"""The small data files of the generator (`data/`): province weights and name frequencies."""

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


def _rows(file_name: str) -> list[dict[str, str]]:
    text = resources.files("tiemchung.synth").joinpath("data", file_name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class WeightedChoice:
    """Values with probabilities, sampled with numpy."""

    values: tuple[str, ...]
    probabilities: np.ndarray

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Indices into `values`."""
        return rng.choice(len(self.values), size=size, p=self.probabilities)

    @classmethod
    def of(cls, values: list[str], weights: list[float]) -> "WeightedChoice":
        array = np.asarray(weights, dtype=np.float64)
        return cls(tuple(values), array / array.sum())


@cache
def province_weights() -> WeightedChoice:
    rows = _rows("province_weights.csv")
    return WeightedChoice.of([r["province_code"] for r in rows], [float(r["doses_reported"]) for r in rows])


@cache
def surnames() -> WeightedChoice:
    rows = _rows("surnames.csv")
    return WeightedChoice.of([r["surname"] for r in rows], [float(r["percent"]) for r in rows])


@cache
def middle_names(sex: str, cohort: str) -> WeightedChoice:
    rows = [r for r in _rows("middle_names.csv") if r["sex"] == sex and r["cohort"] == cohort]
    return WeightedChoice.of([r["middle"] for r in rows], [float(r["weight"]) for r in rows])


@cache
def given_names(sex: str) -> WeightedChoice:
    rows = [r for r in _rows("given_names.csv") if r["sex"] == sex]
    return WeightedChoice.of([r["given"] for r in rows], [float(r["weight"]) for r in rows])


@dataclass(frozen=True)
class ForeignNationality:
    code: str
    name_vi: str
    full_names: tuple[str, ...]


@cache
def foreign_nationalities() -> tuple[WeightedChoice, tuple[ForeignNationality, ...]]:
    rows = _rows("foreign_names.csv")
    nationalities = tuple(
        ForeignNationality(r["nationality"], r["nationality_vi"], tuple(r["full_name"].split("|"))) for r in rows
    )
    return WeightedChoice.of([r["nationality"] for r in rows], [float(r["weight"]) for r in rows]), nationalities
