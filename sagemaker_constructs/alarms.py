"""How every alarm of the app is made: one place for the settings and the naming they all share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypedDict, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_constructs.realtime_endpoint import RealtimeEndpoint

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


@dataclass(frozen=True)
class AlarmDefaults:
    """What every alarm watching one endpoint shares, as cdk-monitoring-constructs' AlarmFactoryDefaults
    (lib/common/alarm/AlarmFactory.ts) carries the action, name prefix and evaluation periods of every alarm it makes.

    :param topic: notified on ALARM and on OK.
    :param name_prefix: alarm names are `<name_prefix>-<what>`. @default the endpoint's name.
    :param evaluation: how long a metric must breach (every 1-minute period of it) before the alarm fires; an alarm
        may declare its own. @default 5 minutes.
    """

    topic: sns.ITopic
    name_prefix: str | None = None
    evaluation: cdk.Duration = cdk.Duration.minutes(5)

    @property
    def periods(self) -> int:
        return int(self.evaluation.to_minutes())

    def problems(self, field: str) -> list[str]:
        """What is wrong with these defaults, each naming `field` (the argument they came in)."""
        problems = []
        if self.name_prefix is not None and not _ALARM_NAME_CHARACTERS.fullmatch(self.name_prefix):
            problems.append(f"{field}.name_prefix must be letters, digits, '.', '_' or '-', got {self.name_prefix!r}")
        # Whole minutes: they are the alarms' 1-minute periods (a part minute would fail in jsii, unnamed).
        minutes = float(self.evaluation.to_minutes(integral=False))
        if not (1 <= minutes <= 60 and minutes.is_integer()):
            problems.append(f"{field}.evaluation must be 1-60 whole minutes, got {minutes:g}")
        return problems


@dataclass(frozen=True)
class AlarmSpec:
    """One paging alarm as data, as cdk-monitoring-constructs declares its alarms; `make_alarms` makes it.

    Its description reads `<endpoint>: <what>. Likely causes: <causes>. First action: <action>.`, so whoever is paged
    knows where, what, why and what to do first.

    :param id: the construct id (PascalCase), also the alarm name's last part (kebab case).
    :param metric: builds the metric, only for an alarm that is made (a container metric needs a namespace).
    :param periods: @default the defaults' evaluation.
    :param rolls_back: also on the endpoint's auto-rollback, so a deployment that trips it goes back to the old fleet.
    """

    id: str
    metric: Callable[[], cloudwatch.Metric | cloudwatch.MathExpression]
    what: str
    causes: str
    action: str
    threshold: float
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
    missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING
    periods: int | None = None
    rolls_back: bool = False


def make_alarms(
    scope: Construct, endpoint: RealtimeEndpoint, defaults: AlarmDefaults, specs: Iterable[AlarmSpec]
) -> list[cloudwatch.Alarm]:
    """An alarm per spec on `endpoint`, in order, under `scope`, notifying `defaults.topic` on ALARM and OK."""
    action = cloudwatch_actions.SnsAction(defaults.topic)
    prefix = endpoint.endpoint_name if defaults.name_prefix is None else defaults.name_prefix
    alarms = []
    for spec in specs:
        periods = defaults.periods if spec.periods is None else spec.periods
        alarm = notifying_alarm(
            scope,
            spec.id,
            spec.metric(),
            action=action,
            alarm_name=make_alarm_name(prefix, spec.id),
            alarm_description=(
                f"{endpoint.endpoint_name}: {spec.what}. Likely causes: {spec.causes}. First action: {spec.action}."
            ),
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=spec.missing,
        )
        if spec.rolls_back:
            endpoint.add_rollback_alarm(alarm)
        alarms.append(alarm)
    return alarms
