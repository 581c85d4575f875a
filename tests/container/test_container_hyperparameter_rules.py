"""The rules combining hyperparameters: declared once on the dataclass, enforced by it, exported, read by the app.

The app applies the exported rules before a pipeline run starts, with the same implementation (hyperschema/)
reading them back from container/hyperparameters.json; these tests pin that the export loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
from hyperschema import Condition, Rule, Schema, enforce, param, schema_of
from lightgbm_gbdt.algorithm import ALGORITHM, METRICS
from sagemaker_contract import exports, hyperparameters
from sagemaker_contract.errors import UserError

from tests.container.harness import CONTAINER

# Worst combinations of each rule, and the container's message for each.
REFUSED = [
    ({"objective": "multiclass"}, "num_class is required when objective is multiclass"),
    (
        {"objective": "binary", "num_class": "3"},
        "num_class must not be set when objective is one of regression, binary "
        "(num_class applies to objective multiclass only)",
    ),
    ({"objective": "regression", "num_class": "2"}, "num_class must not be set when objective is one of regression"),
    (
        {"objective": "regression", "metric": "auc"},
        "metric must be one of l2, l1, rmse, huber, mape when objective is regression, got 'auc'",
    ),
    (
        {"objective": "multiclass", "num_class": "3", "metric": "binary_logloss"},
        "metric must be one of multi_logloss, multi_error, auc_mu when objective is multiclass, got 'binary_logloss'",
    ),
    (
        {"objective": "binary", "bagging_fraction": "0.999"},
        "bagging_freq must be > 0 when bagging_fraction < 1.0, got 0 "
        "(bagging_fraction < 1 has no effect unless bagging_freq > 0)",
    ),
]
ACCEPTED = [
    {"objective": "multiclass", "num_class": "2"},
    {"objective": "binary", "num_class": "none"},
    {"objective": "binary", "metric": "average_precision"},
    {"objective": "regression", "bagging_fraction": "0.5", "bagging_freq": "1"},
    {"objective": "regression", "bagging_fraction": "1.0"},
]


def _container_problem(values: dict[str, str]) -> str | None:
    try:
        hyperparameters.parse(ALGORITHM.hyperparameters, values)
    except UserError as error:
        return str(error).removeprefix("invalid hyperparameters: ")
    return None


@pytest.mark.parametrize(("values", "message"), REFUSED)
def test_the_container_refuses_each_combination_naming_the_rule(values: dict[str, str], message: str) -> None:
    # GIVEN a combination one rule forbids WHEN the job parses it THEN it fails naming what is wrong
    problem = _container_problem(values)
    assert problem is not None
    assert message in problem


@pytest.mark.parametrize("values", ACCEPTED)
def test_the_container_accepts_the_combinations_next_to_each_rule(values: dict[str, str]) -> None:
    assert _container_problem(values) is None


def test_every_broken_rule_is_named_at_once() -> None:
    problem = _container_problem({"objective": "binary", "num_class": "4", "metric": "l2", "bagging_fraction": "0.5"})
    assert problem is not None
    assert problem.count("; ") == 2, problem


def test_the_dataclass_enforces_the_rules_when_built_directly() -> None:
    with pytest.raises(ValueError, match="num_class is required when objective is multiclass"):
        ALGORITHM.hyperparameters(objective="multiclass")


def test_the_rules_are_exported_with_the_schema() -> None:
    # GIVEN the image's schema WHEN exported THEN every rule of the dataclass is in it, as data
    exported = exports.schema(ALGORITHM).as_json()
    assert exported["rules"] == [rule.as_json() for rule in ALGORITHM.hyperparameters.RULES]
    metric_rules = [r for r in exported["rules"] if "metric" in r["then"]]
    assert {r["when"]["objective"]["one_of"][0]: r["then"]["metric"]["one_of"] for r in metric_rules} == {
        objective: list(metrics) for objective, metrics in METRICS.items()
    }
    assert json.loads((CONTAINER / "hyperparameters.json").read_text())["rules"] == exported["rules"]


def test_a_rule_naming_a_field_the_dataclass_lacks_cannot_be_exported() -> None:
    @dataclass(frozen=True)
    class Broken:
        RULES: ClassVar[tuple[Rule, ...]] = (Rule(when={"mode": Condition(one_of=("a",))}, require=("extra",)),)
        mode: str = param(default="a")

    with pytest.raises(ValueError, match=r"Broken\.RULES names \['extra'\], not its fields"):
        schema_of(Broken)


def test_enforce_reports_nothing_for_an_unset_value_in_a_condition() -> None:
    @dataclass(frozen=True)
    class Optional:
        RULES: ClassVar[tuple[Rule, ...]] = (Rule(when={"size": Condition(above=1)}, forbid=("other",)),)
        size: int | None = param(default=None)
        other: int | None = param(default=None)

    enforce(Optional(size=None, other=3), Optional.RULES)
    enforce(Optional(size=1, other=3), Optional.RULES)
    with pytest.raises(ValueError, match="other must not be set when size > 1"):
        enforce(Optional(size=2, other=3), Optional.RULES)


@pytest.mark.parametrize("values", [values for values, _ in REFUSED] + ACCEPTED)
def test_the_app_decides_and_words_each_combination_as_the_container(values: dict[str, str]) -> None:
    # GIVEN the exported file read by the app's reader WHEN a complete set of values is checked
    schema = Schema.from_json(json.loads((CONTAINER / "hyperparameters.json").read_text()))
    # THEN it finds exactly the container's problems, in the container's words
    problem = _container_problem(values)
    assert schema.problems(values, complete=True) == (problem.split("; ") if problem else [])
