"""EndpointAutoScaling: target tracking on invocations per instance, after the endpoint exists."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from sagemaker_constructs import (
    EndpointAutoScaling,
    InstanceVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ScheduledCapacity,
    ServerlessVariant,
)
from tests.sagemaker_constructs.conftest import Platform, make_endpoint


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None) -> RealtimeEndpoint:
    return make_endpoint(stack, platform, model, variants)


def _scaling(endpoint: RealtimeEndpoint, **kwargs: Any) -> EndpointAutoScaling:
    arguments: dict[str, Any] = {
        "endpoint": endpoint,
        "min_capacity": 2,
        "max_capacity": 6,
        "target_invocations_per_instance": 1000,
    } | kwargs
    return EndpointAutoScaling(endpoint, "AutoScaling", **arguments)


def test_the_target_covers_the_variants_instance_count_after_the_endpoint_exists(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    endpoint = _endpoint(stack, platform, model)
    _scaling(endpoint)
    target = next(
        iter(Template.from_stack(stack).find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values())
    )
    assert target["Properties"] == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/app-test/variant/primary",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2,
        "MaxCapacity": 6,
    }
    assert target["DependsOn"] == [stack.get_logical_id(endpoint.endpoint)]


def test_the_policy_tracks_invocations_per_instance_with_cooldowns(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _scaling(
        _endpoint(stack, platform, model),
        scale_in_cooldown=cdk.Duration.minutes(10),
        scale_out_cooldown=cdk.Duration.minutes(2),
    )
    policy = next(
        iter(Template.from_stack(stack).find_resources("AWS::ApplicationAutoScaling::ScalingPolicy").values())
    )
    assert policy["Properties"]["PolicyType"] == "TargetTrackingScaling"
    assert policy["Properties"]["TargetTrackingScalingPolicyConfiguration"] == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 1000,
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 120,
    }


def test_schedules_become_scheduled_actions(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    _scaling(
        _endpoint(stack, platform, model),
        schedules=[ScheduledCapacity("BusinessHours", "cron(0 7 ? * MON-FRI *)", 4, 6)],
    )
    target = next(
        iter(Template.from_stack(stack).find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values())
    )
    assert target["Properties"]["ScheduledActions"] == [
        {
            "ScheduledActionName": "BusinessHours",
            "Schedule": "cron(0 7 ? * MON-FRI *)",
            "ScalableTargetAction": {"MinCapacity": 4, "MaxCapacity": 6},
        }
    ]


def test_deployments_keep_the_count_autoscaling_chose(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    _scaling(_endpoint(stack, platform, model))
    endpoint = next(iter(Template.from_stack(stack).find_resources("AWS::SageMaker::Endpoint").values()))
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True


@pytest.mark.parametrize(
    ("variants", "kwargs", "message"),
    [
        (
            [InstanceVariant("ml.t3.medium", 2)],
            {},
            r"not supported on burstable instance types \(ml\.t\*\), got ml\.t3\.medium",
        ),
        (ServerlessVariant(2048, 5), {}, r"autoscaling is not supported on a serverless variant"),
        (None, {"min_capacity": 4, "max_capacity": 3}, r"min_capacity \(4\) must not exceed max_capacity \(3\)"),
        (None, {"min_capacity": 0}, r"min_capacity must be at least 1, got 0"),
        (None, {"min_capacity": 3}, r"initial_instance_count \(2\) of variant primary must lie within .*\(3\.\.6\)"),
        (None, {"target_invocations_per_instance": 0}, r"target_invocations_per_instance must be at least 1"),
        (None, {"variant_name": "blue"}, r"variant_name must be one of \['primary'\], got 'blue'"),
        (
            None,
            {"schedules": [ScheduledCapacity("Nightly", "0 7 * * *", 2, 3)]},
            r"schedule Nightly: expected cron\(\.\.\.\), rate\(\.\.\.\) or at\(\.\.\.\)",
        ),
        (
            None,
            {"schedules": [ScheduledCapacity("Nightly", "cron(0 7 * * ? *)", 5, 3)]},
            r"schedule Nightly: min_capacity \(5\) must not exceed max_capacity \(3\)",
        ),
    ],
    ids=[
        "burstable",
        "serverless",
        "min-above-max",
        "min-zero",
        "initial-outside",
        "target",
        "variant",
        "schedule",
        "schedule-range",
    ],
)
def test_bad_settings_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any, kwargs: dict[str, Any], message: str
) -> None:
    endpoint = _endpoint(stack, platform, model, variants)
    with pytest.raises(ValueError, match=message):
        _scaling(endpoint, **kwargs)
