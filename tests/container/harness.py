"""Drives the real entry point (`python container/entrypoint.py train|serve`) against temporary /opt/ml trees."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import mannwhitneyu  # type: ignore[import-untyped]

from local_sagemaker import image_imports
from local_sagemaker.container import SHARED_MACHINE_ENV, free_port

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = ROOT / "container"
ENTRYPOINT = CONTAINER / "entrypoint.py"
Array = NDArray[np.float64]


def entrypoint(command: str) -> list[str]:
    """`python container/entrypoint.py <command>` with only what the image installs importable, as the local
    SageMaker runs it (local_sagemaker/image_imports.py)."""
    return image_imports.command(ENTRYPOINT, [command])


_INTERFACE = json.loads((CONTAINER / "interface.json").read_text())
_VARIABLES = _INTERFACE["environment"]
# What serving accepts at most (the container's exports), e.g. LIMITS["max_payload_mb"].
LIMITS: dict[str, int] = _INTERFACE["limits"]
# Tests that look for each request's own line: every line written (the defaults write a few per interval).
LOG_EVERY_REQUEST = {_VARIABLES["request_log_successes"]: "1000000", _VARIABLES["request_log_errors"]: "1000000"}
LOG_INTERVAL_VARIABLE = _VARIABLES["request_log_interval_seconds"]
# The metrics on, as an endpoint's Model sets them (the values the tests read back).
METRICS_ON = {
    _VARIABLES["metrics_namespace"]: "sagemaker-gbdt",
    _VARIABLES["metrics_endpoint_name"]: "gbdt-prod",
    _VARIABLES["metrics_model_version"]: "model-7",
}


def write_tree(
    root: Path,
    hyperparameters: dict[str, str],
    channels: dict[str, dict[str, bytes]],
    *,
    input_data_config: dict[str, Any] | None = None,
    resource_config: dict[str, Any] | None = None,
) -> Path:
    """An /opt/ml tree: config files, and `channels[name][file] = contents`."""
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    if input_data_config is None:
        input_data_config = {name: {"ContentType": "text/csv", "TrainingInputMode": "File"} for name in channels}
    (config / "inputdataconfig.json").write_text(json.dumps(input_data_config))
    resources = resource_config or {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
    (config / "resourceconfig.json").write_text(json.dumps(resources))
    for name, files in channels.items():
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, contents in files.items():
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_bytes(contents)
    return root


def csv_bytes(labels: Array | None, features: Array) -> bytes:
    data = features if labels is None else np.column_stack([labels, features])
    return "".join(",".join(f"{v:.6g}" for v in row) + "\n" for row in data).encode()


def request_body(kind: str, features: Array) -> bytes:
    """`features` as a request body of content type `kind` (JSON Lines mixes both line shapes)."""
    if kind == "text/csv":
        return csv_bytes(None, features)
    if kind == "application/json":
        return json.dumps({"instances": features.tolist()}).encode()
    if kind == "application/jsonlines":
        lines = [json.dumps(row) if i % 2 else json.dumps({"features": row}) for i, row in enumerate(features.tolist())]
        return ("\n".join(lines) + "\n").encode()
    buffer = io.BytesIO()
    np.save(buffer, features)
    return buffer.getvalue()


def parse_predictions(accept: str, body: bytes) -> Array:
    """A response body of type `accept` back to an array: (rows,) or (rows, classes)."""
    if accept == "application/x-npy":
        array: Array = np.load(io.BytesIO(body), allow_pickle=False)
        return array
    if accept == "text/csv":
        lines = body.decode().splitlines()
        return np.array([[float(v) for v in line.split(",")] for line in lines]).squeeze(
            axis=1 if "," not in lines[0] else ()
        )
    if accept == "application/json":
        return np.array(json.loads(body)["predictions"])
    return np.array([json.loads(line)["prediction"] for line in body.decode().splitlines()])


def make_data(objective: str, rows: int, features: int = 5, seed: int = 0) -> tuple[Array, Array]:
    """Labels and features with a learnable signal for `objective` (multiclass: 3 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    signal_ = x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] ** 2
    if objective == "regression":
        return signal_ + rng.normal(scale=0.1, size=rows), x
    if objective == "binary":
        return (signal_ > 0).astype(np.float64), x
    return np.digitize(signal_, [-0.5, 0.5]).astype(np.float64), x


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for binary `labels`: the Mann-Whitney U of the positives' scores
    over the negatives', divided by the pairs (ties count a half, as in scikit-learn's roc_auc_score)."""
    positives = labels == 1
    u = mannwhitneyu(scores[positives], scores[~positives]).statistic
    return float(u / (positives.sum() * (~positives).sum()))


def run_train(root: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        entrypoint("train"),
        env={**os.environ, "OPT_ML_DIR": str(root), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def serve_to_exit(
    opt_ml: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `serve` on a free port until it exits (a bad setting or model); output decoded leniently (a native
    library may print any bytes)."""
    result = subprocess.run(
        entrypoint("serve"),
        env={**os.environ, "OPT_ML_DIR": str(opt_ml), "SAGEMAKER_BIND_TO_PORT": str(free_port()), **(env or {})},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    )


