"""The container's hyperparameter schema, read from the file the container exports, checked by the container's code.

The container parses every hyperparameter from SageMaker's strings and rejects a bad one when the job
starts, minutes after a pipeline run began. The app checks the same values earlier (at synth time for the
configuration, before `StartExecution` for an execution's input) against `container/hyperparameters.json`,
with the very code the container runs: the package `hyperschema` in the image's build context (stdlib only).
The app loads that package by its path, and only it: the algorithm beside it is never imported here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from config.contract import HYPERPARAMETERS_FILE, HYPERSCHEMA_DIRECTORY


def _load_hyperschema() -> None:
    """Register container/hyperschema as the module `hyperschema` (container/ itself stays off sys.path)."""
    if "hyperschema" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "hyperschema", HYPERSCHEMA_DIRECTORY / "__init__.py", submodule_search_locations=[str(HYPERSCHEMA_DIRECTORY)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the hyperparameter schema package {HYPERSCHEMA_DIRECTORY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["hyperschema"] = module
    spec.loader.exec_module(module)


_load_hyperschema()
from hyperschema import TYPES, Hyperparameter, Schema  # noqa: E402 - importable once loaded above

SCHEMA_FILE = HYPERPARAMETERS_FILE
HyperparameterSchema = Schema

__all__ = ["SCHEMA_FILE", "TYPES", "Hyperparameter", "HyperparameterSchema", "Schema", "load_schema", "parse_schema"]


def parse_schema(document: Any, source: str = "hyperparameter schema") -> Schema:
    """The schema from the exported JSON document; ValueError names what is malformed."""
    return Schema.from_json(document, source)


@cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    """The schema the container exports (read once per process)."""
    return parse_schema(json.loads(path.read_text()), source=str(path))
