"""Autoscaling of an inference component's copy count, down to zero and back on the first request."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from sagemaker_constructs.alarms import make_alarm_name
from sagemaker_constructs.endpoint_autoscaling import (
    INVOCATIONS_COOLDOWNS,
    invocations_per_instance_target,
    invocations_target_problems,
)
from sagemaker_constructs.inference_component import InferenceComponent
from sagemaker_constructs.scalable_capacity import ScalableCapacity, ScalingLimits
from sagemaker_constructs.validation import raise_if_any

# AWS's procedure for scaling out from zero: a step policy adding a copy, run by an alarm on the component's
# NoCapacityInvocationFailures (Maximum over 30 s, one datapoint, >= 1)
# (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
SCALE_OUT_FROM_ZERO_PERIOD = cdk.Duration.seconds(30)
SCALE_OUT_FROM_ZERO_COOLDOWN = cdk.Duration.seconds(60)


class ComponentAutoScaling(Construct):
    """Target tracking of `SageMakerInferenceComponentInvocationsPerCopy` on the component's copy count.

    Creates a scalable target (`sagemaker:inference-component:DesiredCopyCount`, between the `limits`' copies,
    registered after the component exists) and a target-tracking policy whose target is computed as for instance
    variants: what one copy sustained x `safety_factor` x 60. With `min_capacity = 0`, target tracking removes the
    last copy when idle, and `scale_out_from_zero` (a step policy setting one copy) runs on `no_capacity_alarm`,
    which fires on the first refused request: without it the component would stay at zero.

    :param limits: copies, `min_capacity` 0 allowed; its cooldowns @default `INVOCATIONS_COOLDOWNS`, as a variant's.
    """

    DEFAULT_COOLDOWNS = INVOCATIONS_COOLDOWNS

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        component: InferenceComponent,
        limits: ScalingLimits,
        max_requests_per_second: float,
        safety_factor: float = 0.5,
    ) -> None:
        super().__init__(scope, id_)
        errors = limits.problems(floor=0) + invocations_target_problems(max_requests_per_second, safety_factor)
        raise_if_any(self, errors)
        self.target_invocations_per_copy = invocations_per_instance_target(max_requests_per_second, safety_factor)
        self.capacity = ScalableCapacity.register(
            self,
            resource=component.component,
            resource_id=component.resource_id,
            dimension="sagemaker:inference-component:DesiredCopyCount",
            name_prefix=component.component_name,
            limits=limits,
            default_cooldowns=self.DEFAULT_COOLDOWNS,
        )
        self.target = self.capacity.target
        self.policy = self.capacity.track(
            "InvocationsPerCopy",
            metric="SageMakerInferenceComponentInvocationsPerCopy",
            target_value=self.target_invocations_per_copy,
        )
        self.scale_out_from_zero: appscaling.CfnScalingPolicy | None = None
        self.no_capacity_alarm: cloudwatch.Alarm | None = None
        if limits.min_capacity == 0:
            self._scale_out_from_zero(component)

    def _scale_out_from_zero(self, component: InferenceComponent) -> None:
        self.scale_out_from_zero = self.capacity.set_one_on_alarm(
            "ScaleOutFromZero", aggregation="Maximum", cooldown=SCALE_OUT_FROM_ZERO_COOLDOWN
        )
        # Not a page: a refused request at zero copies is how the component wakes up. Missing data (no request)
        # is no evidence either way, as AWS's procedure sets it.
        self.no_capacity_alarm = component.metric_no_capacity_invocation_failures(
            statistic="Maximum", period=SCALE_OUT_FROM_ZERO_PERIOD
        ).create_alarm(
            self,
            "NoCapacity",
            alarm_name=make_alarm_name(component.component_name, "ScaleOutFromZero"),
            alarm_description=(
                f"{component.component_name}: a request found no copy running; adds a copy (scale out from zero). "
                "Not a page: this is how an endpoint scaled to zero wakes up."
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        self.no_capacity_alarm.add_alarm_action(_PolicyAction(self.scale_out_from_zero.ref))


@jsii.implements(cloudwatch.IAlarmAction)
class _PolicyAction:
    """Runs an Application Auto Scaling policy (its ARN: the L1 policy's Ref) when the alarm fires."""

    def __init__(self, policy_arn: str) -> None:
        self._policy_arn = policy_arn

    def bind(self, _scope: Construct, _alarm: cloudwatch.IAlarm) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn=self._policy_arn)
