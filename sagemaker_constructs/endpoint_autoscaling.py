"""Autoscaling of a real-time endpoint variant's instance count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct

from sagemaker_constructs.realtime_endpoint import InstanceVariant, RealtimeEndpoint
from sagemaker_constructs.validation import invalid, raise_if_any


@dataclass(frozen=True)
class ScheduledCapacity:
    """A scheduled change of the range, e.g. `cron(0 7 ? * MON-FRI *)` with a higher floor."""

    name: str
    schedule: str
    min_capacity: int
    max_capacity: int


def invocations_per_instance_target(max_requests_per_second: float, safety_factor: float) -> float:
    """The `SageMakerVariantInvocationsPerInstance` target for what one instance was measured to serve.

    AWS's load-testing guidance for endpoint autoscaling: find the highest requests per second one
    instance sustains, apply a safety factor (headroom for the minutes a scale-out takes), and
    multiply by 60, as the metric counts invocations per minute
    (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-loadtest.html). aws-sagemaker-alpha's
    `ScalableInstanceCount.scaleOnInvocations` computes it the same way.
    """
    return max_requests_per_second * 60 * safety_factor


def target_tracking_policy(
    scope: Construct,
    id_: str,
    *,
    target: appscaling.CfnScalableTarget,
    policy_name: str,
    metric: str | appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty,
    target_value: float,
    cooldowns: tuple[cdk.Duration, cdk.Duration],
) -> appscaling.CfnScalingPolicy:
    """A target-tracking policy of `target` on `metric`: a predefined metric type's name, or a customized metric;
    `cooldowns` are (scale-in, scale-out)."""
    scale_in, scale_out = cooldowns
    predefined = (
        appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(predefined_metric_type=metric)
        if isinstance(metric, str)
        else None
    )
    tracking = appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
        predefined_metric_specification=predefined,
        customized_metric_specification=None if isinstance(metric, str) else metric,
        target_value=target_value,
        scale_in_cooldown=int(scale_in.to_seconds()),
        scale_out_cooldown=int(scale_out.to_seconds()),
    )
    return _scaling_policy(scope, id_, target, policy_name, tracking=tracking)


def add_one_step_policy(
    scope: Construct,
    id_: str,
    *,
    target: appscaling.CfnScalableTarget,
    policy_name: str,
    aggregation: str,
    cooldown_seconds: int,
) -> appscaling.CfnScalingPolicy:
    """A step policy setting `target`'s capacity to one whenever the alarm that runs it fires (any breach).

    Target tracking never scales out of zero: AWS's procedures for an inference component and for an asynchronous
    endpoint add this policy, each run by an alarm on its own metric (endpoint-auto-scaling-zero-instances.html,
    async-inference-autoscale.html). Their examples add one (ChangeInCapacity); this sets one (ExactCapacity): the
    alarm stays in ALARM while the instance is provisioned, for minutes, and each run after the cooldown would add
    another copy or instance. The alarm breaches only at zero capacity, where one is what is needed.
    """
    step = appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
        adjustment_type="ExactCapacity",
        metric_aggregation_type=aggregation,
        cooldown=cooldown_seconds,
        step_adjustments=[
            appscaling.CfnScalingPolicy.StepAdjustmentProperty(metric_interval_lower_bound=0, scaling_adjustment=1)
        ],
    )
    return _scaling_policy(scope, id_, target, policy_name, step=step)


def _scaling_policy(
    scope: Construct,
    id_: str,
    target: appscaling.CfnScalableTarget,
    policy_name: str,
    *,
    tracking: appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty | None = None,
    step: appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty | None = None,
) -> appscaling.CfnScalingPolicy:
    """A policy of `target`, target tracking or step scaling: its type follows from the configuration given."""
    return appscaling.CfnScalingPolicy(
        scope,
        id_,
        policy_name=policy_name,
        policy_type="StepScaling" if step else "TargetTrackingScaling",
        scaling_target_id=target.ref,
        target_tracking_scaling_policy_configuration=tracking,
        step_scaling_policy_configuration=step,
    )


def variant_scalable_target(
    scope: Construct,
    endpoint: RealtimeEndpoint,
    variant_name: str,
    capacity: tuple[int, int],
    scheduled_actions: Sequence[appscaling.CfnScalableTarget.ScheduledActionProperty] = (),
) -> appscaling.CfnScalableTarget:
    """The instance count of `endpoint`'s variant as Application Auto Scaling's target `Target` in `scope`, between
    `capacity` (min, max), created once the endpoint exists."""
    target = appscaling.CfnScalableTarget(
        scope,
        "Target",
        service_namespace="sagemaker",
        resource_id=f"endpoint/{endpoint.endpoint_name}/variant/{variant_name}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=capacity[0],
        max_capacity=capacity[1],
        scheduled_actions=list(scheduled_actions) or None,
    )
    # The resource id is a plain string, so CloudFormation would not know to wait for the endpoint.
    target.add_resource_dependency(endpoint.endpoint)
    return target


class EndpointAutoScaling(Construct):
    """Target tracking on `SageMakerVariantInvocationsPerInstance` for one instance variant.

    Creates a scalable target (registered with Application Auto Scaling's service-linked role,
    after the endpoint exists) and a target-tracking policy, plus any `schedules`. Tells the
    endpoint to keep the instance count autoscaling chose across deployments.

    The target (`target_invocations_per_instance`) is computed from what a load test measures:
    `max_requests_per_second` one instance sustains x `safety_factor` x 60 (the metric is per minute).
    All argument problems are reported together, in one ValueError.

    :param safety_factor: above 0, at most 1. @default 0.5, AWS's recommendation.
    :param variant_name: @default the endpoint's only instance variant; required when it has several.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        min_capacity: int,
        max_capacity: int,
        max_requests_per_second: float,
        safety_factor: float = 0.5,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(5),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(1),
        schedules: Sequence[ScheduledCapacity] = (),
        variant_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        variant = self._check(
            endpoint=endpoint,
            variant_name=variant_name,
            capacity=(min_capacity, max_capacity),
            max_requests_per_second=max_requests_per_second,
            safety_factor=safety_factor,
            schedules=schedules,
        )
        self.target_invocations_per_instance = invocations_per_instance_target(max_requests_per_second, safety_factor)
        self.target = variant_scalable_target(
            self,
            endpoint,
            variant.name,
            (min_capacity, max_capacity),
            scheduled_actions=[
                appscaling.CfnScalableTarget.ScheduledActionProperty(
                    scheduled_action_name=s.name,
                    schedule=s.schedule,
                    scalable_target_action=appscaling.CfnScalableTarget.ScalableTargetActionProperty(
                        min_capacity=s.min_capacity, max_capacity=s.max_capacity
                    ),
                )
                for s in schedules
            ],
        )
        # Called as ComponentAutoScaling calls it, alike in shape only (duplicates pairs them): another metric, name.
        self.policy = target_tracking_policy(
            self,
            "InvocationsPerInstance",
            target=self.target,
            policy_name=f"{endpoint.endpoint_name}-{variant.name}-invocations-per-instance",
            metric="SageMakerVariantInvocationsPerInstance",
            target_value=self.target_invocations_per_instance,
            cooldowns=(scale_in_cooldown, scale_out_cooldown),
        )
        endpoint.retain_variant_instance_counts()

    def _check(
        self,
        *,
        endpoint: RealtimeEndpoint,
        variant_name: str | None,
        capacity: tuple[int, int],
        max_requests_per_second: float,
        safety_factor: float,
        schedules: Sequence[ScheduledCapacity],
    ) -> InstanceVariant:
        """The variant to scale; raises once with every problem of the arguments."""
        errors: list[str] = []
        if endpoint.serverless:
            raise invalid(self, ["autoscaling is not supported on a serverless variant (it scales by itself)"])
        variants = endpoint.instance_variants
        if variant_name is None and len(variants) != 1:
            raise invalid(self, [f"variant_name is required: the endpoint has variants {endpoint.variant_names}"])
        variant = next((v for v in variants if variant_name in (None, v.name)), None)
        if variant is None:
            raise invalid(self, [f"variant_name must be one of {endpoint.variant_names}, got {variant_name!r}"])
        if variant.instance_type.startswith("ml.t"):
            errors.append(
                f"autoscaling is not supported on burstable instance types (ml.t*), got {variant.instance_type}"
            )
        min_capacity, max_capacity = capacity
        _check_range("autoscaling", min_capacity, max_capacity, errors)
        if not min_capacity <= variant.initial_instance_count <= max_capacity:
            errors.append(
                f"initial_instance_count ({variant.initial_instance_count}) of variant {variant.name} must lie "
                f"within min_capacity..max_capacity ({min_capacity}..{max_capacity})"
            )
        if not max_requests_per_second > 0:
            errors.append(f"max_requests_per_second must be above 0, got {max_requests_per_second}")
        if not 0 < safety_factor <= 1:
            errors.append(f"safety_factor must be above 0 and at most 1, got {safety_factor}")
        for schedule in schedules:
            _check_range(f"schedule {schedule.name}", schedule.min_capacity, schedule.max_capacity, errors)
            if not re.fullmatch(r"(cron|rate|at)\(.+\)", schedule.schedule):
                errors.append(
                    f"schedule {schedule.name}: expected cron(...), rate(...) or at(...), got {schedule.schedule!r}"
                )
        raise_if_any(self, errors)
        return variant


def _check_range(what: str, min_capacity: int, max_capacity: int, errors: list[str]) -> None:
    if min_capacity < 1:
        errors.append(f"{what}: min_capacity must be at least 1, got {min_capacity}")
    if min_capacity > max_capacity:
        errors.append(f"{what}: min_capacity ({min_capacity}) must not exceed max_capacity ({max_capacity})")
