"""The container's hyperparameter schema, read from the file the container exports, and a checker for it.

The container parses every hyperparameter from SageMaker's strings and rejects a bad one when the job
starts, minutes after a pipeline run began. The app checks the same rules earlier (at synth time for the
configuration, before `StartExecution` for an execution's input) against `container/hyperparameters.json`,
which a container test keeps identical to the container's own dataclass. Rules that combine several
values (the algorithm's `__post_init__`) stay the container's: the file cannot carry code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "container" / "hyperparameters.json"
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_NONE = frozenset({"", "none", "null"})
TYPES = ("integer", "float", "string", "boolean")


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of the container: its type, range and default."""

    name: str
    type: str
    required: bool = False
    nullable: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    choices: tuple[str, ...] | None = None
    doc: str = ""

    def parse(self, raw: str) -> Any:
        """The value the container would see for SageMaker's string `raw`; ValueError says what is wrong."""
        text = raw.strip()
        if self.nullable and text.lower() in _NONE:
            return None
        value = self._convert(text, raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}; got {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.name} must be <= {self.maximum}, got {value}")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise ValueError(f"{self.name} must be > {self.exclusive_minimum}, got {value}")
        return value

    def _convert(self, text: str, raw: str) -> Any:
        if self.type == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"{self.name} must be true or false, got {raw!r}")
        if self.type == "integer":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{self.name} must be an integer, got {raw!r}") from None
        if self.type == "float":
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{self.name} must be a number, got {raw!r}") from None
            if not math.isfinite(number):
                raise ValueError(f"{self.name} must be a finite number, got {raw!r}")
            return number
        return text


@dataclass(frozen=True)
class HyperparameterSchema:
    """Every hyperparameter the container accepts, and SageMaker's reserved names it ignores."""

    hyperparameters: Mapping[str, Hyperparameter]
    reserved: frozenset[str]

    def problems(self, values: Mapping[str, str], *, complete: bool = False) -> list[str]:
        """What is wrong with `values`, one message each; `complete` also requires the required names.

        An empty list means the container will accept each value (combinations are checked there).
        """
        found = []
        for name in sorted(values):
            if name in self.reserved:
                continue
            spec = self.hyperparameters.get(name)
            if spec is None:
                found.append(f"unknown hyperparameter {name!r}; known: {', '.join(sorted(self.hyperparameters))}")
                continue
            try:
                spec.parse(values[name])
            except ValueError as error:
                found.append(str(error))
        if complete:
            found += [
                f"{name} is required"
                for name, spec in sorted(self.hyperparameters.items())
                if spec.required and name not in values
            ]
        return found


def parse_schema(document: Any, source: str = "hyperparameter schema") -> HyperparameterSchema:
    """The schema from the exported JSON document; ValueError names what is malformed."""
    if not isinstance(document, dict) or not isinstance(document.get("hyperparameters"), dict):
        raise ValueError(f"{source}: expected an object with a 'hyperparameters' object")
    specs = {}
    for name, fields in document["hyperparameters"].items():
        if not isinstance(fields, dict) or fields.get("type") not in TYPES:
            raise ValueError(f"{source}: hyperparameter {name!r} needs a type, one of {', '.join(TYPES)}")
        known = {key: fields[key] for key in Hyperparameter.__dataclass_fields__ if key in fields and key != "name"}
        if known.get("choices") is not None:
            known["choices"] = tuple(known["choices"])
        specs[name] = Hyperparameter(name=name, **known)
    reserved = document.get("reserved", [])
    if not isinstance(reserved, list) or not all(isinstance(item, str) for item in reserved):
        raise ValueError(f"{source}: 'reserved' must be a list of names")
    return HyperparameterSchema(specs, frozenset(reserved))


@cache
def load_schema(path: Path = SCHEMA_FILE) -> HyperparameterSchema:
    """The schema the container exports (read once per process)."""
    return parse_schema(json.loads(path.read_text()), source=str(path))
