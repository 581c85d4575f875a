"""The review policy: which resources are stateful, where the policy applies, what is acknowledged.

A change violates the policy when, in an enforced environment (staging, prod), CloudFormation would
replace a stateful resource (the library says WILL_REPLACE or MAY_REPLACE: "may" counts, to be safe),
delete one (WILL_DESTROY: removed from the template without `DeletionPolicy: Retain`) or orphan one
(WILL_ORPHAN: a retained resource leaves the template; it stays in the account with its data, but the
stack, its roles and its pipeline no longer point at it: renaming a construct does this, and creates a
new, empty resource in its place), unless `acknowledgments.toml` has a reviewed entry for exactly
that resource and change.
IAM and security-group widening is reported, never a violation by itself.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from review.model import Change, Verdict

DEFAULT_ACKNOWLEDGMENTS = Path(__file__).with_name("acknowledgments.toml")

# Resources whose replacement or deletion loses data, history, or an identity others depend on
# (a key's ciphertexts, a topic's subscriptions, an endpoint's name and capacity). One list, used by
# the policy and quoted in the README.
STATEFUL_TYPES = frozenset(
    {
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::ECR::Repository",
        "AWS::SageMaker::Endpoint",
        "AWS::Logs::LogGroup",
        "AWS::DynamoDB::Table",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::EFS::FileSystem",
        "AWS::SNS::Topic",
        "AWS::SQS::Queue",
    }
)

# The property holding a stateful resource's physical name, where the template may give it: the
# report says where an orphaned resource still lives.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
}

# Environments (CDK Stage names, compared case-insensitively) where the policy fails the review.
ENFORCED_ENVIRONMENTS = frozenset({"staging", "prod"})


class AcknowledgedChange(StrEnum):
    """The change an acknowledgment allows: `replace` covers "replaced" and "may replace"."""

    REPLACE = "replace"
    DELETE = "delete"
    ORPHAN = "orphan"

    @classmethod
    def of(cls, change: Change) -> AcknowledgedChange:
        if change.replaces:
            return cls.REPLACE
        return cls.ORPHAN if change is Change.ORPHANED else cls.DELETE


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Acknowledgment(BaseModel):
    """One reviewed exception: this change of this resource in this environment is intended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: NonEmpty
    stack: NonEmpty = Field(description="stack id (Platform) or CloudFormation stack name (Prod-Platform)")
    resource: NonEmpty = Field(description="logical id, or construct path such as Prod/Platform/Data/Bucket/Resource")
    change: AcknowledgedChange
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10)]

    def describe(self) -> str:
        return f"{self.environment}/{self.stack}/{self.resource} ({self.change.value})"

    def matches(self, environment: str, stack: str, logical_id: str, path: str | None, change: Change) -> bool:
        wanted = AcknowledgedChange.of(change)
        stack_id = stack.removeprefix(f"{environment}-")
        return (
            self.change is wanted
            and self.environment.lower() == environment.lower()
            and self.stack in (stack, stack_id)
            and self.resource in (logical_id, path)
        )


class AcknowledgmentError(ValueError):
    """The acknowledgment file cannot be used; the message names the entry and the field."""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    acknowledgment: list[Acknowledgment] = []


def load_acknowledgments(path: Path = DEFAULT_ACKNOWLEDGMENTS) -> tuple[Acknowledgment, ...]:
    """Read and validate the acknowledgment file; a missing file acknowledges nothing."""
    if not path.exists():
        return ()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AcknowledgmentError(f"{path}: not valid TOML: {error}") from error
    try:
        return tuple(_File.model_validate(data).acknowledgment)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            location = list(item["loc"])
            if location[:1] == ["acknowledgment"] and len(location) >= 2 and isinstance(location[1], int):
                entry = f"[[acknowledgment]] #{location[1] + 1}"
                field = ".".join(str(part) for part in location[2:]) or "(entry)"
            else:
                entry, field = "(file)", ".".join(str(part) for part in location)
            problems.append(f"{path}: {entry}: field '{field}': {item['msg']}")
        raise AcknowledgmentError("\n".join(problems)) from error


def is_stateful(*resource_types: str | None) -> bool:
    return any(resource_type in STATEFUL_TYPES for resource_type in resource_types)


def is_enforced(environment: str) -> bool:
    return environment.lower() in ENFORCED_ENVIRONMENTS


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    acknowledgment: Acknowledgment | None = None


def decide(
    acknowledgments: tuple[Acknowledgment, ...],
    *,
    environment: str,
    stack: str,
    logical_id: str,
    path: str | None,
    change: Change,
    stateful: bool,
) -> Decision:
    """The policy's verdict on one resource change."""
    if not stateful or not (change.replaces or change in (Change.REMOVED, Change.ORPHANED)):
        return Decision(Verdict.ALLOWED)
    if not is_enforced(environment):
        return Decision(Verdict.NOT_ENFORCED)
    for acknowledgment in acknowledgments:
        if acknowledgment.matches(environment, stack, logical_id, path, change):
            return Decision(Verdict.ACKNOWLEDGED, acknowledgment)
    return Decision(Verdict.BLOCKED)
