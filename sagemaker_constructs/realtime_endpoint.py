"""A real-time SageMaker endpoint that is safe to change in production."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict, Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.contract import DOWNLOAD_TIMEOUT_RANGE, HEALTH_CHECK_TIMEOUT_RANGE, endpoint_log_group_name
from sagemaker_constructs import async_config, endpoint_config
from sagemaker_constructs.async_config import AsyncInference
from sagemaker_constructs.endpoint_config import (
    NAME,
    HasRollbackAlarms,
    InstanceVariant,
    ManagedVariant,
    RollbackAlarms,
    ServerlessVariant,
    TrafficShifting,
    has_instance_store,
)
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.model import SageMakerModel
from sagemaker_constructs.nag import acknowledge_in_all_packs
from sagemaker_constructs.validation import invalid, raise_if_any

INVOCATION_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
MINUTE = cdk.Duration.minutes(1)

# Inference components' own metrics: invocations in AWS/SageMaker and utilization here, per InferenceComponentName
# (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"
COMPONENT_DIMENSION = "InferenceComponentName"

__all__ = [
    "AsyncInference",
    "InstanceVariant",
    "ManagedVariant",
    "MetricOptions",
    "RealtimeEndpoint",
    "ServerlessVariant",
    "TrafficShifting",
]


class MetricOptions(TypedDict, total=False):
    """What a caller may set on a metric helper; each key overrides the helper's default."""

    variant_name: str
    statistic: str
    period: cdk.Duration
    label: str
    unit: cloudwatch.Unit
    color: str


