"""Waiting for something that takes minutes, showing how it goes."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class Observation:
    """One look at a job: its state, a short detail (e.g. the secondary status), and whether it is over."""

    state: str
    detail: str = ""
    done: bool = False


class WaitTimeoutError(TimeoutError):
    """Waited `timeout` seconds and the job is still running; the message says its last state."""


class CheckFailedError(RuntimeError):
    """A check or job failed; `result` is still reported."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def wait(
    observe: Callable[[], Observation],
    *,
    what: str,
    timeout: float,
    interval: float,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Observation:
    """Call `observe` every `interval` seconds until it reports done, at most `timeout` seconds.

    Prints one line per change of state (`<what>: <state> (<detail>) after <n>s`) to `stream`
    (stderr by default), so logs of scripts and CI read well; on a terminal a spinner shows that
    the wait is alive between changes. Returns the last observation, or raises WaitTimeoutError.
    """
    out = stream if stream is not None else sys.stderr
    spinner = itertools.cycle("|/-\\") if out.isatty() else None
    started = clock()
    last = ""
    while True:
        seen = observe()
        elapsed = clock() - started
        line = f"{what}: {seen.state}" + (f" ({seen.detail})" if seen.detail else "")
        if line != last:
            prefix = "\r" if spinner else ""
            print(f"{prefix}{line} after {elapsed:.0f}s", file=out, flush=True)
            last = line
        if seen.done:
            return seen
        if elapsed >= timeout:
            raise WaitTimeoutError(f"{what} still {seen.state} after {timeout:.0f}s")
        if spinner:
            print(f"\r{next(spinner)} ", end="", file=out, flush=True)
        # Never past the timeout: a --poll-seconds longer than --timeout still gives up on time.
        sleep(min(interval, timeout - elapsed))
