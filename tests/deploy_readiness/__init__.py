"""The deploy-readiness check: what AWS documents it requires of the app's templates, checked offline.

`paths()` are the principals CloudFormation deploys with on the documented paths (README's default
bootstrap, docs/delivery.md's scoped execution policies with the permissions boundary);
`deployment_of()` reads a synthesized app; `check.check()` lists every unmet requirement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from config import AppConfig
from delivery.permissions_boundary import PERMISSIONS_BOUNDARY_FILE
from tests.deploy_readiness.model import Deployment, Stack
from tests.deploy_readiness.policy import statements_of

DELIVERY = PERMISSIONS_BOUNDARY_FILE.parent
# `cdk bootstrap` without --cloudformation-execution-policies: AdministratorAccess.
ADMINISTRATOR_ACCESS = ({"Effect": "Allow", "Action": "*", "Resource": "*"},)


def execution_policy_statements(directory: Path = DELIVERY) -> list[dict[str, Any]]:
    """The scoped CloudFormation execution policies of docs/delivery.md, as one principal's statements."""
    files = sorted(directory.glob("cloudformation-execution-policy-*.json"))
    return [s for path in files for s in statements_of(json.loads(path.read_text()))]


def boundary_statements(path: Path = PERMISSIONS_BOUNDARY_FILE) -> list[dict[str, Any]]:
    return statements_of(json.loads(path.read_text()))


def paths() -> dict[str, Sequence[Mapping[str, Any]]]:
    """What CloudFormation acts with: README's default bootstrap, and docs/delivery.md's scoped policies."""
    return {"default bootstrap": ADMINISTRATOR_ACCESS, "scoped execution policies": execution_policy_statements()}


def deployment_of(
    config: AppConfig, templates: Mapping[str, Mapping[str, Mapping[str, Any]]], access: Sequence[Stack]
) -> Deployment:
    """The stacks `cdk deploy` creates from `templates` (environment -> stack id -> template), and the `access` stacks
    (each in its own account and region: tests/delivery/conftest.py's `access_stacks`)."""
    stacks = []
    for name, by_stack in templates.items():
        settings = config.environments[next(e for e in config.environments if e.value == name)]
        account = settings.account or ""
        for stack_id, template in by_stack.items():
            stacks.append(Stack(f"{settings.name.stage_id}-{stack_id}", template, account, settings.region))
    return Deployment([*stacks, *access])
