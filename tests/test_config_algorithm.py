"""What the algorithm declares (container/algorithm.json) drives the configuration: capabilities, directions, tuning.

Each test swaps the export for one of another algorithm (as a swap would regenerate it) and checks that the
configuration follows it, and refuses what that algorithm cannot do, naming environment, field and capability.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tomllib
from typing import Any

import pytest

import config.sections
import config.tuning
from config import ConfigError, parse_config
from config.algorithm import AlgorithmExport, Capabilities, load_algorithm, parse_algorithm
from config.contract import ALGORITHM_FILE
from config.hyperparameters import load_schema
from config.settings import DEFAULT_CONFIG_FILE
from tests import declared
from tests.declared import OBJECTIVE


@pytest.fixture
def raw() -> dict[str, Any]:
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def _declare(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> AlgorithmExport:
    """The shipped export with `changes`, as every module of the app reads it."""
    export = dataclasses.replace(load_algorithm(), name="other-algorithm", **changes)
    for module in (config.sections, config.tuning):
        monkeypatch.setattr(module, "load_algorithm", lambda: export)
    return export


NOTHING = Capabilities(several_hosts=False, checkpoints=False, early_stopping=False, tuning_resource=None)


def test_several_hosts_are_refused_without_the_capability(raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an algorithm that trains on one host only WHEN staging asks for two instances
    _declare(monkeypatch, capabilities=NOTHING)
    raw["environments"]["staging"]["training"]["instance_count"] = 2
    raw["environments"]["staging"]["training"].pop("use_spot", None)
    raw["environments"]["staging"]["training"].pop("max_wait_seconds", None)
    # THEN the load fails naming the environment, the field and the missing capability
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    message = str(error.value)
    assert "environment 'staging': training: instance_count = 2" in message
    assert "other-algorithm does not declare the capability several_hosts" in message


def test_spot_training_is_refused_without_checkpoints(raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN dev's spot training WHEN the algorithm cannot resume THEN dev is refused
    training = raw["environments"]["dev"]["training"]
    training.update(use_spot=True, max_wait_seconds=2 * training["max_runtime_seconds"])
    _declare(monkeypatch, capabilities=NOTHING)
    with pytest.raises(ConfigError, match=r"environment 'dev': training: use_spot: .*capability checkpoints"):
        parse_config(raw)


def test_the_shipped_configuration_loads_with_the_shipped_algorithm(raw: dict[str, Any]) -> None:
    assert parse_config(raw).environment("dev").training.instance_count >= 1


def _tuned(raw: dict[str, Any], tuning: dict[str, Any]) -> Any:
    raw["environments"]["staging"]["tuning"] = tuning
    return parse_config(raw).environment("staging").tuning


def test_hyperband_needs_a_declared_resource(raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _declare(monkeypatch, capabilities=NOTHING, metric_hyperparameter=None)
    with pytest.raises(ConfigError, match=r"strategy Hyperband needs a tuning resource .* declares none"):
        _tuned(raw, {"objective": OBJECTIVE, "strategy": "Hyperband"})


def test_early_stopping_needs_the_capability(raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _declare(monkeypatch, capabilities=NOTHING, metric_hyperparameter=None)
    with pytest.raises(ConfigError, match=r"tuning: early_stopping 'Auto': .*capability early_stopping"):
        _tuned(raw, {"objective": OBJECTIVE, "early_stopping": "Auto"})


def test_the_direction_and_the_metric_hyperparameter_come_from_the_declaration(
    raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an algorithm whose metric the shipped one minimizes is maximized, reporting every metric (no selector)
    minimized = declared.metric("Minimize")
    metrics = dict(load_algorithm().metrics) | {minimized: "Maximize"}
    _declare(monkeypatch, metrics=metrics, metric_hyperparameter=None)
    # WHEN tuned on it without any metric hyperparameter THEN loaded, maximizing
    tuning = _tuned(raw, {"objective": minimized})
    assert tuning.direction == "Maximize"


def test_the_default_ranges_are_the_declared_ones(raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    name, declared_range = declared.tuning_range("continuous")
    spec = {"type": "continuous", "min_value": declared_range["min_value"], "max_value": declared_range["max_value"]}
    spec["scaling"] = "Linear"
    _declare(monkeypatch, tuning_ranges={name: spec})
    tuning = _tuned(raw, {"objective": OBJECTIVE})
    assert {n: r.model_dump(exclude={"values"}) for n, r in tuning.ranges.items()} == {name: spec}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": {"validation:x": {"direction": "up"}}}, r"metrics\.validation:x\.direction must be maximize"),
        ({"metrics": {}}, "'metrics' must be an object"),
        ({"capabilities": {"several_hosts": True}}, "'capabilities' must hold"),
        ({"metric_hyperparameter": "no_such_name"}, "metric_hyperparameter 'no_such_name' is not a hyperparameter"),
        ({"tuning_ranges": {"no_such_name": {}}}, "'tuning_ranges' must be an object keyed by the schema's"),
        ({"example_hyperparameters": []}, "'example_hyperparameters' must be an object keyed by the schema's"),
    ],
)
def test_a_malformed_export_is_refused_naming_what_is_wrong(change: dict[str, Any], message: str) -> None:
    document = json.loads(ALGORITHM_FILE.read_text()) | change
    with pytest.raises(ValueError, match=message):
        parse_algorithm(document, load_schema())


def test_a_resource_that_is_not_an_integer_hyperparameter_is_refused() -> None:
    document = json.loads(ALGORITHM_FILE.read_text())
    name = next(n for n, s in load_schema().hyperparameters.items() if s.type != "integer")
    document["capabilities"] = dict(document["capabilities"], tuning_resource=name)
    with pytest.raises(ValueError, match=f"tuning_resource '{name}' must be an integer hyperparameter"):
        parse_algorithm(document, load_schema())
