"""What the autoscaling constructs share: the limits each takes (`ScalingLimits`) and the capacity Application Auto
Scaling sets, with the policies that scale it, each named after its construct id (`ScalableCapacity`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from constructs import Construct

from sagemaker_constructs.alarms import kebab_case
from sagemaker_constructs.realtime_endpoint import RealtimeEndpoint


@dataclass(frozen=True)
class Cooldowns:
    """How long target tracking waits after a scale-in, and after a scale-out, before it scales again."""

    scale_in: cdk.Duration
    scale_out: cdk.Duration


def capacity_problems(min_capacity: int, max_capacity: int, *, floor: int) -> list[str]:
    """What is wrong with the range `min_capacity`..`max_capacity`: a floor below `floor` (0 where the capacity may
    scale to zero), a range upside down (RegisterScalableTarget refuses it), or one that never serves."""
    problems = []
    if min_capacity < floor:
        problems.append(f"min_capacity must be at least {floor}, got {min_capacity}")
    if min_capacity > max_capacity:
        problems.append(f"min_capacity ({min_capacity}) must not exceed max_capacity ({max_capacity})")
    if max_capacity < 1:
        problems.append(f"max_capacity must be at least 1, got {max_capacity}")
    return problems


@dataclass(frozen=True)
class ScalingLimits:
    """What every autoscaling construct takes: the capacity (instances or copies) it keeps between, and its cooldowns.

    A construct checks these with its other arguments (`problems`) and names itself in the one error, the L2 way.

    :param scale_in_cooldown: @default the construct's `DEFAULT_COOLDOWNS`.
    :param scale_out_cooldown: @default the construct's `DEFAULT_COOLDOWNS`.
    """

    min_capacity: int
    max_capacity: int
    scale_in_cooldown: cdk.Duration | None = None
    scale_out_cooldown: cdk.Duration | None = None

    def problems(self, *, floor: int) -> list[str]:
        """`capacity_problems` of the range, and a cooldown that is not whole seconds, the unit Application Auto
        Scaling takes (cdk.Duration itself refuses a negative one)."""
        problems = capacity_problems(self.min_capacity, self.max_capacity, floor=floor)
        cooldowns = {"scale_in_cooldown": self.scale_in_cooldown, "scale_out_cooldown": self.scale_out_cooldown}
        for name, cooldown in cooldowns.items():
            seconds = None if cooldown is None else float(cooldown.to_seconds(integral=False))
            if seconds is not None and not seconds.is_integer():
                problems.append(f"{name} must be whole seconds, got {seconds:g} seconds")
        return problems

    def cooldowns(self, defaults: Cooldowns) -> Cooldowns:
        """The cooldowns given, the construct's `defaults` for those left out."""
        return Cooldowns(
            defaults.scale_in if self.scale_in_cooldown is None else self.scale_in_cooldown,
            defaults.scale_out if self.scale_out_cooldown is None else self.scale_out_cooldown,
        )


