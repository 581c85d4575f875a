"""The AWS side a SageMaker instance talks to (moto's S3 and CloudWatch Logs), through boto3 to this server."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


# Every client a process makes of the emulator, by (url, region, service, attempts): a new session reads botocore's
# JSON data (the endpoints, the service's whole API model) again, and the local SageMaker and the tests made a client
# for nearly every call: a third of the end-to-end tests' CPU went to parsing that JSON (sampled). boto3's clients are
# thread-safe; its sessions are not, so a client is made under the lock and then shared.
_CLIENTS: dict[tuple[str, str, str, int | None], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def emulator_client(url: str, service: str, *, region: str = REGION, max_attempts: int | None = None) -> Any:
    """The process's boto3 client of `service` at the emulator's `url` (moto accepts any credentials: these are its
    dummies); `max_attempts` None keeps botocore's retries."""
    key = (url, region, service, max_attempts)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            config = Config(retries={"max_attempts": max_attempts}) if max_attempts is not None else None
            _CLIENTS[key] = boto3.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",  # noqa: S106 - moto's documented dummy, never a real one
                region_name=region,
            ).client(service, endpoint_url=url, config=config)
        return _CLIENTS[key]


@dataclass(frozen=True)
class Aws:
    """boto3 clients for the emulator at `url`, as a SageMaker instance's jobs call it."""

    url: str
    region: str = REGION

    def client(self, service: str) -> Any:
        return emulator_client(self.url, service, region=self.region, max_attempts=2)


class LogStream:
    """One CloudWatch Logs stream, written in batches as SageMaker's agent does (at most every second)."""

    def __init__(self, aws: Aws, group: str, stream: str) -> None:
        self.group, self.stream = group, stream
        self._logs = aws.client("logs")
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
            self._logs.create_log_group(logGroupName=group)
        self._logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def write(self, message: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": message or " "})
        if time.monotonic() - self._last_flush >= 1.0:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        for start in range(0, len(events), 1000):
            self._logs.put_log_events(
                logGroupName=self.group, logStreamName=self.stream, logEvents=events[start : start + 1000]
            )
