"""Log bytes per request: the container's serving log under a saturated 1-row load, and beside a malformed flood.

Each cell starts `entrypoint.py serve` with the request log's defaults and the metrics on (as an endpoint runs),
loads it with wrk, stops it with SIGTERM (the workers write their last summaries then) and divides the bytes
the log grew by, from the first request to the exit, by the requests answered. container_bench.py records
the `logs` section of results.json from it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import wrk_load

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "container" / "entrypoint.py"
MALFORMED = b"1,2,x,4\n"
METRICS = {"METRICS_NAMESPACE": "bench", "METRICS_ENDPOINT_NAME": "bench", "METRICS_MODEL_VERSION": "bench"}


def _cell(opt_ml: Path, row: bytes, flood: bool, seconds: float, workers: int) -> dict[str, Any]:
    port = wrk_load.free_port()
    url = f"http://127.0.0.1:{port}/invocations"
    with tempfile.TemporaryDirectory(prefix="log-cost-") as scratch:
        log_path = Path(scratch) / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, str(ENTRYPOINT), "serve"],
                env={**os.environ, "OPT_ML_DIR": str(opt_ml), "SAGEMAKER_BIND_TO_PORT": str(port), **METRICS},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wrk_load.wait_ready(port, "/ping")
            started_at = log_path.stat().st_size
            loads = [wrk_load.Load(url, row, "text/csv", 4 if flood else 8)]
            if flood:
                loads.append(wrk_load.Load(url, MALFORMED, "text/csv", 4))
            measured = wrk_load.run(loads, seconds)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        written = log_path.stat().st_size - started_at
    requests = sum(m.requests for m in measured)
    return {
        "workers": workers,
        "seconds": seconds,
        "requests": requests,
        "rps_1row": round(measured[0].rps, 1),
        "rps_malformed": round(measured[1].rps, 1) if flood else 0.0,
        "non_2xx_1row": measured[0].errors,
        "log_bytes": written,
        "log_bytes_per_request": round(written / max(requests, 1), 4),
        "log_bytes_per_s": round(written / seconds, 1),
    }


def run(opt_ml: Path, row: bytes, workers: int, seconds: float = 10.0) -> dict[str, Any]:
    """Both cells on the model under `opt_ml` (`row` is one CSV row it accepts)."""
    cells = {
        "rows=1 c=8": _cell(opt_ml, row, False, seconds, workers),
        "rows=1 c=4 + malformed c=4": _cell(opt_ml, row, True, seconds, workers),
    }
    return {
        "cells": cells,
        "targets_met": {
            "<= 1 byte of log per request": all(c["log_bytes_per_request"] <= 1.0 for c in cells.values()),
        },
        "notes": "request log defaults (REQUEST_LOG_* unset), METRICS_NAMESPACE set; bytes from the first request "
        "to the server's exit (its last summaries and gunicorn's shutdown lines included), over the requests "
        "answered in the cell; one server start per cell",
    }
