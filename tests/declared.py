"""What the image's algorithm declares, for the app's tests: every name read from its exports, none written here.

The app's tests are about the app, not about one algorithm: each takes the hyperparameter, metric or capability
it needs from container/algorithm.json and hyperparameters.json, so that swapping the algorithm (docs/swap.md)
changes these values and no test. A test needing what the algorithm does not declare (a categorical
hyperparameter, a metric to maximize, a tuning resource) skips, naming what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

from config.algorithm import load_algorithm
from config.hyperparameters import Hyperparameter, load_schema

if TYPE_CHECKING:  # config.hyperparameters registers the container's package `hyperschema`
    from hyperschema import Condition, Rule

ALGORITHM = load_algorithm()
SCHEMA = load_schema()
# The declared example set: complete, valid, trains in seconds.
EXAMPLE: dict[str, str] = dict(ALGORITHM.example_hyperparameters)
METRIC_HYPERPARAMETER = ALGORITHM.metric_hyperparameter
TUNING_RESOURCE = ALGORITHM.capabilities.tuning_resource
T = TypeVar("T")
# The contract layer's own settings in every algorithm's schema (container/sagemaker_contract/distributed.py): a
# test wanting one of the algorithm's hyperparameters passes them over.
CONTRACT_SETTINGS = "distributed_"


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
        _skip(f"validation metric to {direction.lower()}")
    return found[0]


def training_twin(validation_metric: str) -> str:
    """The train: channel's metric of `validation_metric` (declared alongside it)."""
    twin = "train:" + validation_metric.partition(":")[2]
    if twin not in ALGORITHM.metrics:
        _skip(twin)
    return twin


def metric_hyperparameter() -> str:
    """The hyperparameter choosing the one metric the jobs report, as the example set gives it; a skip if none."""
    if METRIC_HYPERPARAMETER is None or METRIC_HYPERPARAMETER not in EXAMPLE:
        _skip("hyperparameter choosing its metric (it reports every metric it declares)")
    return METRIC_HYPERPARAMETER


def other_metric() -> str:
    """A validation metric other than OBJECTIVE, one the example set may choose when a hyperparameter chooses the
    metric; a skip when there is none."""
    others = [name for name in _validation_metrics() if name != OBJECTIVE]
    if METRIC_HYPERPARAMETER is not None:
        others = [
            name
            for name in others
            if not SCHEMA.problems(EXAMPLE | {METRIC_HYPERPARAMETER: name.partition(":")[2]}, complete=True)
        ]
    if not others:
        _skip("validation metric besides " + OBJECTIVE)
    return others[0]


def _skip(what: str) -> NoReturn:
    # allow_module_level: a module may build its constants from these; it skips whole when one is missing.
    pytest.skip(f"the algorithm {ALGORITHM.name} declares no {what}", allow_module_level=True)


def optional(helper: Callable[[], T]) -> T | None:
    """What `helper` finds, or None where it would skip."""
    try:
        return helper()
    except pytest.skip.Exception:
        return None


def hyperparameter(description: str, test: Callable[[Hyperparameter], bool], *, tuned: bool = True) -> Hyperparameter:
    """The first of the algorithm's hyperparameters (its declared tuning ranges' first) passing `test`, tunable
    unless `tuned` is False, outside the example set and not its tuning resource; a skip naming `description`."""
    names = list(ALGORITHM.tuning_ranges) + sorted(set(SCHEMA.hyperparameters) - set(ALGORITHM.tuning_ranges))
    for name in names:
        spec = SCHEMA.hyperparameters[name]
        if name.startswith(CONTRACT_SETTINGS) or name in EXAMPLE or name == TUNING_RESOURCE or spec.required:
            continue
        if test(spec) and (not spec.not_tuned) == tuned:
            return spec
    _skip(description)


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
    _skip("required hyperparameter with choices")


def resource() -> Hyperparameter:
    """The tuning resource (rounds, epochs) Hyperband allots; a skip when the algorithm declares none."""
    if TUNING_RESOURCE is None:
        _skip("tuning resource")
    return SCHEMA.hyperparameters[TUNING_RESOURCE]


def example_with(**values: str) -> dict[str, str]:
    """The example set with `values` over it."""
    return EXAMPLE | values


def example_without_resource() -> dict[str, str]:
    """The example set without the tuning resource (Hyperband allots it)."""
    return {name: value for name, value in EXAMPLE.items() if name != TUNING_RESOURCE}


def tuning_range(kind: str) -> tuple[str, dict[str, Any]]:
    """A hyperparameter and a valid `kind` (integer, continuous) range of it: the declared default range of that
    kind, else one inside a tunable hyperparameter's bounds; as `[environments.<env>.tuning] ranges` hold it."""
    for name, declared in ALGORITHM.tuning_ranges.items():
        if declared["type"] == kind:
            return name, dict(declared)
    spec = integer() if kind == "integer" else continuous()
    low = spec.minimum if spec.minimum is not None else (spec.exclusive_minimum or 0) + 0.01
    high = spec.maximum if spec.maximum is not None else low + 64
    if kind == "integer":
        low, high = int(low) + 1, min(int(low) + 65, int(high))
    return spec.name, {"type": kind, "min_value": low, "max_value": high}


def categorical_range() -> tuple[str, dict[str, Any]]:
    """A categorical hyperparameter and a range of its first two choices; a skip when there is none."""
    spec = categorical()
    return spec.name, {"type": "categorical", "values": list((spec.choices or ())[:2])}


