"""`serve`: gunicorn manages worker processes; each runs uvicorn (uvloop + httptools) with the ASGI app.

Why this stack is in container/README.md (measured against the alternatives). gunicorn gives what
SageMaker hosting needs from a process manager: one forked worker per CPU sharing the imported libraries,
a worker killed and replaced when a request exceeds SAGEMAKER_MODEL_SERVER_TIMEOUT, and a SIGTERM that
stops accepting, lets in-flight requests finish and exits before SageMaker's SIGKILL 30 s later.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from sagemaker_contract import logs
from sagemaker_contract.app import InferenceApp, ServeOptions
from sagemaker_contract.paths import OptMl
from sagemaker_contract.protocol import Algorithm

METADATA_FILE = "metadata.json"
# SageMaker sends SIGKILL 30 s after SIGTERM: workers get 20 s to finish requests, the master 25 s in all.
DRAIN_SECONDS = 20
GRACEFUL_SECONDS = 25
MAX_PAYLOAD_MB_LIMIT = 100  # batch transform's MaxPayloadInMB maximum


class Worker(UvicornWorker):  # type: ignore[misc]  # no type hints upstream
    """uvicorn in a gunicorn worker: fast loop and parser, lifespan on (model load), no access log of its own."""

    CONFIG_KWARGS = {  # noqa: RUF012 - the base class's extension point is this class attribute
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "access_log": False,
        "server_header": False,
        "timeout_graceful_shutdown": DRAIN_SECONDS,
    }


@dataclass(frozen=True)
class ServeSettings:
    port: int
    workers: int
    timeout_seconds: int
    max_payload_mb: int

    @classmethod
    def from_environment(cls) -> ServeSettings:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return cls(
            port=_int_variable("SAGEMAKER_BIND_TO_PORT", 8080, 1, 65535),
            workers=_int_variable("SAGEMAKER_MODEL_SERVER_WORKERS", cpus, 1, 1024),
            timeout_seconds=_int_variable("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60, 1, 3600),
            max_payload_mb=_int_variable("SAGEMAKER_MAX_PAYLOAD_IN_MB", 6, 1, MAX_PAYLOAD_MB_LIMIT),
        )


def _int_variable(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


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


def run(algorithm: Algorithm[Any], paths: OptMl) -> int:
    """Serve until SIGTERM; returns the exit code (non-zero when the model or settings are unusable)."""
    try:
        settings = ServeSettings.from_environment()
        metadata = json.loads((paths.model / METADATA_FILE).read_text())
    except ValueError as error:
        logs.emit("error", "bad_settings", error=str(error))
        return 2
    except OSError:
        logs.emit("error", "no_model", error=f"no complete model in {paths.model}: {METADATA_FILE} is missing")
        return 1
    logs.emit(
        "info",
        "starting",
        port=settings.port,
        workers=settings.workers,
        timeout_seconds=settings.timeout_seconds,
        max_payload_mb=settings.max_payload_mb,
        algorithm=metadata.get("algorithm"),
        objective=metadata.get("objective"),
    )
    # /opt/ml/model may be read-only; the workers' shared scratch space is per server start.
    cache_dir = Path(tempfile.mkdtemp(prefix="sagemaker-serve-"))
    app = InferenceApp(algorithm, paths.model, ServeOptions(settings.max_payload_mb, settings.workers, cache_dir))
    options = {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        "worker_class": "sagemaker_contract.server.Worker",
        "timeout": settings.timeout_seconds,
        "graceful_timeout": GRACEFUL_SECONDS,
        "keepalive": 75,  # longer than SageMaker's front end keeps idle connections, so it closes them first
        "backlog": 2048,
        "preload_app": True,
        "control_socket_disable": True,
        "accesslog": None,
        "logconfig_dict": _log_config(),
        "proc_name": "sagemaker-serve",
    }
    master = os.getpid()
    try:
        _Gunicorn(app, options).run()
    finally:
        if os.getpid() == master:  # worker processes unwind through here too when they exit
            shutil.rmtree(cache_dir, ignore_errors=True)
    return 0
