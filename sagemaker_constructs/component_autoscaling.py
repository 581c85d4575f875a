"""Autoscaling of an inference component's copy count, down to zero and back on the first request."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from sagemaker_constructs.alarms import make_alarm_name
from sagemaker_constructs.endpoint_autoscaling import (
    add_one_step_policy,
    invocations_per_instance_target,
    target_tracking_policy,
)
from sagemaker_constructs.inference_component import InferenceComponent
from sagemaker_constructs.validation import raise_if_any

# AWS's procedure for scaling out from zero: a step policy adding a copy, run by an alarm on the component's
# NoCapacityInvocationFailures (Maximum over 30 s, one datapoint, >= 1)
# (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
SCALE_OUT_FROM_ZERO_PERIOD = cdk.Duration.seconds(30)
SCALE_OUT_FROM_ZERO_COOLDOWN_SECONDS = 60


class ComponentAutoScaling(Construct):
    """Target tracking of `SageMakerInferenceComponentInvocationsPerCopy` on the component's copy count.

    Creates a scalable target (`sagemaker:inference-component:DesiredCopyCount`, `min_copies`..`max_copies`,
    registered after the component exists) and a target-tracking policy whose target is computed as for instance
    variants: what one copy sustained x `safety_factor` x 60. With `min_copies = 0`, target tracking removes the
    last copy when idle, and `scale_out_from_zero` (a step policy adding one copy) runs on `no_capacity_alarm`,
    which fires on the first refused request: without it the component would stay at zero.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        component: InferenceComponent,
        min_copies: int,
        max_copies: int,
        max_requests_per_second: float,
        safety_factor: float = 0.5,
        scale_in_cooldown: cdk.Duration = cdk.Duration.minutes(5),
        scale_out_cooldown: cdk.Duration = cdk.Duration.minutes(1),
    ) -> None:
        super().__init__(scope, id_)
        errors: list[str] = []
        if not 0 <= min_copies <= max_copies or max_copies < 1:
            errors.append(
                f"copies must satisfy 0 <= min_copies <= max_copies, max_copies >= 1; got {min_copies}..{max_copies}"
            )
        if not max_requests_per_second > 0:
            errors.append(f"max_requests_per_second must be above 0, got {max_requests_per_second}")
        if not 0 < safety_factor <= 1:
            errors.append(f"safety_factor must be above 0 and at most 1, got {safety_factor}")
        raise_if_any(self, errors)
        self.target_invocations_per_copy = invocations_per_instance_target(max_requests_per_second, safety_factor)
        self.target = appscaling.CfnScalableTarget(
            self,
            "Target",
            service_namespace="sagemaker",
            resource_id=component.resource_id,
            scalable_dimension="sagemaker:inference-component:DesiredCopyCount",
            min_capacity=min_copies,
            max_capacity=max_copies,
        )
        # The resource id is a plain string: CloudFormation would not know to wait for the component.
        self.target.add_resource_dependency(component.component)
        # Like the step policy below and EndpointAutoScaling's, alike in shape only (duplicates pairs them): calls of
        # endpoint_autoscaling's policy builders, each with what this target differs in.
        self.policy = target_tracking_policy(
            self,
            "InvocationsPerCopy",
            target=self.target,
            policy_name=f"{component.component_name}-invocations-per-copy",
            metric="SageMakerInferenceComponentInvocationsPerCopy",
            target_value=self.target_invocations_per_copy,
            cooldowns=(scale_in_cooldown, scale_out_cooldown),
        )
        self.scale_out_from_zero: appscaling.CfnScalingPolicy | None = None
        self.no_capacity_alarm: cloudwatch.Alarm | None = None
        if min_copies == 0:
            self._scale_out_from_zero(component)

    def _scale_out_from_zero(self, component: InferenceComponent) -> None:
        self.scale_out_from_zero = add_one_step_policy(
            self,
            "ScaleOutFromZero",
            target=self.target,
            policy_name=f"{component.component_name}-scale-out-from-zero",
            aggregation="Maximum",
            cooldown_seconds=SCALE_OUT_FROM_ZERO_COOLDOWN_SECONDS,
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
