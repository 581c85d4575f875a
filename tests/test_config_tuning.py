"""`[environments.<env>.tuning]`: checked against botocore and the container's schema; each rule names environment
and field. The hyperparameters and metrics are the image's algorithm's (tests/declared.py)."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable
from typing import Any, Literal

import pytest

from config import ConfigError, parse_config
from config.algorithm import DIRECTIONS, load_algorithm
from config.contract import ALGORITHM_FILE
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from config.tuning import TuningSettings, default_ranges, metric_names
from tests import declared
from tests.declared import EXAMPLE, OBJECTIVE


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def _with_tuning(raw: dict[str, Any], tuning: dict[str, Any], hyperparameters: dict[str, str] = EXAMPLE) -> Any:
    raw["environments"]["staging"]["tuning"] = tuning
    raw["environments"]["staging"]["training"]["hyperparameters"] = dict(hyperparameters)
    return parse_config(raw).environment("staging")


def test_no_environment_tunes_as_shipped(raw: dict[str, Any]) -> None:
    # GIVEN the shipped configuration THEN no environment has tuning (dev shows a commented example)
    assert all(e.tuning is None for e in parse_config(raw).environments.values())


def test_the_commented_example_in_environments_toml_is_valid(raw: dict[str, Any]) -> None:
    # GIVEN the commented [environments.dev.tuning] example, uncommented
    lines = DEFAULT_CONFIG_FILE.read_text().splitlines()
    if "# [environments.dev.tuning]" not in lines:
        pytest.skip("config/environments.toml shows no commented [environments.dev.tuning] example")
    start = lines.index("# [environments.dev.tuning]") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    example = tomllib.loads("\n".join(block))
    # WHEN dev uses it with the metric its comment asks for (the one the algorithm's metric hyperparameter picks)
    raw["environments"]["dev"]["tuning"] = example
    selector = load_algorithm().metric_hyperparameter
    if selector is not None:
        raw["environments"]["dev"]["training"]["hyperparameters"][selector] = example["objective"].partition(":")[2]
    tuning = parse_config(raw).environment("dev").tuning
    # THEN it loads as written
    assert tuning is not None
    assert (tuning.objective, tuning.warm_start) == (example["objective"], example.get("warm_start"))
    assert tuning.direction == load_algorithm().metrics[example["objective"]]
    assert set(tuning.ranges) == set(example.get("ranges", default_ranges()))


def test_defaults_are_bayesian_over_the_declared_ranges(raw: dict[str, Any]) -> None:
    # GIVEN only an objective WHEN loaded
    tuning = _with_tuning(raw, {"objective": OBJECTIVE}).tuning
    # THEN the defaults: off unless asked, Bayesian, 20 jobs 2 at a time, no early stopping, no warm start
    assert (tuning.enabled, tuning.strategy, tuning.max_training_jobs, tuning.max_parallel_training_jobs) == (
        False,
        "Bayesian",
        20,
        2,
    )
    assert (tuning.early_stopping, tuning.warm_start) == ("Off", None)
    assert tuning.ranges == default_ranges()


def test_the_default_ranges_fit_the_containers_schema() -> None:
    # GIVEN the container's exported schema THEN each default range has its type and lies in its bounds
    schema = load_schema()
    for name, spec in default_ranges().items():
        assert spec.problems(name, schema.hyperparameters[name]) == [], name
        assert spec.min_value is not None
        assert spec.max_value is not None
        schema.hyperparameters[name].parse(spec.api_value(spec.min_value))
        schema.hyperparameters[name].parse(spec.api_value(spec.max_value))


def test_the_direction_follows_the_metric() -> None:
    # GIVEN each metric's direction as the container exports it THEN the app reads SageMaker's objective type
    exported = json.loads(ALGORITHM_FILE.read_text())["metrics"]
    assert {name: DIRECTIONS[entry["direction"]] for name, entry in exported.items()} == load_algorithm().metrics


def test_a_given_direction_wins(raw: dict[str, Any]) -> None:
    tuning = _with_tuning(raw, {"objective": OBJECTIVE, "objective_type": declared.OTHER_DIRECTION}).tuning
    assert tuning.direction == declared.OTHER_DIRECTION


def test_every_metric_the_container_reports_has_a_direction() -> None:
    # GIVEN the container's metrics THEN each has SageMaker's objective type, and some validation metric has one
    assert {load_algorithm().metrics[m] for m in metric_names()} <= {"Maximize", "Minimize"}
    assert any(m.startswith("validation:") for m in metric_names())


def _range(**values: Any) -> dict[str, Any]:
    return {"objective": OBJECTIVE, "ranges": values}


Case = tuple[dict[str, Any], dict[str, str], str]


def _case(tuning: dict[str, Any], message: str, hyperparameters: dict[str, str] = EXAMPLE) -> Case:
    return tuning, hyperparameters, message


def _hyperband_over_its_resource() -> Case:
    name = declared.resource().name
    tuning = _range(**{name: {"type": "integer", "min_value": 5, "max_value": 50}}) | {"strategy": "Hyperband"}
    message = rf"ranges\.{name}: Hyperband decides how much of {name} a job trains"
    return _case(tuning, message, declared.example_without_resource())


def _hyperband_minimum_over_the_static_resource() -> Case:
    name = declared.resource().name
    tuning = {"objective": OBJECTIVE, "strategy": "Hyperband", "hyperband_min_resource": 300}
    message = rf"tuning\.hyperband_min_resource \(300\) must not exceed training\.hyperparameters\.{name} \(200\)"
    return _case(tuning, message, declared.example_with(**{name: "200"}))


def _objective_the_jobs_do_not_report() -> Case:
    selector, other = declared.metric_hyperparameter(), declared.other_metric()
    message = rf"tuning\.objective: '{other}' is not reported: .*{selector} is '{EXAMPLE[selector]}'"
    return _case({"objective": other}, message)


def _objective_without_the_metric_hyperparameter() -> Case:
    selector = declared.metric_hyperparameter()
    without = {name: value for name, value in EXAMPLE.items() if name != selector}
    message = rf"tuning\.objective: set training\.hyperparameters\.{selector} = '{EXAMPLE[selector]}'"
    return _case({"objective": OBJECTIVE}, message, without)


def _integer_range(**fields: Any) -> Callable[[], Case]:
    """A case on an integer hyperparameter's range: `fields` over its bounds; `message` takes its name as {n}."""
    message = fields.pop("message")

    def build() -> Case:
        spec = declared.integer()
        low = int(spec.minimum or 0)
        bounds: dict[str, Any] = {"type": "integer", "min_value": low + 2, "max_value": low + 60} | fields
        if "values" in bounds:  # a valid value first
            bounds["values"] = [value.format(low=low) for value in bounds["values"]]
        return _case(_range(**{spec.name: bounds}), message.format(n=re.escape(spec.name), low=low))

    return build


