"""What an endpoint config may hold: its variant and deployment types, their checks and renderers.

Pure functions of the inputs, no constructs: `RealtimeEndpoint` checks its arguments here (each check
appends to a shared list of problems, so one error names all of them) and renders the
CloudFormation properties from them; and the validation and lazy value of its rollback alarms.
"""

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
from aws_cdk import aws_sagemaker as sagemaker

from config.contract import (
    EXECUTION_TIMEOUT_RANGE,
    MAX_REALTIME_INVOCATION_SECONDS,
    REALTIME_LIMIT_DOC,
    SERVERLESS_MAX_CONCURRENCY,
    SERVERLESS_MEMORY_MB,
    WAIT_RANGE,
)

NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9-]+\.[a-z0-9]+")
# Nitro instances with local NVMe storage encrypt it in hardware; SageMaker rejects a volume KMS
# key for them (CreateEndpointConfig, KmsKeyId). Families with a "d" suffix, "dn", and these:
_INSTANCE_STORE_FAMILIES = {"g5", "g6", "g6e", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"}


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
class ManagedVariant:
    """A variant for inference components: SageMaker keeps `min_instances`..`max_instances` instances of
    `instance_type` for the copies the components ask for (ManagedInstanceScaling; 0 lets it scale to zero)."""

    instance_type: str
    min_instances: int
    max_instances: int
    routing_strategy: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"
    name: str = "primary"


@dataclass(frozen=True)
class TrafficShifting:
    """Blue/green deployment of endpoint updates, rolled back automatically on alarm.

    `step_type` INSTANCE_COUNT or CAPACITY_PERCENT sizes the canary (or each linear step); the
    new fleet takes that share for `wait_interval`, then the rest (canary) or the next step
    (linear). Any rollback alarm (`RealtimeEndpoint.add_rollback_alarm`) in ALARM during the shift
    sends all traffic back.
    """

    mode: Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]
    step_type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"] = "INSTANCE_COUNT"
    step_value: int = 1
    wait_interval: cdk.Duration = cdk.Duration.minutes(5)
    termination_wait: cdk.Duration = cdk.Duration.minutes(5)
    maximum_execution_timeout: cdk.Duration = cdk.Duration.hours(1)


def has_instance_store(instance_type: str) -> bool:
    """Whether `instance_type` (ml.<family>.<size>) has local NVMe storage instead of an EBS volume."""
    family = instance_type.split(".")[1]
    return family.endswith(("d", "dn")) or family in _INSTANCE_STORE_FAMILIES


# -- checks: each appends what is wrong to `errors` ------------------------------------------------


def check_instance_variants(variants: Sequence[InstanceVariant], errors: list[str]) -> None:
    if not variants:
        errors.append("variants must name at least one production variant")
        return
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        errors.append(f"variant names must be unique, got {names}")
    for variant in variants:
        if not NAME.fullmatch(variant.name):
            errors.append(f"variant name must be 1-63 letters, digits or '-', got {variant.name!r}")
        if not _INSTANCE_TYPE.fullmatch(variant.instance_type):
            errors.append(
                f"variant {variant.name}: instance_type must look like ml.m5.large, got {variant.instance_type!r}"
            )
        if variant.initial_instance_count < 1:
            errors.append(f"variant {variant.name}: initial_instance_count must be at least 1")
        if variant.weight <= 0:
            errors.append(f"variant {variant.name}: weight must be greater than 0, got {variant.weight}")
    total = sum(v.weight for v in variants)
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        weights = ", ".join(f"{v.name}={v.weight:g}" for v in variants)
        errors.append(f"variant weights must add up to 1.0, got {total:g} ({weights})")


def check_serverless(
    variant: ServerlessVariant,
    *,
    data_capture_percentage: int,
    traffic_shifting: TrafficShifting | None,
    model_in_vpc_or_isolated: bool,
    errors: list[str],
) -> None:
    if variant.memory_size_mb not in SERVERLESS_MEMORY_MB:
        allowed = ", ".join(str(m) for m in SERVERLESS_MEMORY_MB)
        errors.append(f"serverless memory_size_mb must be one of {allowed}, got {variant.memory_size_mb}")
    if not 1 <= variant.max_concurrency <= SERVERLESS_MAX_CONCURRENCY:
        errors.append(
            f"serverless max_concurrency must be 1-{SERVERLESS_MAX_CONCURRENCY}, got {variant.max_concurrency}"
        )
    if traffic_shifting is not None:
        errors.append("traffic_shifting (canary/linear/blue-green) is not supported with a serverless variant")
    if data_capture_percentage:
        errors.append("data_capture_percentage must be 0 with a serverless variant: it does not capture data")
    if model_in_vpc_or_isolated:
        errors.append("a serverless variant cannot serve a model with a VPC or network isolation")


