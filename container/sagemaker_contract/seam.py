"""Where the contract layer finds the algorithm: a `module:attribute` reference, never a static import.

As SageMaker's training toolkit finds user code (aws/sagemaker-training-toolkit, `trainer.py`:
SAGEMAKER_TRAINING_MODULE split on ':' and imported), the variable ALGORITHM_MODULE names the object, e.g.
`linear_model:ALGORITHM`. The image sets it from its build argument ALGORITHM (Dockerfile); a checkout, where it
is unset, runs what the image would: the Dockerfile's `ARG ALGORITHM=<folder>` beside the entry point, so that
line is the one place the chosen algorithm is written. The module is looked up on sys.path: the folder of
entrypoint.py first, so an algorithm is a module or package beside it.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagemaker_contract.errors import UserError
from sagemaker_contract.interface import ALGORITHM_MODULE as VARIABLE
from sagemaker_contract.protocol import Algorithm

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"
_ARG = re.compile(r"^ARG ALGORITHM=(\S+)$", re.MULTILINE)


def dockerfile_choice(dockerfile: Path = DOCKERFILE) -> str:
    """`<folder>:ALGORITHM` for the Dockerfile's `ARG ALGORITHM=<folder>` (the image sets ALGORITHM_MODULE so)."""
    try:
        found = _ARG.search(dockerfile.read_text(encoding="utf-8"))
    except FileNotFoundError:
        found = None
    if found is None:
        raise UserError(f"{VARIABLE} is not set and {dockerfile} has no `ARG ALGORITHM=<folder>` to default to")
    return f"{found.group(1)}:ALGORITHM"


def reference(environ: Mapping[str, str] = os.environ) -> str:
    """The `module:attribute` the image runs: ALGORITHM_MODULE, else the Dockerfile's choice."""
    return environ.get(VARIABLE) or dockerfile_choice()


def load(ref: str | None = None) -> Algorithm[Any]:
    """The algorithm object `ref` (default: `reference()`) names; `UserError` says what is missing."""
    ref = ref or reference()
    module_name, colon, attribute = ref.partition(":")
    if not colon or not module_name or not attribute:
        raise UserError(f"{VARIABLE} must look like module:attribute, got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise UserError(f"{VARIABLE}={ref}: no module {module_name!r} next to the entry point") from None
        raise
    found = getattr(module, attribute, None)
    if found is None:
        raise UserError(f"{VARIABLE}={ref}: module {module_name} has no attribute {attribute!r}")
    wanted = ("name", "hyperparameters", "declaration", "check", "fit", "load")
    missing = [name for name in wanted if not hasattr(found, name)]
    if missing:
        raise UserError(f"{VARIABLE}={ref} is not an algorithm: it lacks {', '.join(missing)}")
    algorithm: Algorithm[Any] = found
    return algorithm
