"""Structured logs: one JSON object per line on stdout, the same shape for requests and server events.

Request lines never carry payload contents: ids, sizes, status, latency, error kinds and positions only.
When METRICS_NAMESPACE is set, /invocations lines are also CloudWatch embedded-metric-format records
(the metrics and dimensions of `interface`), so CloudWatch Logs turns them into metrics.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import msgspec

from sagemaker_contract import interface
from sagemaker_contract.errors import ErrorKind

_encoder = msgspec.json.Encoder()
_COUNTS = (
    interface.METRIC_REQUESTS,
    interface.METRIC_ROWS,
    interface.METRIC_CLIENT_ERRORS,
    interface.METRIC_MODEL_ERRORS,
    interface.METRIC_SERVER_ERRORS,
)


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def emit(level: str, event: str, **fields: Any) -> None:
    """Write one JSON log line; a single write() keeps lines from several workers whole."""
    now = time.time()
    record = {"time": _timestamp(now), "level": level, "event": event, "pid": os.getpid(), **fields}
    os.write(1, _encoder.encode(record) + b"\n")


class RequestMetrics:
    """The EMF block added to /invocations log lines when a metrics namespace is configured.

    Every record carries both dimension sets (EndpointName; EndpointName + ModelVersion), so an alarm can
    read the whole endpoint or the fleet of one model version (a canary's alarm reads the canary only).
    """

    def __init__(self, namespace: str | None, endpoint_name: str | None, model_version: str | None = None) -> None:
        self.enabled = bool(namespace)
        self._dimensions = {
            interface.DIMENSION_ENDPOINT: endpoint_name or interface.UNKNOWN,
            interface.DIMENSION_MODEL_VERSION: model_version or interface.UNKNOWN,
        }
        self._directive = {
            "Namespace": namespace,
            "Dimensions": [list(dimensions) for dimensions in interface.DIMENSIONS],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in _COUNTS],
        }

    @classmethod
    def from_environment(cls) -> RequestMetrics:
        return cls(
            os.environ.get(interface.METRICS_NAMESPACE),
            os.environ.get(interface.METRICS_ENDPOINT_NAME),
            os.environ.get(interface.METRICS_MODEL_VERSION),
        )

    def fields(self, status: int, rows: int, kind: ErrorKind | None) -> dict[str, Any]:
        """`kind` is who got a 4xx wrong (None when the request succeeded or the server failed)."""
        if not self.enabled:
            return {}
        client_error = 400 <= status < 500 and kind != "model"
        return {
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [self._directive]},
            **self._dimensions,
            interface.METRIC_REQUESTS: 1,
            interface.METRIC_ROWS: rows,
            interface.METRIC_CLIENT_ERRORS: int(client_error),
            interface.METRIC_MODEL_ERRORS: int(400 <= status < 500 and kind == "model"),
            interface.METRIC_SERVER_ERRORS: int(status >= 500),
        }


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
