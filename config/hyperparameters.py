"""The container's hyperparameter schema, read from the file the container exports, and a checker for it.

The container parses every hyperparameter from SageMaker's strings and rejects a bad one when the job
starts, minutes after a pipeline run began. The app checks the same rules earlier (at synth time for the
configuration, before `StartExecution` for an execution's input) against `container/hyperparameters.json`,
which a container test keeps identical to the container's own dataclass. Rules that combine several
values (`RULES` of the algorithm's dataclass, which its `__post_init__` enforces) come in the file as data
and are applied here to a complete set of values, with the container's wording (a container test pins it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
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
class Condition:
    """What a value must be: one of `one_of`, above `above`, below `below` (each that is given)."""

    one_of: tuple[Any, ...] | None = None
    above: float | None = None
    below: float | None = None

    def holds(self, value: Any) -> bool:
        if value is None:
            return False
        if self.one_of is not None and value not in self.one_of:
            return False
        if self.above is not None and not value > self.above:
            return False
        return self.below is None or value < self.below

    def describe(self) -> str:
        parts = []
        if self.one_of is not None:
            parts.append(str(self.one_of[0]) if len(self.one_of) == 1 else f"one of {', '.join(map(str, self.one_of))}")
        if self.above is not None:
            parts.append(f"> {self.above}")
        if self.below is not None:
            parts.append(f"< {self.below}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Rule:
    """When every `when` condition holds: `require` names set, `forbid` names unset, `then` values meet theirs."""

    when: Mapping[str, Condition]
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    then: Mapping[str, Condition] = field(default_factory=dict)
    reason: str = ""

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """What breaks the rule in `values` (every hyperparameter's parsed value, defaults included)."""
        if not all(condition.holds(values.get(name)) for name, condition in self.when.items()):
            return []
        when = " and ".join(
            f"{name} is {c.describe()}" if c.one_of is not None else f"{name} {c.describe()}"
            for name, c in self.when.items()
        )
        found = [f"{name} is required when {when}" for name in self.require if values.get(name) is None]
        found += [f"{name} must not be set when {when}" for name in self.forbid if values.get(name) is not None]
        found += [
            f"{name} must be {condition.describe()} when {when}, got {values[name]!r}"
            for name, condition in self.then.items()
            if values.get(name) is not None and not condition.holds(values[name])
        ]
        return [f"{problem} ({self.reason})" if self.reason else problem for problem in found]


@dataclass(frozen=True)
class HyperparameterSchema:
    """Every hyperparameter the container accepts, the rules combining them, and SageMaker's reserved names."""

    hyperparameters: Mapping[str, Hyperparameter]
    reserved: frozenset[str]
    rules: tuple[Rule, ...] = ()

    def problems(self, values: Mapping[str, str], *, complete: bool = False) -> list[str]:
        """What is wrong with `values`, one message each; `complete` also requires the required names.

        An empty list means the container will accept each value; with `complete`, also their combination.
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
            if not found:
                found = self.rule_problems(values)
        return found

    def rule_problems(self, values: Mapping[str, str]) -> list[str]:
        """The rules `values` break, as the container's `__post_init__` words them; [] while any single value is
        rejected or a required one is missing (the container reports those first, and a job may still add them)."""
        if self.problems(values) or any(s.required and n not in values for n, s in self.hyperparameters.items()):
            return []
        parsed = {name: spec.default for name, spec in self.hyperparameters.items()}
        parsed |= {
            name: self.hyperparameters[name].parse(raw) for name, raw in values.items() if name not in self.reserved
        }
        return [problem for rule in self.rules for problem in rule.problems(parsed)]


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
    rules = document.get("rules", [])
    if not isinstance(rules, list):
        raise ValueError(f"{source}: 'rules' must be a list")
    return HyperparameterSchema(specs, frozenset(reserved), tuple(_rule(rule, specs, source) for rule in rules))


def _names(document: Any, key: str, known: Mapping[str, Hyperparameter], where: str) -> tuple[str, ...]:
    names = document.get(key, [])
    if not isinstance(names, list) or not all(isinstance(name, str) and name in known for name in names):
        raise ValueError(f"{where}: '{key}' must be a list of the schema's hyperparameter names")
    return tuple(names)


def _conditions(document: Any, key: str, known: Mapping[str, Hyperparameter], where: str) -> dict[str, Condition]:
    conditions = document.get(key, {})
    if not isinstance(conditions, dict):
        raise ValueError(f"{where}: '{key}' must be an object of hyperparameter name: condition")
    parsed = {}
    for name, condition in conditions.items():
        if name not in known or not isinstance(condition, dict) or not set(condition) <= {"one_of", "above", "below"}:
            raise ValueError(f"{where}: '{key}.{name}' must name a hyperparameter and hold one_of, above or below")
        one_of = condition.get("one_of")
        if one_of is not None and not isinstance(one_of, list):
            raise ValueError(f"{where}: '{key}.{name}.one_of' must be a list")
        parsed[name] = Condition(
            one_of=tuple(one_of) if one_of is not None else None,
            above=condition.get("above"),
            below=condition.get("below"),
        )
    return parsed


def _rule(document: Any, known: Mapping[str, Hyperparameter], source: str) -> Rule:
    where = f"{source}: rule {document!r}"
    if not isinstance(document, dict) or not set(document) <= {"when", "require", "forbid", "then", "reason"}:
        raise ValueError(f"{where}: expected an object of when, require, forbid, then, reason")
    return Rule(
        when=_conditions(document, "when", known, where),
        require=_names(document, "require", known, where),
        forbid=_names(document, "forbid", known, where),
        then=_conditions(document, "then", known, where),
        reason=str(document.get("reason", "")),
    )


@cache
def load_schema(path: Path = SCHEMA_FILE) -> HyperparameterSchema:
    """The schema the container exports (read once per process)."""
    return parse_schema(json.loads(path.read_text()), source=str(path))
