"""`serve`: gunicorn manages worker processes; each runs uvicorn (uvloop + httptools) with the ASGI app.

Why this stack is in container/README.md (measured against the alternatives). gunicorn gives what
SageMaker hosting needs from a process manager: one forked worker per CPU sharing the imported libraries,
a worker killed and replaced when a request exceeds SAGEMAKER_MODEL_SERVER_TIMEOUT, and a SIGTERM that
stops accepting, lets in-flight requests finish and exits before SageMaker's SIGKILL 30 s later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from sagemaker_contract import balance, interface, logs, request_log
from sagemaker_contract.app import MIB, TIMED_OUT, InferenceApp, ServeOptions
from sagemaker_contract.balance import Acceptor, ConnectionBoard
from sagemaker_contract.paths import OptMl, available_cpus, available_memory_bytes
from sagemaker_contract.protocol import Algorithm
from sagemaker_contract.variables import SettingError, int_variable

# SageMaker sends SIGKILL 30 s after SIGTERM: workers get 20 s to finish requests, the master 25 s in all.
DRAIN_SECONDS = 20
GRACEFUL_SECONDS = 25
# Idle keep-alive connections close after min(timeout, 60) + 15 s: 75 s by default, longer than SageMaker's
# front end keeps an idle connection (60 s), so it closes them first and never sends on a closing socket.
IDLE_MARGIN_SECONDS = 15
MODEL_CHECK_SECONDS = 120  # loading and predicting one row in the checking process must finish within this
# Open connections per worker, shared by the master and the workers it forks (set by `run`).
BOARD = ConnectionBoard(0)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with the deadlines it lacks: a connection that stalls is closed.

    - a new connection that sends nothing is idle: closed after the keep-alive timeout, as after a response;
    - a request's headers must be complete within `request_seconds` of its first byte, and its body within
      `request_seconds` of its headers; else 408 and close (trickling bytes does not extend either). A request
      whose body was late is marked in its ASGI scope (`TIMED_OUT`), so the app logs it as a 408.
    One timer per phase and request (no per-read timeout in the app: it costs more than the request itself).
    """

    request_seconds: float = 60.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._deadline: Any = None
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        BOARD.closed()  # counted by balance.Acceptor when it accepted the connection
        self._cancel_deadline()
        super().connection_lost(exc)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.request_seconds, self._late, "headers")

    def on_headers_complete(self) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.request_seconds, self._late, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        super().on_message_complete()

    def _late(self, phase: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle if phase == "body" else None
        if phase == "headers" or (cycle is not None and not cycle.response_started):
            if cycle is not None:
                cycle.scope["state"][TIMED_OUT] = True
            message = f"the request {phase} did not arrive within {self.request_seconds:g} s\n".encode()
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(message)).encode() + b"\r\nconnection: close\r\n\r\n" + message
            )
        self.transport.close()
        if phase == "headers":  # a request with headers is logged by the app
            request_log.connection_closed(408, f"headers not complete in {self.request_seconds:g} s")


# Beyond the libraries' documented APIs (kept on purpose): DeadlineProtocol extends uvicorn's httptools protocol
# and reads its state, Worker overrides uvicorn-worker's private `_serve`, and _BalancedServer accepts through
# balance.Acceptor instead of the loop's server. No public setting spreads connections over the workers or sets
# these deadlines, and the spread is what batch transform's few keep-alive connections need: 0.37 -> 0.66 of the
# bare predict's throughput in benchmarks/README.md (container/README.md, "Connections spread over the workers").
# tests/container/test_serving_library_seams.py names what an installed uvicorn, uvicorn-worker or gunicorn drops.
class Worker(UvicornWorker):  # type: ignore[misc]  # no type hints upstream
    """uvicorn in a gunicorn worker: fast loop and parser, lifespan on (model load), no access log of its own."""

    CONFIG_KWARGS = {  # noqa: RUF012 - the base class's extension point is this class attribute
        "loop": "uvloop",
        "http": DeadlineProtocol,
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": DRAIN_SECONDS,
    }

    async def _serve(self) -> None:  # UvicornWorker._serve with the balanced server
        BOARD.claim(getattr(self, "board_slot", None))
        self.config.app = self.wsgi
        server = _BalancedServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class _BalancedServer(Server):
    """uvicorn's server, accepting through `balance.Acceptor` (one connection at a time, deferring to a worker
    with fewer connections) instead of the event loop's own server."""

    _acceptors: list[Acceptor]

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan (model load), no listener of its own
        loop = asyncio.get_running_loop()

        def protocol() -> Any:
            return self.config.http_protocol_class(  # type: ignore[call-arg]
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
            )

        self._acceptors = [Acceptor(sock, BOARD, protocol) for sock in sockets or []]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for acceptor in getattr(self, "_acceptors", []):
            acceptor.close()
        await super().shutdown(sockets=sockets)


