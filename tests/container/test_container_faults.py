"""`serve` under faults: stalled connections, bad settings, a broken model. Raw sockets on loopback, bounded loops."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container.conftest import Trained
from tests.container.harness import LIMITS, Server, serve_to_exit, serving

TIMEOUT = 2  # SAGEMAKER_MODEL_SERVER_TIMEOUT of the stall test's server
IDLE = TIMEOUT + 15  # the idle keep-alive bound derived from it (server.py)
SLACK = 5  # the test's margin on every bound (scheduling on a loaded machine), never a speed target


@pytest.fixture(scope="module")
def stall_server(trained: dict[str, Trained], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One worker: a held connection cannot hide behind another worker.
    with serving(
        trained["binary"].root, tmp_path_factory.mktemp("stall"), workers=1, SAGEMAKER_MODEL_SERVER_TIMEOUT=str(TIMEOUT)
    ) as server:
        yield server


def _open(port: int, data: bytes = b"") -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=IDLE + 2 * SLACK)
    if data:
        connection.sendall(data)
    return connection


def _closed_after(connection: socket.socket, started: float) -> tuple[float, bytes]:
    """Read until the server closes; seconds from `started`, and what it sent."""
    received = b""
    for _ in range(1000):
        try:
            chunk = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        received += chunk
    connection.close()
    return time.monotonic() - started, received


def test_stalled_connections_are_closed_within_bounds_while_ping_answers(stall_server: Server) -> None:
    """GIVEN SAGEMAKER_MODEL_SERVER_TIMEOUT=2 and one worker WHEN connections stall (nothing sent, headers never
    finished or trickled, a body that never arrives, idle keep-alive) THEN /ping keeps answering, and each is
    closed: headers and body within the timeout (408), idle connections within timeout + 15 s."""
    port = stall_server.port
    started = time.monotonic()
    held = {
        "nothing sent": _open(port),
        "headers never finish": _open(port, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"),
        "body never arrives": _open(
            port, b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n1,2"
        ),
        "idle keep-alive": _open(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"),
        "headers trickled": _open(port, b"P"),
    }
    stop = threading.Event()

    def trickle() -> None:
        for byte in b"OST /invocations HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
            if stop.wait(0.2):
                return
            try:
                held["headers trickled"].send(bytes([byte]))
            except OSError:
                return

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        for _ in range(5):
            assert stall_server.request("GET", "/ping", connection=stall_server.connection(timeout=2)).status == 200
        results: dict[str, tuple[float, bytes]] = {}
        readers = [
            threading.Thread(target=lambda n=name, c=connection: results.__setitem__(n, _closed_after(c, started)))
            for name, connection in held.items()
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(IDLE + 3 * SLACK)
    finally:
        stop.set()
        trickler.join(10)
    for name in ("headers never finish", "headers trickled", "body never arrives"):
        seconds, answer = results[name]
        assert seconds < TIMEOUT + SLACK, (name, seconds)
        assert answer.startswith(b"HTTP/1.1 408"), (name, answer[:100])
    for name in ("nothing sent", "idle keep-alive"):
        seconds, _ = results[name]
        assert IDLE - 1 < seconds < IDLE + SLACK, (name, seconds)
    assert stall_server.request("GET", "/ping").status == 200
    closed = [line for line in stall_server.log_lines() if line["event"] == "connection_closed"]
    assert sum(line.get("status") == 408 for line in closed) >= 2  # the two stalled header phases


# Each serving variable: what it allows, and values outside it.
OUT_OF_RANGE = {
    "SAGEMAKER_BIND_TO_PORT": ("from 1 to 65535", ["8080.9", "inf", "0", "65536"]),
    "SAGEMAKER_MODEL_SERVER_WORKERS": ("from 1 to 1024", ["-1", "2.5"]),
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": (f"from 1 to {LIMITS['max_server_timeout_seconds']}", ["inf", "nan", "1e3"]),
    "SAGEMAKER_MAX_PAYLOAD_IN_MB": (
        f"from 1 to {LIMITS['max_payload_mb']}",
        [str(LIMITS["max_payload_mb"] + 1), "9" * 5000],
    ),
    "SERVER_ACCEPT_DEFER_MILLISECONDS": ("from 0 to 1000", ["1001", "0.5"]),
}
BAD_SETTINGS = [(variable, value, allowed) for variable, (allowed, values) in OUT_OF_RANGE.items() for value in values]


@pytest.mark.parametrize(
    ("variable", "value", "allowed"), BAD_SETTINGS, ids=[f"{v}={x[:8]}" for v, x, _ in BAD_SETTINGS]
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    tmp_path: Path, variable: str, value: str, allowed: str
) -> None:
    """GIVEN a serving variable outside what it allows THEN one log line naming it and its range, exit 2."""
    env = {"SAGEMAKER_BIND_TO_PORT": "8080", variable: value}
    result = serve_to_exit(tmp_path, env)
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 2
    assert len(output) == 1, output
    assert f"{variable} must be a whole number {allowed}" in output[0]
    assert "Traceback" not in result.stderr


def _broken_model(trained: Trained, tmp_path: Path, damage: str) -> Path:
    root = tmp_path / "opt-ml"
    shutil.copytree(trained.root / "model", root / "model")
    model = root / "model" / "model.txt"
    text = model.read_bytes()
    model.write_bytes(text[: len(text) // 2] if damage == "truncated" else b"\x00garbage" * 100)
    return root


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_broken_model_fails_fast_naming_the_model_file(
    trained: dict[str, Trained], tmp_path: Path, damage: str
) -> None:
    """GIVEN a truncated or garbage model.txt WHEN serve starts THEN it exits 1 within seconds, before any worker
    starts, with the reason and the model file in the log (not an endless restart of workers)."""
    root = _broken_model(trained["binary"], tmp_path, damage)
    result = serve_to_exit(root)
    assert result.returncode == 1
    assert "model_check_failed" in result.stdout
    assert str(root / "model" / "model.txt") in result.stdout
    assert "Booting worker" not in result.stdout + result.stderr


def test_a_model_file_altered_after_training_is_refused(trained: dict[str, Trained], tmp_path: Path) -> None:
    """GIVEN model.txt with one digit of a leaf value changed (LightGBM still parses it) WHEN serve starts
    THEN it exits 1 naming the file and both digests: metadata.json's sha256 is checked, not served blindly."""
    root = tmp_path / "opt-ml"
    shutil.copytree(trained["binary"].root / "model", root / "model")
    model = root / "model" / "model.txt"
    text = model.read_bytes()
    at = text.index(b"leaf_value=") + len(b"leaf_value=") + 1
    model.write_bytes(text[:at] + (b"7" if text[at : at + 1] != b"7" else b"8") + text[at + 1 :])
    result = serve_to_exit(root)
    assert result.returncode == 1, result.stdout
    assert "model_check_failed" in result.stdout
    assert f"{model} is not the file training wrote" in result.stdout
    assert "Booting worker" not in result.stdout + result.stderr
