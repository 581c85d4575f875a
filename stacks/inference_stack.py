"""The inference stack: the real-time endpoint of one environment."""

from __future__ import annotations

from typing import Any, Literal, Protocol, TypedDict

import aws_cdk as cdk
from constructs import Construct

from config import DeploymentSettings, EndpointSettings, InferenceComponentSettings
from config.contract import ASYNC_INPUT_PREFIX, CONTAINER, DATA_CAPTURE_PREFIX, inference_component_name
from sagemaker_constructs import (
    AlarmDefaults,
    AlarmThresholds,
    AsyncEndpointAutoScaling,
    AsyncEndpointMonitoring,
    AsyncInference,
    ComponentAutoScaling,
    EndpointAutoScaling,
    EndpointMonitoring,
    InferenceComponent,
    InstanceVariant,
    ManagedVariant,
    RealtimeEndpoint,
    SageMakerModel,
    ScalingLimits,
    ScheduledCapacity,
    ServerlessVariant,
    TrafficShifting,
    VpcPlacement,
)
from sagemaker_constructs.validation import invalid
from stacks._common import EnvironmentStack
from stacks.platform_stack import PlatformStack


class InferenceStack(EnvironmentStack):
    """Model → EndpointConfig → Endpoint (+ autoscaling, dashboard, alarms) serving the pinned model.

    With `endpoint.inference_component`, the endpoint config's variant has no model and managed instance
    scaling; the model is an InferenceComponent on it, whose copy count autoscales (to zero with
    `min_instances = 0`), and the stack outputs its name, which callers pass as `InferenceComponentName`.

    Promotion is a reviewed change of `endpoint.model_package` (an approved version of the environment's
    model package group; dev may pin `endpoint.model_artifact_key` instead) in the configuration: the
    Model and EndpointConfig are replaced (they are immutable), the Endpoint is updated in place,
    through the configured blue/green traffic shifting. A Model is created from a version only once it is
    approved, so no unapproved model reaches the endpoint.
    """

    purpose = "SageMaker model, endpoint config, endpoint"

    def __init__(self, scope: Construct, id_: str, *, platform: PlatformStack, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        app_name, settings = self.app_name, self.settings
        endpoint_settings = settings.endpoint
        if not endpoint_settings.pinned:
            raise invalid(self, ["neither endpoint.model_package nor endpoint.model_artifact_key is set"])
        artifacts = platform.artifacts_bucket.bucket_name
        endpoint_name = self.name_prefix
        self.logs = self.log_settings(platform.key)
        package = endpoint_settings.package
        served: dict[str, str] = (
            {"model_package_arn": platform.registry.version_arn(package.version)}
            if package is not None
            else {
                "image_uri": platform.image.image_uri,
                "model_data_url": f"s3://{artifacts}/{endpoint_settings.model_artifact_key}",
            }
        )
        self.model = SageMakerModel(
            self,
            "Model",
            **served,
            execution_role=platform.execution_role,
            server_workers=endpoint_settings.server_workers,
            server_timeout=cdk.Duration.seconds(endpoint_settings.container_timeout_seconds),
            vpc=VpcPlacement(endpoint_settings.vpc.subnet_ids, endpoint_settings.vpc.security_group_ids)
            if endpoint_settings.vpc
            else None,
            network_isolation=endpoint_settings.network_isolation,
            environment={
                CONTAINER.environment.metrics_namespace: app_name,
                CONTAINER.environment.metrics_endpoint_name: endpoint_name,
                **_async_environment(endpoint_settings),
            },
        )
        asynchronous = endpoint_settings.asynchronous
        self.endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            model=self.model,
            variants=_variants(endpoint_settings),
            encryption_key=platform.key,
            execution_role=platform.execution_role.role,
            data_capture_uri=f"s3://{artifacts}/{DATA_CAPTURE_PREFIX}",
            data_capture_percentage=endpoint_settings.data_capture_percentage,
            traffic_shifting=_traffic_shifting(endpoint_settings.deployment),
            async_inference=None
            if asynchronous is None
            else AsyncInference(
                output_uri=f"s3://{artifacts}/{asynchronous.output_prefix}",
                failure_uri=f"s3://{artifacts}/{asynchronous.failure_prefix}",
                notification_topic=platform.async_result_topic,
                max_concurrent_invocations_per_instance=asynchronous.max_concurrent_invocations_per_instance,
            ),
            container_startup_health_check_timeout=_seconds(
                endpoint_settings.container_startup_health_check_timeout_seconds
            ),
            model_data_download_timeout=_seconds(endpoint_settings.model_data_download_timeout_seconds),
            logs=self.logs,
        )
        self.component: InferenceComponent | None = None
        if endpoint_settings.inference_component is not None:
            self._host_component(endpoint_settings, endpoint_settings.inference_component)
        # The first configured variant is the one autoscaling sizes and monitoring watches.
        variant = self.endpoint.variant_names[0]
        scaling = endpoint_settings.autoscaling
        self.autoscaling = self._autoscaling(endpoint_settings, variant)
        monitoring = settings.monitoring
        capacity = (scaling.min_capacity, scaling.max_capacity) if scaling else _fixed_capacity(self.endpoint, variant)
        if asynchronous is not None:
            capacity = None  # the fleet may be at zero: no "instances below minimum" alarm
        self.monitoring = EndpointMonitoring(
            self,
            "Monitoring",
            endpoint=self.endpoint,
            variant_name=variant,
            alarm_defaults=AlarmDefaults(
                platform.alarm_topic, evaluation=cdk.Duration.minutes(monitoring.evaluation_minutes)
            ),
            dashboard_name=endpoint_name,
            thresholds=AlarmThresholds(
                server_error_rate_percent=monitoring.server_error_rate_percent,
                model_latency_p99=cdk.Duration.millis(monitoring.model_latency_p99_ms),
                container_error_rate_percent=monitoring.container_error_rate_percent,
                cpu_utilization_percent=monitoring.cpu_utilization_percent,
                memory_utilization_percent=monitoring.memory_utilization_percent,
                disk_utilization_percent=monitoring.disk_utilization_percent,
                no_invocations=_minutes(monitoring.no_invocations_minutes),
            ),
            container_metrics_namespace=app_name,
            # The rollback alarm reads the fleet of the model being deployed (a canary's, during a canary).
            model_version=self.model.model_version,
            min_capacity=capacity[0] if capacity else None,
            max_capacity=capacity[1] if capacity else None,
            data_capture_bucket_name=artifacts if endpoint_settings.data_capture_percentage else None,
        )
        self.async_monitoring: AsyncEndpointMonitoring | None = None
        if asynchronous is not None:
            self.async_monitoring = AsyncEndpointMonitoring(
                self,
                "AsyncMonitoring",
                monitoring=self.monitoring,
                max_backlog_age=cdk.Duration.minutes(asynchronous.max_backlog_age_minutes),
                failure_rate_percent=monitoring.server_error_rate_percent,
                backlog_per_instance=asynchronous.backlog_per_instance,
            )
        cdk.CfnOutput(
            self,
            "EndpointName",
            value=self.endpoint.endpoint_name,
            description="Send requests here (sagemaker-runtime InvokeEndpoint"
            + (f"Async, bodies under <ArtifactsBucketName>/{ASYNC_INPUT_PREFIX})" if asynchronous else ")"),
            export_name=f"{endpoint_name}-endpoint-name",
        )
        if self.component is not None:
            cdk.CfnOutput(
                self,
                "InferenceComponentName",
                value=self.component.component_name,
                description="Name it in every request (InvokeEndpoint's InferenceComponentName)",
            )

    def _host_component(self, endpoint: EndpointSettings, settings: InferenceComponentSettings) -> None:
        self.component = InferenceComponent(
            self,
            "Component",
            endpoint=self.endpoint,
            model=self.model,
            component_name=inference_component_name(self.endpoint.endpoint_name),
            cpu_cores=settings.cpu_cores_per_copy,
            memory_mb=settings.memory_mb_per_copy,
            initial_copies=max(settings.min_copies, 1),
            container_startup_health_check_timeout=_seconds(endpoint.container_startup_health_check_timeout_seconds),
            model_data_download_timeout=_seconds(endpoint.model_data_download_timeout_seconds),
            logs=self.logs,
        )

    def _autoscaling(
        self, settings: EndpointSettings, variant: str
    ) -> EndpointAutoScaling | AsyncEndpointAutoScaling | ComponentAutoScaling | None:
        """The configured hosting mode's autoscaling, from its settings (the configuration allows one mode): an
        inference component's copies, an asynchronous endpoint's instances on its backlog, or the real-time `variant`'s
        instances on its invocations; serverless scales by itself."""
        component, asynchronous, scaling = settings.inference_component, settings.asynchronous, settings.autoscaling
        if component is not None and self.component is not None:
            return ComponentAutoScaling(
                self,
                "ComponentAutoScaling",
                component=self.component,
                limits=_limits(component, component.min_copies, component.max_copies),
                **_invocations_target(component),
            )
        if asynchronous is not None:
            return AsyncEndpointAutoScaling(
                self,
                "AsyncAutoScaling",
                endpoint=self.endpoint,
                limits=_limits(asynchronous, asynchronous.min_instances, asynchronous.max_instances),
                backlog_per_instance=asynchronous.backlog_per_instance,
            )
        if scaling is None:
            return None
        return EndpointAutoScaling(
            self,
            "AutoScaling",
            endpoint=self.endpoint,
            limits=_limits(scaling, scaling.min_capacity, scaling.max_capacity),
            **_invocations_target(scaling),
            schedules=[
                ScheduledCapacity(s.name, s.schedule, s.min_capacity, s.max_capacity) for s in scaling.schedules
            ],
            variant_name=variant,
        )


