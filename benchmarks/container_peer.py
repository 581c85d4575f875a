"""A peer in the benchmark: Seldon MLServer 1.7.1 with its LightGBM runtime, against ours, on the same booster.

Users who serve LightGBM outside SageMaker's images pick servers such as MLServer. Both serve one binary booster
(20 features, 100 rounds, trained by our `train` on generated rows) with 2 workers: ours CSV on /invocations,
MLServer its native V2 JSON protocol (`POST /v2/models/<name>/infer`, FP64 tensor), with `parallel_workers` 2.
Cells (wrk, one after the other, same bodies' rows): 1 row c=8, 100 rows c=8, 10 000 rows c=2; the ratio is ours
over MLServer's requests/s. MLServer lives in its own virtual environment, as the AWS reference does
(`PEER_VENV`, made on first use with pip), so nothing of it reaches the project's environments.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import wrk_load

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "container" / "entrypoint.py"
PEER_VENV = Path(tempfile.gettempdir()) / "mlserver-bench" / "venv"
# uvloop 0.22 and later raise from asyncio.get_event_loop() in a thread without a loop, which MLServer 1.7.1's
# inference pool workers call at start-up (every worker dies; seen here with uvloop 0.23.0): the last release before.
PEER_PACKAGES = ("mlserver==1.7.1", "mlserver-lightgbm==1.7.1", "uvloop==0.21.0")
MODEL_NAME = "gbdt"
FEATURES, ROUNDS, TRAIN_ROWS, SEED = 20, 100, 20_000, 11
CELLS = ((1, 8), (100, 8), (10_000, 2))  # (rows per request, connections)
WORKERS = 2


def _say(message: str) -> None:
    print(f"[container_peer] {message}", file=sys.stderr, flush=True)


def ensure_peer() -> Path:
    """MLServer's own virtual environment (PEER_VENV), made once per PEER_PACKAGES: its `mlserver` command."""
    command, installed = PEER_VENV / "bin" / "mlserver", PEER_VENV / "bench-packages.txt"
    wanted = "\n".join(PEER_PACKAGES) + "\n"
    if not command.exists() or not installed.exists() or installed.read_text() != wanted:
        _say(f"installing {' '.join(PEER_PACKAGES)} into {PEER_VENV}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)
        installed.write_text(wanted)
    return command


def train_booster(work: Path) -> Path:
    """The booster both servers load: binary, 20 features, 100 rounds, trained by our `train`; its /opt/ml tree."""
    rng = np.random.default_rng(SEED)
    features = rng.normal(size=(TRAIN_ROWS, FEATURES))
    labels = (features[:, 0] + features[:, 1] * features[:, 2] + rng.normal(size=TRAIN_ROWS) > 0).astype(int)
    tree = work / "peer-model"
    (tree / "input" / "data" / "train").mkdir(parents=True)
    (tree / "input" / "config").mkdir(parents=True)
    rows = "".join(
        f"{label}," + ",".join(f"{v:.6f}" for v in row) + "\n" for label, row in zip(labels, features, strict=True)
    )
    (tree / "input" / "data" / "train" / "train.csv").write_text(rows)
    hyperparameters = {"objective": "binary", "num_boost_round": str(ROUNDS)}
    (tree / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    env = {**os.environ, "OPT_ML_DIR": str(tree)}
    subprocess.run([sys.executable, str(ENTRYPOINT), "train"], env=env, check=True, stdout=subprocess.DEVNULL)
    return tree


def _bodies(rows: int) -> tuple[bytes, bytes]:
    """The same rows as our CSV and as MLServer's V2 JSON request."""
    values = np.random.default_rng(SEED + rows).uniform(0, 8, size=(rows, FEATURES)).round(6)
    csv = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in values).encode()
    tensor = {"name": "predict", "shape": [rows, FEATURES], "datatype": "FP64", "data": values.ravel().tolist()}
    return csv, json.dumps({"inputs": [tensor]}).encode()


def _peer_folder(tree: Path, scratch: Path, port: int) -> Path:
    folder = scratch / "mlserver"
    folder.mkdir()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": wrk_load.free_port(),
        "metrics_port": wrk_load.free_port(),
        "parallel_workers": WORKERS,
        "metrics_dir": str(folder / "metrics"),  # else `.metrics` in the working directory
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {
        "name": MODEL_NAME,
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": str(tree / "model" / "model.txt")},
    }
    (folder / "model-settings.json").write_text(json.dumps(model))
    return folder


def _compiled(log: Path) -> bool:
    """Our workers switched to compiled trees (or said why not): what `serve` logs, one line per worker."""
    text = log.read_text(errors="replace")
    return text.count("compiled inference ready") >= WORKERS or "unavailable" in text or "disagree" in text


def _measure(
    command: list[str], env: dict[str, str], port: int, *, ready: str, url: str, kind: str, seconds: float
) -> dict[str, Any]:
    """Start a server, run each cell against it, stop it with SIGTERM; requests/s per cell."""
    with tempfile.NamedTemporaryFile(prefix="peer-server-", suffix=".log") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wrk_load.wait_ready(port, ready, 180)
            deadline = time.monotonic() + 120
            while kind == "csv" and not _compiled(Path(log.name)) and time.monotonic() < deadline:
                time.sleep(0.2)
            return _cells(url, kind, seconds, command[0])
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _cells(url: str, kind: str, seconds: float, name: str) -> dict[str, Any]:
    cells = {}
    for rows, connections in CELLS:
        csv, v2 = _bodies(rows)
        body, content_type = (csv, "text/csv") if kind == "csv" else (v2, "application/json")
        (measured,) = wrk_load.run([wrk_load.Load(url, body, content_type, connections)], seconds)
        if measured.errors:
            raise SystemExit(f"{name}: {measured.errors} failed requests at {rows} rows c={connections}")
        cells[f"rows={rows} c={connections}"] = {
            "rps": round(measured.rps, 1),
            "loadgen_cpu_pct_one_core": round(100 * measured.loadgen_cpu_s / measured.seconds, 1),
        }
    return cells


def run(work: Path, seconds: float = 5.0) -> dict[str, Any]:
    mlserver = ensure_peer()
    tree = train_booster(work)
    with tempfile.TemporaryDirectory(prefix="peer-") as scratch:
        port = wrk_load.free_port()
        ours_env = {**os.environ, "OPT_ML_DIR": str(tree), "SAGEMAKER_BIND_TO_PORT": str(port)}
        ours_env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(WORKERS)
        _say("ours: CSV on /invocations")
        ours = _measure(
            [sys.executable, str(ENTRYPOINT), "serve"], ours_env, port, ready="/ping",
            url=f"http://127.0.0.1:{port}/invocations", kind="csv", seconds=seconds,
        )  # fmt: skip
        port = wrk_load.free_port()
        folder = _peer_folder(tree, Path(scratch), port)
        _say("MLServer 1.7.1: V2 JSON")
        peer = _measure(
            [str(mlserver), "start", str(folder)], dict(os.environ), port, ready=f"/v2/models/{MODEL_NAME}/ready",
            url=f"http://127.0.0.1:{port}/v2/models/{MODEL_NAME}/infer", kind="v2", seconds=seconds,
        )  # fmt: skip
    ratios = {name: round(ours[name]["rps"] / peer[name]["rps"], 2) for name in ours}
    return {
        "booster": f"binary, {FEATURES} features, {ROUNDS} rounds ({TRAIN_ROWS} generated rows)",
        "workers": WORKERS,
        "peer": " + ".join(PEER_PACKAGES),
        "ours": ours,
        "mlserver": peer,
        "ratios_ours_over_mlserver": ratios,
        "targets_met": {"every cell >= 2x MLServer": all(ratio >= 2.0 for ratio in ratios.values())},
        "notes": "wrk, one thread per connection, keep-alive; ours CSV on /invocations, MLServer V2 JSON "
        "(FP64 tensor) on /v2/models/<name>/infer; same rows per cell; one server at a time",
    }
