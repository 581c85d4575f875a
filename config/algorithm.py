"""What the image's algorithm declares, read from the file the container exports (`container/algorithm.json`).

The app never names an algorithm, a hyperparameter or a metric: tuning's default ranges and Hyperband's
resource, the hyperparameter choosing the evaluated metric, each metric's direction and what the algorithm
can do (several hosts, checkpoints, early stopping) all come from here. `python container/entrypoint.py export`
writes the file from the algorithm's declaration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from config.contract import ALGORITHM_FILE
from config.hyperparameters import Schema, load_schema

DIRECTIONS = {"maximize": "Maximize", "minimize": "Minimize"}
# Why each capability matters, for the message refusing a configuration that needs a missing one.
CAPABILITIES = {
    "several_hosts": "training on several hosts",
    "checkpoints": "resuming from checkpoints",
    "early_stopping": "reporting its metrics every round, which early stopping reads",
}


@dataclass(frozen=True)
class Capabilities:
    several_hosts: bool
    checkpoints: bool
    early_stopping: bool
    tuning_resource: str | None


@dataclass(frozen=True)
class AlgorithmExport:
    """container/algorithm.json, checked against the hyperparameter schema it refers to."""

    name: str
    metrics: Mapping[str, str]  # "<channel>:<metric>" -> Maximize | Minimize (SageMaker's objective type)
    capabilities: Capabilities
    tuning_ranges: Mapping[str, Mapping[str, Any]]
    metric_hyperparameter: str | None
    example_hyperparameters: Mapping[str, str]

    def lacks(self, capability: str) -> str | None:
        """None when the algorithm declares `capability`; else the sentence saying it does not."""
        if getattr(self.capabilities, capability):
            return None
        return (
            f"the algorithm {self.name} does not declare the capability {capability} "
            f"({CAPABILITIES[capability]}; container/algorithm.json)"
        )


def _problems(document: Any, schema: Schema) -> list[str]:
    if not isinstance(document, dict):
        return ["expected an object"]
    problems = []
    names = schema.hyperparameters
    metrics = document.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        problems.append("'metrics' must be an object of metric name: {direction}")
    else:
        problems += [
            f"metrics.{name}.direction must be maximize or minimize"
            for name, entry in metrics.items()
            if not isinstance(entry, dict) or entry.get("direction") not in DIRECTIONS
        ]
    capabilities = document.get("capabilities")
    if not isinstance(capabilities, dict) or set(capabilities) != {*CAPABILITIES, "tuning_resource"}:
        problems.append(f"'capabilities' must hold {', '.join(sorted({*CAPABILITIES, 'tuning_resource'}))}")
    elif (resource := capabilities["tuning_resource"]) is not None and (
        resource not in names or names[resource].type != "integer"
    ):
        problems.append(f"capabilities.tuning_resource {resource!r} must be an integer hyperparameter")
    selector = document.get("metric_hyperparameter")
    if selector is not None and selector not in names:
        problems.append(f"metric_hyperparameter {selector!r} is not a hyperparameter")
    for key in ("tuning_ranges", "example_hyperparameters"):
        given = document.get(key)
        if not isinstance(given, dict) or not set(given) <= set(names):
            problems.append(f"'{key}' must be an object keyed by the schema's hyperparameters")
    return problems


def parse_algorithm(document: Any, schema: Schema, source: str = "algorithm export") -> AlgorithmExport:
    """The declaration of an exported document; ValueError names everything malformed."""
    problems = _problems(document, schema)
    if problems:
        raise ValueError(f"{source}: {'; '.join(problems)}")
    return AlgorithmExport(
        name=str(document.get("name", "")),
        metrics={name: DIRECTIONS[entry["direction"]] for name, entry in document["metrics"].items()},
        capabilities=Capabilities(**document["capabilities"]),
        tuning_ranges=document["tuning_ranges"],
        metric_hyperparameter=document.get("metric_hyperparameter"),
        example_hyperparameters={str(k): str(v) for k, v in document["example_hyperparameters"].items()},
    )


@cache
def load_algorithm(path: Path = ALGORITHM_FILE) -> AlgorithmExport:
    """The declaration the container exports (read once per process)."""
    return parse_algorithm(json.loads(path.read_text(encoding="utf-8")), load_schema(), source=str(path))
