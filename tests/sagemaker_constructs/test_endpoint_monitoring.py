"""EndpointMonitoring: alarms that page and roll back, and a dashboard built from metric helpers."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from sagemaker_constructs import (
    AlarmThresholds,
    EndpointMonitoring,
    InstanceVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ServerlessVariant,
    TrafficShifting,
)
from tests.sagemaker_constructs.conftest import Platform, make_endpoint


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None) -> RealtimeEndpoint:
    serverless = isinstance(variants, ServerlessVariant)
    return make_endpoint(
        stack,
        platform,
        model,
        variants,
        traffic_shifting=None if serverless else TrafficShifting(mode="CANARY"),
        default_rollback_alarms=False,
    )


def _monitoring(stack: cdk.Stack, endpoint: RealtimeEndpoint, **kwargs: Any) -> EndpointMonitoring:
    arguments: dict[str, Any] = {
        "endpoint": endpoint,
        "alarm_topic": sns.Topic(stack, "Topic"),
        "thresholds": AlarmThresholds(no_invocations=cdk.Duration.minutes(30)),
        "dashboard_name": "app-test",
        "container_metrics_namespace": "app",
        "min_capacity": 2,
        "max_capacity": 4,
    } | kwargs
    return EndpointMonitoring(stack, "Monitoring", **arguments)


def _alarms(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    return {k.removeprefix("Monitoring")[:-8]: dict(v["Properties"]) for k, v in alarms.items()}


def test_it_creates_every_operational_alarm(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _monitoring(stack, _endpoint(stack, platform, model))
    assert set(_alarms(stack)) == {
        "ServerErrorRate",
        "ModelLatencyP99",
        "ContainerErrorRate",
        "CpuHigh",
        "MemoryHigh",
        "DiskHigh",
        "NoInvocations",
        "InstancesBelowMinimum",
    }


def test_error_rate_latency_and_container_alarms_roll_deployments_back(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _monitoring(stack, _endpoint(stack, platform, model))
    endpoint = next(iter(Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()))
    rollback = endpoint["Properties"]["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert sorted(a["AlarmName"]["Ref"].removeprefix("Monitoring")[:-8] for a in rollback) == [
        "ContainerErrorRate",
        "ModelLatencyP99",
        "ServerErrorRate",
    ]


def test_the_error_rate_is_a_percentage_of_invocations(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _monitoring(stack, _endpoint(stack, platform, model), thresholds=AlarmThresholds(server_error_rate_percent=2.5))
    alarm = _alarms(stack)["ServerErrorRate"]
    expression = next(m for m in alarm["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "100 * errors / MAX([errors, invocations])"
    assert alarm["Threshold"] == 2.5
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 5


def test_silence_counts_as_breaching_for_the_no_invocations_alarm(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _monitoring(stack, _endpoint(stack, platform, model))
    alarm = _alarms(stack)["NoInvocations"]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["EvaluationPeriods"] == 30


def test_alarms_notify_on_alarm_and_ok_with_a_runbook_description(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _monitoring(stack, _endpoint(stack, platform, model))
    for name, alarm in _alarms(stack).items():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": alarm["AlarmActions"][0]["Ref"]}], name
        assert "Likely causes:" in alarm["AlarmDescription"] and "First action:" in alarm["AlarmDescription"]


def test_a_serverless_endpoint_gets_no_instance_alarms(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _monitoring(
        stack, _endpoint(stack, platform, model, ServerlessVariant(2048, 5)), min_capacity=None, max_capacity=None
    )
    assert set(_alarms(stack)) == {"ServerErrorRate", "ModelLatencyP99", "ContainerErrorRate"}


def test_without_the_container_namespace_there_is_no_container_alarm(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    monitoring = _monitoring(stack, _endpoint(stack, platform, model), container_metrics_namespace=None)
    assert "ContainerErrorRate" not in _alarms(stack)
    with pytest.raises(ValueError, match="container_metrics_namespace was not given"):
        monitoring.metric_container("Requests")


def test_gpu_instances_get_gpu_widgets(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _monitoring(stack, _endpoint(stack, platform, model, [InstanceVariant("ml.g5.xlarge", 2)]))
    dashboard = next(iter(Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()))
    assert "GPUUtilization" in str(dashboard["Properties"]["DashboardBody"])


def test_cpu_instances_get_no_gpu_widgets(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _monitoring(stack, _endpoint(stack, platform, model))
    dashboard = next(iter(Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()))
    assert "GPUUtilization" not in str(dashboard["Properties"]["DashboardBody"])
    assert dashboard["Properties"]["DashboardName"] == "app-test"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": AlarmThresholds(server_error_rate_percent=0)}, r"thresholds\.server_error_rate_percent must"),
        (
            {"thresholds": AlarmThresholds(container_error_rate_percent=150)},
            r"thresholds\.container_error_rate_percent",
        ),
        (
            {"thresholds": AlarmThresholds(evaluation=cdk.Duration.hours(2))},
            r"thresholds\.evaluation must be 1-60 minutes",
        ),
        ({"min_capacity": 5, "max_capacity": 4}, r"min_capacity \(5\) must not exceed max_capacity \(4\)"),
    ],
    ids=["error-rate", "container-rate", "evaluation", "capacity"],
)
def test_bad_settings_are_rejected(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _monitoring(stack, _endpoint(stack, platform, model), **kwargs)


def test_traffic_shifting_without_any_rollback_alarm_fails_synthesis(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _endpoint(stack, platform, model)  # default alarms off, and no monitoring adds any
    with pytest.raises(RuntimeError, match="traffic_shifting needs at least one rollback alarm"):
        Template.from_stack(stack)
