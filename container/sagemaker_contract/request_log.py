"""Request logs that cost in proportion to what they tell, not to the request rate.

Each serving worker counts its requests and, per interval (REQUEST_LOG_INTERVAL_SECONDS, aligned to the wall
clock and dividing a minute, so that no interval straddles a CloudWatch minute), writes:
- one `summary` line: counts by status and by error kind, latency percentiles, and how many request lines it
  left out. With METRICS_NAMESPACE set it is also the interval's CloudWatch embedded-metric-format record:
  the metrics and dimensions of `interface`, summed over the interval's /invocations requests;
- request lines, as each request ends: the first REQUEST_LOG_SUCCESSES successes of the interval, the first
  request of each error kind (always), and other errors while the interval has written fewer than
  REQUEST_LOG_ERRORS error lines.
The counts are written at each interval's end and when the worker shuts down, so no request goes uncounted.
An error kind is the status and the log message with every number written N ("400 row N, column N: not a
number"). Log messages never quote the caller, so the kinds are the code's own, a few dozen; past MAX_KINDS
in one interval the rest count as "<status> other", which bounds the summary and the first-of-kind lines.
container/README.md ("Logs") states what the defaults cost.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagemaker_contract import interface, logs
from sagemaker_contract.errors import ErrorKind
from sagemaker_contract.variables import SettingError, int_variable

MAX_KINDS = 32
_DIGITS = re.compile(r"[0-9]+")
_COUNTS = (
    interface.METRIC_REQUESTS,
    interface.METRIC_ROWS,
    interface.METRIC_CLIENT_ERRORS,
    interface.METRIC_MODEL_ERRORS,
    interface.METRIC_SERVER_ERRORS,
)
# Latency histogram: buckets 5 % apart from 10 us to past the longest request timeout (1 h), so a percentile is
# within 5 % of the exact one in fixed memory, whatever the number of requests.
_LOWEST_MS, _STEP = 0.01, math.log(1.05)
_BUCKETS = math.ceil(math.log(interface.MAX_SERVER_TIMEOUT_SECONDS * 1000 / _LOWEST_MS) / _STEP) + 1
_PERCENTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


@dataclass(frozen=True)
class Setting:
    """One variable: its name (written once in `interface`), default and allowed range."""

    name: str
    default: int
    low: int
    high: int

    def read(self) -> int:
        return int_variable(self.name, self.default, self.low, self.high)


INTERVAL = Setting(interface.REQUEST_LOG_INTERVAL_SECONDS, 10, 1, 60)
SUCCESSES = Setting(interface.REQUEST_LOG_SUCCESSES, 1, 0, 1_000_000)
ERRORS = Setting(interface.REQUEST_LOG_ERRORS, 3, 0, 1_000_000)


@dataclass(frozen=True)
class RequestLogSettings:
    """Per worker and interval: how many request lines to write, and where the EMF record goes."""

    interval_seconds: int
    successes: int
    errors: int
    metrics: logs.MetricsTarget

    @classmethod
    def from_environment(cls) -> RequestLogSettings:
        interval = INTERVAL.read()
        if 60 % interval:
            divisors = ", ".join(str(n) for n in range(1, 61) if 60 % n == 0)
            raise SettingError(
                f"{INTERVAL.name} must divide 60 ({divisors}) so that no interval straddles a CloudWatch minute, "
                f"got {interval}"
            )
        return cls(
            interval_seconds=interval,
            successes=SUCCESSES.read(),
            errors=ERRORS.read(),
            metrics=logs.MetricsTarget.from_environment(os.environ),
        )


class RequestLog:
    """One worker's counts for the current interval, and the decision whether a request's line is written.

    Every record carries both dimension sets (EndpointName; EndpointName + ModelVersion), so an alarm can read
    the whole endpoint or the fleet of one model version (a canary's alarm reads the canary only).
    """

    def __init__(
        self,
        settings: RequestLogSettings,
        write: Callable[..., None] = logs.emit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._write = write
        self._clock = clock
        self._timer: asyncio.TimerHandle | None = None
        self._dimensions = {
            interface.DIMENSION_ENDPOINT: settings.metrics.endpoint_name,
            interface.DIMENSION_MODEL_VERSION: settings.metrics.model_version,
        }
        self._directive = {
            "Namespace": settings.metrics.namespace,
            "Dimensions": [list(dimensions) for dimensions in interface.DIMENSIONS],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in _COUNTS],
        }
        self._begin(clock())

    def _begin(self, now: float) -> None:
        size = self._settings.interval_seconds
        self._start = now // size * size
        self._end = self._start + size
        self._statuses: dict[int, int] = {}
        self._kinds: dict[str, int] = {}
        self._sums = [0] * len(_COUNTS)
        self._latency = [0] * _BUCKETS
        self._slowest_ms = 0.0
        self._successes_written = self._errors_written = self._left_out = 0

    def request(
        self, status: int, error: str | None, latency_ms: float | None, invocation: tuple[int, ErrorKind | None] | None
    ) -> bool:
        """Count one answered request (`invocation` = (rows, who got a 4xx wrong) for /invocations, which the
        metrics count); True when its line is to be written."""
        if self._clock() >= self._end:
            self.flush()
        self._statuses[status] = self._statuses.get(status, 0) + 1
        if latency_ms is not None:
            self._time(latency_ms)
        if invocation is not None:
            self._count(status, *invocation)
        if status < 400:
            if self._successes_written < self._settings.successes:
                self._successes_written += 1
                return True
            self._left_out += 1
            return False
        kind = self._kind(status, error)
        seen = self._kinds.get(kind, 0)
        self._kinds[kind] = seen + 1
        if not seen or self._errors_written < self._settings.errors:
            self._errors_written += 1
            return True
        self._left_out += 1
        return False

    def _time(self, latency_ms: float) -> None:
        bucket = int(math.log(latency_ms / _LOWEST_MS) / _STEP) if latency_ms > _LOWEST_MS else 0
        self._latency[min(bucket, _BUCKETS - 1)] += 1
        self._slowest_ms = max(self._slowest_ms, latency_ms)

    def _count(self, status: int, rows: int, kind: ErrorKind | None) -> None:
        sums = self._sums
        sums[0] += 1
        sums[1] += rows
        if status >= 500:
            sums[4] += 1
        elif status >= 400:
            sums[3 if kind == "model" else 2] += 1

    def _kind(self, status: int, error: str | None) -> str:
        kind = f"{status} {_DIGITS.sub('N', error)}" if error else str(status)
        if kind not in self._kinds and len(self._kinds) >= MAX_KINDS:
            return f"{status} other"
        return kind

    def flush(self) -> None:
        """Write the interval's summary (and EMF record) if it served anything, and start counting afresh."""
        answered = sum(self._statuses.values())
        if answered:
            fields: dict[str, Any] = {
                "interval_s": self._settings.interval_seconds,
                "count": answered,
                "statuses": {str(status): count for status, count in sorted(self._statuses.items())},
                "errors": self._kinds,
                "latency_ms": self._percentiles(),
                "lines_left_out": self._left_out,
            }
            if self._settings.metrics.namespace and self._sums[0]:
                emf = {"Timestamp": int(self._start * 1000), "CloudWatchMetrics": [self._directive]}
                fields |= {"_aws": emf, **self._dimensions, **dict(zip(_COUNTS, self._sums, strict=True))}
            self._write("info", "summary", **fields)
        self._begin(self._clock())

    def _percentiles(self) -> dict[str, float]:
        timed = sum(self._latency)
        if not timed:
            return {}
        found: dict[str, float] = {}
        targets, seen = iter(_PERCENTILES), 0
        name, share = next(targets)
        for bucket, count in enumerate(self._latency):
            seen += count
            while seen >= share * timed:
                upper = _LOWEST_MS * math.exp((bucket + 1) * _STEP)
                found[name] = float(f"{min(upper, self._slowest_ms):.3g}")
                next_target = next(targets, None)
                if next_target is None:
                    return found | {"max": round(self._slowest_ms, 3)}
                name, share = next_target
        return found | {"max": round(self._slowest_ms, 3)}

    def start(self) -> None:
        """In the worker's event loop: write each interval's summary at its end, even when no request comes."""
        global _active  # noqa: PLW0603 - one log per worker process, for the server's own connection events
        _active = self
        self._schedule()

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(0.0, self._end - self._clock()) + 0.001, self._tick)

    def _tick(self) -> None:
        if self._clock() >= self._end:
            self.flush()
        self._schedule()

    def close(self) -> None:
        """At worker shutdown: the partial interval's counts are written, not lost."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()


_active: RequestLog | None = None


def connection_closed(status: int, error: str) -> None:
    """A connection the server closed without a request for the app (a stalled request's headers): counted, and
    logged under the same limits as a request."""
    if _active is None or _active.request(status, error, None, None):
        logs.emit("info", "connection_closed", status=status, error=error)
