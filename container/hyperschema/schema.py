"""Hyperparameters as data: each one's type, range and default, the rules that combine them, and the checks.

The one implementation of hyperparameter checking: the container parses SageMaker's strings with it when a
job starts, and the app (which never imports the algorithm) checks the same values with it earlier, from the
document the container exports (container/hyperparameters.json). Stdlib only, so that both can load it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TYPES = ("integer", "float", "string", "boolean")
# Names SageMaker or its Python SDK put into hyperparameters.json that are not the algorithm's: accepted, ignored.
RESERVED = frozenset(
    {
        "_tuning_objective_metric",  # SageMaker, in every training job a hyperparameter tuning job starts
        "sagemaker_estimator_class_name",  # SDK HyperparameterTuner: static hyperparameters naming the estimator
        "sagemaker_estimator_module",
        "sagemaker_container_log_level",  # SDK estimators with an entry point (script mode)
        "sagemaker_job_name",
        "sagemaker_program",
        "sagemaker_region",
        "sagemaker_submit_directory",
    }
)
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_NONE = frozenset({"", "none", "null"})
_CONDITION_KEYS = frozenset({"one_of", "above", "below"})
_RULE_KEYS = frozenset({"when", "require", "forbid", "then", "reason"})


def finite_number(name: str, text: str, raw: Any) -> float:
    """`text` as a finite float; a ValueError naming `name` and showing `raw` (what the caller gave) if it is not.

    The monitor's environment settings are read with it too, so both say a bad number the same way.
    """
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    return number


class SchemaError(ValueError):
    """Every problem found, at once (`problems`); the message joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Condition:
    """What a value must be: one of `one_of`, above `above`, below `below` (each that is given)."""

    one_of: tuple[Any, ...] | None = None
    above: float | None = None
    below: float | None = None

    def holds(self, value: Any) -> bool:
        """Whether `value` meets every bound; an unset value (None) meets none."""
        if value is None:
            return False
        if self.one_of is not None and value not in self.one_of:
            return False
        if self.above is not None and not value > self.above:
            return False
        return self.below is None or value < self.below

    def describe(self) -> str:
        """`multiclass`, `one of a, b`, `> 0`, `< 1.0`, or several of these joined by 'and'."""
        parts = []
        if self.one_of is not None:
            parts.append(str(self.one_of[0]) if len(self.one_of) == 1 else f"one of {', '.join(map(str, self.one_of))}")
        if self.above is not None:
            parts.append(f"> {self.above}")
        if self.below is not None:
            parts.append(f"< {self.below}")
        return " and ".join(parts)

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"one_of": list(self.one_of)} if self.one_of is not None else {}
        return document | {key: getattr(self, key) for key in ("above", "below") if getattr(self, key) is not None}

    @classmethod
    def from_json(cls, document: Any, where: str) -> Condition:
        if not isinstance(document, dict) or not set(document) <= _CONDITION_KEYS:
            raise ValueError(f"{where} must hold one_of, above or below")
        one_of = document.get("one_of")
        if one_of is not None and not isinstance(one_of, list):
            raise ValueError(f"{where}.one_of must be a list")
        return cls(tuple(one_of) if one_of is not None else None, document.get("above"), document.get("below"))


