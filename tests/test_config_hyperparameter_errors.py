"""A training hyperparameter the container would reject stops synthesis, naming environment and hyperparameter.

The rules are the container's own (`container/hyperparameters.json`, read by `config.hyperparameters`); without
this check every pipeline run would start, and fail minutes later when the training job parses its input. The
hyperparameters are the schema's (tests/declared.py): the contract layer's own settings, which every algorithm's
schema holds, and the algorithm's required choice, nullable values and rules where it has them.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from tests import declared

Raw = dict[str, Any]
SCHEDULE = {"expression": "cron(0 3 * * ? *)", "data_prefix": "datasets/daily"}
INTEGER, FLOAT = declared.contract_setting("integer"), declared.contract_setting("float")
CHOICE = declared.optional(declared.required)
RATE = declared.optional(declared.exclusive_minimum)  # a float that must be above a bound (a rate, a step)
NO_CHOICE = pytest.mark.skipif(CHOICE is None, reason="the algorithm has no required hyperparameter with choices")
NO_RATE = pytest.mark.skipif(RATE is None, reason="the algorithm has no hyperparameter with an exclusive minimum")


def _refusal(name: str, value: str) -> str:
    """The container's message for `value` of `name`, without the name (the configuration's field path says it)."""
    try:
        declared.SCHEMA.hyperparameters[name].parse(value)
    except ValueError as error:
        return str(error).removeprefix(f"{name} ")
    raise AssertionError(f"{name}={value!r} parses")


@pytest.fixture
def raw() -> Raw:
    """A fresh, editable copy of the shipped configuration."""
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def _hyperparameters(raw: Raw, environment: str) -> dict[str, str]:
    hyperparameters: dict[str, str] = raw["environments"][environment]["training"].setdefault("hyperparameters", {})
    return hyperparameters


def _error(raw: Raw) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)
    return str(raised.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (INTEGER.name, "abc", "must be an integer, got 'abc'"),
        (INTEGER.name, "", "must be an integer, got ''"),
        (INTEGER.name, "2.5", "must be an integer, got '2.5'"),
        (
            INTEGER.name,
            str(int(INTEGER.minimum or 0) - 1),
            f"must be >= {INTEGER.minimum}, got {int(INTEGER.minimum or 0) - 1}",
        ),
        (INTEGER.name, "9" * 40, f"must be <= {INTEGER.maximum}, got {'9' * 40}"),
        (FLOAT.name, "nan", "must be a finite number, got 'nan'"),
        (FLOAT.name, "1e999", "must be a finite number, got '1e999'"),
        pytest.param(
            RATE.name if RATE else "",
            "0" if RATE is None else f"{RATE.exclusive_minimum}",
            f"must be > {RATE.exclusive_minimum if RATE else ''}, got",
            marks=NO_RATE,
        ),
        (FLOAT.name, "½", "must be a number, got '½'"),
        pytest.param(
            CHOICE.name if CHOICE else "",
            (CHOICE.choices or ("",))[0].upper() if CHOICE else "",
            f"must be one of {', '.join(CHOICE.choices or ()) if CHOICE else ''}; got",
            marks=NO_CHOICE,
        ),
        (
            f"{INTEGER.name}s",
            "100",
            f"unknown hyperparameter(s) {INTEGER.name}s; known: {min(declared.SCHEMA.hyperparameters)}, ",
        ),
        ("nüm_rounds", "31", "1-256 letters, digits or _ . : -"),
    ],
)
def test_a_value_the_container_rejects_is_named_with_environment_and_hyperparameter(
    raw: Raw, name: str, value: str, message: str
) -> None:
    # GIVEN staging's training hyperparameters with one value the container would refuse
    _hyperparameters(raw, "staging")[name] = value
    # WHEN the configuration is loaded THEN it stops, naming environment, field and hyperparameter, once
    error = _error(raw)
    assert error.startswith(f"environment 'staging': training.hyperparameters.{name}")
    assert message in error
    assert error.count(message) == 1, "the value is quoted once, not repeated as a '(got ...)' suffix"


def test_every_problem_of_every_environment_is_reported_at_once(raw: Raw) -> None:
    # GIVEN two bad hyperparameters in dev, one in prod, and an unrelated mistake in dev
    low = str(int(INTEGER.minimum or 0) - 1)
    _hyperparameters(raw, "dev").update({INTEGER.name: "abc", FLOAT.name: "0"})
    _hyperparameters(raw, "prod")[INTEGER.name] = low
    raw["environments"]["dev"]["training"]["volume_size_gb"] = 0
    # WHEN the configuration is loaded
    lines = _error(raw).splitlines()
    # THEN one line names each, so that one edit fixes them all
    assert sorted(lines) == sorted(
        [
            f"environment 'dev': training.hyperparameters.{INTEGER.name}: must be an integer, got 'abc'",
            f"environment 'dev': training.hyperparameters.{FLOAT.name}: {_refusal(FLOAT.name, '0')}",
            "environment 'dev': training.volume_size_gb: Input should be greater than or equal to 1 (got 0)",
            f"environment 'prod': training.hyperparameters.{INTEGER.name}: {_refusal(INTEGER.name, low)}",
        ]
    )


def test_values_the_container_accepts_load_as_written(raw: Raw) -> None:
    # GIVEN values the container parses (spaces, a nullable none, SageMaker's reserved names)
    nullable = [name for name, spec in declared.SCHEMA.hyperparameters.items() if spec.nullable]
    values = {INTEGER.name: f" {INTEGER.default} ", "_tuning_objective_metric": declared.OBJECTIVE}
    _hyperparameters(raw, "dev").update(values | dict.fromkeys(nullable[:1], "none"))
    # WHEN loaded THEN they pass unchanged: the configuration keeps SageMaker's strings
    training = parse_config(raw).environment("dev").training
    assert training.hyperparameters[INTEGER.name] == f" {INTEGER.default} "
    assert training.hyperparameters["_tuning_objective_metric"] == declared.OBJECTIVE


def test_the_shipped_configuration_satisfies_the_containers_schema() -> None:
    # GIVEN the shipped configuration WHEN each environment's hyperparameters are checked as a job would get them
    # THEN nothing is missing or rejected
    environments = parse_config(tomllib.loads(DEFAULT_CONFIG_FILE.read_text())).environments.values()
    assert all(load_schema().problems(e.training.hyperparameters, complete=True) == [] for e in environments)


def test_a_required_hyperparameter_may_come_from_each_execution_unless_a_schedule_starts_runs(raw: Raw) -> None:
    # GIVEN dev without a required hyperparameter (every `sagemaker_ops train` then passes -p <it>=...)
    required = declared.required().name
    del _hyperparameters(raw, "dev")[required]
    # WHEN loaded THEN it is accepted
    assert required not in parse_config(copy.deepcopy(raw)).environment("dev").training.hyperparameters
    # BUT WHEN a schedule starts the pipeline with the configured hyperparameters alone THEN it is refused
    raw["environments"]["dev"]["transform"]["schedule"] = SCHEDULE
    error = _error(raw)
    assert error.startswith("environment 'dev': ")
    assert f"training.hyperparameters: {required} is required: transform.schedule starts the pipeline" in error


@pytest.mark.parametrize("rule", declared.SCHEMA.rules, ids=lambda rule: "-".join(sorted(rule.names())))
def test_a_combination_the_container_refuses_stops_the_configuration(raw: Raw, rule: Any) -> None:
    # GIVEN prod's training hyperparameters, each value valid alone, whose combination a rule of the container refuses
    values = declared.breaking(rule, _hyperparameters(raw, "prod"))
    raw["environments"]["prod"]["training"]["hyperparameters"] = values
    # WHEN loaded THEN it stops naming environment and field: every run started without -p would fail
    error = _error(raw)
    assert error.startswith("environment 'prod': (settings): training.hyperparameters: ")
    for problem in declared.SCHEMA.rule_problems(values):
        assert problem in error
    assert "a run started without -p values trains with these" in error
    # AND WHEN a schedule starts runs with them THEN the schedule is named as the reason instead
    raw["environments"]["prod"]["transform"]["schedule"] = SCHEDULE
    assert "transform.schedule starts the pipeline with these alone" in _error(raw)


def test_a_combination_is_left_to_each_execution_while_a_required_value_is_missing(raw: Raw) -> None:
    # GIVEN dev without a required hyperparameter but with values a rule refuses over some value of it
    if not declared.SCHEMA.rules:
        pytest.skip(f"the algorithm {declared.ALGORITHM.name} has no rules")
    values = declared.breaking(declared.SCHEMA.rules[0], _hyperparameters(raw, "dev"))
    values.pop(declared.required().name, None)
    raw["environments"]["dev"]["training"]["hyperparameters"] = values
    # WHEN loaded THEN it is accepted: `sagemaker_ops train -p <it>=...` decides, and is checked then
    assert parse_config(raw).environment("dev").training.hyperparameters == values


def test_a_value_the_container_accepts_but_a_model_package_cannot_record_is_refused(raw: Raw) -> None:
    # GIVEN a value the container parses (Python strips the tab) which a version's metadata value cannot hold
    value = f"{INTEGER.default}\t"
    assert declared.SCHEMA.problems({INTEGER.name: value}) == []
    _hyperparameters(raw, "staging")[INTEGER.name] = value
    # WHEN the configuration is loaded THEN it stops before any run trains a model Register would refuse
    error = _error(raw)
    assert error.startswith("environment 'staging': training.hyperparameters")
    assert f"{INTEGER.name}: the value holds '\\t'" in error
