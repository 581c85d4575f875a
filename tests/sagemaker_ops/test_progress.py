"""Waiting with progress: one line per change of state, bounded by a timeout."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from sagemaker_ops.progress import Observation, WaitTimeoutError, wait


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _states(*observations: Observation) -> Iterator[Observation]:
    yield from observations


def test_wait_prints_a_line_per_change_of_state_and_returns_the_last() -> None:
    # GIVEN a job that is pending, pending, training, then completed
    seen = _states(Observation("InProgress", "Starting"), Observation("InProgress", "Starting"),
                   Observation("InProgress", "Training"), Observation("Completed", done=True))  # fmt: skip
    clock, out = FakeClock(), io.StringIO()
    # WHEN it is waited for
    last = wait(lambda: next(seen), what="job", timeout=60, interval=10, stream=out, clock=clock, sleep=clock.sleep)
    # THEN each state is printed once, with the elapsed time, and the final one is returned
    assert last.state == "Completed"
    assert out.getvalue().splitlines() == [
        "job: InProgress (Starting) after 0s",
        "job: InProgress (Training) after 20s",
        "job: Completed after 30s",
    ]


def test_wait_gives_up_after_the_timeout_naming_the_last_state() -> None:
    # GIVEN a job that never ends
    clock = FakeClock()
    # WHEN it is waited for at most 30 s THEN the error says how it was left
    with pytest.raises(WaitTimeoutError, match="job still RUNNING after 30s"):
        wait(lambda: Observation("RUNNING"), what="job", timeout=30, interval=10, stream=io.StringIO(),
             clock=clock, sleep=clock.sleep)  # fmt: skip


def test_a_poll_interval_longer_than_the_timeout_still_gives_up_on_time() -> None:
    # GIVEN a job that never ends, polled every hour
    clock = FakeClock()
    # WHEN it is waited for at most 30 s THEN the wait ends after 30 s, not after the hour
    with pytest.raises(WaitTimeoutError, match="after 30s"):
        wait(lambda: Observation("RUNNING"), what="job", timeout=30, interval=3600, stream=io.StringIO(),
             clock=clock, sleep=clock.sleep)  # fmt: skip
    assert clock.now == 30
