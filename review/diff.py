"""Compare two synthesized apps with `cfn_diff.mjs` (the `cdk diff` library) and apply the policy."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.model import (
    Change,
    IamChanges,
    PropertyChange,
    ResourceChange,
    Review,
    SecurityGroupRule,
    StackReview,
    Statement,
    Templates,
)
from review.policy import NAME_PROPERTIES, Acknowledgment, decide, is_stateful
from review.synth import BIN, ROOT

SCRIPT = Path(__file__).with_name("cfn_diff.mjs")


class DiffError(RuntimeError):
    """The diff library could not be run."""


def node() -> str:
    """The virtual environment's Node.js (24), never an older one found elsewhere on PATH."""
    candidate = BIN / "node"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("node")
    if found is None:
        raise DiffError("Node.js not found: run `make setup` (it installs Node.js 24 into .venv/)")
    return found


def run_library(pairs: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Diff every (old, new) template pair in one Node.js process; return the library and results."""
    result = subprocess.run(  # noqa: S603
        [node(), str(SCRIPT)],
        input=json.dumps({"pairs": pairs}),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise DiffError(
            f"{SCRIPT.name} failed (exit {result.returncode}); is node_modules/ set up (`make setup`)?\n"
            + result.stderr.strip()
        )
    output: dict[str, Any] = json.loads(result.stdout)
    return str(output["library"]), list(output["results"])


# Environments in promotion order in the report; others (if any) after them, alphabetically.
PROMOTION_ORDER = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Comparison:
    """A base and a head app to review, with the acknowledgments that apply."""

    base: Templates
    head: Templates
    acknowledgments: tuple[Acknowledgment, ...] = ()


def review_templates(
    base: Templates,
    head: Templates,
    acknowledgments: tuple[Acknowledgment, ...] = (),
    *,
    base_name: str = "base",
    head_name: str = "head",
    display_names: Mapping[tuple[str, str], str] | None = None,
    notes: tuple[str, ...] = (),
) -> Review:
    """The review of going from `base` to `head`, every environment and stack, policy applied."""
    (review,) = review_many([Comparison(base, head, acknowledgments)])
    return dataclasses.replace(
        review,
        base=base_name,
        head=head_name,
        notes=notes,
        stacks=tuple(
            dataclasses.replace(
                stack, display_name=(display_names or {}).get((stack.environment, stack.stack), stack.stack)
            )
            for stack in review.stacks
        ),
    )


def review_many(comparisons: Sequence[Comparison]) -> list[Review]:
    """Review several comparisons with one run of the library (it takes a second to load)."""
    keys = [[(environment, stack) for environment, stack in _stacks(c.base, c.head)] for c in comparisons]
    pairs = [
        {
            "id": f"{index}:{environment}/{stack}",
            "old": comparison.base.get(environment, {}).get(stack, {}),
            "new": comparison.head.get(environment, {}).get(stack, {}),
        }
        for index, (comparison, stacks) in enumerate(zip(comparisons, keys, strict=True))
        for environment, stack in stacks
    ]
    library, results = run_library(pairs) if pairs else ("@aws-cdk/cloudformation-diff", [])
    remaining = iter(results)
    return [
        _review(comparison, stacks, [next(remaining) for _ in stacks], library)
        for comparison, stacks in zip(comparisons, keys, strict=True)
    ]


def _stacks(base: Templates, head: Templates) -> list[tuple[str, str]]:
    environments = sorted(
        {*base, *head},
        key=lambda e: (PROMOTION_ORDER.index(e.lower()) if e.lower() in PROMOTION_ORDER else len(PROMOTION_ORDER), e),
    )
    return [
        (environment, stack)
        for environment in environments
        for stack in sorted({*head.get(environment, {}), *base.get(environment, {})})
    ]


def _review(comparison: Comparison, keys: list[tuple[str, str]], results: list[dict[str, Any]], library: str) -> Review:
    base, head, acknowledgments = comparison.base, comparison.head, comparison.acknowledgments
    used: set[Acknowledgment] = set()
    stacks = []
    for (environment, stack), result in zip(keys, results, strict=True):
        in_base = stack in base.get(environment, {})
        in_head = stack in head.get(environment, {})
        old_resources = base.get(environment, {}).get(stack, {}).get("Resources", {})
        resources = _with_successors(
            tuple(
                _resource(
                    raw, environment, stack, acknowledgments, used, old_resource=old_resources.get(raw["logicalId"], {})
                )
                for raw in sorted(result["resources"], key=lambda raw: raw["logicalId"])
            )
        )
        iam, groups = _iam(result["iam"]), _security_group_rules(result["securityGroupRules"])
        if not in_base:
            status = "new stack"
        elif not in_head:
            status = "stack removed"
        else:
            status = "changed" if resources or iam.any or groups else "unchanged"
        stacks.append(StackReview(environment, stack, stack, status, resources, iam, groups))
    unused = tuple(a.describe() for a in acknowledgments if a not in used)
    return Review("base", "head", library, tuple(stacks), (), unused)


def _resource(
    raw: dict[str, Any],
    environment: str,
    stack: str,
    acknowledgments: tuple[Acknowledgment, ...],
    used: set[Acknowledgment],
    *,
    old_resource: Mapping[str, Any],
) -> ResourceChange:
    change = Change.from_impact(raw["impact"])
    old_type, new_type = raw["oldType"], raw["newType"]
    stateful = is_stateful(old_type, new_type)
    decision = decide(
        acknowledgments,
        environment=environment,
        stack=stack,
        logical_id=raw["logicalId"],
        path=raw["path"],
        change=change,
        stateful=stateful,
    )
    if decision.acknowledgment is not None:
        used.add(decision.acknowledgment)
    return ResourceChange(
        logical_id=raw["logicalId"],
        resource_type=new_type or old_type,
        old_type=old_type if old_type and new_type and old_type != new_type else None,
        path=raw["path"],
        change=change,
        stateful=stateful,
        verdict=decision.verdict,
        properties=tuple(
            PropertyChange(p["name"], Change.from_impact(p["impact"]), p["old"], p["new"]) for p in raw["properties"]
        ),
        other=tuple(o["name"] for o in raw["other"]),
        due_to=tuple(raw.get("dueTo", [])),
        acknowledgment=decision.acknowledgment.reason if decision.acknowledgment else None,
        still_at=_still_at(old_resource, raw["logicalId"], stack) if change is Change.ORPHANED else None,
    )


def _still_at(old_resource: Mapping[str, Any], logical_id: str, stack: str) -> str:
    """Where an orphaned resource stays: its physical name if the base template gives it, else how to find it."""
    resource_type = old_resource.get("Type", "")
    name_property = NAME_PROPERTIES.get(resource_type)
    name = old_resource.get("Properties", {}).get(name_property) if name_property else None
    if isinstance(name, str):
        return f"{resource_type} `{name}` ({name_property}) stays in the account: CloudFormation keeps it, unmanaged"
    return (
        f"`{logical_id}` of stack `{stack}` stays in the account: CloudFormation keeps it, unmanaged; the template "
        f"gives no physical name: before deploying, `aws cloudformation describe-stack-resource --stack-name {stack} "
        f"--logical-resource-id {logical_id}` shows it"
    )


def _with_successors(resources: tuple[ResourceChange, ...]) -> tuple[ResourceChange, ...]:
    """Orphaned resources name the resources of their type the stack adds: what it uses from now on."""
    added: dict[str, list[str]] = {}
    for resource in resources:
        if resource.change is Change.ADDED:
            added.setdefault(resource.resource_type, []).append(resource.logical_id)
    return tuple(
        dataclasses.replace(
            resource,
            still_at=f"{resource.still_at}; the stack adds "
            + ", ".join(f"`{name}`" for name in added[resource.resource_type])
            + " of the same type, new and empty",
        )
        if resource.change is Change.ORPHANED and resource.resource_type in added
        else resource
        for resource in resources
    )


def _statement(raw: dict[str, Any]) -> Statement:
    # The library's keys are Statement's field names: every one is required, any other is ignored.
    return Statement(**{field.name: raw[field.name] for field in dataclasses.fields(Statement)})


def _iam(raw: dict[str, Any]) -> IamChanges:
    return IamChanges(
        broadened=raw["broadened"],
        added=tuple(map(_statement, raw["statementAdditions"])),
        removed=tuple(map(_statement, raw["statementRemovals"])),
        managed_policies_added=tuple(
            f"{a['identityArn']}: {a['managedPolicyArn']}" for a in raw["managedPolicyAdditions"]
        ),
        managed_policies_removed=tuple(
            f"{a['identityArn']}: {a['managedPolicyArn']}" for a in raw["managedPolicyRemovals"]
        ),
    )


def _security_group_rules(raw: list[dict[str, Any]]) -> tuple[SecurityGroupRule, ...]:
    return tuple(
        SecurityGroupRule(rule["direction"], rule["added"], rule["groupId"], rule["protocol"], rule["peer"])
        for rule in raw
    )
