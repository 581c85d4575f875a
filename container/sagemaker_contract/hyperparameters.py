"""Reading a job's hyperparameters: SageMaker's strings through the algorithm's schema (hyperschema/).

SageMaker passes every hyperparameter as a JSON string ("0.1", "100", "true"). `parse` turns the raw
mapping into the algorithm's dataclass (declared with `hyperschema.param`), or raises `UserError` listing
every problem at once. SageMaker and its Python SDK add hyperparameters of their own (`RESERVED`);
`split_reserved` takes them out before the schema sees the rest, so a tuning job works and an unknown
user name is still an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from hyperschema import RESERVED, SchemaError, schema_of

from sagemaker_contract.errors import UserError

T = TypeVar("T")


def parse(schema: type[T], raw: Mapping[str, Any]) -> T:
    """Build `schema` (a declaring dataclass) from SageMaker's string values; `UserError` names every problem."""
    try:
        return schema(**schema_of(schema).parse(raw))
    except SchemaError as error:
        raise UserError(f"invalid hyperparameters: {error}") from None


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
