"""How every alarm of the app is made: one place for the settings they all share."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct


def notifying_alarm(
    scope: Construct,
    id_: str,
    metric: cloudwatch.Metric | cloudwatch.MathExpression,
    *,
    description: str,
    threshold: float,
    comparison: cloudwatch.ComparisonOperator,
    evaluation_periods: int,
    datapoints_to_alarm: int | None = None,
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    action: cloudwatch.IAlarmAction | None = None,
) -> cloudwatch.Alarm:
    """An alarm on `metric` that runs `action` (if any) on ALARM and on OK, so pages also resolve."""
    alarm = metric.create_alarm(
        scope,
        id_,
        alarm_description=description,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints_to_alarm,
        treat_missing_data=missing,
    )
    if action is not None:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
    return alarm
