"""Typed hyperparameter schemas: a frozen dataclass whose fields carry type, range and default.

SageMaker passes every hyperparameter as a JSON string ("0.1", "100", "true"). `parse` turns the raw
mapping into the algorithm's dataclass, or raises `UserError` listing every problem at once.

    @dataclass(frozen=True)
    class MyHyperparameters:
        objective: str = param(choices=("regression", "binary"))          # required: no default
        rounds: int = param(default=100, minimum=1, maximum=10_000, doc="boosting rounds")

Rules that combine several values are data too, declared once on the dataclass as `RULES` (a tuple of `Rule`)
and enforced in its `__post_init__`, so that `export` can write them for callers that cannot import the code:

        RULES: ClassVar[tuple[Rule, ...]] = (
            Rule(when={"objective": Condition(one_of=("binary",))}, then={"rounds": Condition(above=1)}),
        )

        def __post_init__(self) -> None:
            enforce(self, self.RULES)

SageMaker and its Python SDK add hyperparameters of their own (`RESERVED`); `split_reserved` takes them out
before the schema sees the rest, so a tuning job works and an unknown user name is still an error.
`export` writes the schema as JSON (container/hyperparameters.json) for callers that cannot import it:
    python -m sagemaker_contract.hyperparameters container/hyperparameters.json   (from container/)
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sagemaker_contract.errors import UserError

T = TypeVar("T")
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
_JSON_TYPES = {int: "integer", float: "float", str: "string", bool: "boolean"}
_REQUIRED = object()
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


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


def enforce(instance: Any, rules: tuple[Rule, ...]) -> None:
    """`ValueError` naming every rule `instance` (a schema dataclass) breaks; for its `__post_init__`."""
    values = {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
    problems = [problem for rule in rules for problem in rule.problems(values)]
    if problems:
        raise ValueError("; ".join(problems))


def param(
    *,
    default: Any = _REQUIRED,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    choices: tuple[str, ...] | None = None,
    doc: str = "",
) -> Any:
    """A schema field; without `default` the hyperparameter is required."""
    metadata = {
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "choices": choices,
        "doc": doc,
        "required": default is _REQUIRED,
    }
    if default is _REQUIRED:
        # Required fields still need a dataclass default so that optional fields may follow them;
        # `parse` rejects a missing required value before the dataclass is built.
        return dataclasses.field(default=None, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(int|float|str|bool, whether None is allowed) of a field annotation such as `int | None`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0], True
    return annotation, False


def _convert(name: str, raw: Any, kind: type) -> Any:
    text = str(raw).strip() if not isinstance(raw, bool) else str(raw).lower()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{name} must be true or false, got {raw!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {raw!r}")
        return value
    return text


def _check_range(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    choices = meta["choices"]
    if choices is not None and value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    low, high, above = meta["minimum"], meta["maximum"], meta["exclusive_minimum"]
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    if above is not None and value <= above:
        raise ValueError(f"{name} must be > {above}, got {value}")


def parse(schema: type[T], raw: Mapping[str, Any]) -> T:
    """Build `schema` (a dataclass) from SageMaker's string values; `UserError` names every problem."""
    fields = {f.name: f for f in dataclasses.fields(schema)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(schema)
    problems: list[str] = []
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        problems.append(f"unknown hyperparameter(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        kind, nullable = _base_type(hints[name])
        if name not in raw:
            if field.metadata.get("required"):
                problems.append(f"{name} is required")
            continue
        try:
            if nullable and str(raw[name]).strip().lower() in {"", "none", "null"}:
                values[name] = None
                continue
            value = _convert(name, raw[name], kind)
            _check_range(name, value, field.metadata)
        except ValueError as error:
            problems.append(str(error))
            continue
        values[name] = value
    if not problems:
        try:
            return schema(**values)
        except ValueError as error:
            problems.append(str(error))
    raise UserError("invalid hyperparameters: " + "; ".join(problems))


def split_reserved(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(SageMaker's reserved hyperparameters, the others) of `raw`."""
    reserved = {name: value for name, value in raw.items() if name in RESERVED}
    return reserved, {name: value for name, value in raw.items() if name not in RESERVED}


def read(path: Path) -> dict[str, Any]:
    """hyperparameters.json as a mapping (an absent file means no hyperparameters).

    Anything else that stops the read (a directory in its place, a symbolic link loop, no permission) is
    an `OSError` naming the path: it must not pass for "no hyperparameters".
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        loaded = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path.name} is not valid JSON: {error}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{path.name} must hold a JSON object, got {type(loaded).__name__}")
    return loaded


def describe(schema: type[Any]) -> list[dict[str, Any]]:
    """One row per hyperparameter (name, type, default, range, doc), for documentation and tests."""
    hints = typing.get_type_hints(schema)
    rows = []
    for field in dataclasses.fields(schema):
        kind, nullable = _base_type(hints[field.name])
        meta = field.metadata
        rows.append(
            {
                "name": field.name,
                "type": kind.__name__ + (" or none" if nullable else ""),
                "required": bool(meta.get("required")),
                "default": None if meta.get("required") else field.default,
                "minimum": meta.get("minimum"),
                "maximum": meta.get("maximum"),
                "exclusive_minimum": meta.get("exclusive_minimum"),
                "choices": meta.get("choices"),
                "doc": meta.get("doc", ""),
            }
        )
    return rows


def export(*schemas: type[Any]) -> dict[str, Any]:
    """The schemas as container/hyperparameters.json: every hyperparameter a job may set, the rules that combine
    them, and the reserved names."""
    entries: dict[str, Any] = {}
    rules: list[dict[str, Any]] = []
    for schema in schemas:
        names = {field.name for field in dataclasses.fields(schema)}
        for rule in getattr(schema, "RULES", ()):
            if not rule.names() <= names:
                raise ValueError(f"{schema.__name__}.RULES names {sorted(rule.names() - names)}, not its fields")
            rules.append(rule.as_json())
        hints = typing.get_type_hints(schema)
        for field in dataclasses.fields(schema):
            kind, nullable = _base_type(hints[field.name])
            meta = field.metadata
            required = bool(meta.get("required"))
            entries[field.name] = {
                "type": _JSON_TYPES[kind],
                "required": required,
                "nullable": nullable,
                "default": None if required else field.default,
                "minimum": meta.get("minimum"),
                "maximum": meta.get("maximum"),
                "exclusive_minimum": meta.get("exclusive_minimum"),
                "choices": list(meta["choices"]) if meta.get("choices") is not None else None,
                "doc": meta.get("doc", ""),
            }
    return {"hyperparameters": entries, "reserved": sorted(RESERVED), "rules": rules}


def export_text(*schemas: type[Any]) -> str:
    """`export` as the file holds it: keys sorted, 2-space indent, trailing newline."""
    return json.dumps(export(*schemas), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Write the image's schema (the algorithm's and the contract layer's) to the file named in `argv`."""
    from algorithm import ALGORITHM  # noqa: PLC0415 - the CLI alone knows which algorithm the image runs

    from sagemaker_contract.distributed import DistributedHyperparameters  # noqa: PLC0415 - avoids an import cycle

    if len(argv) != 1:
        print("usage: python -m sagemaker_contract.hyperparameters OUTPUT.json", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(export_text(ALGORITHM.hyperparameters, DistributedHyperparameters))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