class RealtimeEndpoint(Construct):
    """An `EndpointConfig` and an `Endpoint` serving `model`, with safe updates.

    - The endpoint config has no physical name (it is immutable: every change is a new one);
      the endpoint has the fixed `endpoint_name`, so clients and alarms can find it, and is updated
      in place when the config changes.
    - Instance variants get the volume KMS key, except on instance-store (NVMe) types, where
      SageMaker rejects it and the local disk is hardware-encrypted.
    - A `ManagedVariant` hosts inference components (`InferenceComponent`, which calls `host_component`): no
      model on the variant, `execution_role` on the endpoint config, managed instance scaling; the invocation
      metrics are then the component's (dimension InferenceComponentName).
    - `data_capture_percentage` > 0 captures requests and responses to `data_capture_uri`,
      encrypted with the key.
    - `async_inference` makes it an asynchronous endpoint (InvokeEndpointAsync only): results and
      failures in S3, encrypted with the key, notifications to its topic; no traffic shifting or capture.
    - In real time (without `async_inference`) the model's server_timeout must be within SageMaker's 60 s
      invocation limit; asynchronously it is the requests' InvocationTimeoutSeconds, up to the container's hour.
    - `traffic_shifting` turns updates into blue/green deployments that roll back on the alarms
      given to `add_rollback_alarm` (`EndpointMonitoring` adds its error-rate and latency alarms);
      synthesis fails if there are none.

    All argument problems are reported together, in one ValueError.

    :param endpoint_name: 1-63 letters, digits and '-'; exported by the stack for clients.
    :param container_startup_health_check_timeout: how long a new instance may take to answer
        /ping. @default SageMaker's (600 s for most instance types).
    :param model_data_download_timeout: how long downloading model.tar.gz may take. @default SageMaker's.
    :param encryption_key: what the volumes, the captured data and the asynchronous results are encrypted with; an
        argument of its own, as the endpoint's data is not its log's.
    :param logs: create the endpoint's log group `/aws/sagemaker/Endpoints/<name>` (with these key, retention and
        removal policy) before the endpoint, so SageMaker writes into it.
        @default none: SageMaker creates it on first start, unencrypted and kept forever.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        model: SageMakerModel,
        variants: Sequence[InstanceVariant] | ServerlessVariant | ManagedVariant,
        encryption_key: kms.IKey,
        execution_role: iam.IRole | None = None,
        data_capture_uri: str | None = None,
        data_capture_percentage: int = 0,
        traffic_shifting: TrafficShifting | None = None,
        async_inference: AsyncInference | None = None,
        container_startup_health_check_timeout: cdk.Duration | None = None,
        model_data_download_timeout: cdk.Duration | None = None,
        logs: LogSettings | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.endpoint_name = endpoint_name
        self.async_inference = async_inference
        self.serverless = isinstance(variants, ServerlessVariant)
        self.managed_variant = variants if isinstance(variants, ManagedVariant) else None
        self.component_name: str | None = None
        self.instance_variants: tuple[InstanceVariant, ...] = (
            () if isinstance(variants, (ServerlessVariant, ManagedVariant)) else tuple(variants)
        )
        self.variant_names = (
            [variants.name] if isinstance(variants, (ServerlessVariant, ManagedVariant)) else [v.name for v in variants]
        )
        self._check(
            variants=variants,
            model=model,
            has_execution_role=execution_role is not None,
            data_capture_uri=data_capture_uri,
            data_capture_percentage=data_capture_percentage,
            traffic_shifting=traffic_shifting,
            timeouts=(container_startup_health_check_timeout, model_data_download_timeout),
        )
        production_variants = endpoint_config.production_variants(
            variants, model.model_name, container_startup_health_check_timeout, model_data_download_timeout
        )
        self.endpoint_config = self._create_config(
            production_variants, encryption_key, data_capture_uri, data_capture_percentage
        )
        if self.managed_variant is not None and execution_role is not None:
            self.endpoint_config.execution_role_arn = execution_role.role_arn
        self.rollback_alarms: list[cloudwatch.IAlarm] = []
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.log_group: aws_logs.CfnLogGroup | None = None
        if logs is not None:
            self.log_group = logs.log_group(self, "Logs", name=self.log_group_name)
            self.endpoint.add_resource_dependency(self.log_group)
        if traffic_shifting is not None:
            self._shift_traffic(traffic_shifting)

    def _check(
        self,
        *,
        variants: Sequence[InstanceVariant] | ServerlessVariant | ManagedVariant,
        model: SageMakerModel,
        has_execution_role: bool,
        data_capture_uri: str | None,
        data_capture_percentage: int,
        traffic_shifting: TrafficShifting | None,
        timeouts: tuple[cdk.Duration | None, cdk.Duration | None],
    ) -> None:
        errors: list[str] = []
        if not NAME.fullmatch(self.endpoint_name):
            errors.append(f"endpoint_name must be 1-63 letters, digits or '-', got {self.endpoint_name!r}")
        if isinstance(variants, ServerlessVariant):
            endpoint_config.check_serverless(
                variants,
                data_capture_percentage=data_capture_percentage,
                traffic_shifting=traffic_shifting,
                model_in_vpc_or_isolated=model.in_vpc or model.network_isolation,
                errors=errors,
            )
        elif isinstance(variants, ManagedVariant):
            endpoint_config.check_managed_variant(
                variants,
                data_capture_percentage=data_capture_percentage,
                traffic_shifting=traffic_shifting,
                has_execution_role=has_execution_role,
                errors=errors,
            )
        else:
            endpoint_config.check_instance_variants(variants, errors)
            if traffic_shifting is not None:
                endpoint_config.check_traffic_shifting(traffic_shifting, variants, errors)
        health_check_timeout, download_timeout = timeouts
        endpoint_config.check_duration(
            "container_startup_health_check_timeout", health_check_timeout, HEALTH_CHECK_TIMEOUT_RANGE, errors
        )
        endpoint_config.check_duration("model_data_download_timeout", download_timeout, DOWNLOAD_TIMEOUT_RANGE, errors)
        endpoint_config.check_data_capture(data_capture_percentage, data_capture_uri, errors)
        if self.async_inference is None:
            timeout = model.server_timeout_seconds
            endpoint_config.check_realtime_server_timeout("model's server_timeout", timeout, errors)
        else:
            async_config.check_async(
                self.async_inference,
                instance_variants=bool(self.instance_variants),
                data_capture_percentage=data_capture_percentage,
                traffic_shifting=traffic_shifting,
                errors=errors,
            )
        raise_if_any(self, errors)

    def _create_config(
        self,
        production_variants: list[sagemaker.CfnEndpointConfig.ProductionVariantProperty],
        encryption_key: kms.IKey,
        data_capture_uri: str | None,
        data_capture_percentage: int,
    ) -> sagemaker.CfnEndpointConfig:
        # Volume encryption applies to EBS-backed instance variants only.
        instance_types = [v.instance_type for v in self.instance_variants] + (
            [self.managed_variant.instance_type] if self.managed_variant else []
        )
        encrypt_volumes = bool(instance_types) and not any(has_instance_store(t) for t in instance_types)
        config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=production_variants,
            kms_key_id=encryption_key.key_arn if encrypt_volumes else None,
            data_capture_config=endpoint_config.data_capture_config(
                data_capture_percentage, data_capture_uri, encryption_key.key_arn
            ),
            async_inference_config=None
            if self.async_inference is None
            else async_config.async_inference_config(self.async_inference, encryption_key.key_arn),
        )
        if not encrypt_volumes:
            acknowledge_in_all_packs(
                config,
                {
                    "HIPAA.Security": "SageMakerEndpointConfigurationKMSKeyConfigured",
                    "NIST.800.53.R5": "SageMakerEndpointConfigurationKMSKeyConfigured",
                },
                "No volume to encrypt with a key: a serverless variant has no ML storage volume, and "
                "instance-store (NVMe) types encrypt their local disk in hardware; SageMaker rejects "
                "KmsKeyId for both. Captured data is still encrypted with the environment's key.",
            )
        return config

    def _shift_traffic(self, traffic_shifting: TrafficShifting) -> None:
        self.node.add_validation(HasRollbackAlarms(self.rollback_alarms))
        self.endpoint.deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=endpoint_config.blue_green_policy(traffic_shifting),
            # Lazy: add_rollback_alarm() may still add alarms after construction.
            auto_rollback_configuration=cdk.Lazy.any(RollbackAlarms(self.rollback_alarms)),
        )

    @property
    def endpoint_arn(self) -> str:
        return self.endpoint.ref

    @property
    def log_group_name(self) -> str:
        """Where SageMaker writes the containers' output: /aws/sagemaker/Endpoints/<name>."""
        return endpoint_log_group_name(self.endpoint_name)

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

    def host_component(self, component_name: str) -> None:
        """Read invocation metrics per inference component `component_name` (what `InferenceComponent` serves)."""
        if self.managed_variant is None:
            raise invalid(self, ["only a ManagedVariant hosts inference components"])
        # One name is what the metrics, the dashboard and grant_invoke read: a second would silently take them over.
        if self.component_name is not None:
            raise invalid(self, [f"the endpoint hosts {self.component_name} already: one inference component only"])
        self.component_name = component_name

    def add_rollback_alarm(self, alarm: cloudwatch.IAlarm) -> None:
        """Roll a deployment back when `alarm` fires during the traffic shift too."""
        self.rollback_alarms.append(alarm)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` send requests to this endpoint (InvokeEndpoint, also async and streaming), and to the
        inference component it hosts, if any (a request naming it is authorized on the component's ARN too)."""
        component = (
            [
                cdk.Stack.of(self).format_arn(
                    service="sagemaker", resource="inference-component", resource_name=self.component_name
                )
            ]
            if self.component_name
            else []
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sagemaker:InvokeEndpoint",
                "sagemaker:InvokeEndpointAsync",
                "sagemaker:InvokeEndpointWithResponseStream",
            ],
            resource_arns=[self.endpoint_arn, *component],
        )

    def metric(self, namespace: str, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """`metric_name` of one variant of this endpoint; `options` override the defaults (Sum per minute).

        `variant_name` @default the endpoint's only variant; required when it has several, so that no
        caller watches one variant of many without saying so.
        """
        props = _over({"statistic": "Sum", "period": MINUTE}, options)
        variant = props.get("variant_name")
        if variant is None:
            if len(self.variant_names) != 1:
                raise invalid(
                    self, [f"variant_name is required: {self.endpoint_name} has variants {self.variant_names}"]
                )
            variant = self.variant_names[0]
        if variant not in self.variant_names:
            raise invalid(self, [f"variant_name must be one of {self.variant_names}, got {variant!r}"])
        dimensions = {"EndpointName": self.endpoint_name, "VariantName": variant}
        if self.component_name is not None and namespace in (INVOCATION_NAMESPACE, COMPONENT_NAMESPACE):
            dimensions = {COMPONENT_DIMENSION: self.component_name}
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=dimensions,
            statistic=props.get("statistic"),
            period=props.get("period"),
            label=props.get("label"),
            unit=props.get("unit"),
            color=props.get("color"),
        )

    def metric_invocations(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Requests the variant received. @default Sum per minute."""
        return self.metric(INVOCATION_NAMESPACE, "Invocations", **options)

    def metric_invocations_per_instance(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Requests per instance, what autoscaling tracks. @default Sum per minute."""
        return self.metric(INVOCATION_NAMESPACE, "InvocationsPerInstance", **options)

    def metric_client_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Invocations answered 4XX, bad requests. @default Sum per minute."""
        return self.metric(INVOCATION_NAMESPACE, "Invocation4XXErrors", **options)

    def metric_server_errors(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Invocations answered 5XX, faults of the model or its container. @default Sum per minute."""
        return self.metric(INVOCATION_NAMESPACE, "Invocation5XXErrors", **options)

    def metric_model_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Time the container took to answer, in microseconds. @default p99 per minute."""
        return self.metric(INVOCATION_NAMESPACE, "ModelLatency", **_over({"statistic": "p99"}, options))

    def metric_overhead_latency(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Time SageMaker added around the container, in microseconds. @default p99 per minute."""
        return self.metric(INVOCATION_NAMESPACE, "OverheadLatency", **_over({"statistic": "p99"}, options))

    def metric_cpu_utilization(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """CPU of the variant's instances: 100 % per core. @default Average per minute."""
        return self.metric(INSTANCE_NAMESPACE, "CPUUtilization", **_over({"statistic": "Average"}, options))

    def metric_memory_utilization(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Memory of the variant's instances, %. @default Average per minute."""
        return self.metric(INSTANCE_NAMESPACE, "MemoryUtilization", **_over({"statistic": "Average"}, options))

    def metric_disk_utilization(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Disk of the variant's instances, %. @default Average per minute."""
        return self.metric(INSTANCE_NAMESPACE, "DiskUtilization", **_over({"statistic": "Average"}, options))


def _over(defaults: MetricOptions, options: MetricOptions) -> MetricOptions:
    """`options` spread over `defaults`: what the caller gave wins."""
    merged: MetricOptions = {**defaults, **options}
    return merged