def check_managed_variant(
    variant: ManagedVariant,
    *,
    data_capture_percentage: int,
    traffic_shifting: TrafficShifting | None,
    has_execution_role: bool,
    errors: list[str],
) -> None:
    if not NAME.fullmatch(variant.name):
        errors.append(f"variant name must be 1-63 letters, digits or '-', got {variant.name!r}")
    if not _INSTANCE_TYPE.fullmatch(variant.instance_type):
        errors.append(f"instance_type must look like ml.m5.large, got {variant.instance_type!r}")
    if variant.min_instances < 0 or variant.max_instances < 1 or variant.min_instances > variant.max_instances:
        errors.append(
            f"managed instance scaling needs 0 <= min_instances <= max_instances and max_instances >= 1, got "
            f"{variant.min_instances}..{variant.max_instances}"
        )
    if traffic_shifting is not None:
        errors.append("traffic_shifting does not apply to inference components (they update by rolling update)")
    if data_capture_percentage:
        errors.append("data_capture_percentage must be 0 with inference components")
    if not has_execution_role:
        errors.append("execution_role is required with inference components (the endpoint config's ExecutionRoleArn)")


def check_traffic_shifting(shifting: TrafficShifting, variants: Sequence[InstanceVariant], errors: list[str]) -> None:
    if len(variants) != 1:
        errors.append(f"traffic_shifting needs exactly one instance variant, got {len(variants)}")
        return
    check_duration("wait_interval", shifting.wait_interval, WAIT_RANGE, errors)
    check_duration("termination_wait", shifting.termination_wait, WAIT_RANGE, errors)
    check_duration("maximum_execution_timeout", shifting.maximum_execution_timeout, EXECUTION_TIMEOUT_RANGE, errors)
    if shifting.mode == "ALL_AT_ONCE":
        return
    count = variants[0].initial_instance_count
    if shifting.step_type == "INSTANCE_COUNT":
        step_instances = shifting.step_value
        if step_instances < 1 or step_instances * 2 > count:
            errors.append(
                f"traffic_shifting: a {shifting.mode.lower()} step of {shifting.step_value} instance(s) needs a fleet "
                f"of at least {2 * max(step_instances, 1)} (a step may be at most half), variant has {count}"
            )
            return
    else:
        if not 1 <= shifting.step_value <= 50:
            errors.append(f"traffic_shifting: step_value must be 1-50 percent, got {shifting.step_value}")
            return
        step_instances = math.floor(count * shifting.step_value / 100)
        if step_instances < 1:
            errors.append(
                f"traffic_shifting: {shifting.step_value}% of {count} instance(s) is less than one instance; "
                "raise step_value or initial_instance_count"
            )
            return
    steps = 1 if shifting.mode == "CANARY" else math.ceil(count / step_instances) - 1
    needed = steps * shifting.wait_interval.to_seconds() + shifting.termination_wait.to_seconds()
    if needed >= shifting.maximum_execution_timeout.to_seconds():
        errors.append(
            f"traffic_shifting: maximum_execution_timeout ({shifting.maximum_execution_timeout.to_seconds():g} s) "
            f"must exceed the waits of the shift ({needed:g} s)"
        )


def check_data_capture(percentage: int, uri: str | None, errors: list[str]) -> None:
    if not 0 <= percentage <= 100:
        errors.append(f"data_capture_percentage must be 0-100, got {percentage}")
    if percentage and uri is None:
        errors.append("data_capture_uri is required when data_capture_percentage > 0")


def check_duration(field: str, value: cdk.Duration | None, bounds: tuple[int, int], errors: list[str]) -> None:
    if value is None:
        return
    seconds = value.to_seconds()
    if not bounds[0] <= seconds <= bounds[1]:
        errors.append(f"{field} must be {bounds[0]}-{bounds[1]} s, got {seconds:g} s")