@dataclass(frozen=True)
class ScalableCapacity:
    """A capacity Application Auto Scaling sets (`target`) and what its policies share: each is made beside the target,
    in `scope`, named `<name_prefix>-<its id in kebab case>` (whose it is, and what it does: `BacklogPerInstance` of
    `app-prod-primary` is `app-prod-primary-backlog-per-instance`); target tracking waits the `cooldowns`."""

    scope: Construct
    target: appscaling.CfnScalableTarget
    name_prefix: str
    cooldowns: Cooldowns

    @classmethod
    def register(
        cls,
        scope: Construct,
        *,
        resource: cdk.CfnResource,
        resource_id: str,
        dimension: str,
        name_prefix: str,
        limits: ScalingLimits,
        default_cooldowns: Cooldowns,
        scheduled_actions: Sequence[appscaling.CfnScalableTarget.ScheduledActionProperty] = (),
    ) -> ScalableCapacity:
        """`resource`'s capacity (its `resource_id`, the scalable `dimension`) as `scope`'s `Target`, between `limits`,
        registered once `resource` exists."""
        target = appscaling.CfnScalableTarget(
            scope,
            "Target",
            service_namespace="sagemaker",
            resource_id=resource_id,
            scalable_dimension=dimension,
            min_capacity=limits.min_capacity,
            max_capacity=limits.max_capacity,
            scheduled_actions=list(scheduled_actions) or None,
        )
        # The resource id is a plain string: CloudFormation would not know to wait for the resource it names.
        target.add_resource_dependency(resource)
        return cls(scope, target, name_prefix, limits.cooldowns(default_cooldowns))

    @classmethod
    def of_variant(
        cls,
        scope: Construct,
        endpoint: RealtimeEndpoint,
        variant_name: str,
        *,
        limits: ScalingLimits,
        default_cooldowns: Cooldowns,
        scheduled_actions: Sequence[appscaling.CfnScalableTarget.ScheduledActionProperty] = (),
    ) -> ScalableCapacity:
        """The instance count of `endpoint`'s variant; its policies' names start `<endpoint>-<variant>`."""
        return cls.register(
            scope,
            resource=endpoint.endpoint,
            resource_id=f"endpoint/{endpoint.endpoint_name}/variant/{variant_name}",
            dimension="sagemaker:variant:DesiredInstanceCount",
            name_prefix=f"{endpoint.endpoint_name}-{variant_name}",
            limits=limits,
            default_cooldowns=default_cooldowns,
            scheduled_actions=scheduled_actions,
        )

    def track(
        self,
        id_: str,
        *,
        metric: str | appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty,
        target_value: float,
    ) -> appscaling.CfnScalingPolicy:
        """Target tracking of `metric` (a predefined metric type's name, or a customized metric) at `target_value`."""
        predefined = (
            appscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(predefined_metric_type=metric)
            if isinstance(metric, str)
            else None
        )
        tracking = appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
            predefined_metric_specification=predefined,
            customized_metric_specification=None if isinstance(metric, str) else metric,
            target_value=target_value,
            scale_in_cooldown=int(self.cooldowns.scale_in.to_seconds()),
            scale_out_cooldown=int(self.cooldowns.scale_out.to_seconds()),
        )
        return self._policy(id_, tracking=tracking)

    def set_one_on_alarm(self, id_: str, *, aggregation: str, cooldown: cdk.Duration) -> appscaling.CfnScalingPolicy:
        """A step policy setting the capacity to one whenever the alarm that runs it fires (any breach).

        Target tracking never scales out of zero: AWS's procedures for an inference component and for an asynchronous
        endpoint add this policy, each run by an alarm on its own metric (endpoint-auto-scaling-zero-instances.html,
        async-inference-autoscale.html). Their examples add one (ChangeInCapacity); this sets one (ExactCapacity): the
        alarm stays in ALARM while the instance is provisioned, for minutes, and each run after the cooldown would add
        another copy or instance. The alarm breaches only at zero capacity, where one is what is needed.
        """
        step = appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty(
            adjustment_type="ExactCapacity",
            metric_aggregation_type=aggregation,
            cooldown=int(cooldown.to_seconds()),
            step_adjustments=[
                appscaling.CfnScalingPolicy.StepAdjustmentProperty(metric_interval_lower_bound=0, scaling_adjustment=1)
            ],
        )
        return self._policy(id_, step=step)

    def _policy(
        self,
        id_: str,
        *,
        tracking: appscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty | None = None,
        step: appscaling.CfnScalingPolicy.StepScalingPolicyConfigurationProperty | None = None,
    ) -> appscaling.CfnScalingPolicy:
        """A policy of the target, target tracking or step scaling: its type follows from the configuration given."""
        return appscaling.CfnScalingPolicy(
            self.scope,
            id_,
            policy_name=f"{self.name_prefix}-{kebab_case(id_)}",
            policy_type="StepScaling" if step else "TargetTrackingScaling",
            scaling_target_id=self.target.ref,
            target_tracking_scaling_policy_configuration=tracking,
            step_scaling_policy_configuration=step,
        )
