"""A small IAM policy evaluator: what a set of policy statements decides for one request.

It implements the parts of IAM's evaluation logic the app's policies use
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny wins, then an Allow, else the implicit deny; Action/NotAction and Resource/NotResource
with `*` and `?` wildcards (actions case-insensitively; a request for `ANY_RESOURCE` checks
the action only); the condition operators StringEquals,
StringLike, ArnEquals, ArnLike, Bool (and their IfExists forms) with policy variables such as
`${aws:PrincipalAccount}` taken from the request context.

What it cannot resolve it says so instead of guessing: a request whose resource ARN is unknown
(`resource=None`) matches only a statement whose resource is `*`; a statement whose resource is an
unresolved template value (`None` among its resources), a condition operator it does not implement,
or a key the request context lacks under an operator that may still match, make the decision
UNRESOLVED, which the deploy-readiness check reports like a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any


# Alike in shape only to review/model.py's Verdict (duplicates pairs them): an IAM decision, not a review's.
class Decision(Enum):
    ALLOWED = "allowed"
    DENIED = "explicitly denied"
    IMPLICIT_DENY = "not allowed"
    UNRESOLVED = "not resolvable offline"


@dataclass(frozen=True)
class Request:
    """One API call: its action, the ARN it acts on (None: unknown) and its condition keys."""

    action: str
    resource: str | None
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


# A request whose ARN is only known at run time (a job's, an image's source): it matches any resource
# a statement names, resolved or not, so the decision is about the action (and conditions) only.
ANY_RESOURCE = "<any resource known only at run time>"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_OPERATORS = {"StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters (`/` and `:` included), `?` one; nothing else is special."""
    body = "".join({"*": ".*", "?": "."}.get(char, re.escape(char)) for char in pattern)
    return re.compile(body, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def _glob(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _wildcard(pattern, case_sensitive).fullmatch(value) is not None


def _substitute(pattern: str, context: Mapping[str, Any]) -> str | None:
    """`pattern` with its policy variables filled in from `context`; None when one is missing."""
    missing = [name for name in _VARIABLE.findall(pattern) if name not in context]
    if missing:
        return None
    return _VARIABLE.sub(lambda match: str(context[match.group(1)]), pattern)


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(_glob(p, action, case_sensitive=False) for p in as_list(statement["Action"]))
    return not any(_glob(p, action, case_sensitive=False) for p in as_list(statement["NotAction"]))


def _resource_matches(statement: Mapping[str, Any], request: Request) -> bool | None:
    key = "Resource" if "Resource" in statement else "NotResource"
    patterns = as_list(statement[key])
    found: bool | None = False
    for pattern in patterns:
        if pattern == "*" or request.resource == ANY_RESOURCE:
            found = True
            break
        if pattern is None or request.resource is None:
            found = None
            continue
        filled = _substitute(pattern, request.context)
        if filled is None:
            found = None
        elif _glob(filled, request.resource):
            found = True
            break
    if key == "Resource":
        return found
    return None if found is None else not found


def _condition_matches(statement: Mapping[str, Any], request: Request) -> bool | None:
    result: bool | None = True
    for operator, tests in statement.get("Condition", {}).items():
        base = operator.removesuffix("IfExists")
        if base not in _OPERATORS:
            return None
        for key, expected in tests.items():
            if key not in request.context:
                if operator.endswith("IfExists"):
                    continue
                return False
            values = as_list(request.context[key])
            patterns = [_substitute(p, request.context) for p in as_list(expected)]
            if any(p is None for p in patterns):
                result = None
                continue
            like = base.endswith("Like")
            if base == "Bool":
                values, patterns = [str(v).lower() for v in values], [str(p).lower() for p in patterns]
            # A multivalued key without ForAnyValue/ForAllValues: every value must match one pattern.
            if not all(any(_glob(p, v) if like else p == v for p in patterns if p is not None) for v in values):
                return False
    return result


def _matches(statement: Mapping[str, Any], request: Request) -> bool | None:
    if not _action_matches(statement, request.action):
        return False
    resource = _resource_matches(statement, request)
    if resource is False:
        return False
    condition = _condition_matches(statement, request)
    if condition is False:
        return False
    return None if resource is None or condition is None else True


def evaluate(statements: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """What `statements` (one principal's policies, or a resource's) decide for `request`."""
    allowed: bool | None = False
    denied: bool | None = False
    for statement in statements:
        matched = _matches(statement, request)
        if statement["Effect"] == "Deny":
            if matched:
                return Decision.DENIED
            if matched is None:
                denied = None
        elif matched:
            allowed = True
        elif matched is None and allowed is False:
            allowed = None
    if denied is None:
        return Decision.UNRESOLVED
    if allowed:
        return Decision.ALLOWED
    return Decision.UNRESOLVED if allowed is None else Decision.IMPLICIT_DENY


def statements_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in as_list(document["Statement"])]
