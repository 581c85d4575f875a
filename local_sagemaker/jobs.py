"""What every emulated job shares: a copy of its validated request, its state under a lock, its thread."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from local_sagemaker.aws import ACCOUNT, REGION


def now() -> datetime:
    return datetime.now(UTC)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


class Job:
    """A job of `kind` (training, processing, transform, tuning): `start` runs the subclass's `_run` in a thread."""

    def __init__(
        self,
        request: Mapping[str, Any],
        name: str,
        kind: str,
        validate: Callable[[Mapping[str, Any]], None],
        state: dict[str, Any],
    ) -> None:
        self.request = copy.deepcopy(dict(request))
        self.name = name
        validate(self.request)
        self._lock = threading.Lock()
        self._state = state
        self._stop_requested = False
        self.thread = threading.Thread(target=self._run, name=f"{kind}-{self.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop<Kind>Job: the job's `_run` sends SIGTERM to its container; the job ends Stopped."""
        self._stop_requested = True

    def _run(self) -> None:
        raise NotImplementedError
