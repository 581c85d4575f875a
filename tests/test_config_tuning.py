"""`[environments.<env>.tuning]`: checked against botocore and the container's schema; each rule names environment
and field."""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

import pytest

from config import ConfigError, parse_config
from config.algorithm import load_algorithm
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from config.tuning import TuningSettings, default_ranges, metric_names

BINARY = {"objective": "binary", "metric": "auc", "num_boost_round": "200"}


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def _with_tuning(raw: dict[str, Any], tuning: dict[str, Any], hyperparameters: dict[str, str] = BINARY) -> Any:
    raw["environments"]["staging"]["tuning"] = tuning
    raw["environments"]["staging"]["training"]["hyperparameters"] = dict(hyperparameters)
    return parse_config(raw).environment("staging")


def test_no_environment_tunes_as_shipped(raw: dict[str, Any]) -> None:
    # GIVEN the shipped configuration THEN no environment has tuning (dev shows a commented example)
    assert all(e.tuning is None for e in parse_config(raw).environments.values())


def test_the_commented_example_in_environments_toml_is_valid(raw: dict[str, Any]) -> None:
    # GIVEN the commented [environments.dev.tuning] example, uncommented
    lines = DEFAULT_CONFIG_FILE.read_text().splitlines()
    start = lines.index("# [environments.dev.tuning]") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    example = tomllib.loads("\n".join(block))
    # WHEN dev uses it with the metric its comment asks for
    raw["environments"]["dev"]["tuning"] = example
    raw["environments"]["dev"]["training"]["hyperparameters"]["metric"] = "auc"
    tuning = parse_config(raw).environment("dev").tuning
    # THEN it loads as written
    assert tuning is not None
    assert (tuning.objective, tuning.direction, tuning.warm_start) == ("validation:auc", "Maximize", "TransferLearning")
    assert set(tuning.ranges) == {"learning_rate", "num_leaves", "feature_fraction"}


def test_defaults_are_bayesian_over_the_lightgbm_ranges(raw: dict[str, Any]) -> None:
    # GIVEN only an objective WHEN loaded
    tuning = _with_tuning(raw, {"objective": "validation:auc"}).tuning
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


@pytest.mark.parametrize(
    ("metric", "direction"),
    [
        ("validation:auc", "Maximize"),
        ("validation:auc_mu", "Maximize"),
        ("validation:average_precision", "Maximize"),
        ("validation:rmse", "Minimize"),
        ("validation:l2", "Minimize"),
        ("validation:binary_logloss", "Minimize"),
        ("validation:binary_error", "Minimize"),
        ("validation:multi_error", "Minimize"),
    ],
)
def test_the_direction_follows_the_metric(metric: str, direction: str) -> None:
    assert load_algorithm().metrics[metric] == direction


def test_a_given_direction_wins(raw: dict[str, Any]) -> None:
    tuning = _with_tuning(raw, {"objective": "validation:auc", "objective_type": "Minimize"}).tuning
    assert tuning.direction == "Minimize"


def test_every_metric_the_container_reports_has_a_direction() -> None:
    # GIVEN the container's validation metrics THEN the rule decides each (the Maximize list is small on purpose)
    maximized = {m for m in metric_names() if load_algorithm().metrics[m] == "Maximize"}
    assert {m.partition(":")[2] for m in maximized} == {"auc", "auc_mu", "average_precision"}


def _range(**values: Any) -> dict[str, Any]:
    return {"objective": "validation:auc", "ranges": values}


