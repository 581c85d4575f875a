"""How every alarm of the app is made: one place for the settings and the naming they all share."""

from __future__ import annotations

import re
from typing import TypedDict, Unpack

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ALARM_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")
# PutMetricAlarm accepts up to 255 characters for AlarmName.
MAX_ALARM_NAME_LENGTH = 255


def kebab_case(local_name: str) -> str:
    """A PascalCase construct id as a physical name's part: `ServerErrorRate` -> `server-error-rate`."""
    return _WORD_BOUNDARY.sub("-", local_name).lower()


def make_alarm_name(prefix: str, local_name: str) -> str:
    """`<prefix>-<local-name>`: the `local_name` (PascalCase) in kebab case after `prefix`.

    Deterministic, like cdk-monitoring-constructs' AlarmNamingStrategy, so a page names the endpoint
    and what is wrong (`sagemaker-gbdt-prod-server-error-rate`), not a generated id.
    """
    name = f"{prefix}-{kebab_case(local_name)}"
    if not _ALARM_NAME_CHARACTERS.fullmatch(name) or len(name) > MAX_ALARM_NAME_LENGTH:
        raise ValueError(f"alarm name must be 1-{MAX_ALARM_NAME_LENGTH} letters, digits, '.', '_' or '-', got {name!r}")
    return name


class AlarmOptions(TypedDict, total=False):
    """The options of `Metric.create_alarm` the project sets (typed, so that mypy checks every keyword)."""

    alarm_name: str
    alarm_description: str
    threshold: float
    comparison_operator: cloudwatch.ComparisonOperator
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: cloudwatch.TreatMissingData


def notifying_alarm(
    scope: Construct,
    id_: str,
    metric: cloudwatch.Metric | cloudwatch.MathExpression,
    *,
    action: cloudwatch.IAlarmAction | None = None,
    **options: Unpack[AlarmOptions],
) -> cloudwatch.Alarm:
    """An alarm on `metric` that runs `action` (if any) on ALARM and on OK, so pages also resolve.

    `options` are `Metric.create_alarm`'s, over the default of missing data as not breaching, the way aws-cdk's
    L2 metrics take their options.
    """
    defaults: AlarmOptions = {"treat_missing_data": cloudwatch.TreatMissingData.NOT_BREACHING}
    alarm = metric.create_alarm(scope, id_, **(defaults | options))
    if action is not None:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
    return alarm