def narrower(bounds: dict[str, Any]) -> tuple[float, float]:
    """Bounds strictly inside a numeric range's (its second quarter), whole numbers for an integer range."""
    low, high = bounds["min_value"], bounds["max_value"]
    inner = (low + (high - low) / 4, low + (high - low) / 2)
    if bounds["type"] == "integer":
        return float(int(inner[0])), float(int(inner[1]))
    return float(f"{inner[0]:.3g}"), float(f"{inner[1]:.3g}")


def contract_setting(kind: str) -> Hyperparameter:
    """The contract layer's own integer or float setting (every algorithm's schema holds them: a hyperparameter no
    swap removes), with a minimum and a maximum."""
    for name, spec in sorted(SCHEMA.hyperparameters.items()):
        if name.startswith(CONTRACT_SETTINGS) and spec.type == kind and None not in (spec.minimum, spec.maximum):
            return spec
    raise LookupError(f"the schema has no {kind} {CONTRACT_SETTINGS}* setting with bounds")


def _candidates(spec: Hyperparameter, near: tuple[float | None, ...] = ()) -> list[str]:
    """Values worth trying for `spec`, as SageMaker passes them; each parses."""
    raw = [*(spec.choices or ()), spec.default, spec.minimum, spec.maximum]
    raw += [n + step for n in near if n is not None for step in (-1, -0.5, 0.5, 1)]
    found = []
    for value in raw:
        if value is None:
            continue
        text = str(int(value)) if spec.type == "integer" and isinstance(value, float) else str(value)
        try:
            if spec.parse(text) is not None and text not in found:
                found.append(text)
        except ValueError:
            continue
    return found


def _meeting(name: str, condition: Condition, meets: bool) -> str | None:
    spec = SCHEMA.hyperparameters[name]
    near = (condition.above, condition.below)
    return next((v for v in _candidates(spec, near) if condition.holds(spec.parse(v)) == meets), None)


def breaking(rule: Rule, configured: dict[str, str]) -> dict[str, str]:
    """`configured` changed, each value valid alone, so that `rule` refuses the combination (the rule's `when` met,
    then a name it forbids given, one it requires left out, or a value it bounds out of bounds); a skip when no
    candidate value does."""
    values = dict(configured)
    for name, condition in rule.when.items():
        values[name] = _meeting(name, condition, meets=True) or ""
    if rule.forbid:
        values[rule.forbid[0]] = next(iter(_candidates(SCHEMA.hyperparameters[rule.forbid[0]])), "")
    elif rule.require:
        values.pop(rule.require[0], None)
    for name, condition in list(rule.then.items())[:1]:
        values[name] = _meeting(name, condition, meets=False) or ""
    if "" in values.values() or not SCHEMA.rule_problems(values):
        _skip(f"values breaking its rule on {', '.join(sorted(rule.names()))} alone")
    return values


def capability(name: str) -> None:
    """Skip, naming it, unless the algorithm declares the capability `name` (several_hosts, checkpoints, ...)."""
    if not getattr(ALGORITHM.capabilities, name):
        _skip(f"capability {name}")


def with_required(values: dict[str, str]) -> dict[str, str]:
    """`values` and a valid value for each hyperparameter a rule requires of them (a class count, ...)."""
    typed = {n: SCHEMA.hyperparameters[n].parse(v) for n, v in values.items() if n in SCHEMA.hyperparameters}
    added: dict[str, str] = {}
    for rule in SCHEMA.rules:
        if all(condition.holds(typed.get(name)) for name, condition in rule.when.items()):
            added |= {name: _candidates(SCHEMA.hyperparameters[name])[0] for name in rule.require if name not in values}
    return values | added


def reporting_every_metric() -> list[dict[str, str]]:
    """Hyperparameter sets that, trained on 0/1 labels, report every metric the algorithm declares between them:
    the example set when it reports them all; else one per metric its metric hyperparameter chooses, with the
    first value of the required choice (an objective) the schema accepts that metric with."""
    base = dict(EXAMPLE)
    if TUNING_RESOURCE is not None:  # a few rounds (epochs...): the log, not the model, is wanted
        base[TUNING_RESOURCE] = str(max(int(SCHEMA.hyperparameters[TUNING_RESOURCE].minimum or 1), 5))
    if METRIC_HYPERPARAMETER is None:
        return [base]
    choice = optional(required)
    runs = []
    for metric in sorted({name.partition(":")[2] for name in ALGORITHM.metrics}):
        candidates = [
            with_required(base | {METRIC_HYPERPARAMETER: metric} | ({choice.name: value} if choice else {}))
            for value in (choice.choices or () if choice else ("",))
        ]
        valid = [values for values in candidates if not SCHEMA.problems(values, complete=True)]
        if not valid:
            raise LookupError(f"no values of the schema report the metric {metric}")
        runs.append(valid[0])
    return runs


def with_resource(value: str) -> dict[str, str]:
    """The example set training `value` of the tuning resource (rounds, epochs); a skip when none is declared."""
    return EXAMPLE | {resource().name: value}


def never_stopping_early(rounds: str) -> dict[str, str]:
    """The example set training `rounds` of its resource to the end: each integer hyperparameter its schema
    documents as "0 = never" (an early-stopping patience) at 0. A skip without a resource."""
    patience = {
        name: "0" for name, spec in SCHEMA.hyperparameters.items() if spec.type == "integer" and "0 = never" in spec.doc
    }
    return with_resource(rounds) | patience
