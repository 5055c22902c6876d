"""The figures of the two seed documents, packaged with the platform (`seed_figures.json`).

Checking the seeds needs no copy of their text: the figures were read from the documents by `seedtext`'s parsers
and are kept as typed, errors included (finding those errors is the point of `report check-seeds`). Each seed
carries the citation of its document. `read_seeds(folder)` reads the documents' own text instead, when an operator
has it (`report check-seeds --seeds DIR`).
"""

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from tiemchung.health.reconciliation.seedtext import (
    SeedAppendix1,
    SeedAppendix1Row,
    SeedCount,
    SeedLetterFigures,
    SeedProvinceRow,
    SeedVerificationReport,
    find_seed,
    parse_appendix1,
    parse_verification_report,
)

FIGURES_FILE = "seed_figures.json"


@dataclass(frozen=True)
class Seeds:
    """Seed 000 (the verification report of 25/4/2022) and seed 001 (appendix 1 of the ministry's letter)."""

    verification_report: SeedVerificationReport
    appendix1: SeedAppendix1
    source: str  # where the figures come from, for the command's output


class SeedTextMissing(Exception):
    """The folder given does not hold the seed documents' text (`000_*.txt`, `001_*.txt`)."""


@cache
def _figures() -> dict[str, Any]:
    text = files("tiemchung.health.reconciliation").joinpath(FIGURES_FILE).read_text(encoding="utf-8")
    figures: dict[str, Any] = json.loads(text)
    return figures


def seed_documents() -> tuple[str, str]:
    """The citations of seed 000's and seed 001's documents."""
    figures = _figures()
    return figures["seed_000"]["document"], figures["seed_001"]["document"]


def packaged_seeds() -> Seeds:
    figures = _figures()
    return Seeds(_verification_report(figures["seed_000"]), _appendix1(figures["seed_001"]), FIGURES_FILE)


def read_seeds(folder: Path | None = None) -> Seeds:
    """The packaged figures, or with `folder` the figures read from the documents' text in it."""
    if folder is None:
        return packaged_seeds()
    texts = {}
    for number in ("000", "001"):
        path = find_seed(folder, number)
        if path is None:
            raise SeedTextMissing(f"Không tìm thấy văn bản seed {number} ({number}_*.txt) trong {folder}.")
        texts[number] = path.read_text(encoding="utf-8")
    return Seeds(parse_verification_report(texts["000"]), parse_appendix1(texts["001"]), str(folder))


def _verification_report(seed: dict[str, Any]) -> SeedVerificationReport:
    lines = {name: SeedCount(subjects, doses) for name, (subjects, doses) in seed["lines"].items()}
    provinces = [SeedProvinceRow(name, no_id, wrong) for name, no_id, wrong in seed["provinces"]]
    return SeedVerificationReport(**lines, provinces=provinces)


def _appendix1(seed: dict[str, Any]) -> SeedAppendix1:
    rows = [
        SeedAppendix1Row(tt, name, tuple(cells), stated_total, bold)
        for tt, name, cells, stated_total, bold in seed["appendix1"]
    ]
    return SeedAppendix1(rows=rows, letter=SeedLetterFigures(**seed["letter"]), as_of=date.fromisoformat(seed["as_of"]))