def _categorical_range(
    values: Callable[[tuple[str, ...]], list[str]], message: str, **fields: Any
) -> Callable[[], Case]:
    def build() -> Case:
        spec = declared.categorical()
        choices = spec.choices or ()
        bounds = {"type": "categorical", "values": values(choices)} | fields
        return _case(_range(**{spec.name: bounds}), message.format(n=spec.name, choices=re.escape(", ".join(choices))))

    return build


def _not_tuned() -> Case:
    spec = declared.not_tuned()
    tuning = _range(**{spec.name: {"type": "categorical", "values": ["1", "2"]}})
    return _case(tuning, rf"ranges\.{spec.name}: {spec.name} is not tuned: {re.escape(spec.not_tuned)}")


def _type_of_a_float() -> Case:
    name = declared.continuous().name
    tuning = _range(**{name: {"type": "integer", "min_value": 1, "max_value": 2}})
    return _case(tuning, rf"ranges\.{name}\.type: {name} has type float .* use type = 'continuous'")


def _straddling_an_integer_bound(bound: Literal["minimum", "maximum"]) -> Callable[[], Case]:
    """A range from one below to one above the container's `bound`: the end past the bound is the error."""

    def build() -> Case:
        spec = declared.integer(**{bound: True})
        limit = int(getattr(spec, bound) or 0)
        tuning = _range(**{spec.name: {"type": "integer", "min_value": limit - 1, "max_value": limit + 1}})
        end, relation, past = ("min_value", ">=", limit - 1) if bound == "minimum" else ("max_value", "<=", limit + 1)
        message = f"ranges.{spec.name}.{end}: {spec.name} must be {relation} {limit:g} (container), got {past:g}"
        return _case(tuning, re.escape(message))

    return build