# A table of cases: its rows share a shape (duplicates pairs them), each is another input and the error it must give.
@pytest.mark.parametrize(
    ("tuning", "hyperparameters", "message"),
    [
        (
            {"objective": "validation:auc", "strategy": "Bayes"},
            BINARY,
            r"tuning\.strategy: must be one of Bayesian, Hyperband, Random",
        ),
        (
            {"objective": "validation:auc", "strategy": "Grid"},
            BINARY,
            r"tuning\.strategy: must be one of Bayesian, Hyperband, Random \(",
        ),
        ({"objective": "validation:ndcg"}, BINARY, r"tuning: objective must be one of the container's metrics"),
        ({"objective": "train:auc"}, BINARY, r"objective 'train:auc' must be a validation: metric"),
        ({"objective": "validation:auc", "objective_type": "Max"}, BINARY, r"tuning\.objective_type: must be one of"),
        (
            {"objective": "validation:auc", "max_training_jobs": 0},
            BINARY,
            r"tuning\.max_training_jobs: .*greater than or equal to 1",
        ),
        (
            {"objective": "validation:auc", "max_training_jobs": 751},
            BINARY,
            r"tuning\.max_training_jobs: .*less than or equal to 750",
        ),
        (
            {"objective": "validation:auc", "max_training_jobs": 4, "max_parallel_training_jobs": 5},
            BINARY,
            r"max_parallel_training_jobs \(5\) must not exceed max_training_jobs \(4\)",
        ),
        (
            {"objective": "validation:auc", "early_stopping": "On"},
            BINARY,
            r"tuning\.early_stopping: must be one of Auto, Off",
        ),
        (
            {"objective": "validation:auc", "warm_start": "IDENTICAL_DATA_AND_ALGORITHM"},
            BINARY,
            r"tuning\.warm_start: must be one of IdenticalDataAndAlgorithm, TransferLearning",
        ),
        (
            {"objective": "validation:auc", "strategy": "Hyperband", "early_stopping": "Auto"},
            BINARY,
            r"early_stopping must be 'Off' with strategy Hyperband",
        ),
        (
            _range(num_boost_round={"type": "integer", "min_value": 50, "max_value": 500}) | {"strategy": "Hyperband"},
            {"objective": "binary", "metric": "auc"},
            r"ranges\.num_boost_round: Hyperband decides how much of num_boost_round a job trains",
        ),
        (
            {"objective": "validation:auc", "strategy": "Hyperband", "hyperband_min_resource": 300},
            BINARY,
            r"tuning\.hyperband_min_resource \(300\) must not exceed "
            r"training\.hyperparameters\.num_boost_round \(200\)",
        ),
        # The objective must be what the jobs report.
        (
            {"objective": "validation:rmse"},
            BINARY,
            r"tuning\.objective: 'validation:rmse' is not reported: .*metric is 'auc'",
        ),
        (
            {"objective": "validation:auc"},
            {"objective": "binary"},
            r"tuning\.objective: set training\.hyperparameters\.metric = 'auc'",
        ),
        # Ranges against the container's schema.
        (
            _range(max_leaves={"type": "integer", "min_value": 2, "max_value": 8}),
            BINARY,
            r"ranges\.max_leaves: the container has no",
        ),
        (
            _range(_tuning_objective_metric={"type": "categorical", "values": ["a", "b"]}),
            BINARY,
            r"ranges\._tuning_objective_metric: the container has no hyperparameter",
        ),
        (_range(seed={"type": "integer", "min_value": 1, "max_value": 9}), BINARY, r"ranges\.seed: seed is not tuned"),
        (
            _range(train_metric_period={"type": "integer", "min_value": 1, "max_value": 10}),
            BINARY,
            r"ranges\.train_metric_period: train_metric_period is not tuned: it changes what the log reports",
        ),
        (
            _range(metric={"type": "categorical", "values": ["auc", "binary_error"]}),
            BINARY,
            r"ranges\.metric: metric is not tuned",
        ),
        (
            _range(learning_rate={"type": "integer", "min_value": 1, "max_value": 2}),
            BINARY,
            r"ranges\.learning_rate\.type: learning_rate has type float .* use type = 'continuous'",
        ),
        (
            _range(num_leaves={"type": "continuous", "min_value": 2, "max_value": 64}),
            BINARY,
            r"ranges\.num_leaves\.type: num_leaves has type integer .* use type = 'integer'",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 2.5, "max_value": 64}),
            BINARY,
            r"ranges\.num_leaves: integer ranges need whole-number bounds",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 64, "max_value": 64}),
            BINARY,
            r"ranges\.num_leaves: min_value \(64\) must be below max_value \(64\)",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8}),
            BINARY,
            r"ranges\.num_leaves: integer ranges need min_value and max_value",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 1, "max_value": 64}),
            BINARY,
            r"ranges\.num_leaves\.min_value: num_leaves must be >= 2 \(container\), got 1",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8, "max_value": 200000}),
            BINARY,
            r"ranges\.num_leaves\.max_value: num_leaves must be <= 131072 \(container\), got 200000",
        ),
        (
            _range(learning_rate={"type": "continuous", "min_value": 0, "max_value": 0.3}),
            BINARY,
            r"ranges\.learning_rate\.min_value: learning_rate must be > 0 \(container\), got 0",
        ),
        (
            _range(feature_fraction={"type": "continuous", "min_value": 0.5, "max_value": 1.5}),
            BINARY,
            r"ranges\.feature_fraction\.max_value: feature_fraction must be <= 1 \(container\), got 1\.5",
        ),
        (
            _range(lambda_l2={"type": "continuous", "min_value": 0, "max_value": 10, "scaling": "Logarithmic"}),
            BINARY,
            r"ranges\.lambda_l2\.min_value: Logarithmic scaling needs values above 0, got 0",
        ),
        (
            _range(
                feature_fraction={
                    "type": "continuous",
                    "min_value": 0.5,
                    "max_value": 1.0,
                    "scaling": "ReverseLogarithmic",
                }
            ),
            BINARY,
            r"ranges\.feature_fraction: ReverseLogarithmic scaling needs 0 <= min_value and max_value < 1",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8, "max_value": 64, "scaling": "ReverseLogarithmic"}),
            BINARY,
            r"ranges\.num_leaves\.scaling: ReverseLogarithmic applies to continuous ranges only",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8, "max_value": 64, "scaling": "Exponential"}),
            BINARY,
            r"tuning\.ranges\.num_leaves\.scaling: must be one of Auto, Linear, Logarithmic, ReverseLogarithmic",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8, "max_value": 64, "step": 2}),
            BINARY,
            r"tuning\.ranges\.num_leaves\.step: unknown field",
        ),
        (
            _range(tree_learner={"type": "categorical", "values": ["data"]}),
            BINARY,
            r"ranges\.tree_learner\.values: give 2-30 values \(one value is a static hyperparameter",
        ),
        (
            _range(tree_learner={"type": "categorical", "values": ["data", "feature"]}),
            BINARY,
            r"ranges\.tree_learner\.values: tree_learner must be one of data, voting; got 'feature'",
        ),
        (
            _range(tree_learner={"type": "categorical", "values": ["data", "data"]}),
            BINARY,
            r"ranges\.tree_learner\.values: lists a value twice",
        ),
        (
            _range(max_depth={"type": "categorical", "values": ["4", "eight"]}),
            BINARY,
            r"ranges\.max_depth\.values: max_depth must be an integer, got 'eight'",
        ),
        (
            _range(tree_learner={"type": "categorical", "values": ["data", "voting"], "min_value": 1}),
            BINARY,
            r"ranges\.tree_learner\.min_value: categorical ranges take values only",
        ),
        (
            _range(num_leaves={"type": "integer", "min_value": 8, "max_value": 64, "values": ["8"]}),
            BINARY,
            r"ranges\.num_leaves\.values: integer ranges take min_value and max_value, not values",
        ),
        ({"objective": "validation:auc", "ranges": {}}, BINARY, r"tuning: ranges: give 1-30 hyperparameters, got 0"),
        # A name is either tuned or static.
        (
            _range(num_boost_round={"type": "integer", "min_value": 50, "max_value": 500}),
            BINARY,
            r"tuning\.ranges\.num_boost_round: also set in training\.hyperparameters",
        ),
    ],
)
def test_bad_tuning_is_rejected_naming_environment_and_field(
    raw: dict[str, Any], tuning: dict[str, Any], hyperparameters: dict[str, str], message: str
) -> None:
    # GIVEN staging with a broken tuning table WHEN loaded THEN the error names staging and the field
    with pytest.raises(ConfigError, match=message) as error:
        _with_tuning(raw, tuning, hyperparameters)
    assert str(error.value).startswith("environment 'staging': "), str(error.value)
    assert re.search(r"tuning", str(error.value))


def test_many_problems_are_reported_at_once(raw: dict[str, Any]) -> None:
    # GIVEN two broken ranges WHEN loaded THEN both are named in one error
    tuning = _range(
        num_leaves={"type": "integer", "min_value": 1, "max_value": 64},
        learning_rate={"type": "continuous", "min_value": 0.5, "max_value": 0.1},
    )
    with pytest.raises(ConfigError) as error:
        _with_tuning(raw, tuning)
    assert "ranges.num_leaves.min_value" in str(error.value)
    assert "ranges.learning_rate: min_value (0.5) must be below max_value (0.1)" in str(error.value)


def test_thirty_one_ranges_are_too_many() -> None:
    ranges = {f"name_{i}": {"type": "integer", "min_value": 1, "max_value": 2} for i in range(31)}
    with pytest.raises(ValueError, match=r"ranges: give 1-30 hyperparameters, got 31"):
        TuningSettings.model_validate({"objective": "validation:auc", "ranges": ranges})
