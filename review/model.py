"""What a review holds: per environment and stack, the resource, IAM and security-group changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# A synthesized app: templates by environment (CDK Stage) and stack name (as CloudFormation knows it).
Templates = dict[str, dict[str, dict[str, Any]]]


class Change(StrEnum):
    """What CloudFormation does to a resource, named after the library's `ResourceImpact`."""

    ADDED = "added"
    REMOVED = "removed"
    ORPHANED = "orphaned"
    IN_PLACE = "in place"
    REPLACED = "replaced"
    MAY_REPLACE = "may replace"
    IMPORTED = "imported"

    @classmethod
    def from_impact(cls, impact: str) -> Change:
        return _IMPACTS[impact]

    @property
    def replaces(self) -> bool:
        return self in (Change.REPLACED, Change.MAY_REPLACE)


_IMPACTS = {
    "WILL_CREATE": Change.ADDED,
    "WILL_DESTROY": Change.REMOVED,
    "WILL_ORPHAN": Change.ORPHANED,
    "WILL_UPDATE": Change.IN_PLACE,
    "WILL_REPLACE": Change.REPLACED,
    "MAY_REPLACE": Change.MAY_REPLACE,
    "WILL_IMPORT": Change.IMPORTED,
    # A resource with only non-property differences the library does not rate: still an update.
    "NO_CHANGE": Change.IN_PLACE,
}


# Alike in shape only to tests/deploy_readiness/policy.py's Decision (duplicates pairs them): a review's
# verdict on a change, not an IAM decision; product code never imports tests/.
class Verdict(StrEnum):
    """How the policy sees one resource change."""

    ALLOWED = "allowed"
    BLOCKED = "blocked"
    ACKNOWLEDGED = "acknowledged"
    # A stateful resource replaced or deleted where the policy does not apply (dev).
    NOT_ENFORCED = "not enforced"


@dataclass(frozen=True)
class PropertyChange:
    name: str
    change: Change
    old: Any
    new: Any


@dataclass(frozen=True)
class ResourceChange:
    """One resource that differs between base and head."""

    logical_id: str
    resource_type: str
    path: str | None
    change: Change
    stateful: bool
    verdict: Verdict
    properties: tuple[PropertyChange, ...] = ()
    # Attributes other than Properties (DeletionPolicy, DependsOn, Metadata...) that changed.
    other: tuple[str, ...] = ()
    # Replaced resources this one references: it changes only because they get a new name or ARN.
    due_to: tuple[str, ...] = ()
    old_type: str | None = None
    acknowledgment: str | None = None
    # For an orphaned resource: where the old one still lives (its physical name, or logical id and stack).
    still_at: str | None = None


@dataclass(frozen=True)
class Statement:
    """An IAM statement as the library renders it (resource, effect, action, principal, condition)."""

    resource: str
    effect: str
    action: str
    principal: str
    condition: str
    negative: bool
    wildcard: bool


@dataclass(frozen=True)
class IamChanges:
    broadened: bool = False
    added: tuple[Statement, ...] = ()
    removed: tuple[Statement, ...] = ()
    managed_policies_added: tuple[str, ...] = ()
    managed_policies_removed: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.managed_policies_added or self.managed_policies_removed)


@dataclass(frozen=True)
class SecurityGroupRule:
    """A security group rule added or removed (`added` False)."""

    direction: str  # "ingress" or "egress"
    added: bool
    group: str
    protocol: str
    peer: str


@dataclass(frozen=True)
class StackReview:
    environment: str
    stack: str  # the CloudFormation stack name, e.g. Prod-Platform
    display_name: str  # the construct path, e.g. Prod/Platform
    status: str  # "changed", "unchanged", "new stack", "stack removed"
    resources: tuple[ResourceChange, ...] = ()
    iam: IamChanges = field(default_factory=IamChanges)
    security_group_rules: tuple[SecurityGroupRule, ...] = ()

    @property
    def security_group_rules_added(self) -> bool:
        """Whether a rule was added: what the library calls rulesAdded (ingress or egress additions)."""
        return any(rule.added for rule in self.security_group_rules)

    def count(self, *changes: Change) -> int:
        return sum(1 for resource in self.resources if resource.change in changes)


# Alike in shape only to tests/test_environment_isolation.py's Statement (duplicates pairs them): unrelated fields.
@dataclass(frozen=True)
class Review:
    base: str
    head: str
    library: str
    stacks: tuple[StackReview, ...]
    notes: tuple[str, ...] = ()
    unused_acknowledgments: tuple[str, ...] = ()

    @property
    def environments(self) -> list[str]:
        return list(dict.fromkeys(stack.environment for stack in self.stacks))

    @property
    def blocked(self) -> list[tuple[StackReview, ResourceChange]]:
        return [(stack, r) for stack in self.stacks for r in stack.resources if r.verdict is Verdict.BLOCKED]