def _async_environment(settings: EndpointSettings) -> dict[str, str]:
    """An asynchronous endpoint's container accepts bodies up to `max_payload_mb` (it lowers that to its memory)."""
    if settings.asynchronous is None:
        return {}
    return {CONTAINER.environment.max_payload_mb: str(settings.asynchronous.max_payload_mb)}


def _variants(settings: EndpointSettings) -> list[InstanceVariant] | ServerlessVariant | ManagedVariant:
    component = settings.inference_component
    if component is not None:
        return ManagedVariant(
            component.instance_type, component.min_instances, component.max_instances, component.routing_strategy
        )
    if settings.serverless is not None:
        return ServerlessVariant(settings.serverless.memory_size_mb, settings.serverless.max_concurrency)
    return [InstanceVariant(v.instance_type, v.initial_instance_count, v.name, v.weight) for v in settings.variants]


_MODES: dict[str, Literal["CANARY", "LINEAR", "ALL_AT_ONCE"]] = {
    "canary": "CANARY",
    "linear": "LINEAR",
    "all_at_once": "ALL_AT_ONCE",
}
_STEP_TYPES: dict[str, Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]] = {
    "instance_count": "INSTANCE_COUNT",
    "capacity_percent": "CAPACITY_PERCENT",
}


def _traffic_shifting(deployment: DeploymentSettings | None) -> TrafficShifting | None:
    if deployment is None:
        return None
    return TrafficShifting(
        mode=_MODES[deployment.strategy],
        step_type=_STEP_TYPES[deployment.step_type],
        step_value=deployment.step_value,
        wait_interval=cdk.Duration.seconds(deployment.wait_interval_seconds),
        termination_wait=cdk.Duration.seconds(deployment.termination_wait_seconds),
        maximum_execution_timeout=cdk.Duration.seconds(deployment.maximum_execution_timeout_seconds),
    )


