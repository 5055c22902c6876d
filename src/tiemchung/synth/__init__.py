"""The synthetic country: population register, vaccination records, aggregate reports and their ground truth.

`generate`, `SCALES` and `Manifest` live in `tiemchung.synth.country`; they are re-exported lazily so that
importing the package (the CLI does) does not load numpy and pyarrow.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiemchung.synth.country import SCALES, Manifest, generate

__all__ = ["SCALES", "Manifest", "generate"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tiemchung.synth.country"), name)
    raise AttributeError(name)
