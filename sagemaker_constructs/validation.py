"""How a construct reports bad arguments: every problem at once, in one ValueError."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct


class ConstructError(ValueError):
    """A construct's bad arguments; `path` is the construct's (`Prod/Inference/Endpoint`), so that app.py can
    name the environment the construct belongs to without looking into the stack."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def invalid(construct: Construct, errors: Sequence[str]) -> ConstructError:
    """The error naming `construct` (its path) and each of `errors`."""
    where = f"{type(construct).__name__} {construct.node.path}"
    if len(errors) == 1:
        return ConstructError(construct.node.path, f"{where}: {errors[0]}")
    return ConstructError(construct.node.path, f"{where}: {len(errors)} problems: " + "; ".join(errors))


def raise_if_any(construct: Construct, errors: Sequence[str]) -> None:
    """Raise `invalid(construct, errors)` unless `errors` is empty.

    Like aws-sagemaker-alpha's constructs, which gather an `errors` list and throw once: whoever
    fixes a configuration sees every problem in one synth, not one per run.
    """
    if errors:
        raise invalid(construct, errors)
