"""A training hyperparameter the container would reject stops synthesis, naming environment and hyperparameter.

The rules are the container's own (`container/hyperparameters.json`, read by `config.hyperparameters`); without
this check every pipeline run would start, and fail minutes later when the training job parses its input.
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE

Raw = dict[str, Any]
SCHEDULE = {"expression": "cron(0 3 * * ? *)", "data_prefix": "datasets/daily"}


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
        ("num_boost_round", "abc", "must be an integer, got 'abc'"),
        ("num_boost_round", "", "must be an integer, got ''"),
        ("num_boost_round", "2.5", "must be an integer, got '2.5'"),
        ("num_boost_round", "0", "must be >= 1, got 0"),
        ("num_boost_round", "9" * 40, f"must be <= 100000, got {'9' * 40}"),
        ("learning_rate", "nan", "must be a finite number, got 'nan'"),
        ("learning_rate", "1e999", "must be a finite number, got '1e999'"),
        ("learning_rate", "0", "must be > 0.0, got 0.0"),
        ("learning_rate", "½", "must be a number, got '½'"),
        ("objective", "Binary", "must be one of regression, binary, multiclass; got 'Binary'"),
        ("num_boost_rounds", "100", "unknown hyperparameter(s) num_boost_rounds; known: bagging_fraction, "),
        ("nüm_leaves", "31", "1-256 letters, digits or _ . : -"),
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
    # GIVEN three bad hyperparameters in dev, one in prod, and an unrelated mistake in dev
    _hyperparameters(raw, "dev").update(num_boost_round="abc", num_leaves="1", seed="-1")
    _hyperparameters(raw, "prod")["tree_learner"] = "feature"
    raw["environments"]["dev"]["training"]["volume_size_gb"] = 0
    # WHEN the configuration is loaded
    lines = _error(raw).splitlines()
    # THEN one line names each, so that one edit fixes them all
    assert sorted(lines) == [
        "environment 'dev': training.hyperparameters.num_boost_round: must be an integer, got 'abc'",
        "environment 'dev': training.hyperparameters.num_leaves: must be >= 2, got 1",
        "environment 'dev': training.hyperparameters.seed: must be >= 0, got -1",
        "environment 'dev': training.volume_size_gb: Input should be greater than or equal to 1 (got 0)",
        "environment 'prod': training.hyperparameters.tree_learner: must be one of data, voting; got 'feature'",
    ]


def test_values_the_container_accepts_load_as_written(raw: Raw) -> None:
    # GIVEN values the container parses (spaces, a nullable none, SageMaker's reserved names)
    _hyperparameters(raw, "dev").update(
        num_leaves=" 63 ", num_class="none", metric="auc", _tuning_objective_metric="validation:auc"
    )
    # WHEN loaded THEN they pass unchanged: the configuration keeps SageMaker's strings
    training = parse_config(raw).environment("dev").training
    assert training.hyperparameters["num_leaves"] == " 63 "
    assert training.hyperparameters["_tuning_objective_metric"] == "validation:auc"


def test_the_shipped_configuration_satisfies_the_containers_schema() -> None:
    # GIVEN the shipped configuration WHEN each environment's hyperparameters are checked as a job would get them
    # THEN nothing is missing or rejected
    environments = parse_config(tomllib.loads(DEFAULT_CONFIG_FILE.read_text())).environments.values()
    assert all(load_schema().problems(e.training.hyperparameters, complete=True) == [] for e in environments)


def test_a_required_hyperparameter_may_come_from_each_execution_unless_a_schedule_starts_runs(raw: Raw) -> None:
    # GIVEN dev without an objective (every `sagemaker_ops train` then passes -p objective=...)
    del _hyperparameters(raw, "dev")["objective"]
    # WHEN loaded THEN it is accepted
    assert "objective" not in parse_config(copy.deepcopy(raw)).environment("dev").training.hyperparameters
    # BUT WHEN a schedule starts the pipeline with the configured hyperparameters alone THEN it is refused
    raw["environments"]["dev"]["transform"]["schedule"] = SCHEDULE
    error = _error(raw)
    assert error.startswith("environment 'dev': ")
    assert "training.hyperparameters: objective is required: transform.schedule starts the pipeline" in error


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"objective": "multiclass"}, "num_class is required when objective is multiclass"),
        ({"objective": "binary", "num_class": "3"}, "num_class must not be set when objective is one of regression"),
        ({"objective": "binary", "metric": "l2"}, "metric must be one of binary_logloss, binary_error, auc, "),
        ({"objective": "binary", "bagging_fraction": "0.8"}, "bagging_freq must be > 0 when bagging_fraction < 1.0"),
    ],
)
def test_a_combination_the_container_refuses_stops_the_configuration(
    raw: Raw, values: dict[str, str], message: str
) -> None:
    # GIVEN prod's training hyperparameters, each value valid alone, whose combination the container refuses
    _hyperparameters(raw, "prod").update(values)
    # WHEN loaded THEN it stops naming environment and field: every run started without -p would fail
    error = _error(raw)
    assert error.startswith("environment 'prod': (settings): training.hyperparameters: ")
    assert f"{message}" in error
    assert "a run started without -p values trains with these" in error
    # AND WHEN a schedule starts runs with them THEN the schedule is named as the reason instead
    raw["environments"]["prod"]["transform"]["schedule"] = SCHEDULE
    assert "transform.schedule starts the pipeline with these alone" in _error(raw)


def test_a_combination_is_left_to_each_execution_while_a_required_value_is_missing(raw: Raw) -> None:
    # GIVEN dev without an objective but with num_class (right for multiclass, wrong otherwise)
    del _hyperparameters(raw, "dev")["objective"]
    _hyperparameters(raw, "dev")["num_class"] = "3"
    # WHEN loaded THEN it is accepted: `sagemaker_ops train -p objective=...` decides, and is checked then
    assert parse_config(raw).environment("dev").training.hyperparameters["num_class"] == "3"