def check_realtime_server_timeout(what: str, seconds: float, errors: list[str]) -> None:
    """A model served in real time (InvokeEndpoint) must give up within SageMaker's invocation limit; the container
    allows longer for asynchronous requests only."""
    if seconds > MAX_REALTIME_INVOCATION_SECONDS:
        errors.append(
            f"{what} ({seconds:g} s) must be at most {MAX_REALTIME_INVOCATION_SECONDS} s in real time: SageMaker "
            f"answers an invocation within {MAX_REALTIME_INVOCATION_SECONDS} s or fails it ({REALTIME_LIMIT_DOC}); "
            "asynchronous inference allows longer"
        )


# -- renderers: the CloudFormation properties ------------------------------------------------------


def production_variants(
    variants: Sequence[InstanceVariant] | ServerlessVariant | ManagedVariant,
    model_name: str,
    health_check_timeout: cdk.Duration | None,
    download_timeout: cdk.Duration | None,
) -> list[sagemaker.CfnEndpointConfig.ProductionVariantProperty]:
    if isinstance(variants, ServerlessVariant):
        return [serverless_variant(variants, model_name)]
    if isinstance(variants, ManagedVariant):
        return [managed_variant(variants, health_check_timeout, download_timeout)]
    return [instance_variant(v, model_name, health_check_timeout, download_timeout) for v in variants]


def instance_variant(
    variant: InstanceVariant,
    model_name: str,
    health_check_timeout: cdk.Duration | None,
    download_timeout: cdk.Duration | None,
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=model_name,
        instance_type=variant.instance_type,
        initial_instance_count=variant.initial_instance_count,
        initial_variant_weight=variant.weight,
        container_startup_health_check_timeout_in_seconds=whole_seconds(health_check_timeout),
        model_data_download_timeout_in_seconds=whole_seconds(download_timeout),
    )


def serverless_variant(
    variant: ServerlessVariant, model_name: str
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=model_name,
        serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
            memory_size_in_mb=variant.memory_size_mb, max_concurrency=variant.max_concurrency
        ),
    )


def managed_variant(
    variant: ManagedVariant, health_check_timeout: cdk.Duration | None, download_timeout: cdk.Duration | None
) -> sagemaker.CfnEndpointConfig.ProductionVariantProperty:
    """No model: the inference components name theirs. One instance starts with the endpoint (SageMaker needs one
    to create it); with min_instances 0 it is released when no copy is left on it."""
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        instance_type=variant.instance_type,
        initial_instance_count=max(variant.min_instances, 1),
        managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
            status="ENABLED", min_instance_count=variant.min_instances, max_instance_count=variant.max_instances
        ),
        routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(routing_strategy=variant.routing_strategy),
        container_startup_health_check_timeout_in_seconds=whole_seconds(health_check_timeout),
        model_data_download_timeout_in_seconds=whole_seconds(download_timeout),
    )


def data_capture_config(
    percentage: int, uri: str | None, key_arn: str
) -> sagemaker.CfnEndpointConfig.DataCaptureConfigProperty | None:
    """Requests and responses (CSV and JSON bodies) to `uri`, encrypted with the key; None when off."""
    if not percentage or uri is None:
        return None
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        initial_sampling_percentage=percentage,
        destination_s3_uri=uri,
        kms_key_id=key_arn,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            csv_content_types=["text/csv"],
            json_content_types=["application/json", "application/jsonlines"],
        ),
    )


def blue_green_policy(shifting: TrafficShifting) -> sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty:
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


def whole_seconds(value: cdk.Duration | None) -> int | None:
    """A timeout as the API's whole seconds, None (SageMaker's default) left out."""
    return None if value is None else int(value.to_seconds())


@jsii.implements(constructs.IValidation)
class HasRollbackAlarms:
    """Traffic shifting without an alarm to roll back on would shift blindly."""

    def __init__(self, alarms: list[cloudwatch.IAlarm]) -> None:
        self._alarms = alarms

    def validate(self) -> list[str]:
        if self._alarms:
            return []
        return [
            "traffic_shifting needs at least one rollback alarm: add one with add_rollback_alarm "
            "(EndpointMonitoring does)"
        ]


@jsii.implements(cdk.IStableAnyProducer)
class RollbackAlarms:
    """Renders the endpoint's rollback alarms at synthesis, when all have been added."""

    def __init__(self, alarms: list[cloudwatch.IAlarm]) -> None:
        self._alarms = alarms

    def produce(self) -> object:
        return {"alarms": [{"alarmName": alarm.alarm_name} for alarm in self._alarms]}
