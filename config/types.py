"""The configuration's value types: validated strings (instance types, regions, accounts), the environment
names, ConfigError, and the frozen base model of every section."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from config.aws_catalog import did_you_mean, regions, sagemaker_enum, sagemaker_range
from config.schedule_expressions import schedule_problem

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _matching(pattern: str, what: str) -> AfterValidator:
    """A validator that accepts strings matching `pattern` and otherwise says what is expected."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _schedule(*, allow_at: bool = False) -> AfterValidator:
    """A validator that accepts the schedule expressions EventBridge (allow_at: Application Auto Scaling) accepts."""

    what = "rate(<n> minute(s), hour(s) or day(s)) or cron(<6 fields>) as EventBridge reads them" + (
        ", or at(yyyy-mm-ddThh:mm:ss)" if allow_at else ""
    )

    def check(value: str) -> str:
        problem = schedule_problem(value, allow_at=allow_at)
        if problem:
            raise ValueError(problem if problem.startswith("must be") else f"{problem}; must be {what}")
        return value

    return AfterValidator(check)


def _not_a_url(value: str) -> str:
    if "://" in value or value.lower().startswith("s3:"):
        raise ValueError(
            "must be an object key in the artifacts bucket, not a URL: write e.g. models/<name>/model.tar.gz "
            "and the app adds s3://<this environment's artifacts bucket>/"
        )
    return value


# SageMaker instance types look like ml.<family>.<size>: ml.m5.large, ml.g5.2xlarge, ml.t3.medium.
InstanceType = Annotated[
    str,
    _matching(
        r"ml\.[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)",
        "a SageMaker instance type such as ml.m5.large, ml.c5.2xlarge or ml.t3.medium",
    ),
]


def _offered_by_sagemaker(shape: str, what: str) -> AfterValidator:
    """A validator that accepts the values of the SageMaker API's enum `shape` (botocore's service model)."""

    def check(value: str) -> str:
        offered = sagemaker_enum(shape)
        if value not in offered:
            raise ValueError(
                f"not an instance type SageMaker offers for {what} ({shape} in botocore's SageMaker model)"
                + did_you_mean(value, offered)
            )
        return value

    return AfterValidator(check)


def _sagemaker_bounds(shape: str, member: str, unit: str = "") -> AfterValidator:
    """A validator that accepts what the SageMaker API documents as `shape.member`'s min and max."""

    def check(value: int) -> int:
        low, high = sagemaker_range(shape, member)
        if not low <= value <= high:
            raise ValueError(f"must be {low}-{high}{unit} (SageMaker's {shape}.{member})")
        return value

    return AfterValidator(check)


def _known_region(value: str) -> str:
    known = regions()
    if value not in known:
        raise ValueError(f"not a region of any AWS partition in botocore's data{did_you_mean(value, known)}")
    return value


TrainingInstanceType = Annotated[InstanceType, _offered_by_sagemaker("TrainingInstanceType", "training jobs")]
TransformInstanceType = Annotated[InstanceType, _offered_by_sagemaker("TransformInstanceType", "transform jobs")]
EndpointInstanceType = Annotated[
    InstanceType, _offered_by_sagemaker("ProductionVariantInstanceType", "endpoint variants")
]
NotebookInstanceType = Annotated[InstanceType, _offered_by_sagemaker("InstanceType", "notebook instances")]
ProcessingInstanceType = Annotated[InstanceType, _offered_by_sagemaker("ProcessingInstanceType", "processing jobs")]
AccountId = Annotated[str, _matching(r"[0-9]{12}", "a 12-digit AWS account id")]
Region = Annotated[
    str,
    _matching(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]", "an AWS region such as us-east-1"),
    AfterValidator(_known_region),
]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")]
AppName = Annotated[
    str,
    _matching(r"[a-z][a-z0-9-]{1,30}[a-z0-9]", "3-32 lowercase letters, digits or '-', starting with a letter"),
]


class EnvironmentName(StrEnum):
    """The environments this app knows, in promotion order."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"

    @property
    def stage_id(self) -> str:
        """The CDK Stage id, the prefix of every stack's name (`Dev`, `Staging`, `Prod`)."""
        return self.value.capitalize()


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or breaks a rule; the message says which."""


class _Frozen(BaseModel):
    # No NaN or infinity anywhere: they pass every comparison check and break the template's JSON.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def _inverted_ranges(self, *bounds: tuple[str, str]) -> list[str]:
        """A problem for each (lower, upper) pair of this model's fields whose lower bound is above its upper."""
        return [
            f"{low} ({getattr(self, low)}) must not exceed {high} ({getattr(self, high)})"
            for low, high in bounds
            if getattr(self, low) > getattr(self, high)
        ]
