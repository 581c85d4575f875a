"""Run the container's `train` on a CSV folder, for train_bench.py: `{data} {model}` plus hyperparameters.

usage: python benchmarks/container_train.py DATA_DIR MODEL_DIR objective=binary [name=value ...]
Builds an /opt/ml tree whose train channel and model folder link to DATA_DIR and MODEL_DIR, then
becomes the entry point (exec), so the measured process tree is exactly the container's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ENTRYPOINT = Path(__file__).resolve().parent.parent / "container" / "entrypoint.py"
RUNS = Path(tempfile.gettempdir()) / "container-bench" / "train-runs"


def main(data: Path, model: Path, settings: list[str]) -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=RUNS))
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "data").mkdir()
    (root / "input" / "data" / "train").symlink_to(data.resolve())
    (root / "model").symlink_to(model.resolve())
    hyperparameters = dict(setting.split("=", 1) for setting in settings)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    os.environ["OPT_ML_DIR"] = str(root)
    os.execv(sys.executable, [sys.executable, str(ENTRYPOINT), "train"])  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