def _at_the_exclusive_minimum() -> Case:
    spec = declared.exclusive_minimum()
    low = spec.exclusive_minimum or 0.0
    tuning = _range(**{spec.name: {"type": "continuous", "min_value": low, "max_value": spec.maximum or low + 1}})
    message = f"ranges.{spec.name}.min_value: {spec.name} must be > {low:g} (container), got {low:g}"
    return _case(tuning, re.escape(message))


def _above_a_float_maximum() -> Case:
    spec = declared.continuous(maximum=True)
    high = spec.maximum or 0.0
    low = next(bound for bound in (spec.minimum, spec.exclusive_minimum, high - 1) if bound is not None)
    tuning = _range(**{spec.name: {"type": "continuous", "min_value": (low + high) / 2, "max_value": high + 0.5}})
    message = f"ranges.{spec.name}.max_value: {spec.name} must be <= {high:g} (container), got {high + 0.5:g}"
    return _case(tuning, re.escape(message))


def _float_range(message: str, **fields: Any) -> Callable[[], Case]:
    def build() -> Case:
        name = declared.continuous().name
        bounds = {"type": "continuous"} | fields
        return _case(_range(**{name: bounds}), message.format(n=name))

    return build


def _also_static() -> Case:
    name = declared.resource().name
    tuning = _range(**{name: {"type": "integer", "min_value": 5, "max_value": 50}})
    return _case(
        tuning, rf"tuning\.ranges\.{name}: also set in training\.hyperparameters", declared.example_with(**{name: "60"})
    )


def _given(tuning: dict[str, Any], message: str) -> Callable[[], Case]:
    return lambda: _case({"objective": OBJECTIVE} | tuning, message)


