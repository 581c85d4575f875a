"""Autoscaling of a real-time endpoint variant's instance count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct

from sagemaker_constructs.realtime_endpoint import RealtimeEndpoint


@dataclass(frozen=True)
class ScheduledCapacity:
    """A scheduled change of the range, e.g. `cron(0 7 ? * MON-FRI *)` with a higher floor."""

    name: str
    schedule: str
    min_capacity: int
    max_capacity: int


class EndpointAutoScaling(Construct):
    """Target tracking on `SageMakerVariantInvocationsPerInstance` for one instance variant.

    Creates a scalable target (registered with Application Auto Scaling's service-linked role,
    after the endpoint exists) and a target-tracking policy, plus any `schedules`. Tells the
    endpoint to keep the instance count autoscaling chose across deployments.

    Choose `target_invocations_per_instance` from a load test: the highest requests/s one
    instance sustains x 0.5 (headroom for the time scaling takes) x 60 (the metric is per minute).

    :param variant_name: @default the endpoint's first variant.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        min_capacity: int,
        max_capacity: int,
        target_invocations_per_instance: int,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(5),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(1),
        schedules: Sequence[ScheduledCapacity] = (),
        variant_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if endpoint.serverless:
            raise ValueError("autoscaling is not supported on a serverless variant (it scales by itself)")
        variant = next(
            (v for v in endpoint.instance_variants if variant_name in (None, v.name)),
            None,
        )
        if variant is None:
            raise ValueError(f"variant_name must be one of {endpoint.variant_names}, got {variant_name!r}")
        if variant.instance_type.startswith("ml.t"):
            raise ValueError(
                f"autoscaling is not supported on burstable instance types (ml.t*), got {variant.instance_type}"
            )
        _check_range("autoscaling", min_capacity, max_capacity)
        if not min_capacity <= variant.initial_instance_count <= max_capacity:
            raise ValueError(
                f"initial_instance_count ({variant.initial_instance_count}) of variant {variant.name} must lie "
                f"within min_capacity..max_capacity ({min_capacity}..{max_capacity})"
            )
        if target_invocations_per_instance < 1:
            raise ValueError(
                f"target_invocations_per_instance must be at least 1, got {target_invocations_per_instance}"
            )
        for schedule in schedules:
            _check_range(f"schedule {schedule.name}", schedule.min_capacity, schedule.max_capacity)
            if not re.fullmatch(r"(cron|rate|at)\(.+\)", schedule.schedule):
                raise ValueError(
                    f"schedule {schedule.name}: expected cron(...), rate(...) or at(...), got {schedule.schedule!r}"
                )

        self.target = appscaling.CfnScalableTarget(
            self,
            "Target",
            service_namespace="sagemaker",
            resource_id=f"endpoint/{endpoint.endpoint_name}/variant/{variant.name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            scheduled_actions=[
                appscaling.CfnScalableTarget.ScheduledActionProperty(
                    scheduled_action_name=s.name,
                    schedule=s.schedule,
                    scalable_target_action=appscaling.CfnScalableTarget.ScalableTargetActionProperty(
                        min_capacity=s.min_capacity, max_capacity=s.max_capacity
                    ),
                )
                for s in schedules
            ]
            or None,
        )
        # The resource id is a plain string, so CloudFormation would not know to wait for the endpoint.
        self.target.add_resource_dependency(endpoint.endpoint)
        self.policy = appscaling.CfnScalingPolicy(
            self,
            "InvocationsPerInstance",
            policy_name=f"{endpoint.endpoint_name}-{variant.name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                predefined_metric_specification=appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                    predefined_metric_type="SageMakerVariantInvocationsPerInstance"
                ),
                target_value=target_invocations_per_instance,
                scale_in_cooldown=int(scale_in_cooldown.to_seconds()),
                scale_out_cooldown=int(scale_out_cooldown.to_seconds()),
            ),
        )
        endpoint.retain_variant_instance_counts()


def _check_range(what: str, min_capacity: int, max_capacity: int) -> None:
    if min_capacity < 1:
        raise ValueError(f"{what}: min_capacity must be at least 1, got {min_capacity}")
    if min_capacity > max_capacity:
        raise ValueError(f"{what}: min_capacity ({min_capacity}) must not exceed max_capacity ({max_capacity})")
