"""The model hosted as an inference component of an endpoint with managed instance scaling."""

from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.aws_catalog import sagemaker_minimum, sagemaker_range
from config.contract import component_log_group_name
from sagemaker_constructs.endpoint_config import NAME, check_duration, check_realtime_server_timeout, whole_seconds
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.model import SageMakerModel
from sagemaker_constructs.realtime_endpoint import (
    COMPONENT_DIMENSION,
    INVOCATION_NAMESPACE,
    MINUTE,
    MetricOptions,
    RealtimeEndpoint,
)
from sagemaker_constructs.validation import raise_if_any

_COMPUTE = "InferenceComponentComputeResourceRequirements"
_STARTUP = "InferenceComponentStartupParameters"


class InferenceComponent(Construct):
    """A `CfnInferenceComponent` (CDK has only the L1) serving `model` on `endpoint`'s managed variant.

    Each copy reserves `cpu_cores` and `memory_mb` of an instance; the component starts with `initial_copies`
    (Application Auto Scaling owns the count afterwards: `ComponentAutoScaling`). A new model pin changes the
    component's `Specification.ModelName`, which CloudFormation applies with UpdateInferenceComponent in place.
    Callers name the component (`InvokeEndpoint`'s `InferenceComponentName`), so it has the physical name
    `component_name`; the endpoint's metrics become the component's (`RealtimeEndpoint.host_component`).

    :param initial_copies: @default 1 (an endpoint scaling to zero still starts with one copy on its first instance).
    :param logs: create the component's log group `/aws/sagemaker/InferenceComponents/<name>` (its containers log
        there, not to the endpoint's) with these key, retention and removal policy, before the component.
        @default none: SageMaker creates it on first start, unencrypted and kept forever.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: RealtimeEndpoint,
        model: SageMakerModel,
        component_name: str,
        cpu_cores: float,
        memory_mb: int,
        initial_copies: int = 1,
        container_startup_health_check_timeout: cdk.Duration | None = None,
        model_data_download_timeout: cdk.Duration | None = None,
        logs: LogSettings | None = None,
    ) -> None:
        super().__init__(scope, id_)
        errors: list[str] = []
        if endpoint.managed_variant is None:
            errors.append("endpoint must have a ManagedVariant: only managed instance scaling hosts components")
        if not NAME.fullmatch(component_name):
            errors.append(f"component_name must be 1-63 letters, digits or '-', got {component_name!r}")
        low_cpu = sagemaker_minimum(_COMPUTE, "NumberOfCpuCoresRequired")
        low_memory = sagemaker_minimum(_COMPUTE, "MinMemoryRequiredInMb")
        if cpu_cores < low_cpu:
            errors.append(f"cpu_cores must be at least {low_cpu:g} (SageMaker's {_COMPUTE}), got {cpu_cores:g}")
        if memory_mb < low_memory:
            errors.append(f"memory_mb must be at least {low_memory:g} (SageMaker's {_COMPUTE}), got {memory_mb}")
        if initial_copies < 0:
            errors.append(f"initial_copies must be at least 0, got {initial_copies}")
        # As RealtimeEndpoint checks its variants' (else CreateInferenceComponent refuses them at deployment), against
        # the API's bounds for the component's own StartupParameters.
        for field, timeout, member in (
            (
                "container_startup_health_check_timeout",
                container_startup_health_check_timeout,
                "ContainerStartupHealthCheckTimeoutInSeconds",
            ),
            ("model_data_download_timeout", model_data_download_timeout, "ModelDataDownloadTimeoutInSeconds"),
        ):
            check_duration(field, timeout, sagemaker_range(_STARTUP, member), errors)
        check_realtime_server_timeout("model's server_timeout", model.server_timeout_seconds, errors)
        raise_if_any(self, errors)
        self.endpoint = endpoint
        self.component_name = component_name
        startup = {
            "container_startup_health_check_timeout_in_seconds": whole_seconds(container_startup_health_check_timeout),
            "model_data_download_timeout_in_seconds": whole_seconds(model_data_download_timeout),
        }
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "Component",
            inference_component_name=component_name,
            endpoint_name=endpoint.endpoint.attr_endpoint_name,
            variant_name=endpoint.variant_names[0],
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model.model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_cpu_cores_required=cpu_cores, min_memory_required_in_mb=memory_mb
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    **startup
                )
                if any(startup.values())
                else None,
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=initial_copies
            ),
        )
        endpoint.host_component(component_name)
        self.log_group: aws_logs.CfnLogGroup | None = None
        if logs is not None:
            self.log_group = logs.log_group(self, "Logs", name=self.log_group_name)
            self.component.add_resource_dependency(self.log_group)

    @property
    def log_group_name(self) -> str:
        """Where SageMaker writes the component's containers' output: /aws/sagemaker/InferenceComponents/<name>."""
        return component_log_group_name(self.component_name)

    @property
    def resource_id(self) -> str:
        """Application Auto Scaling's id of the component: `inference-component/<name>`."""
        return f"inference-component/{self.component_name}"

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """`metric_name` of AWS/SageMaker for this component; `options` override the defaults (Sum per minute)."""
        return cloudwatch.Metric(
            namespace=INVOCATION_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={COMPONENT_DIMENSION: self.component_name},
            statistic=options.get("statistic", "Sum"),
            period=options.get("period", MINUTE),
            label=options.get("label"),
            unit=options.get("unit"),
            color=options.get("color"),
        )

    def metric_invocations_per_copy(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Requests per copy, what the copy count tracks. @default Sum per minute."""
        return self.metric("InvocationsPerCopy", **options)

    def metric_no_capacity_invocation_failures(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Requests refused because no copy was running (the first ones after a scale to zero). @default Sum."""
        return self.metric("NoCapacityInvocationFailures", **options)
