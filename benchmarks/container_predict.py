"""Predict throughput of a trained model in one process, one thread: the floor the server is compared with.

usage: python benchmarks/container_predict.py MODEL_DIR PAYLOAD_CSV SECONDS lightgbm|compiled|floor
- lightgbm, compiled: the bare predict (input already parsed, nothing formatted) with LightGBM's own predictor
  or the compiled trees the server switches to;
- floor: what a server worker does with a request minus HTTP: the raw CSV body bytes parsed by the server's
  parser (`codecs.decode`), predicted by the compiled trees, formatted by its formatter (`codecs.encode`).
Prints {"rows_per_s": ..., "calls": ...} as JSON. container_bench.py runs one per core at once and sums them.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "container"))

from lightgbm_gbdt.algorithm import ALGORITHM
from sagemaker_contract import codecs

CSV = "text/csv"


def main(model_dir: Path, payload: Path, seconds: float, mode: str) -> dict[str, float]:
    body = payload.read_bytes()
    model = ALGORITHM.load(model_dir)
    if mode in {"compiled", "floor"}:
        with tempfile.TemporaryDirectory() as cache:
            model.accelerate(Path(cache))
            for _ in range(600):  # the compilation runs in a background thread
                if model._compiled is not None:
                    break
                time.sleep(0.1)
            else:
                raise SystemExit("compiled trees not ready after 60 s")
    features = codecs.decode(body, codecs.input_type(CSV), model.num_features)
    rows = len(features)
    if mode == "floor":
        kind = codecs.input_type(CSV)

        def call() -> object:
            return codecs.encode(model.predict(codecs.decode(body, kind, model.num_features)), CSV)
    else:

        def call() -> object:
            return model.predict(features)

    return _loop(call, rows, seconds)


def _loop(call: Callable[[], object], rows: int, seconds: float) -> dict[str, float]:
    call()
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        calls += 1
    elapsed = time.perf_counter() - started
    return {"rows_per_s": round(calls * rows / elapsed, 1), "calls": calls}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4])))
