"""Declaring a schema in code: a frozen dataclass whose fields carry type, range and default.

    @dataclass(frozen=True)
    class MyHyperparameters:
        objective: str = param(choices=("regression", "binary"), not_tuned="it defines the problem")
        rounds: int = param(default=100, minimum=1, maximum=10_000, doc="boosting rounds")

        RULES: ClassVar[tuple[Rule, ...]] = (
            Rule(when={"objective": Condition(one_of=("binary",))}, then={"rounds": Condition(above=1)}),
        )

        def __post_init__(self) -> None:
            enforce(self, self.RULES)

`schema_of` turns such classes into the `Schema` that checks SageMaker's strings and is exported as data.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from hyperschema.schema import Hyperparameter, Rule, Schema, SchemaError

_REQUIRED = object()
_KINDS = {int: "integer", float: "float", str: "string", bool: "boolean"}


def param(
    *,
    default: Any = _REQUIRED,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    choices: tuple[str, ...] | None = None,
    doc: str = "",
    not_tuned: str = "",
) -> Any:
    """A schema field; without `default` the hyperparameter is required. `not_tuned`: why tuning must not search it."""
    metadata = {
        "minimum": minimum,
        "maximum": maximum,
        "exclusive_minimum": exclusive_minimum,
        "choices": choices,
        "doc": doc,
        "not_tuned": not_tuned,
        "required": default is _REQUIRED,
    }
    # Required fields still need a dataclass default so that optional fields may follow them; the schema
    # rejects a missing required value before the dataclass is built.
    return dataclasses.field(default=None if default is _REQUIRED else default, metadata=metadata)


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(int|float|str|bool, whether None is allowed) of a field annotation such as `int | None`."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0], True
    return annotation, False


def schema_of(*classes: type[Any]) -> Schema:
    """The `Schema` of one or more declaring dataclasses (their fields and `RULES`)."""
    specs: dict[str, Hyperparameter] = {}
    rules: list[Rule] = []
    for cls in classes:
        hints = typing.get_type_hints(cls)
        names = {field.name for field in dataclasses.fields(cls)}
        for rule in getattr(cls, "RULES", ()):
            if not rule.names() <= names:
                raise ValueError(f"{cls.__name__}.RULES names {sorted(rule.names() - names)}, not its fields")
            rules.append(rule)
        for field in dataclasses.fields(cls):
            kind, nullable = _base_type(hints[field.name])
            meta = field.metadata
            if kind not in _KINDS or "required" not in meta:
                raise ValueError(f"{cls.__name__}.{field.name}: declare it with param() as int, float, str or bool")
            specs[field.name] = Hyperparameter(
                name=field.name,
                type=_KINDS[kind],
                required=meta["required"],
                nullable=nullable,
                default=None if meta["required"] else field.default,
                minimum=meta["minimum"],
                maximum=meta["maximum"],
                exclusive_minimum=meta["exclusive_minimum"],
                choices=meta["choices"],
                doc=meta["doc"],
                not_tuned=meta["not_tuned"],
            )
    return Schema(specs, rules=tuple(rules))


def enforce(instance: Any, rules: tuple[Rule, ...]) -> None:
    """`SchemaError` naming every rule `instance` (a declaring dataclass) breaks; for its `__post_init__`."""
    values = {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
    problems = [problem for rule in rules for problem in rule.problems(values)]
    if problems:
        raise SchemaError(problems)
