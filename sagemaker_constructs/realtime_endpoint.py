"""A real-time SageMaker endpoint that is safe to change in production."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import aws_cdk as cdk
import constructs
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.contract import (
    DOWNLOAD_TIMEOUT_RANGE,
    EXECUTION_TIMEOUT_RANGE,
    HEALTH_CHECK_TIMEOUT_RANGE,
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    WAIT_RANGE,
)
from sagemaker_constructs.alarms import notifying_alarm
from sagemaker_constructs.model import SageMakerModel
from sagemaker_constructs.nag import acknowledge_in_all_packs

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# Nitro instances with local NVMe storage encrypt it in hardware; SageMaker rejects a volume KMS
# key for them (CreateEndpointConfig, KmsKeyId). Families with a "d" suffix, "dn", and these:
_INSTANCE_STORE_FAMILIES = {"g5", "g6", "g6e", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}
MINUTE = cdk.Duration.minutes(1)


@dataclass(frozen=True)
class InstanceVariant:
    """A production variant on `initial_instance_count` instances of `instance_type`."""

    instance_type: str
    initial_instance_count: int
    name: str = "primary"
    weight: float = 1.0


@dataclass(frozen=True)
class ServerlessVariant:
    """A serverless production variant (no instances, no autoscaling, no canary, no data capture)."""

    memory_size_mb: int
    max_concurrency: int
    name: str = "primary"


@dataclass(frozen=True)
class TrafficShifting:
    """Blue/green deployment of endpoint updates, rolled back automatically on alarm.

    `step_type` INSTANCE_COUNT or CAPACITY_PERCENT sizes the canary (or each linear step); the
    new fleet takes that share for `wait_interval`, then the rest (canary) or the next step
    (linear). Any rollback alarm in ALARM during the shift sends all traffic back.
    """

    mode: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]
    step_type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"] = "INSTANCE_COUNT"
    step_value: int = 1
    wait_interval: cdk.Duration = cdk.Duration.minutes(5)
    termination_wait: cdk.Duration = cdk.Duration.minutes(5)
    maximum_execution_timeout: cdk.Duration = cdk.Duration.hours(1)
    rollback_5xx_errors_per_minute: int = 1
    rollback_p99_model_latency: cdk.Duration = cdk.Duration.millis(500)


def has_instance_store(instance_type: str) -> bool:
    """Whether `instance_type` (ml.<family>.<size>) has local NVMe storage instead of an EBS volume."""
    family = instance_type.split(".")[1]
    return family.endswith(("d", "dn")) or family in _INSTANCE_STORE_FAMILIES


class RealtimeEndpoint(Construct):
    """An `EndpointConfig` and an `Endpoint` serving `model`, with safe updates.

    - The endpoint config has no physical name (it is immutable: every change is a new one);
      the endpoint has the fixed `endpoint_name`, so clients and alarms can find it, and is updated
      in place when the config changes.
    - Instance variants get the volume KMS key, except on instance-store (NVMe) types, where
      SageMaker rejects it and the local disk is hardware-encrypted.
    - `data_capture_percentage` > 0 captures requests and responses to `data_capture_uri`,
      encrypted with the key.
    - `traffic_shifting` turns updates into blue/green deployments that roll back on two alarms
      created here, 5XX errors and p99 model latency (`rollback_alarms`; add more with
      `add_rollback_alarm`).

    :param endpoint_name: 1-63 letters, digits and '-'; exported by the stack for clients.
    :param container_startup_health_check_timeout: how long a new instance may take to answer
        /ping. @default SageMaker's (600 s for most instance types).
    :param model_data_download_timeout: how long downloading model.tar.gz may take. @default SageMaker's.
    :param alarm_action: what the rollback alarms do besides rolling back, on ALARM and OK
        (e.g. notify the alarm topic). @default nothing.
    :param log_retention_days: create the endpoint's log group `/aws/sagemaker/Endpoints/<name>`
        (encrypted with the key, this retention) before the endpoint, so SageMaker writes into it.
        @default none: SageMaker creates it on first start, unencrypted and kept forever.
    :param removal_policy: of the log group. @default RETAIN.
    :param default_rollback_alarms: create the two rollback alarms from `traffic_shifting`'s
        thresholds. Turn off when another construct (`EndpointMonitoring`) adds its own with
        `add_rollback_alarm`; a deployment with traffic shifting must end up with at least one.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        model: SageMakerModel,
        variants: Sequence[InstanceVariant] | ServerlessVariant,
        encryption_key: kms.IKey,
        data_capture_uri: str | None = None,
        data_capture_percentage: int = 0,
        traffic_shifting: TrafficShifting | None = None,
        container_startup_health_check_timeout: cdk.Duration | None = None,
        model_data_download_timeout: cdk.Duration | None = None,
        alarm_action: cloudwatch.IAlarmAction | None = None,
        log_retention_days: int | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        default_rollback_alarms: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        self._alarm_action = alarm_action
        if not _NAME.fullmatch(endpoint_name):
            raise ValueError(f"endpoint_name must be 1-63 letters, digits or '-', got {endpoint_name!r}")
        self.endpoint_name = endpoint_name
        self.serverless = isinstance(variants, ServerlessVariant)
        self.instance_variants: tuple[InstanceVariant, ...] = (
            () if isinstance(variants, ServerlessVariant) else tuple(variants)
        )
        self.variant_names = [variants.name] if isinstance(variants, ServerlessVariant) else [v.name for v in variants]
        if isinstance(variants, ServerlessVariant):
            _check_serverless(variants, model, data_capture_percentage, traffic_shifting)
            production_variants = [_serverless_variant(variants, model)]
        else:
            _check_instance_variants(variants)
            production_variants = [
                _instance_variant(v, model, container_startup_health_check_timeout, model_data_download_timeout)
                for v in variants
            ]
        if traffic_shifting is not None:
            _check_traffic_shifting(traffic_shifting, self.instance_variants)
        if not 0 <= data_capture_percentage <= 100:
            raise ValueError(f"data_capture_percentage must be 0-100, got {data_capture_percentage}")
        if data_capture_percentage and data_capture_uri is None:
            raise ValueError("data_capture_uri is required when data_capture_percentage > 0")
        # Volume encryption applies to EBS-backed instance variants only.
        encrypt_volumes = bool(self.instance_variants) and not any(
            has_instance_store(v.instance_type) for v in self.instance_variants
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=production_variants,
            kms_key_id=encryption_key.key_arn if encrypt_volumes else None,
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=data_capture_percentage,
                destination_s3_uri=data_capture_uri,
                kms_key_id=encryption_key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=["text/csv"],
                    json_content_types=["application/json", "application/jsonlines"],
                ),
            )
            if data_capture_percentage and data_capture_uri
            else None,
        )
        if not encrypt_volumes:
            acknowledge_in_all_packs(
                self.endpoint_config,
                {
                    "HIPAA.Security": "SageMakerEndpointConfigurationKMSKeyConfigured",
                    "NIST.800.53.R5": "SageMakerEndpointConfigurationKMSKeyConfigured",
                },
                "No volume to encrypt with a key: a serverless variant has no ML storage volume, and "
                "instance-store (NVMe) types encrypt their local disk in hardware; SageMaker rejects "
                "KmsKeyId for both. Captured data is still encrypted with the environment's key.",
            )
        self.rollback_alarms: list[cloudwatch.IAlarm] = []
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.log_group: logs.CfnLogGroup | None = None
        if log_retention_days is not None:
            self.log_group = logs.CfnLogGroup(
                self,
                "Logs",
                log_group_name=self.log_group_name,
                retention_in_days=log_retention_days,
                kms_key_id=encryption_key.key_arn,
            )
            self.log_group.apply_removal_policy(removal_policy)
            self.endpoint.add_resource_dependency(self.log_group)
        if traffic_shifting is not None:
            if default_rollback_alarms:
                self._add_default_rollback_alarms(traffic_shifting)
            self.node.add_validation(_HasRollbackAlarms(self.rollback_alarms))
            self.endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=_blue_green_policy(traffic_shifting),
                # Lazy: add_rollback_alarm() may still add alarms after construction.
                auto_rollback_configuration=cdk.Lazy.any(_RollbackAlarms(self.rollback_alarms)),
            )

    @property
    def endpoint_arn(self) -> str:
        return self.endpoint.ref

    @property
    def log_group_name(self) -> str:
        """Where SageMaker writes the containers' output: /aws/sagemaker/Endpoints/<name>."""
        return f"/aws/sagemaker/Endpoints/{self.endpoint_name}"

    def retain_variant_instance_counts(self) -> None:
        """Keep the instance counts of the running endpoint across updates.

        For a variant whose instance count autoscaling owns: without this, every deployment would
        reset the count to `initial_instance_count`. Weights and data capture still follow the new
        endpoint config.
        """
        self.endpoint.retain_all_variant_properties = True
        self.endpoint.exclude_retained_variant_properties = [
            sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight"),
            sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DataCaptureConfig"),
        ]

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Roll a deployment back when `alarm` fires during the traffic shift too."""
        self.rollback_alarms.append(alarm)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` send requests to this endpoint (InvokeEndpoint, also async and streaming)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:InvokeEndpoint",
                "sagemaker:InvokeEndpointAsync",
                "sagemaker:InvokeEndpointWithResponseStream",
            ],
            resource_arns=[self.endpoint_arn],
        )

    def metric(
        self,
        metric_name: str,
        *,
        variant_name: str | None = None,
        namespace: str = INVOCATION_NAMESPACE,
        statistic: str = "Sum",
        period: cdk.Duration = MINUTE,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """A metric of this endpoint's variant (the first one unless `variant_name` is given)."""
        variant = variant_name or self.variant_names[0]
        if variant not in self.variant_names:
            raise ValueError(f"variant_name must be one of {self.variant_names}, got {variant!r}")
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map={"EndpointName": self.endpoint_name, "VariantName": variant},
            statistic=statistic,
            period=period,
            label=label,
        )

    def metric_invocations(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Requests the endpoint received (Sum)."""
        return self.metric("Invocations", variant_name=variant_name, period=period)

    def metric_invocations_per_instance(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Requests per instance, what autoscaling tracks (Sum)."""
        return self.metric("InvocationsPerInstance", variant_name=variant_name, period=period)

    def metric_client_errors(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Invocations answered 4XX, bad requests (Sum)."""
        return self.metric("Invocation4XXErrors", variant_name=variant_name, period=period)

    def metric_server_errors(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Invocations answered 5XX, faults of the model or its container (Sum)."""
        return self.metric("Invocation5XXErrors", variant_name=variant_name, period=period)

    def metric_model_latency(
        self, *, statistic: str = "p99", variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Time the container took to answer, in microseconds."""
        return self.metric("ModelLatency", statistic=statistic, variant_name=variant_name, period=period)

    def metric_overhead_latency(
        self, *, statistic: str = "p99", variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Time SageMaker added around the container, in microseconds."""
        return self.metric("OverheadLatency", statistic=statistic, variant_name=variant_name, period=period)

    def metric_cpu_utilization(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """CPU of the variant's instances: 100 % per core (Average)."""
        return self._instance_metric("CPUUtilization", variant_name, period)

    def metric_memory_utilization(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Memory of the variant's instances, % (Average)."""
        return self._instance_metric("MemoryUtilization", variant_name, period)

    def metric_disk_utilization(
        self, *, variant_name: str | None = None, period: cdk.Duration = MINUTE
    ) -> cloudwatch.Metric:
        """Disk of the variant's instances, % (Average)."""
        return self._instance_metric("DiskUtilization", variant_name, period)

    def _instance_metric(self, name: str, variant_name: str | None, period: cdk.Duration) -> cloudwatch.Metric:
        return self.metric(
            name, namespace=INSTANCE_NAMESPACE, statistic="Average", variant_name=variant_name, period=period
        )

    def _add_default_rollback_alarms(self, shifting: TrafficShifting) -> None:
        logs = f"/aws/sagemaker/Endpoints/{self.endpoint_name}"
        latency_ms = shifting.rollback_p99_model_latency.to_milliseconds()
        for variant in self.variant_names:
            where = f"{self.endpoint_name}/{variant}"
            self._add_rollback_alarm(
                f"ServerErrors{variant}",
                self.metric_server_errors(variant_name=variant),
                description=(
                    f"{where}: at least {shifting.rollback_5xx_errors_per_minute} 5XX answers in a minute. "
                    "Rolls back an endpoint deployment in progress. Likely causes: the new model or image fails "
                    f"on real requests, or runs out of memory. First action: read {logs} for the failing requests."
                ),
                threshold=shifting.rollback_5xx_errors_per_minute,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
            )
            self._add_rollback_alarm(
                f"ModelLatency{variant}",
                self.metric_model_latency(variant_name=variant),
                description=(
                    f"{where}: p99 model latency above {latency_ms:g} ms for 2 of 3 minutes. Rolls back an "
                    "endpoint deployment in progress. Likely causes: a slower model (more or deeper trees), too "
                    "few instances for the traffic, or a smaller instance type. First action: compare "
                    "ModelLatency of the old and new endpoint config."
                ),
                threshold=latency_ms * 1000,  # the metric is in microseconds
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            )

    def _add_rollback_alarm(
        self,
        id_: str,
        metric: cloudwatch.Metric,
        *,
        description: str,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        evaluation_periods: int,
        datapoints_to_alarm: int | None = None,
    ) -> None:
        self.add_rollback_alarm(
            notifying_alarm(
                self,
                id_,
                metric,
                description=description,
                threshold=threshold,
                comparison=comparison,
                evaluation_periods=evaluation_periods,
                datapoints_to_alarm=datapoints_to_alarm,
                action=self._alarm_action,
            )
        )


@jsii.implements(constructs.IValidation)
class _HasRollbackAlarms:
    """Traffic shifting without an alarm to roll back on would shift blindly."""

    def __init__(self, alarms: list[cloudwatch.IAlarm]) -> None:
        self._alarms = alarms

    def validate(self) -> list[str]:
        if self._alarms:
            return []
        return ["traffic_shifting needs at least one rollback alarm: keep default_rollback_alarms or add some"]


@jsii.implements(cdk.IStableAnyProducer)
class _RollbackAlarms:
    """Renders the endpoint's rollback alarms at synthesis, when all have been added."""

    def __init__(self, alarms: list[cloudwatch.IAlarm]) -> None:
        self._alarms = alarms

    def produce(self) -> object:
        return {"alarms": [{"alarmName": alarm.alarm_name} for alarm in self._alarms]}


def _check_instance_variants(variants: Sequence[InstanceVariant]) -> None:
    if not variants:
        raise ValueError("variants must name at least one production variant")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be unique, got {names}")
    for variant in variants:
        if not _NAME.fullmatch(variant.name):
            raise ValueError(f"variant name must be 1-63 letters, digits or '-', got {variant.name!r}")
        if not re.fullmatch(r"ml\.[a-z0-9-]+\.[a-z0-9]+", variant.instance_type):
            raise ValueError(
                f"variant {variant.name}: instance_type must look like ml.m5.large, got {variant.instance_type!r}"
            )
        if variant.initial_instance_count < 1:
            raise ValueError(f"variant {variant.name}: initial_instance_count must be at least 1")
        if variant.weight <= 0:
            raise ValueError(f"variant {variant.name}: weight must be greater than 0, got {variant.weight}")
    total = sum(v.weight for v in variants)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        weights = ", ".join(f"{v.name}={v.weight:g}" for v in variants)
        raise ValueError(f"variant weights must add up to 1.0, got {total:g} ({weights})")


def _check_serverless(
    variant: ServerlessVariant, model: SageMakerModel, data_capture_percentage: int, shifting: TrafficShifting | None
) -> None:
    if variant.memory_size_mb not in SERVERLESS_MEMORY_MB:
        allowed = ", ".join(str(m) for m in SERVERLESS_MEMORY_MB)
        raise ValueError(f"serverless memory_size_mb must be one of {allowed}, got {variant.memory_size_mb}")
    if not 1 <= variant.max_concurrency <= SERVERLESS_MAX_CONCURRENCY:
        raise ValueError(
            f"serverless max_concurrency must be 1-{SERVERLESS_MAX_CONCURRENCY}, got {variant.max_concurrency}"
        )
    if shifting is not None:
        raise ValueError("traffic_shifting (canary/linear/blue-green) is not supported with a serverless variant")
    if data_capture_percentage:
        raise ValueError("data_capture_percentage must be 0 with a serverless variant: it does not capture data")
    if model.in_vpc or model.network_isolation:
        raise ValueError("a serverless variant cannot serve a model with a VPC or network isolation")


def _check_traffic_shifting(shifting: TrafficShifting, variants: Sequence[InstanceVariant]) -> None:
    if len(variants) != 1:
        raise ValueError(f"traffic_shifting needs exactly one instance variant, got {len(variants)}")
    _check_range("wait_interval", shifting.wait_interval, WAIT_RANGE)
    _check_range("termination_wait", shifting.termination_wait, WAIT_RANGE)
    _check_range("maximum_execution_timeout", shifting.maximum_execution_timeout, EXECUTION_TIMEOUT_RANGE)
    if shifting.mode == "ALL_AT_ONCE":
        return
    count = variants[0].initial_instance_count
    if shifting.step_type == "INSTANCE_COUNT":
        step_instances = shifting.step_value
        if step_instances < 1 or step_instances * 2 > count:
            raise ValueError(
                f"traffic_shifting: a {shifting.mode.lower()} step of {shifting.step_value} instance(s) needs a fleet "
                f"of at least {2 * max(step_instances, 1)} (a step may be at most half), variant has {count}"
            )
    else:
        if not 1 <= shifting.step_value <= 50:
            raise ValueError(f"traffic_shifting: step_value must be 1-50 percent, got {shifting.step_value}")
        step_instances = math.floor(count * shifting.step_value / 100)
        if step_instances < 1:
            raise ValueError(
                f"traffic_shifting: {shifting.step_value}% of {count} instance(s) is less than one instance; "
                "raise step_value or initial_instance_count"
            )
    steps = 1 if shifting.mode == "CANARY" else math.ceil(count / step_instances) - 1
    needed = steps * shifting.wait_interval.to_seconds() + shifting.termination_wait.to_seconds()
    if needed >= shifting.maximum_execution_timeout.to_seconds():
        raise ValueError(
            f"traffic_shifting: maximum_execution_timeout ({shifting.maximum_execution_timeout.to_seconds():g} s) "
            f"must exceed the waits of the shift ({needed:g} s)"
        )


def _check_range(field: str, value: cdk.Duration, bounds: tuple[int, int]) -> None:
    seconds = value.to_seconds()
    if not bounds[0] <= seconds <= bounds[1]:
        raise ValueError(f"{field} must be {bounds[0]}-{bounds[1]} s, got {seconds:g} s")


def _instance_variant(
    variant: InstanceVariant,
    model: SageMakerModel,
    health_check_timeout: cdk.Duration | None,
    download_timeout: cdk.Duration | None,
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    if health_check_timeout is not None:
        _check_range("container_startup_health_check_timeout", health_check_timeout, HEALTH_CHECK_TIMEOUT_RANGE)
    if download_timeout is not None:
        _check_range("model_data_download_timeout", download_timeout, DOWNLOAD_TIMEOUT_RANGE)
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=model.model_name,
        instance_type=variant.instance_type,
        initial_instance_count=variant.initial_instance_count,
        initial_variant_weight=variant.weight,
        container_startup_health_check_timeout_in_seconds=int(health_check_timeout.to_seconds())
        if health_check_timeout
        else None,
        model_data_download_timeout_in_seconds=int(download_timeout.to_seconds()) if download_timeout else None,
    )


def _serverless_variant(
    variant: ServerlessVariant, model: SageMakerModel
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=model.model_name,
        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
            memory_size_in_mb=variant.memory_size_mb, max_concurrency=variant.max_concurrency
        ),
    )


def _blue_green_policy(shifting: TrafficShifting) -> sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty:
    step = sagemaker.CfnEndpoint.CapacitySizeProperty(type=shifting.step_type, value=shifting.step_value)
    return sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
        traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=shifting.mode,
            wait_interval_in_seconds=int(shifting.wait_interval.to_seconds()),
            canary_size=step if shifting.mode == "CANARY" else None,
            linear_step_size=step if shifting.mode == "LINEAR" else None,
        ),
        termination_wait_in_seconds=int(shifting.termination_wait.to_seconds()),
        maximum_execution_timeout_in_seconds=int(shifting.maximum_execution_timeout.to_seconds()),
    )
