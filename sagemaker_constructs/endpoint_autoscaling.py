"""Autoscaling of a real-time endpoint variant's instance count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct

from sagemaker_constructs.realtime_endpoint import InstanceVariant, RealtimeEndpoint
from sagemaker_constructs.scalable_capacity import Cooldowns, ScalableCapacity, ScalingLimits, capacity_problems
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


def invocations_target_problems(max_requests_per_second: float, safety_factor: float) -> list[str]:
    """What is wrong with the load test's figures `invocations_per_instance_target` takes."""
    problems = []
    if not max_requests_per_second > 0:
        problems.append(f"max_requests_per_second must be above 0, got {max_requests_per_second}")
    if not 0 < safety_factor <= 1:
        problems.append(f"safety_factor must be above 0 and at most 1, got {safety_factor}")
    return problems


# Target tracking of invocations may scale out again a minute after scaling out, and in again five minutes after
# scaling in: the instance variants' and the inference components' defaults alike.
INVOCATIONS_COOLDOWNS = Cooldowns(scale_in=cdk.Duration.minutes(5), scale_out=cdk.Duration.minutes(1))


class EndpointAutoScaling(Construct):
    """Target tracking on `SageMakerVariantInvocationsPerInstance` for one instance variant.

    Creates a scalable target (registered with Application Auto Scaling's service-linked role,
    after the endpoint exists) and a target-tracking policy, plus any `schedules`. Tells the
    endpoint to keep the instance count autoscaling chose across deployments.

    The target (`target_invocations_per_instance`) is computed from what a load test measures:
    `max_requests_per_second` one instance sustains x `safety_factor` x 60 (the metric is per minute).
    All argument problems are reported together, in one ValueError.

    :param limits: the instances to keep between (at least one: a real-time variant does not scale to zero); its
        cooldowns @default `INVOCATIONS_COOLDOWNS`, 5 minutes in and 1 out.
    :param safety_factor: above 0, at most 1. @default 0.5, AWS's recommendation.
    :param variant_name: @default the endpoint's only instance variant; required when it has several.
    """

    DEFAULT_COOLDOWNS = INVOCATIONS_COOLDOWNS

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        limits: ScalingLimits,
        max_requests_per_second: float,
        safety_factor: float = 0.5,
        schedules: Sequence[ScheduledCapacity] = (),
        variant_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        variant = self._variant(endpoint, variant_name)
        errors = [
            *_variant_problems(variant, limits),
            *limits.problems(floor=1),
            *invocations_target_problems(max_requests_per_second, safety_factor),
            *_schedule_problems(schedules),
        ]
        raise_if_any(self, errors)
        self.target_invocations_per_instance = invocations_per_instance_target(max_requests_per_second, safety_factor)
        self.capacity = ScalableCapacity.of_variant(
            self,
            endpoint,
            variant.name,
            limits=limits,
            default_cooldowns=self.DEFAULT_COOLDOWNS,
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
        self.target = self.capacity.target
        self.policy = self.capacity.track(
            "InvocationsPerInstance",
            metric="SageMakerVariantInvocationsPerInstance",
            target_value=self.target_invocations_per_instance,
        )
        endpoint.retain_variant_instance_counts()

    def _variant(self, endpoint: RealtimeEndpoint, variant_name: str | None) -> InstanceVariant:
        """The variant to scale; raises at once without one, as nothing else can be checked."""
        if endpoint.serverless:
            raise invalid(self, ["autoscaling is not supported on a serverless variant (it scales by itself)"])
        variants = endpoint.instance_variants
        if variant_name is None and len(variants) != 1:
            raise invalid(self, [f"variant_name is required: the endpoint has variants {endpoint.variant_names}"])
        variant = next((v for v in variants if variant_name in (None, v.name)), None)
        if variant is None:
            raise invalid(self, [f"variant_name must be one of {endpoint.variant_names}, got {variant_name!r}"])
        return variant


def _variant_problems(variant: InstanceVariant, limits: ScalingLimits) -> list[str]:
    """What the variant rules out: burstable instances, an initial instance count outside the `limits`."""
    problems = []
    if variant.instance_type.startswith("ml.t"):
        problems.append(
            f"autoscaling is not supported on burstable instance types (ml.t*), got {variant.instance_type}"
        )
    if not limits.min_capacity <= variant.initial_instance_count <= limits.max_capacity:
        problems.append(
            f"initial_instance_count ({variant.initial_instance_count}) of variant {variant.name} must lie "
            f"within min_capacity..max_capacity ({limits.min_capacity}..{limits.max_capacity})"
        )
    return problems


def _schedule_problems(schedules: Sequence[ScheduledCapacity]) -> list[str]:
    """Each schedule's range (the variant's floor of one instance) and expression."""
    problems = []
    for schedule in schedules:
        range_problems = capacity_problems(schedule.min_capacity, schedule.max_capacity, floor=1)
        problems += [f"schedule {schedule.name}: {problem}" for problem in range_problems]
        if not re.fullmatch(r"(cron|rate|at)\(.+\)", schedule.schedule):
            problems.append(
                f"schedule {schedule.name}: expected cron(...), rate(...) or at(...), got {schedule.schedule!r}"
            )
    return problems