# A table of cases: each row another input and the error it must give.
# Each row builds its case when it runs, from what the algorithm declares (a skip when it declares no such thing).
@pytest.mark.parametrize(
    "case",
    [
        _given({"strategy": "Bayes"}, r"tuning\.strategy: must be one of Bayesian, Hyperband, Random"),
        _given({"strategy": "Grid"}, r"tuning\.strategy: must be one of Bayesian, Hyperband, Random \("),
        lambda: _case({"objective": "validation:no_such_metric"}, r"tuning: objective must be one of the container's"),
        lambda: _case(
            {"objective": (twin := declared.training_twin(OBJECTIVE))}, rf"objective '{twin}' must be a validation:"
        ),
        _given({"objective_type": "Max"}, r"tuning\.objective_type: must be one of"),
        _given({"max_training_jobs": 0}, r"tuning\.max_training_jobs: .*greater than or equal to 1"),
        _given({"max_training_jobs": 751}, r"tuning\.max_training_jobs: .*less than or equal to 750"),
        _given(
            {"max_training_jobs": 4, "max_parallel_training_jobs": 5},
            r"max_parallel_training_jobs \(5\) must not exceed max_training_jobs \(4\)",
        ),
        _given({"early_stopping": "On"}, r"tuning\.early_stopping: must be one of Auto, Off"),
        _given(
            {"warm_start": "IDENTICAL_DATA_AND_ALGORITHM"},
            r"tuning\.warm_start: must be one of IdenticalDataAndAlgorithm, TransferLearning",
        ),
        _given(
            {"strategy": "Hyperband", "early_stopping": "Auto"}, r"early_stopping must be 'Off' with strategy Hyperband"
        ),
        _hyperband_over_its_resource,
        _hyperband_minimum_over_the_static_resource,
        # The objective must be what the jobs report.
        _objective_the_jobs_do_not_report,
        _objective_without_the_metric_hyperparameter,
        # Ranges against the container's schema.
        lambda: _case(
            _range(no_such_hyperparameter={"type": "integer", "min_value": 2, "max_value": 8}),
            r"ranges\.no_such_hyperparameter: the container has no",
        ),
        lambda: _case(
            _range(_tuning_objective_metric={"type": "categorical", "values": ["a", "b"]}),
            r"ranges\._tuning_objective_metric: the container has no hyperparameter",
        ),
        _not_tuned,
        _type_of_a_float,
        _integer_range(type="continuous", message=r"ranges\.{n}\.type: {n} has type integer .* use type = 'integer'"),
        _integer_range(min_value=2.5, message=r"ranges\.{n}: integer ranges need whole-number bounds"),
        _integer_range(
            min_value=64, max_value=64, message=r"ranges\.{n}: min_value \(64\) must be below max_value \(64\)"
        ),
        _integer_range(max_value=None, message=r"ranges\.{n}: integer ranges need min_value and max_value"),
        _straddling_an_integer_bound("minimum"),
        _straddling_an_integer_bound("maximum"),
        _at_the_exclusive_minimum,
        _above_a_float_maximum,
        _float_range(
            r"ranges\.{n}\.min_value: Logarithmic scaling needs values above 0, got 0",
            min_value=0,
            max_value=10,
            scaling="Logarithmic",
        ),
        _float_range(
            r"ranges\.{n}: ReverseLogarithmic scaling needs 0 <= min_value and max_value < 1",
            min_value=0.5,
            max_value=1.0,
            scaling="ReverseLogarithmic",
        ),
        _integer_range(
            scaling="ReverseLogarithmic",
            message=r"ranges\.{n}\.scaling: ReverseLogarithmic applies to continuous ranges only",
        ),
        _integer_range(
            scaling="Exponential",
            message=r"tuning\.ranges\.{n}\.scaling: must be one of Auto, Linear, Logarithmic, ReverseLogarithmic",
        ),
        _integer_range(step=2, message=r"tuning\.ranges\.{n}\.step: unknown field"),
        _categorical_range(
            lambda choices: [choices[0]],
            r"ranges\.{n}\.values: give 2-30 values \(one value is a static hyperparameter",
        ),
        _categorical_range(
            lambda choices: [choices[0], "no_such_choice"],
            r"ranges\.{n}\.values: {n} must be one of {choices}; got 'no_such_choice'",
        ),
        _categorical_range(lambda choices: [choices[0], choices[0]], r"ranges\.{n}\.values: lists a value twice"),
        _integer_range(
            type="categorical",
            min_value=None,
            max_value=None,
            values=["{low}", "eight"],
            message=r"ranges\.{n}\.values: {n} must be an integer, got 'eight'",
        ),
        _categorical_range(
            lambda choices: list(choices[:2]),
            r"ranges\.{n}\.min_value: categorical ranges take values only",
            min_value=1,
        ),
        _integer_range(
            values=["8"], message=r"ranges\.{n}\.values: integer ranges take min_value and max_value, not values"
        ),
        _given({"ranges": {}}, r"tuning: ranges: give 1-30 hyperparameters, got 0"),
        # A name is either tuned or static.
        _also_static,
    ],
)
def test_bad_tuning_is_rejected_naming_environment_and_field(raw: dict[str, Any], case: Callable[[], Case]) -> None:
    # GIVEN staging with a broken tuning table WHEN loaded THEN the error names staging and the field
    tuning, hyperparameters, message = case()
    with pytest.raises(ConfigError, match=message) as error:
        _with_tuning(raw, tuning, hyperparameters)
    assert str(error.value).startswith("environment 'staging': "), str(error.value)
    assert re.search(r"tuning", str(error.value))


def test_many_problems_are_reported_at_once(raw: dict[str, Any]) -> None:
    # GIVEN two broken ranges WHEN loaded THEN both are named in one error
    integer, continuous = declared.integer(minimum=True), declared.continuous()
    low = int(integer.minimum or 0)
    tuning = _range(
        **{
            integer.name: {"type": "integer", "min_value": low - 1, "max_value": low + 60},
            continuous.name: {"type": "continuous", "min_value": 0.5, "max_value": 0.1},
        }
    )
    with pytest.raises(ConfigError) as error:
        _with_tuning(raw, tuning)
    assert f"ranges.{integer.name}.min_value" in str(error.value)
    assert f"ranges.{continuous.name}: min_value (0.5) must be below max_value (0.1)" in str(error.value)


def test_thirty_one_ranges_are_too_many() -> None:
    ranges = {f"name_{i}": {"type": "integer", "min_value": 1, "max_value": 2} for i in range(31)}
    with pytest.raises(ValueError, match=r"ranges: give 1-30 hyperparameters, got 31"):
        TuningSettings.model_validate({"objective": OBJECTIVE, "ranges": ranges})
