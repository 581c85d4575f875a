"""The app's copy of the container's hyperparameter rules: every value the container would reject is caught early."""

from __future__ import annotations

from typing import Any

import pytest

from config.hyperparameters import HyperparameterSchema, load_schema, parse_schema

DOCUMENT: dict[str, Any] = {
    "hyperparameters": {
        "objective": {"type": "string", "required": True, "choices": ["binary", "regression"]},
        "num_class": {"type": "integer", "nullable": True, "minimum": 2},
        "learning_rate": {"type": "float", "exclusive_minimum": 0.0, "maximum": 1.0, "default": 0.1},
        "deterministic": {"type": "boolean", "default": False},
    },
    "reserved": ["_tuning_objective_metric"],
    "rules": [
        {"when": {"objective": {"one_of": ["binary"]}}, "forbid": ["num_class"], "reason": "binary has two"},
        {"when": {"learning_rate": {"above": 0.5}}, "then": {"deterministic": {"one_of": [True]}}},
    ],
}


@pytest.fixture
def schema() -> HyperparameterSchema:
    return parse_schema(DOCUMENT)


def test_values_the_container_accepts_have_no_problem(schema: HyperparameterSchema) -> None:
    values = {"objective": "binary", "num_class": "none", "learning_rate": " 0.05", "deterministic": "Yes"}
    assert schema.problems(values, complete=True) == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learning_rate": "abc"}, "learning_rate must be a number, got 'abc'"),
        ({"learning_rate": "nan"}, "learning_rate must be a finite number"),
        ({"learning_rate": "1e999"}, "learning_rate must be a finite number"),
        ({"learning_rate": "0"}, "learning_rate must be > 0.0, got 0.0"),
        ({"learning_rate": "1.5"}, "learning_rate must be <= 1.0, got 1.5"),
        ({"num_class": "1"}, "num_class must be >= 2, got 1"),
        ({"num_class": "2.5"}, "num_class must be an integer, got '2.5'"),
        ({"objective": "rank"}, "objective must be one of binary, regression; got 'rank'"),
        ({"deterministic": "maybe"}, "deterministic must be true or false, got 'maybe'"),
        ({"num_boost_rounds": "10"}, "unknown hyperparameter(s) num_boost_rounds; known: deterministic, learning_rate"),
    ],
)
def test_each_value_the_container_rejects_is_named(
    schema: HyperparameterSchema, values: dict[str, str], message: str
) -> None:
    (problem,) = schema.problems(values)
    assert problem.startswith(message)


def test_every_problem_is_reported_at_once_and_required_names_when_complete(schema: HyperparameterSchema) -> None:
    problems = schema.problems({"learning_rate": "x", "num_class": "0"}, complete=True)
    assert problems == [
        "learning_rate must be a number, got 'x'",
        "num_class must be >= 2, got 0",
        "objective is required",
    ]


def test_sagemaker_reserved_names_pass(schema: HyperparameterSchema) -> None:
    assert schema.problems({"_tuning_objective_metric": "validation:auc"}) == []


def test_rules_apply_to_a_complete_set_of_values_after_defaults(schema: HyperparameterSchema) -> None:
    # GIVEN values each valid alone but breaking a rule of the container
    values = {"objective": "binary", "num_class": "3", "learning_rate": "0.9"}
    # WHEN checked as a job's complete input THEN every broken rule is named, in the container's words
    assert schema.problems(values, complete=True) == [
        "num_class must not be set when objective is binary (binary has two)",
        "deterministic must be True when learning_rate > 0.5, got False",
    ]
    # BUT a partial set (an execution may still add or override values) and a nullable none pass
    assert schema.problems(values) == []
    assert schema.problems({"objective": "binary", "num_class": "none"}, complete=True) == []
    assert schema.rule_problems({"num_class": "3"}) == []  # objective missing: the job reports that first
    assert schema.problems({"objective": "binary", "num_class": "1"}, complete=True) == [
        "num_class must be >= 2, got 1"
    ]


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"hyperparameters": []},
        {"hyperparameters": {"x": {"type": "complex"}}},
        {"hyperparameters": {}, "reserved": "a"},
        {"hyperparameters": {}, "rules": {}},
        {"hyperparameters": {}, "rules": [{"unless": {}}]},
        {"hyperparameters": {"x": {"type": "integer"}}, "rules": [{"when": {"y": {"above": 1}}}]},
        {"hyperparameters": {"x": {"type": "integer"}}, "rules": [{"when": {"x": {"equals": 1}}}]},
        {"hyperparameters": {"x": {"type": "integer"}}, "rules": [{"when": {"x": {"one_of": 1}}}]},
        {"hyperparameters": {"x": {"type": "integer"}}, "rules": [{"when": {}, "require": ["y"]}]},
    ],
)
def test_a_malformed_schema_document_is_refused(document: Any) -> None:
    with pytest.raises(ValueError, match="schema"):
        parse_schema(document)


def test_the_exported_schema_of_the_container_loads() -> None:
    schema = load_schema()
    assert "objective" in schema.hyperparameters
    assert "_tuning_objective_metric" in schema.reserved
    assert schema.problems({"objective": "binary", "_tuning_objective_metric": "validation:auc"}, complete=True) == []
