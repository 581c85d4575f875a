"""What cfn-lint ships of AWS's published data: registry schemas' handler permissions, and IAM's actions.

Each resource type's schema lists, per handler (create, read, update, delete, list), the API actions
CloudFormation calls with the stack's execution role
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html, `handlers`).
The Service Authorization Reference lists every IAM action with the resource types a policy may scope it to
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html);
cfn-lint keeps a copy of it in AdditionalSpecs/Policies.json.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path

SCHEMAS = Path(str(files("cfnlint"))) / "data" / "schemas"
# What a deployment runs: create on the first deploy, update on the next, delete on teardown or replacement.
HANDLERS = ("create", "update", "delete")


@cache
def _index(region: str) -> dict[str, str]:
    index: dict[str, str] = json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())
    return index


@cache
def handler_permissions(resource_type: str, region: str = "us-east-1") -> dict[str, tuple[str, ...]] | None:
    """`{handler: actions}` of `resource_type`'s registry schema in `region`; None when it has no schema."""
    digest = _index(region).get(resource_type)
    if digest is None:
        return None
    schema = json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text())
    handlers = schema.get("handlers", {})
    return {name: tuple(handlers[name].get("permissions", ())) for name in HANDLERS if name in handlers}


def read_permissions(resource_type: str, region: str = "us-east-1") -> tuple[str, ...]:
    """The read handler's actions: what CloudFormation calls on a resource it imports."""
    digest = _index(region).get(resource_type)
    if digest is None:
        return ()
    schema = json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text())
    return tuple(schema.get("handlers", {}).get("read", {}).get("permissions", ()))


@cache
def _service_authorization() -> dict[str, tuple[str, ...]]:
    services = json.loads((SCHEMAS.parent / "AdditionalSpecs" / "Policies.json").read_text())
    return {
        f"{prefix}:{action}": tuple(spec.get("Resources", ()))
        for prefix, service in services.items()
        for action, spec in service["Actions"].items()
    }


def iam_actions() -> frozenset[str]:
    """Every IAM action, lowercased, as the Service Authorization Reference lists them."""
    return frozenset(_service_authorization())


def resource_types(action: str) -> tuple[str, ...] | None:
    """The resource types a policy may scope `action` to; () when none (it is granted on "*" only); None: no action."""
    return _service_authorization().get(action.lower())