class _ScalingSettings(Protocol):
    @property
    def scale_in_cooldown_seconds(self) -> int: ...

    @property
    def scale_out_cooldown_seconds(self) -> int: ...


class _InvocationsScalingSettings(_ScalingSettings, Protocol):
    @property
    def max_requests_per_second(self) -> float: ...

    @property
    def safety_factor(self) -> float: ...


class _InvocationsTarget(TypedDict):
    max_requests_per_second: float
    safety_factor: float


def _limits(settings: _ScalingSettings, min_capacity: int, max_capacity: int) -> ScalingLimits:
    """A hosting mode's range (each mode's settings name it their own way: instances, copies) with its cooldowns."""
    return ScalingLimits(
        min_capacity,
        max_capacity,
        scale_in_cooldown=cdk.Duration.seconds(settings.scale_in_cooldown_seconds),
        scale_out_cooldown=cdk.Duration.seconds(settings.scale_out_cooldown_seconds),
    )


def _invocations_target(settings: _InvocationsScalingSettings) -> _InvocationsTarget:
    """What instance variants and inference components alike scale on: the requests per second one instance or copy
    sustained in a load test, and the headroom kept."""
    return {"max_requests_per_second": settings.max_requests_per_second, "safety_factor": settings.safety_factor}


def _seconds(value: int | None) -> cdk.Duration | None:
    return None if value is None else cdk.Duration.seconds(value)


def _minutes(value: int | None) -> cdk.Duration | None:
    return None if value is None else cdk.Duration.minutes(value)


def _fixed_capacity(endpoint: RealtimeEndpoint, variant_name: str) -> tuple[int, int] | None:
    """Without autoscaling, an instance variant runs exactly its initial count; serverless has none."""
    count = next((v.initial_instance_count for v in endpoint.instance_variants if v.name == variant_name), None)
    return None if count is None else (count, count)
