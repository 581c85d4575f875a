"""What the image's algorithm declares, for the app's tests: every name read from its exports, none written here.

The app's tests are about the app, not about one algorithm: each takes the hyperparameter, metric or capability
it needs from container/algorithm.json and hyperparameters.json, so that swapping the algorithm (docs/swap.md)
changes these values and no test. A test needing what the algorithm does not declare (a categorical
hyperparameter, a metric to maximize, a tuning resource) skips, naming what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from config.algorithm import load_algorithm
from config.hyperparameters import Hyperparameter, load_schema

ALGORITHM = load_algorithm()
SCHEMA = load_schema()
# The declared example set: complete, valid, trains in seconds.
EXAMPLE: dict[str, str] = dict(ALGORITHM.example_hyperparameters)
METRIC_HYPERPARAMETER = ALGORITHM.metric_hyperparameter
TUNING_RESOURCE = ALGORITHM.capabilities.tuning_resource


def _validation_metrics(direction: str | None = None) -> list[str]:
    return sorted(
        name
        for name, declared in ALGORITHM.metrics.items()
        if name.startswith("validation:") and direction in {None, declared}
    )


def _reported_by_example() -> str:
    """The validation metric the example set reports: the one its metric hyperparameter picks, else the first."""
    if METRIC_HYPERPARAMETER is not None and METRIC_HYPERPARAMETER in EXAMPLE:
        return f"validation:{EXAMPLE[METRIC_HYPERPARAMETER]}"
    return _validation_metrics()[0]


# A validation metric the example set reports (a quality gate's or a tuning job's objective), and its direction.
OBJECTIVE = _reported_by_example()
OBJECTIVE_DIRECTION = ALGORITHM.metrics[OBJECTIVE]
OTHER_DIRECTION = "Minimize" if OBJECTIVE_DIRECTION == "Maximize" else "Maximize"


def metric(direction: str) -> str:
    """A validation metric the algorithm declares with `direction` (Maximize or Minimize); a skip if none."""
    found = _validation_metrics(direction)
    if not found:
        pytest.skip(f"the algorithm {ALGORITHM.name} declares no validation metric to {direction.lower()}")
    return found[0]


def training_twin(validation_metric: str) -> str:
    """The train: channel's metric of `validation_metric` (declared alongside it)."""
    twin = "train:" + validation_metric.partition(":")[2]
    if twin not in ALGORITHM.metrics:
        pytest.skip(f"the algorithm {ALGORITHM.name} declares no {twin}")
    return twin


def metric_hyperparameter() -> str:
    """The hyperparameter choosing the one metric the jobs report, as the example set gives it; a skip if none."""
    if METRIC_HYPERPARAMETER is None or METRIC_HYPERPARAMETER not in EXAMPLE:
        pytest.skip(f"the algorithm {ALGORITHM.name} reports every metric it declares (no metric hyperparameter)")
    return METRIC_HYPERPARAMETER


def other_metric() -> str:
    """A validation metric other than OBJECTIVE; a skip when the algorithm declares one only."""
    others = [name for name in _validation_metrics() if name != OBJECTIVE]
    if not others:
        pytest.skip(f"the algorithm {ALGORITHM.name} declares one validation metric only")
    return others[0]


def hyperparameter(
    description: str, test: Callable[[Hyperparameter], bool], *, tuned: bool = True, static: bool = False
) -> Hyperparameter:
    """The first hyperparameter passing `test` (the declared tuning ranges' first), tunable unless `tuned` is
    False, in the example set only when `static`; a skip naming `description` when there is none."""
    declared = list(ALGORITHM.tuning_ranges) + sorted(set(SCHEMA.hyperparameters) - set(ALGORITHM.tuning_ranges))
    for name in declared:
        spec = SCHEMA.hyperparameters[name]
        if (
            test(spec)
            and (not spec.not_tuned) == tuned
            and (name in EXAMPLE) == static
            and name != TUNING_RESOURCE
            and not spec.required
        ):
            return spec
    pytest.skip(f"the algorithm {ALGORITHM.name} has no {description}")


def integer(*, minimum: bool = False, maximum: bool = False) -> Hyperparameter:
    """A tunable integer hyperparameter outside the example set, with a minimum and/or maximum if asked."""
    return hyperparameter(
        "integer hyperparameter" + (" with a minimum" if minimum else "") + (" with a maximum" if maximum else ""),
        lambda spec: (
            spec.type == "integer"
            and (spec.minimum is not None or not minimum)
            and (spec.maximum is not None or not maximum)
        ),
    )


def continuous(*, maximum: bool = False) -> Hyperparameter:
    """A tunable float hyperparameter outside the example set (with a maximum if asked)."""
    return hyperparameter(
        "float hyperparameter" + (" with a maximum" if maximum else ""),
        lambda spec: spec.type == "float" and (spec.maximum is not None or not maximum),
    )


def exclusive_minimum() -> Hyperparameter:
    """A tunable float hyperparameter that must be above a bound (a rate, a step)."""
    return hyperparameter("float hyperparameter with an exclusive minimum", lambda s: s.exclusive_minimum is not None)


def categorical() -> Hyperparameter:
    """A tunable string hyperparameter with at least two choices."""
    return hyperparameter("categorical hyperparameter", lambda spec: len(spec.choices or ()) >= 2)


def not_tuned() -> Hyperparameter:
    """A hyperparameter the algorithm says a tuning job must not search (with its reason)."""
    return hyperparameter("hyperparameter that is not tuned", lambda spec: True, tuned=False)


def required() -> Hyperparameter:
    """A required hyperparameter with choices (an objective, a problem type), as the example set gives it."""
    for name, spec in SCHEMA.hyperparameters.items():
        if spec.required and spec.choices and name in EXAMPLE:
            return spec
    pytest.skip(f"the algorithm {ALGORITHM.name} has no required hyperparameter with choices")


def resource() -> Hyperparameter:
    """The tuning resource (rounds, epochs) Hyperband allots; a skip when the algorithm declares none."""
    if TUNING_RESOURCE is None:
        pytest.skip(f"the algorithm {ALGORITHM.name} declares no tuning resource")
    return SCHEMA.hyperparameters[TUNING_RESOURCE]


def example_with(**values: str) -> dict[str, str]:
    """The example set with `values` over it."""
    return EXAMPLE | values


def example_without_resource() -> dict[str, str]:
    """The example set without the tuning resource (Hyperband allots it)."""
    return {name: value for name, value in EXAMPLE.items() if name != TUNING_RESOURCE}


def default_ranges_first() -> str:
    """The first hyperparameter of the declared default tuning ranges; a skip when there are none."""
    if not ALGORITHM.tuning_ranges:
        pytest.skip(f"the algorithm {ALGORITHM.name} declares no default tuning ranges")
    return next(iter(ALGORITHM.tuning_ranges))
