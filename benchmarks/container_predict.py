"""Bare predict throughput of a trained model: no HTTP, no parsing, no encoding; one process, one thread.

usage: python benchmarks/container_predict.py MODEL_DIR PAYLOAD_CSV SECONDS lightgbm|compiled
Prints {"rows_per_s": ..., "calls": ...} as JSON. container_bench.py runs one per worker at once.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "container"))

from lightgbm_gbdt.algorithm import ALGORITHM


def main(model_dir: Path, payload: Path, seconds: float, mode: str) -> dict[str, float]:
    features = np.loadtxt(payload, delimiter=",", ndmin=2)
    model = ALGORITHM.load(model_dir)
    if mode == "compiled":
        with tempfile.TemporaryDirectory() as cache:
            model.accelerate(Path(cache))
            for _ in range(600):  # the compilation runs in a background thread
                if model._compiled is not None:
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("compiled trees not ready after 60 s")
    model.predict(features)
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.predict(features)
        calls += 1
    elapsed = time.perf_counter() - started
    return {"rows_per_s": round(calls * len(features) / elapsed, 1), "calls": calls}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4])))
