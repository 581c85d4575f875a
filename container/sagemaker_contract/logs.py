"""Structured logs: one JSON object per line on stdout, the same shape for requests and server events.

Request lines never carry payload contents: ids, sizes, status, latency and redacted error reasons only.
When METRICS_NAMESPACE is set, /invocations lines are also CloudWatch embedded-metric-format records
(`Requests`, `RequestErrors`, `RequestRows` by `EndpointName`), so CloudWatch Logs turns them into metrics.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
METRICS_NAMESPACE_VARIABLE = "METRICS_NAMESPACE"
METRICS_ENDPOINT_VARIABLE = "METRICS_ENDPOINT_NAME"


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def emit(level: str, event: str, **fields: Any) -> None:
    """Write one JSON log line; a single write() keeps lines from several workers whole."""
    now = time.time()
    record = {"time": _timestamp(now), "level": level, "event": event, "pid": os.getpid(), **fields}
    os.write(1, _encoder.encode(record) + b"\n")


class RequestMetrics:
    """The EMF block added to /invocations log lines when a metrics namespace is configured."""

    def __init__(self, namespace: str | None, endpoint_name: str | None) -> None:
        self.enabled = bool(namespace)
        self._endpoint = endpoint_name or "unknown"
        self._directive = {
            "Namespace": namespace,
            "Dimensions": [["EndpointName"]],
            "Metrics": [
                {"Name": "Requests", "Unit": "Count"},
                {"Name": "RequestErrors", "Unit": "Count"},
                {"Name": "RequestRows", "Unit": "Count"},
            ],
        }

    @classmethod
    def from_environment(cls) -> RequestMetrics:
        return cls(os.environ.get(METRICS_NAMESPACE_VARIABLE), os.environ.get(METRICS_ENDPOINT_VARIABLE))

    def fields(self, status: int, rows: int) -> dict[str, Any]:
        if not self.enabled:
            return {}
        return {
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [self._directive]},
            "EndpointName": self._endpoint,
            "Requests": 1,
            "RequestErrors": int(status >= 400),
            "RequestRows": rows,
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