def train_on_split(
    directory: Path, hyperparameters: dict[str, str], labels: Array, features: Array, train_rows: int
) -> Path:
    """A job trained by the real entry point on the first `train_rows` rows, validated on the rest: its tree."""
    root = write_tree(
        directory,
        hyperparameters,
        {
            "train": {"part-0.csv": csv_bytes(labels[:train_rows], features[:train_rows])},
            "validation": {"part-0.csv": csv_bytes(labels[train_rows:], features[train_rows:])},
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root


def failure_of(root: Path) -> str:
    return (root / "output" / "failure").read_text().strip()


class Hosts:
    """Training processes started as the hosts of one job on 127.0.0.1 (SM_HOST_ADDRESSES); leaving the `with`
    block kills any still running, whatever the test's outcome."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, root: Path, addresses: dict[str, str], **env: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            entrypoint("train"),
            # Every host shares this machine's cores, as in the local SageMaker: OpenMP threads spinning while
            # they wait for the other hosts would take the cores those hosts need to catch up.
            env={
                **SHARED_MACHINE_ENV,
                **os.environ,
                **env,
                "OPT_ML_DIR": str(root),
                "SM_HOST_ADDRESSES": json.dumps(addresses),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *_: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def host_addresses(names: list[str]) -> dict[str, str]:
    """A free port on 127.0.0.1 per host: SM_HOST_ADDRESSES of a job whose hosts all run here."""
    return {name: f"127.0.0.1:{free_port()}" for name in names}


def resource_config(current: str, names: list[str]) -> dict[str, object]:
    """resourceconfig.json of host `current` in a job of hosts `names`."""
    return {"current_host": current, "hosts": names, "network_interface_name": "eth0"}


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Server:
    """A running `serve` process; `request` opens one connection per call unless given one."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    _connections: list[http.client.HTTPConnection] = field(default_factory=list)

    def connection(self, timeout: float = 60) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self._connections.append(connection)
        return connection

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> Response:
        connection = connection or self.connection()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.read(), {k.lower(): v for k, v in response.getheaders()})

    def invoke(self, body: bytes, content_type: str = "text/csv", accept: str | None = None) -> Response:
        headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
        return self.request("POST", "/invocations", body, headers)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def logged_requests(self, request_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The `request` log lines of these ids; a line is written just after its response, so wait a little."""
        lines: dict[str, dict[str, Any]] = {}
        for _ in range(100):
            lines = {line["request_id"]: line for line in self.log_lines() if line["event"] == "request"}
            if all(request_id in lines for request_id in request_ids):
                break
            time.sleep(0.05)
        return lines

    def summaries(self, since: int = 0) -> list[dict[str, Any]]:
        """The workers' per-interval `summary` lines (also the EMF records), from the `since`-th line of the log on."""
        return [line for line in self.log_lines()[since:] if line["event"] == "summary"]

    def counted(self, invocations: int, since: int = 0, seconds: float = 30) -> list[dict[str, Any]]:
        """The summaries after line `since` once their Requests add up to `invocations` (they are written at the end
        of each interval); the test fails on the sums it compares if they never do."""
        deadline = time.monotonic() + seconds
        while True:
            records = self.summaries(since)
            if sum(record.get("Requests", 0) for record in records) >= invocations or time.monotonic() > deadline:
                return records
            time.sleep(0.05)

    def stop(self) -> None:
        for connection in self._connections:
            connection.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_server(opt_ml: Path, log_path: Path, **env: str) -> Server:
    """Start `serve` and wait for the first 200 on /ping (or the process to exit); every request line is written
    unless `env` sets the request log's variables (an empty value means the container's default)."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            entrypoint("serve"),
            env={
                **os.environ,
                "OPT_ML_DIR": str(opt_ml),
                "SAGEMAKER_BIND_TO_PORT": str(port),
                **LOG_EVERY_REQUEST,
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # teardown can kill the whole tree by process group
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if (
                server.request(
                    "GET", "/ping", connection=http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                ).status
                == 200
            ):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server did not become healthy; log:\n{log_path.read_text()}")


@contextmanager
def serving(opt_ml: Path, directory: Path, *, workers: int, **env: str) -> Iterator[Server]:
    """A server of the model in `opt_ml` with `workers` workers and `env`, logging to `directory`/serve.log, stopped
    on leaving. Serving stays on LightGBM's own predictor: compiling the trees takes a worker's CPU for seconds, and
    what these servers test does not depend on which predictor answers (test_container_serving tests both)."""
    server = start_server(
        opt_ml,
        directory / "serve.log",
        SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
        GBDT_COMPILE_TREES="off",
        **env,
    )
    try:
        yield server
    finally:
        server.stop()


def start_long_training(root: Path, **env: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start a training that runs for minutes; return once it has reported its first round."""
    process = subprocess.Popen(
        entrypoint("train"),
        env={"OPT_ML_DIR": str(root), "PATH": "/usr/bin:/bin", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("#metrics "):
            # Keep reading, so that a full pipe never blocks the training process.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, seen
    raise AssertionError(f"training ended early: {''.join(seen)} {process.stderr.read() if process.stderr else ''}")
