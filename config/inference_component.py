"""The `[environments.<env>.endpoint.inference_component]` table: the model hosted as an inference component.

The endpoint's one variant lets SageMaker add and remove instances for the component's copies (managed instance
scaling); Application Auto Scaling sets the copy count from the invocations per copy. With `min_instances = 0` the
endpoint scales to zero when idle and back on the first request, after minutes of provisioning during which calls
fail (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from config.aws_catalog import sagemaker_minimum
from config.types import EndpointInstanceType, _Frozen

# What AWS documents for the features an endpoint of inference components cannot keep; the configuration's
# refusals cite them.
SCALE_TO_ZERO_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html"
# A model change of an inference component is an UpdateInferenceComponent, whose only strategy is a rolling update
# (RollingUpdatePolicy is required): the endpoint's blue/green canary and linear shifting do not apply.
COMPONENT_DEPLOYMENT_REFERENCE = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_InferenceComponentDeploymentConfig.html"
)
# Model Monitor (and the data capture it reads) supports endpoints that host a single model; an endpoint of
# inference components hosts models as components, and its capture records name no component.
MODEL_MONITOR_GUIDE = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor.html"
# Application Auto Scaling scales an endpoint variant's instances (sagemaker:variant:DesiredInstanceCount) and an
# inference component's copies (sagemaker:inference-component:DesiredCopyCount), each its own scalable target.
COMPONENT_AUTOSCALING_DOC = (
    "https://docs.aws.amazon.com/autoscaling/application/userguide/services-that-can-integrate-sagemaker.html"
)


def _at_least(shape: str, member: str, unit: str = "") -> AfterValidator:
    """A validator that accepts what the SageMaker API documents as `shape.member`'s minimum (it has no maximum)."""

    def check(value: float) -> float:
        low = sagemaker_minimum(shape, member)
        if value < low:
            raise ValueError(f"must be at least {low:g}{unit} (SageMaker's {shape}.{member})")
        return value

    return AfterValidator(check)


_COMPUTE = "InferenceComponentComputeResourceRequirements"


class InferenceComponentSettings(_Frozen):
    """The model as an inference component on `instance_type` instances SageMaker adds and removes.

    Copies: each reserves `cpu_cores_per_copy` and `memory_mb_per_copy` of an instance; Application Auto Scaling
    keeps `min_copies`..`max_copies` of them, tracking invocations per copy at `max_requests_per_second` (what one
    copy sustained in a load test) x `safety_factor` x 60, as for instance variants. `min_instances = 0` (with
    `min_copies = 0`) scales the endpoint to zero: target tracking removes the last copy after about 15 idle
    minutes plus `scale_in_cooldown_seconds`, SageMaker releases the empty instance, and the first request after
    that fails (NoCapacityInvocationFailures) and starts an instance, which takes minutes.
    """

    instance_type: EndpointInstanceType
    min_instances: int = Field(ge=0)
    max_instances: int = Field(ge=1)
    min_copies: int = Field(default=0, ge=0)
    max_copies: int = Field(ge=1)
    cpu_cores_per_copy: Annotated[float, _at_least(_COMPUTE, "NumberOfCpuCoresRequired", " cores")] = 1.0
    memory_mb_per_copy: Annotated[int, _at_least(_COMPUTE, "MinMemoryRequiredInMb", " MB")] = 1024
    max_requests_per_second: float = Field(gt=0)
    safety_factor: float = Field(default=0.5, gt=0, le=1)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0)
    routing_strategy: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"

    @model_validator(mode="after")
    def _ranges(self) -> InferenceComponentSettings:
        problems = self._inverted_ranges(("min_instances", "max_instances"), ("min_copies", "max_copies"))
        if self.min_instances == 0 and self.min_copies > 0:
            problems.append(
                f"min_copies ({self.min_copies}) keeps a copy, and so an instance, running: min_instances = 0 "
                f"scales to zero only with min_copies = 0 ({SCALE_TO_ZERO_GUIDE})"
            )
        if self.min_instances > 0 and self.min_copies == 0:
            problems.append(
                f"min_copies = 0 with min_instances = {self.min_instances} keeps instances running with no copy to "
                "serve: give min_copies >= 1, or min_instances = 0 to scale to zero"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def scales_to_zero(self) -> bool:
        return self.min_instances == 0
