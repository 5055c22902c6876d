"""Train the model shipped in the package (`tiemchung/register/linkage/default_model.json`) on a synthetic country.

    .venv/bin/python benchmarks/train_default_model.py [--people 50000] [--seed 2026]

Small batches (under `model.MIN_SUBJECTS_TO_TRAIN` subjects) and runs without a workdir use this model; a large
batch trains its own. Run it again whenever `model.build_settings` changes (a level added or removed), then run
tests/linkage (the online scorer must twin every level).
"""

import argparse
import json
import tempfile
from pathlib import Path

from tiemchung.register.linkage.engine import MODEL_FILE, RegisterIndex
from tiemchung.synth import generate

TARGET = Path(__file__).resolve().parents[1] / "src" / "tiemchung" / "register" / "linkage" / "default_model.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="default_model_") as scratch:
        folder = Path(scratch)
        generate(folder / "country", people=args.people, seed=args.seed, progress=False, xlsx_max_rows=0)
        index = RegisterIndex.open(folder / "country" / "register.parquet", workdir=folder / "work", threads=2)
        index.verify_batch(folder / "country" / "records.parquet", folder / "results.parquet")
        index.close()
        model = json.loads((folder / "work" / MODEL_FILE).read_text("utf-8"))
    TARGET.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