def _pre_fork(arbiter: Any, worker: Any) -> None:
    """gunicorn's hook in the master, before a worker forks: the worker's slot on the connection board."""
    worker.board_slot = BOARD.free_slot({getattr(w, "board_slot", None) for w in arbiter.WORKERS.values()})


def payload_limit_for_memory(memory_mb: int, workers: int) -> int:
    """The largest body (MB, at least 1) of which each worker can decode one at a time in its share of the memory."""
    share = memory_mb * interface.MEMORY_SHARE_FOR_BODIES / workers
    return max(1, int(share / interface.DECODE_BYTES_PER_BODY_BYTE))


@dataclass(frozen=True)
class ServeSettings:
    port: int
    workers: int
    timeout_seconds: int
    max_payload_mb: int
    accept_defer_milliseconds: int
    log: request_log.RequestLogSettings
    # What SAGEMAKER_MAX_PAYLOAD_IN_MB asked for, and the memory max_payload_mb was lowered to fit (if it was).
    requested_max_payload_mb: int
    memory_mb: int

    @classmethod
    def from_environment(cls) -> ServeSettings:
        cpus = available_cpus()
        workers = int_variable(interface.SERVER_WORKERS, cpus, 1, 1024)
        requested = int_variable(interface.MAX_PAYLOAD_MB, 6, 1, interface.MAX_PAYLOAD_MB_LIMIT)
        memory_mb = available_memory_bytes() // MIB
        return cls(
            port=int_variable(interface.BIND_TO_PORT, 8080, 1, 65535),
            workers=workers,
            timeout_seconds=int_variable(interface.SERVER_TIMEOUT, 60, 1, interface.MAX_SERVER_TIMEOUT_SECONDS),
            max_payload_mb=min(requested, payload_limit_for_memory(memory_mb, workers)),
            requested_max_payload_mb=requested,
            memory_mb=memory_mb,
            accept_defer_milliseconds=int_variable(
                interface.SERVER_ACCEPT_DEFER_MILLISECONDS,
                balance.DEFAULT_DEFER_MILLISECONDS,
                0,
                balance.MAX_DEFER_MILLISECONDS,
            ),
            log=request_log.RequestLogSettings.from_environment(),
        )

    @property
    def idle_seconds(self) -> int:
        return min(self.timeout_seconds, 60) + IDLE_MARGIN_SECONDS

    def log_fields(self) -> dict[str, int]:
        """Every setting as the `starting` line states it: the request log's prefixed `request_log_`."""
        own = {field.name: getattr(self, field.name) for field in fields(self) if field.name != "log"}
        log = {f"request_log_{name}": getattr(self.log, name) for name in ("interval_seconds", "successes", "errors")}
        return {**own, "idle_seconds": self.idle_seconds, **log}


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    def __init__(self, app: InferenceApp, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> InferenceApp:
        return self._app


def _log_config() -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "sagemaker_contract.logs.JsonFormatter"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def _model_files(model_dir: Path) -> str:
    try:
        files = sorted(path for path in model_dir.iterdir() if path.is_file())
    except OSError as error:
        return f"(cannot list {model_dir}: {error.strerror})"
    return ", ".join(f"{path} ({path.stat().st_size} bytes)" for path in files) or f"(no files in {model_dir})"


def check_digests(model_dir: Path, metadata: Any) -> str | None:
    """None when every file metadata.json lists (`files`, written at training) has its size and sha256; else why.

    A model trained before `files` existed lists none and passes. A damaged file that LightGBM would still parse
    (an altered leaf value) is caught here, not served.
    """
    listed = metadata.get("files") if isinstance(metadata, dict) else None
    if listed is None:
        return None
    if not isinstance(listed, dict):
        return f"{interface.METADATA_FILE}: files must be an object"
    for name, expected in sorted(listed.items()):
        path = model_dir / name
        if not isinstance(expected, dict) or Path(name).is_absolute() or ".." in Path(name).parts:
            return f"{interface.METADATA_FILE}: files[{name!r}] is not a model file's digest"
        try:
            with path.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = path.stat().st_size
        except OSError as error:
            return f"{path} cannot be read: {error.strerror}"
        if (size, digest) != (expected.get("bytes"), expected.get("sha256")):
            return (
                f"{path} is not the file training wrote: {size} bytes, sha256 {digest}; "
                f"{interface.METADATA_FILE} says {expected.get('bytes')} bytes, sha256 {expected.get('sha256')}"
            )
    return None


def check_model(algorithm: Algorithm[Any], model_dir: Path) -> str | None:
    """Load the model and predict one row in a child process that may die; None if it works, else the reason.

    A truncated or corrupt model can make the native library abort the process: in a gunicorn worker that
    is restarted forever and /ping never turns healthy. Checked once before the workers fork instead, so
    `serve` exits with the reason. The parent never loads the model (LightGBM's OpenMP is not fork-safe).
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child process
        os.close(read_end)
        code = 0
        try:
            model = algorithm.load(model_dir)
            output = np.asarray(model.predict(np.zeros((1, model.num_features))))
            if output.shape[0] != 1:
                raise ValueError(f"predicting one row gave output of shape {output.shape}")
        except BaseException as error:  # any failure is the model's reason to report
            os.write(write_end, f"{type(error).__name__}: {error}"[:2000].encode(errors="replace"))
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], MODEL_CHECK_SECONDS)
    message = os.read(read_end, 4096).decode(errors="replace") if ready else ""
    os.close(read_end)
    if not ready:
        os.kill(child, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    files = _model_files(model_dir)
    if not ready:
        return f"loading the model took over {MODEL_CHECK_SECONDS} s; model files: {files}"
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        reason = f"loading the model killed the process with {name} (a truncated or corrupt model file?)"
        return f"{reason}; model files: {files}"
    if os.waitstatus_to_exitcode(status) != 0:
        return f"the model cannot be loaded: {message or 'the checking process failed'}; model files: {files}"
    return None


def run(algorithm: Algorithm[Any], paths: OptMl) -> int:
    """Serve until SIGTERM; returns the exit code (non-zero when the model or settings are unusable)."""
    try:
        settings = ServeSettings.from_environment()
    except SettingError as error:
        logs.emit("error", "bad_settings", error=str(error))
        return 2
    try:
        metadata = json.loads(paths.metadata.read_text())
    except (OSError, ValueError):
        logs.emit(
            "error",
            "no_model",
            error=f"no complete model in {paths.model}: {interface.METADATA_FILE} is missing or not JSON",
        )
        return 1
    started = time.perf_counter()
    problem = check_digests(paths.model, metadata) or check_model(algorithm, paths.model)
    if problem is not None:
        logs.emit("error", "model_check_failed", error=problem)
        return 1
    logs.emit(
        "info",
        "starting",
        **settings.log_fields(),
        algorithm=metadata.get("algorithm") if isinstance(metadata, dict) else None,
        objective=metadata.get("objective") if isinstance(metadata, dict) else None,
        model_check_seconds=round(time.perf_counter() - started, 3),
    )
    DeadlineProtocol.request_seconds = settings.timeout_seconds  # inherited by the forked workers
    # /opt/ml/model may be read-only; the workers' shared scratch space is per server start.
    cache_dir = Path(tempfile.mkdtemp(prefix="sagemaker-serve-"))
    options = ServeOptions(
        settings.max_payload_mb, settings.workers, cache_dir, settings.log, settings.requested_max_payload_mb
    )
    app = InferenceApp(algorithm, paths.model, options)
    gunicorn_options = {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        "worker_class": "sagemaker_contract.server.Worker",
        "timeout": settings.timeout_seconds,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": settings.idle_seconds,
        "backlog": 2048,
        "preload_app": True,
        "control_socket_disable": True,
        "accesslog": None,
        "logconfig_dict": _log_config(),
        "proc_name": "sagemaker-serve",
    }
    global BOARD  # noqa: PLW0603 - made before the workers fork, so that they share it
    BOARD = ConnectionBoard(settings.workers, settings.accept_defer_milliseconds / 1000)
    gunicorn_options["pre_fork"] = _pre_fork
    master = os.getpid()
    try:
        _Gunicorn(app, gunicorn_options).run()
    finally:
        if os.getpid() == master:  # worker processes unwind through here too when they exit
            shutil.rmtree(cache_dir, ignore_errors=True)
    return 0
