"""scripts/demo_swap.py: fitting the configuration to another algorithm, and writing it back as TOML."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from typing import Any

import pytest

from config.algorithm import Capabilities, load_algorithm
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from scripts import demo_swap
from tests.declared import OBJECTIVE


def _shipped() -> dict[str, Any]:
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    return raw


def test_the_configuration_is_left_as_it_is_for_the_algorithm_it_was_written_for() -> None:
    raw = _shipped()
    assert demo_swap.fit_to_algorithm(raw, load_algorithm(), load_schema()) == []
    assert raw == _shipped()


def test_what_another_algorithm_cannot_run_is_fitted_and_said() -> None:
    # GIVEN an algorithm with other hyperparameters and metrics, one host, no checkpoints
    any_entry = next(iter(load_schema().hyperparameters.values()))
    schema = dataclasses.replace(load_schema(), hyperparameters={"shrink": any_entry})
    algorithm = dataclasses.replace(
        load_algorithm(),
        name="mean",
        metrics={"validation:mse": "Minimize"},
        capabilities=Capabilities(several_hosts=False, checkpoints=False, early_stopping=False, tuning_resource=None),
        example_hyperparameters={"shrink": "0.1"},
    )
    raw = _shipped()
    gate = OBJECTIVE  # a metric of the image's algorithm
    raw["environments"]["staging"]["training"]["evaluation"] = {"metric": gate, "threshold": 0.5}
    raw["environments"]["dev"]["training"]["instance_count"] = 3
    raw["environments"]["dev"]["training"]["tuning"] = {"objective": gate}
    before = copy.deepcopy(raw)
    # WHEN fitted
    notes = demo_swap.fit_to_algorithm(raw, algorithm, schema)
    # THEN every environment trains on the example set, without what the algorithm lacks, and each change is said
    for name, environment in raw["environments"].items():
        training = environment["training"]
        assert training["hyperparameters"] == {"shrink": "0.1"}, name
        assert not training.get("use_spot") and "max_wait_seconds" not in training, name
        assert training.get("instance_count", 1) == 1, name
        assert "evaluation" not in training and "tuning" not in training, name
    assert "dev.training.instance_count: 1 (one host)" in notes
    assert f"dev.training.tuning: dropped ({gate} is not declared)" in notes
    assert f"staging.training.evaluation: dropped ({gate} is not declared)" in notes
    assert raw["environments"]["dev"]["endpoint"] == before["environments"]["dev"]["endpoint"]


@pytest.mark.parametrize(
    "table",
    [
        _shipped(),
        {"empty": {}},
        {"a": {"b": {}, "c": 1}},
        {"odd key": 'quote " and \\ backslash', "l": [1, 2.5, {"n": True}]},
    ],
)
def test_the_toml_written_reads_back_the_same(table: dict[str, Any]) -> None:
    assert tomllib.loads(demo_swap.to_toml(table)) == table


def test_a_value_toml_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError, match="no TOML for NoneType"):
        demo_swap.to_toml({"a": None})


def test_choosing_an_unknown_folder_names_the_known_ones(tmp_path: Any) -> None:
    (tmp_path / "Dockerfile").write_text("ARG ALGORITHM=one\n")
    with pytest.raises(SystemExit, match=r"ALGORITHM=nope: no algorithm folder container/nope/ \(known: "):
        demo_swap.choose(tmp_path / "Dockerfile", "nope")
