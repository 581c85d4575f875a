"""How the local SageMaker starts the real container program: `python container/entrypoint.py train|serve|...`.

SageMaker runs the image's entry point with `train` or `serve` (a processing job: its ContainerArguments);
here the same program runs from the checkout with OPT_ML_DIR pointing at a per-job tree
(shared/CONTRACT.md, "Running it here").
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from local_sagemaker import image_imports

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "container" / "entrypoint.py"
# `docker stop -t 120` for training; hosting sends SIGKILL 30 s after SIGTERM.
TRAINING_STOP_SECONDS = 120.0
SERVING_STOP_SECONDS = 30.0
# SageMaker gives each host an instance of its own, where OpenMP's default (spin briefly, then sleep) is
# fastest. Here every host and job shares this machine's cores, and threads spinning while they wait take
# them from the others: measured on 2 cores with one other busy process, 200 000-row training took 1.5x as
# long as with passive waits. The job's Environment, or this shell's, may still set it.
SHARED_MACHINE_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(
    command: str | Sequence[str], opt_ml: Path, env: Mapping[str, str], on_line: Callable[[str], None]
) -> tuple[subprocess.Popen[str], threading.Thread]:
    """Start `entrypoint.py <command>` (or the image's arguments) on the tree `opt_ml`; lines go to `on_line`."""
    arguments = [command] if isinstance(command, str) else list(command)
    process = subprocess.Popen(  # noqa: S603 - our own program, arguments as the image's entry point gets them
        image_imports.command(ENTRYPOINT, arguments),
        env={**SHARED_MACHINE_ENV, **os.environ, **env, "OPT_ML_DIR": str(opt_ml)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # a stop reaches the whole process group, as `docker stop` does
    )
    reader = threading.Thread(target=_pump, args=(process.stdout, on_line), daemon=True)
    reader.start()
    return process, reader


def _pump(stream: IO[str] | None, on_line: Callable[[str], None]) -> None:
    if stream is None:
        return
    for line in stream:
        on_line(line.rstrip("\n"))


def stop(process: subprocess.Popen[str], grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL after `grace_seconds`, as Docker stops a container."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str


@dataclass
class ServingContainer:
    """A running `serve`: the model server of an endpoint or a transform job, on a port of 127.0.0.1."""

    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @classmethod
    def launch(
        cls, opt_ml: Path, env: Mapping[str, str], on_line: Callable[[str], None], startup_seconds: float
    ) -> ServingContainer:
        port = free_port()
        served: list[str] = []

        def record(line: str) -> None:
            served.append(line)
            on_line(line)

        process, _ = start("serve", opt_ml, {**env, "SAGEMAKER_BIND_TO_PORT": str(port)}, record)
        container = cls(process, port, served)
        container.wait_healthy(startup_seconds)
        return container

    def wait_healthy(self, seconds: float) -> None:
        """/ping answers 200 (SageMaker's health check), or RuntimeError with the container's log."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if self.request("GET", "/ping", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        stop(self.process, SERVING_STOP_SECONDS)
        log = "\n".join(self.lines[-20:])
        raise RuntimeError(f"the container did not pass the /ping health check within {seconds:g} s; its log:\n{log}")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Response:  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            answer = connection.getresponse()
            return Response(answer.status, answer.read(), answer.getheader("Content-Type") or "")
        finally:
            connection.close()

    def execution_parameters(self) -> dict[str, object]:
        """GET /execution-parameters (batch transform asks before sending data); {} when not offered."""
        answer = self.request("GET", "/execution-parameters", timeout=5)
        if answer.status != 200:
            return {}
        loaded = json.loads(answer.body)
        return loaded if isinstance(loaded, dict) else {}

    def stop(self) -> None:
        stop(self.process, SERVING_STOP_SECONDS)
