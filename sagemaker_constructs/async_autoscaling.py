"""Autoscaling of an asynchronous endpoint on its backlog, down to zero instances and back."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from config.async_inference import ASYNC_AUTOSCALE_DOC
from sagemaker_constructs.alarms import make_alarm_name
from sagemaker_constructs.realtime_endpoint import INVOCATION_NAMESPACE, MINUTE, RealtimeEndpoint
from sagemaker_constructs.scalable_capacity import Cooldowns, ScalableCapacity, ScalingLimits
from sagemaker_constructs.validation import raise_if_any


def backlog_metric(endpoint: RealtimeEndpoint, metric_name: str, statistic: str = "Average") -> cloudwatch.Metric:
    """An asynchronous endpoint's queue metric: per endpoint, no VariantName (the queue is the endpoint's)."""
    return cloudwatch.Metric(
        namespace=INVOCATION_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint.endpoint_name},
        statistic=statistic,
        period=MINUTE,
    )


def asynchronous_only(endpoint: RealtimeEndpoint, instead: str) -> list[str]:
    """The problems list a construct for asynchronous endpoints only starts from: one, saying what to use `instead`,
    if `endpoint` is real-time."""
    return [] if endpoint.async_inference is not None else [f"the endpoint is not asynchronous: {instead}"]


class AsyncEndpointAutoScaling(Construct):
    """Scales an asynchronous endpoint's variant on its backlog, between the `limits`' instances (0 allowed).

    As AWS documents it (async-inference-autoscale.html): target tracking keeps
    `ApproximateBacklogSizePerInstance` at `backlog_per_instance` (and scales in to `min_capacity`); target
    tracking alone never leaves zero instances, so a step policy sets one instance when the alarm on
    `HasBacklogWithoutCapacity` (requests queued, no instance) is in ALARM for two minutes. That alarm
    scales, it does not page: waiting requests while an instance starts are normal at zero.

    :param limits: the instances, `min_capacity` 0 allowed; its cooldowns @default `DEFAULT_COOLDOWNS`, 10 minutes
        in and 5 out (AWS's example); the step out of zero waits the scale-out cooldown too.
    :param backlog_per_instance: queued requests per instance to keep. @default 5, AWS's example.
    """

    DEFAULT_COOLDOWNS = Cooldowns(scale_in=cdk.Duration.minutes(10), scale_out=cdk.Duration.minutes(5))

    # Opens as EndpointAutoScaling's and ComponentAutoScaling's do (duplicates pairs them): scope, id, what, limits.
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        limits: ScalingLimits,
        backlog_per_instance: float = 5.0,
    ) -> None:
        super().__init__(scope, id_)
        errors = asynchronous_only(endpoint, "scale a real-time endpoint with EndpointAutoScaling")
        if len(endpoint.instance_variants) != 1:
            errors.append(f"an asynchronous endpoint scales one instance variant, it has {endpoint.variant_names}")
        errors += limits.problems(floor=0)
        if not backlog_per_instance > 0:
            errors.append(f"backlog_per_instance must be above 0, got {backlog_per_instance}")
        raise_if_any(self, errors)
        self.capacity = ScalableCapacity.of_variant(
            self, endpoint, endpoint.instance_variants[0].name, limits=limits, default_cooldowns=self.DEFAULT_COOLDOWNS
        )
        self.target = self.capacity.target
        per_instance = backlog_metric(endpoint, "ApproximateBacklogSizePerInstance")
        self.backlog_policy = self.capacity.track(
            "BacklogPerInstance",
            metric=appscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                namespace=per_instance.namespace,
                metric_name=per_instance.metric_name,
                dimensions=[
                    appscaling.CfnScalingPolicy.MetricDimensionProperty(name=key, value=value)
                    for key, value in (per_instance.dimensions or {}).items()
                ],
                statistic=per_instance.statistic,
            ),
            target_value=backlog_per_instance,
        )
        self.from_zero_policy = self.capacity.set_one_on_alarm(
            "FromZero", aggregation="Average", cooldown=self.capacity.cooldowns.scale_out
        )
        self.from_zero_alarm = cloudwatch.CfnAlarm(
            self,
            "BacklogWithoutCapacity",
            alarm_name=make_alarm_name(endpoint.endpoint_name, "BacklogWithoutCapacity"),
            alarm_description=(
                f"{endpoint.endpoint_name}: requests are queued and no instance runs; starts one (scaling, not a "
                f"page). {ASYNC_AUTOSCALE_DOC}"
            ),
            namespace=INVOCATION_NAMESPACE,
            metric_name="HasBacklogWithoutCapacity",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="EndpointName", value=endpoint.endpoint_name)],
            statistic="Average",
            period=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="missing",
            alarm_actions=[self.from_zero_policy.ref],
        )
        endpoint.retain_variant_instance_counts()
