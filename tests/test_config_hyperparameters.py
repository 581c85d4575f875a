"""The app's copy of the container's hyperparameter rules: every value the container would reject is caught early.

The schema below is the test's own (no algorithm's); the last test loads the one the container exports.
"""

from __future__ import annotations

from typing import Any

import pytest

from config.hyperparameters import HyperparameterSchema, load_schema, parse_schema
from tests import declared

DOCUMENT: dict[str, Any] = {
    "hyperparameters": {
        "objective": {"type": "string", "required": True, "choices": ["binary", "regression"]},
        "classes": {"type": "integer", "nullable": True, "minimum": 2},
        "step_size": {"type": "float", "exclusive_minimum": 0.0, "maximum": 1.0, "default": 0.1},
        "deterministic": {"type": "boolean", "default": False},
    },
    "reserved": ["_tuning_objective_metric"],
    "rules": [
        {"when": {"objective": {"one_of": ["binary"]}}, "forbid": ["classes"], "reason": "binary has two"},
        {"when": {"step_size": {"above": 0.5}}, "then": {"deterministic": {"one_of": [True]}}},
    ],
}


@pytest.fixture
def schema() -> HyperparameterSchema:
    return parse_schema(DOCUMENT)


def test_values_the_container_accepts_have_no_problem(schema: HyperparameterSchema) -> None:
    values = {"objective": "binary", "classes": "none", "step_size": " 0.05", "deterministic": "Yes"}
    assert schema.problems(values, complete=True) == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"step_size": "abc"}, "step_size must be a number, got 'abc'"),
        ({"step_size": "nan"}, "step_size must be a finite number"),
        ({"step_size": "1e999"}, "step_size must be a finite number"),
        ({"step_size": "0"}, "step_size must be > 0.0, got 0.0"),
        ({"step_size": "1.5"}, "step_size must be <= 1.0, got 1.5"),
        ({"classes": "1"}, "classes must be >= 2, got 1"),
        ({"classes": "2.5"}, "classes must be an integer, got '2.5'"),
        ({"objective": "rank"}, "objective must be one of binary, regression; got 'rank'"),
        ({"deterministic": "maybe"}, "deterministic must be true or false, got 'maybe'"),
        ({"rounds_typo": "10"}, "unknown hyperparameter(s) rounds_typo; known: classes, deterministic"),
    ],
)
def test_each_value_the_container_rejects_is_named(
    schema: HyperparameterSchema, values: dict[str, str], message: str
) -> None:
    (problem,) = schema.problems(values)
    assert problem.startswith(message)


def test_every_problem_is_reported_at_once_and_required_names_when_complete(schema: HyperparameterSchema) -> None:
    problems = schema.problems({"step_size": "x", "classes": "0"}, complete=True)
    assert problems == [
        "classes must be >= 2, got 0",
        "step_size must be a number, got 'x'",
        "objective is required",
    ]


def test_sagemaker_reserved_names_pass(schema: HyperparameterSchema) -> None:
    assert schema.problems({"_tuning_objective_metric": "validation:score"}) == []


def test_rules_apply_to_a_complete_set_of_values_after_defaults(schema: HyperparameterSchema) -> None:
    # GIVEN values each valid alone but breaking a rule of the container
    values = {"objective": "binary", "classes": "3", "step_size": "0.9"}
    # WHEN checked as a job's complete input THEN every broken rule is named, in the container's words
    assert schema.problems(values, complete=True) == [
        "classes must not be set when objective is binary (binary has two)",
        "deterministic must be True when step_size > 0.5, got False",
    ]
    # BUT a partial set (an execution may still add or override values) and a nullable none pass
    assert schema.problems(values) == []
    assert schema.problems({"objective": "binary", "classes": "none"}, complete=True) == []
    assert schema.rule_problems({"classes": "3"}) == []  # objective missing: the job reports that first
    assert schema.problems({"objective": "binary", "classes": "1"}, complete=True) == ["classes must be >= 2, got 1"]


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
    assert set(declared.EXAMPLE) <= set(schema.hyperparameters)
    assert "_tuning_objective_metric" in schema.reserved
    values = declared.EXAMPLE | {"_tuning_objective_metric": declared.OBJECTIVE}
    assert schema.problems(values, complete=True) == []
