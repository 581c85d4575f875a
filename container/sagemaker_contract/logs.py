"""Structured logs: one JSON object per line on stdout, the same shape for requests and server events.

Request lines never carry payload contents: ids, sizes, status, latency, error kinds and positions only.
Which request lines are written, and the per-interval summaries and metrics, are `request_log`'s.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()


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
