"""Structured logs: one JSON object per line on stdout, the same shape for requests and server events.

Request lines never carry payload contents: ids, sizes, status, latency, error kinds and positions only.
Which request lines are written, and the per-interval summaries and metrics, are `request_log`'s.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from sagemaker_contract import interface

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class MetricsTarget:
    """Where serving's and the drift check's embedded-metric-format records go: the namespace (None: no metrics)
    and the dimension values, `interface.UNKNOWN` when their variable is unset (the app sets all three)."""

    namespace: str | None
    endpoint_name: str = interface.UNKNOWN
    model_version: str = interface.UNKNOWN

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> MetricsTarget:
        return cls(
            namespace=environ.get(interface.METRICS_NAMESPACE) or None,
            endpoint_name=environ.get(interface.METRICS_ENDPOINT_NAME) or interface.UNKNOWN,
            model_version=environ.get(interface.METRICS_MODEL_VERSION) or interface.UNKNOWN,
        )


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def emit(level: str, event: str, **fields: Any) -> None:
    """Write one JSON log line; a single write() keeps lines from several workers whole."""
    now = time.time()
    record = {"time": _timestamp(now), "level": level, "event": event, "pid": os.getpid(), **fields}
    os.write(1, _encoder.encode(record) + b"\n")


class JsonFormatter(logging.Formatter):
    """For the server's own loggers (gunicorn, uvicorn): the same JSON shape as `emit`."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "event": "log",
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return _encoder.encode(fields).decode()
