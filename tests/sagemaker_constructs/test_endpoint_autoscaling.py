"""EndpointAutoScaling: target tracking on invocations per instance, after the endpoint exists."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_constructs import (
    EndpointAutoScaling,
    InstanceVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ScheduledCapacity,
    ServerlessVariant,
)
from sagemaker_constructs.endpoint_autoscaling import invocations_per_instance_target
from sagemaker_constructs.scalable_capacity import ScalingLimits
from tests.helpers import Platform, logical_id, make_endpoint, one_of_type, template_of


def _endpoint(stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None) -> RealtimeEndpoint:
    return make_endpoint(stack, platform, model, variants)


# Alike in shape to the other constructs' test builders (duplicates pairs it with test_inference_component's):
# this construct's defaults, then the test's overrides.
def _scaling(endpoint: RealtimeEndpoint, **kwargs: Any) -> EndpointAutoScaling:
    arguments: dict[str, Any] = {
        "endpoint": endpoint,
        "limits": ScalingLimits(2, 6),
        "max_requests_per_second": 40,
    } | kwargs
    return EndpointAutoScaling(endpoint, "AutoScaling", **arguments)


def test_the_target_covers_the_variants_instance_count_after_the_endpoint_exists(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN an endpoint on two instances
    WHEN it autoscales between 2 and 6
    THEN the scalable target is its variant's instance count, registered after the endpoint exists."""
    endpoint = _endpoint(stack, platform, model)
    _scaling(endpoint)
    target = one_of_type(template_of(stack), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"] == {
        "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/app-test/variant/primary",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": 2,
        "MaxCapacity": 6,
    }
    assert target["DependsOn"] == [logical_id(stack, "Endpoint/Endpoint")]


def test_the_policy_tracks_invocations_per_instance_with_cooldowns(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel
) -> None:
    """GIVEN 40 requests/s measured per instance and cooldowns of 10 and 2 minutes
    WHEN the endpoint autoscales
    THEN the policy tracks 40 x 0.5 x 60 = 1200 invocations per instance with those cooldowns."""
    _scaling(
        _endpoint(stack, platform, model),
        limits=ScalingLimits(
            2, 6, scale_in_cooldown=cdk.Duration.minutes(10), scale_out_cooldown=cdk.Duration.minutes(2)
        ),
    )
    policy = one_of_type(template_of(stack), "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["Properties"]["PolicyType"] == "TargetTrackingScaling"
    assert policy["Properties"]["TargetTrackingScalingPolicyConfiguration"] == {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        "TargetValue": 1200,
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 120,
    }


@pytest.mark.parametrize(
    ("requests_per_second", "safety_factor", "target"),
    [(900, 0.5, 27000), (1800, 0.5, 54000), (10, 1.0, 600), (0.5, 0.1, 3)],
)
def test_the_target_is_what_an_instance_serves_times_the_safety_factor_per_minute(
    requests_per_second: float, safety_factor: float, target: float
) -> None:
    """GIVEN a measured maximum of requests/s per instance and a safety factor
    WHEN the target is computed
    THEN it is their product per minute (AWS's load-testing guidance)."""
    assert invocations_per_instance_target(requests_per_second, safety_factor) == pytest.approx(target)


def test_schedules_become_scheduled_actions(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN a business-hours schedule of 4 to 6 instances
    WHEN the endpoint autoscales
    THEN the scalable target carries it as a scheduled action."""
    _scaling(
        _endpoint(stack, platform, model),
        schedules=[ScheduledCapacity("BusinessHours", "cron(0 7 ? * MON-FRI *)", 4, 6)],
    )
    target = one_of_type(template_of(stack), "AWS::ApplicationAutoScaling::ScalableTarget")
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
    """GIVEN an autoscaled endpoint
    WHEN a deployment updates it
    THEN it keeps the running instance counts (not initial_instance_count)."""
    _scaling(_endpoint(stack, platform, model))
    endpoint = one_of_type(template_of(stack), "AWS::SageMaker::Endpoint")
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
        (None, {"limits": ScalingLimits(4, 3)}, r"min_capacity \(4\) must not exceed max_capacity \(3\)"),
        (None, {"limits": ScalingLimits(0, 6)}, r"min_capacity must be at least 1, got 0"),
        (None, {"limits": ScalingLimits(1, 0)}, r"max_capacity must be at least 1, got 0"),
        (
            None,
            {"limits": ScalingLimits(3, 6)},
            r"initial_instance_count \(2\) of variant primary must lie within .*\(3\.\.6\)",
        ),
        (
            None,
            {"limits": ScalingLimits(2, 6, scale_out_cooldown=cdk.Duration.millis(1500))},
            r"scale_out_cooldown must be whole seconds, got 1\.5 seconds",
        ),
        (None, {"max_requests_per_second": 0}, r"max_requests_per_second must be above 0, got 0"),
        (None, {"safety_factor": 0}, r"safety_factor must be above 0 and at most 1, got 0"),
        (None, {"safety_factor": 1.5}, r"safety_factor must be above 0 and at most 1, got 1\.5"),
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
        "max-zero",
        "initial-outside",
        "cooldown-part-seconds",
        "requests-per-second",
        "safety-zero",
        "safety-above-one",
        "variant",
        "schedule",
        "schedule-range",
    ],
)
def test_bad_settings_are_rejected_naming_the_field(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any, kwargs: dict[str, Any], message: str
) -> None:
    """GIVEN one bad argument
    WHEN the endpoint autoscales
    THEN a ValueError names the construct, the field and what is allowed."""
    endpoint = _endpoint(stack, platform, model, variants)
    with pytest.raises(ValueError, match=r"^EndpointAutoScaling Test/Endpoint/AutoScaling: .*" + message):
        _scaling(endpoint, **kwargs)


def test_several_variants_need_a_variant_name(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN an endpoint with variants blue and green
    WHEN it autoscales without variant_name, then with green
    THEN the first fails, the second scales green."""
    variants = [InstanceVariant("ml.c5.large", 2, "blue", 0.5), InstanceVariant("ml.c5.large", 2, "green", 0.5)]
    endpoint = _endpoint(stack, platform, model, variants)
    with pytest.raises(ValueError, match=r"variant_name is required: the endpoint has variants \['blue', 'green'\]"):
        _scaling(endpoint)
    EndpointAutoScaling(
        endpoint,
        "Green",
        endpoint=endpoint,
        limits=ScalingLimits(2, 6),
        max_requests_per_second=40,
        variant_name="green",
    )
    target = one_of_type(template_of(stack), "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["ResourceId"] == "endpoint/app-test/variant/green"


def test_every_problem_is_reported_at_once(stack: cdk.Stack, platform: Platform, model: SageMakerModel) -> None:
    """GIVEN a bad capacity range, rate and safety factor
    WHEN the endpoint autoscales
    THEN one ValueError names all of them."""
    endpoint = _endpoint(stack, platform, model)
    with pytest.raises(ValueError, match=r"^EndpointAutoScaling Test/Endpoint/AutoScaling: 3 problems: ") as raised:
        _scaling(endpoint, limits=ScalingLimits(0, 6), max_requests_per_second=-1, safety_factor=2)
    for field in ("min_capacity must be at least 1", "max_requests_per_second", "safety_factor"):
        assert field in str(raised.value)