@dataclass(frozen=True)
class Rule:
    """A rule combining values: when every `when` condition holds, each name in `require` is set, each in `forbid`
    is unset (None), and each value in `then` that is set meets its condition. `reason` explains the rule."""

    when: Mapping[str, Condition]
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    then: Mapping[str, Condition] = dataclasses.field(default_factory=dict)
    reason: str = ""

    def names(self) -> set[str]:
        return {*self.when, *self.require, *self.forbid, *self.then}

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """What breaks the rule in `values` (every hyperparameter's value, defaults included), one message each."""
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

    def as_json(self) -> dict[str, Any]:
        return {
            "when": {name: condition.as_json() for name, condition in self.when.items()},
            "require": list(self.require),
            "forbid": list(self.forbid),
            "then": {name: condition.as_json() for name, condition in self.then.items()},
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, document: Any, known: Mapping[str, Any], where: str) -> Rule:
        if not isinstance(document, dict) or not set(document) <= _RULE_KEYS:
            raise ValueError(f"{where}: expected an object of when, require, forbid, then, reason")

        def names(key: str) -> tuple[str, ...]:
            listed = document.get(key, [])
            if not isinstance(listed, list) or not all(isinstance(n, str) and n in known for n in listed):
                raise ValueError(f"{where}: '{key}' must be a list of the schema's hyperparameter names")
            return tuple(listed)

        def conditions(key: str) -> dict[str, Condition]:
            given = document.get(key, {})
            if not isinstance(given, dict) or not set(given) <= set(known):
                raise ValueError(f"{where}: '{key}' must be an object of hyperparameter name: condition")
            return {name: Condition.from_json(c, f"{where}: '{key}.{name}'") for name, c in given.items()}

        return cls(
            conditions("when"), names("require"), names("forbid"), conditions("then"), str(document.get("reason", ""))
        )


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its type, range and default; `not_tuned` says why a tuning job must not search it."""

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
    not_tuned: str = ""

    def parse(self, raw: Any) -> Any:
        """The typed value of SageMaker's string `raw`; ValueError says what is wrong."""
        text = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
        if self.nullable and text.lower() in _NONE:
            return None
        value = self._convert(text, raw)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.name} must be <= {self.maximum}, got {value}")
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            raise ValueError(f"{self.name} must be > {self.exclusive_minimum}, got {value}")
        return value

    def _convert(self, text: str, raw: Any) -> Any:
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
            return finite_number(self.name, text, raw)
        return text

    def as_json(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        del document["name"]
        document["choices"] = list(self.choices) if self.choices is not None else None
        return document


@dataclass(frozen=True)
class Schema:
    """Every hyperparameter a job may set, the rules combining them, and SageMaker's reserved names."""

    hyperparameters: Mapping[str, Hyperparameter]
    reserved: frozenset[str] = RESERVED
    rules: tuple[Rule, ...] = ()

    def problems(self, values: Mapping[str, Any], *, complete: bool = False) -> list[str]:
        """What is wrong with `values`, one message each; `complete` also requires the required names and
        checks the rules. An empty list means the container accepts each value (with `complete`, all of them)."""
        given = {name: value for name, value in values.items() if name not in self.reserved}
        found = []
        unknown = sorted(set(given) - set(self.hyperparameters))
        if unknown:
            known = ", ".join(sorted(self.hyperparameters))
            found.append(f"unknown hyperparameter(s) {', '.join(unknown)}; known: {known}")
        for name in sorted(set(given) & set(self.hyperparameters)):
            try:
                self.hyperparameters[name].parse(given[name])
            except ValueError as error:
                found.append(str(error))
        if complete:
            found += [
                f"{n} is required" for n, s in sorted(self.hyperparameters.items()) if s.required and n not in given
            ]
            if not found:
                found = self.rule_problems(given)
        return found

    def rule_problems(self, values: Mapping[str, Any]) -> list[str]:
        """The rules `values` break; [] while any single value is rejected or a required one is missing (those
        come first, and a job may still add the missing ones)."""
        if self.problems(values) or any(s.required and n not in values for n, s in self.hyperparameters.items()):
            return []
        return [problem for rule in self.rules for problem in rule.problems(self._typed(values))]

    def _typed(self, values: Mapping[str, Any]) -> dict[str, Any]:
        typed = {name: spec.default for name, spec in self.hyperparameters.items()}
        return typed | {n: self.hyperparameters[n].parse(v) for n, v in values.items() if n in self.hyperparameters}

    def parse(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every hyperparameter's typed value (defaults for those not given); `SchemaError` lists every problem."""
        problems = self.problems(values, complete=True)
        if problems:
            raise SchemaError(problems)
        return self._typed({n: v for n, v in values.items() if n not in self.reserved})

    def as_json(self) -> dict[str, Any]:
        return {
            "hyperparameters": {name: spec.as_json() for name, spec in sorted(self.hyperparameters.items())},
            "reserved": sorted(self.reserved),
            "rules": [rule.as_json() for rule in self.rules],
        }

    @classmethod
    def from_json(cls, document: Any, source: str = "hyperparameter schema") -> Schema:
        """The schema of an exported document; ValueError names what is malformed."""
        if not isinstance(document, dict) or not isinstance(document.get("hyperparameters"), dict):
            raise ValueError(f"{source}: expected an object with a 'hyperparameters' object")
        fields = {field.name for field in dataclasses.fields(Hyperparameter)} - {"name"}
        specs = {}
        for name, entry in document["hyperparameters"].items():
            if not isinstance(entry, dict) or entry.get("type") not in TYPES:
                raise ValueError(f"{source}: hyperparameter {name!r} needs a type, one of {', '.join(TYPES)}")
            known = {key: entry[key] for key in fields if key in entry}
            if known.get("choices") is not None:
                known["choices"] = tuple(known["choices"])
            specs[name] = Hyperparameter(name=name, **known)
        reserved = document.get("reserved", [])
        if not isinstance(reserved, list) or not all(isinstance(item, str) for item in reserved):
            raise ValueError(f"{source}: 'reserved' must be a list of names")
        rules = document.get("rules", [])
        if not isinstance(rules, list):
            raise ValueError(f"{source}: 'rules' must be a list")
        parsed = tuple(Rule.from_json(rule, specs, f"{source}: rule {rule!r}") for rule in rules)
        return cls(specs, frozenset(reserved), parsed)
