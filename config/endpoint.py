"""The `[environments.<env>.endpoint]` section: variants, serverless or an inference component, autoscaling,
deployment, VPC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from config.async_inference import (
    ASYNC_AUTOSCALE_DOC,
    ASYNC_INVOKE_DOC,
    ASYNC_MONITOR_DOC,
    DATA_CAPTURE_DOC,
    SERVERLESS_EXCLUSIONS_DOC,
    AsyncInferenceSettings,
)
from config.aws_catalog import model_package_version_digits, sagemaker_range
from config.contract import (
    MAX_ENDPOINT_INSTANCES,
    MAX_REALTIME_INVOCATION_SECONDS,
    SERVERLESS_MEMORY_STEP_MB,
)
from config.inference_component import (
    COMPONENT_AUTOSCALING_DOC,
    COMPONENT_DEPLOYMENT_REFERENCE,
    MODEL_MONITOR_GUIDE,
    InferenceComponentSettings,
)
from config.types import (
    EndpointInstanceType,
    _Frozen,
    _matching,
    _not_a_url,
    _sagemaker_bounds,
    _schedule,
)

# A version number as CreateModel's ModelPackageName (botocore's VersionedArnOrName) accepts it: 1-9 digits.
VERSION_NUMBER = rf"[1-9][0-9]{{0,{model_package_version_digits() - 1}}}"
# A version of a model package group: `<group>/<version>`, or its ARN. CreateModel's ModelPackageName takes a
# versioned package by ARN only (a name is 1-63 letters, digits and '-'), so the app spells the ARN itself.
_PACKAGE_ARN_PREFIX = (
    r"arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):model-package/"
)
_PACKAGE_PIN = re.compile(
    rf"(?:{_PACKAGE_ARN_PREFIX})?(?P<group>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){{0,62}})/(?P<version>{VERSION_NUMBER})"
)
ModelPackagePin = Annotated[
    str,
    _matching(
        _PACKAGE_PIN.pattern,
        "a model package version: <group>/<version> (e.g. sagemaker-gbdt-prod/3) or its ARN "
        f"(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>), the version 1 to "
        f"{model_package_version_digits()} digits",
    ),
]


@dataclass(frozen=True)
class PackageVersion:
    """A parsed `endpoint.model_package` pin: the group, the version and, for an ARN, its place (partition, region
    and account)."""

    group: str
    version: int
    region: str | None = None
    account: str | None = None
    partition: str | None = None

    @classmethod
    def parse(cls, pin: str) -> PackageVersion:
        match = _PACKAGE_PIN.fullmatch(pin)
        if match is None:
            raise ValueError(f"not a model package version: {pin!r}")
        return cls(match["group"], int(match["version"]), match["region"], match["account"], match["partition"])

    @property
    def name(self) -> str:
        """`<group>/<version>`: how sagemaker_ops and the pin name it."""
        return f"{self.group}/{self.version}"

    def arn(self, *, partition: str, region: str, account: str) -> str:
        """The version's ARN in `account`'s group of this name: how CreateModel's ModelPackageName takes it."""
        return f"arn:{partition}:sagemaker:{region}:{account}:model-package/{self.group}/{self.version}"

    def differences(self, *, partition: str, region: str, account: str | None) -> list[str]:
        """How an ARN's place differs from the given one (`account` None: not known).

        E.g. `['account 999999999999 (not 123456789012)']`; empty for a pin by name, which has no place.
        """
        expected = {"partition": partition, "region": region, "account": account}
        return [
            f"{what} {getattr(self, what)} (not {value})"
            for what, value in expected.items()
            if getattr(self, what) is not None and value is not None and getattr(self, what) != value
        ]


class VariantSettings(_Frozen):
    """One production variant on instances: SageMaker spreads two or more across Availability Zones."""

    name: Annotated[str, _matching(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "1-63 letters, digits or '-'")] = "primary"
    instance_type: EndpointInstanceType
    initial_instance_count: int = Field(ge=1)
    weight: float = Field(default=1.0, gt=0)


class ServerlessSettings(_Frozen):
    """A serverless variant: pay per request, cold starts, no instances to manage."""

    memory_size_mb: Annotated[int, _sagemaker_bounds("ProductionVariantServerlessConfig", "MemorySizeInMB", " MB")]
    max_concurrency: Annotated[int, _sagemaker_bounds("ProductionVariantServerlessConfig", "MaxConcurrency")]

    @model_validator(mode="after")
    def _memory_in_steps(self) -> ServerlessSettings:
        if self.memory_size_mb % SERVERLESS_MEMORY_STEP_MB:
            low, high = sagemaker_range("ProductionVariantServerlessConfig", "MemorySizeInMB")
            offered = ", ".join(str(m) for m in range(low, high + 1, SERVERLESS_MEMORY_STEP_MB))
            raise ValueError(f"memory_size_mb must be one of {offered} (got {self.memory_size_mb})")
        return self


class ScheduleSettings(_Frozen):
    """A scheduled change of the autoscaling range, e.g. a larger floor during business hours."""

    name: Annotated[str, _matching(r"[A-Za-z][A-Za-z0-9]{0,63}", "a name of letters and digits")]
    schedule: Annotated[str, _schedule(allow_at=True)]
    min_capacity: int = Field(ge=1)
    max_capacity: int = Field(ge=1)


class AutoScalingSettings(_Frozen):
    """Target tracking on invocations per instance, between min_capacity and max_capacity.

    The target is computed from what a load test measured (EndpointAutoScaling): the highest
    requests/s one instance sustained x safety_factor x 60.
    """

    min_capacity: int = Field(ge=1)
    max_capacity: int = Field(ge=1)
    max_requests_per_second: float = Field(gt=0)
    safety_factor: float = Field(default=0.5, gt=0, le=1)
    scale_in_cooldown_seconds: int = Field(default=300, ge=0)
    scale_out_cooldown_seconds: int = Field(default=60, ge=0)
    schedules: tuple[ScheduleSettings, ...] = ()

    @model_validator(mode="after")
    def _min_not_above_max(self) -> AutoScalingSettings:
        if problems := self._inverted_ranges(("min_capacity", "max_capacity")):
            raise ValueError("; ".join(problems))
        return self


class DeploymentSettings(_Frozen):
    """How an endpoint update shifts traffic to the new fleet (it rolls back on the monitoring alarms)."""

    strategy: Literal["canary", "linear", "all_at_once"]
    step_type: Literal["instance_count", "capacity_percent"] = "instance_count"
    step_value: int = Field(default=1, ge=1)
    wait_interval_seconds: Annotated[int, _sagemaker_bounds("TrafficRoutingConfig", "WaitIntervalInSeconds", " s")] = (
        300
    )
    termination_wait_seconds: Annotated[
        int, _sagemaker_bounds("BlueGreenUpdatePolicy", "TerminationWaitInSeconds", " s")
    ] = 300
    maximum_execution_timeout_seconds: Annotated[
        int, _sagemaker_bounds("BlueGreenUpdatePolicy", "MaximumExecutionTimeoutInSeconds", " s")
    ] = 3600


class VpcSettings(_Frozen):
    """Private subnets and security groups of an existing VPC for the model's containers."""

    subnet_ids: tuple[Annotated[str, _matching(r"subnet-[0-9a-f]{8,17}", "a subnet id")], ...] = Field(min_length=1)
    security_group_ids: tuple[Annotated[str, _matching(r"sg-[0-9a-f]{8,17}", "a security group id")], ...] = Field(
        min_length=1
    )


@dataclass(frozen=True)
class Refusal:
    """An endpoint setting a hosting mode cannot keep: why, and the AWS page that says so."""

    setting: str
    why: str
    doc: str


# Each hosting mode (the EndpointSettings field that chooses it) -> the endpoint settings it refuses when they are
# set, i.e. not left at their default.
REFUSED_BY_MODE: dict[str, tuple[Refusal, ...]] = {
    "inference_component": (
        Refusal(
            "autoscaling",
            "it sizes instance variants; an inference component scales its copies with "
            "inference_component.min_copies/max_copies/max_requests_per_second instead",
            COMPONENT_AUTOSCALING_DOC,
        ),
        Refusal(
            "deployment",
            "blue/green canary or linear shifting of the endpoint does not apply to an inference component, whose "
            "model changes by UpdateInferenceComponent's rolling update; host on variants to shift traffic",
            COMPONENT_DEPLOYMENT_REFERENCE,
        ),
        Refusal(
            "data_capture_percentage",
            "Model Monitor, which reads the captured data, supports endpoints that host a single model; host on "
            "variants to capture data and monitor drift",
            MODEL_MONITOR_GUIDE,
        ),
    ),
    "asynchronous": (
        Refusal(
            "autoscaling",
            "it follows real-time traffic; an asynchronous endpoint scales on its backlog between "
            "asynchronous.min_instances and max_instances",
            ASYNC_AUTOSCALE_DOC,
        ),
        Refusal(
            "deployment",
            "canary or linear shifting needs rollback alarms on invocations, which an asynchronous endpoint does not "
            "publish, and a fleet to split, which scales to zero",
            ASYNC_MONITOR_DOC,
        ),
        Refusal(
            "data_capture_percentage",
            "SageMaker captures data from real-time endpoints and batch transform, and the drift monitor reads "
            "real-time capture records only",
            DATA_CAPTURE_DOC,
        ),
        Refusal(
            "server_timeout_seconds",
            "an asynchronous request's deadline is asynchronous.invocation_timeout_seconds, both the container's and "
            "the InvocationTimeoutSeconds each request sends",
            ASYNC_INVOKE_DOC,
        ),
    ),
}


class EndpointSettings(_Frozen):
    """The real-time endpoint: which model it serves, on what, and how it changes."""

    model_artifact_key: (
        Annotated[
            str,
            AfterValidator(_not_a_url),
            _matching(r"[^/\s][^\s]*\.tar\.gz", "an object key in the artifacts bucket ending in .tar.gz"),
        ]
        | None
    ) = None
    # The approved version of the environment's model package group the endpoint serves (staging and prod).
    model_package: ModelPackagePin | None = None
    variants: tuple[VariantSettings, ...] = ()
    serverless: ServerlessSettings | None = None
    inference_component: InferenceComponentSettings | None = None
    # With `variants`: the endpoint answers InvokeEndpointAsync only (config/async_inference.py).
    asynchronous: AsyncInferenceSettings | None = None
    autoscaling: AutoScalingSettings | None = None
    deployment: DeploymentSettings | None = None
    data_capture_percentage: int = Field(default=0, ge=0, le=100)
    container_startup_health_check_timeout_seconds: (
        Annotated[int, _sagemaker_bounds("ProductionVariant", "ContainerStartupHealthCheckTimeoutInSeconds", " s")]
        | None
    ) = None
    model_data_download_timeout_seconds: (
        Annotated[int, _sagemaker_bounds("ProductionVariant", "ModelDataDownloadTimeoutInSeconds", " s")] | None
    ) = None
    server_workers: int | None = Field(default=None, ge=1)
    server_timeout_seconds: int = Field(
        default=MAX_REALTIME_INVOCATION_SECONDS, ge=1, le=MAX_REALTIME_INVOCATION_SECONDS
    )
    network_isolation: bool = False
    vpc: VpcSettings | None = None

    @model_validator(mode="after")
    def _one_model(self) -> EndpointSettings:
        if self.model_artifact_key is not None and self.model_package is not None:
            raise ValueError(
                "give model_package (an approved version of the model registry) or model_artifact_key, not both"
            )
        return self

    @property
    def pinned(self) -> bool:
        """Whether a model is pinned: the environment has an endpoint."""
        return self.model_artifact_key is not None or self.model_package is not None

    @property
    def container_timeout_seconds(self) -> int:
        """SAGEMAKER_MODEL_SERVER_TIMEOUT: an asynchronous request's InvocationTimeoutSeconds, else real time's."""
        if self.asynchronous is not None:
            return self.asynchronous.invocation_timeout_seconds
        return self.server_timeout_seconds

    @property
    def package(self) -> PackageVersion | None:
        """The pinned model package version, parsed."""
        return None if self.model_package is None else PackageVersion.parse(self.model_package)

    @model_validator(mode="after")
    def _one_kind_of_capacity(self) -> EndpointSettings:
        if self.asynchronous is not None and self.inference_component is not None:
            # botocore's model of InvokeEndpointAsync has no InferenceComponentName (InvokeEndpoint has).
            raise ValueError(
                "asynchronous needs variants (instances), not inference_component: InvokeEndpointAsync cannot name "
                "an inference component, and an asynchronous endpoint serves its one variant's model"
            )
        if self.asynchronous is not None and self.serverless is not None:
            raise ValueError(f"asynchronous needs variants (instances), not serverless: {SERVERLESS_EXCLUSIONS_DOC}")
        modes = {
            "variants (instances)": bool(self.variants) and self.asynchronous is None,
            "serverless": self.serverless is not None,
            "inference_component": self.inference_component is not None,
            # Without variants, _mode_keeps_what_it_can says what it lacks.
            "variants + asynchronous": self.asynchronous is not None,
        }
        if sum(modes.values()) != 1:
            given = ", ".join(mode for mode, on in modes.items() if on) or "none"
            raise ValueError(f"give exactly one of {', '.join(modes)} (given: {given})")
        return self

    @model_validator(mode="after")
    def _mode_keeps_what_it_can(self) -> EndpointSettings:
        problems = [] if self.asynchronous is None else self._asynchronous_fleet_problems(self.asynchronous)
        for mode, refusals in REFUSED_BY_MODE.items():
            if getattr(self, mode) is not None:
                problems += [problem for refusal in refusals if (problem := self._refused(mode, refusal))]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _refused(self, mode: str, refusal: Refusal) -> str | None:
        """What is wrong when `refusal.setting` is set (not its default) with hosting `mode`; None when it is not."""
        unset = type(self).model_fields[refusal.setting].default
        if getattr(self, refusal.setting) == unset:
            return None
        must = "must not be set" if unset is None else f"must be {unset}"
        return f"{refusal.setting} {must} with {mode}: {refusal.why} ({refusal.doc})"

    def _asynchronous_fleet_problems(self, asynchronous: AsyncInferenceSettings) -> list[str]:
        if len(self.variants) != 1:
            return [f"asynchronous serves one variant (its backlog is the endpoint's), got {len(self.variants)}"]
        if self.variants[0].initial_instance_count > asynchronous.max_instances:
            return [
                f"variants.0.initial_instance_count ({self.variants[0].initial_instance_count}) must not exceed "
                f"asynchronous.max_instances ({asynchronous.max_instances})"
            ]
        return []

    @model_validator(mode="after")
    def _fleet_within_ceiling(self) -> EndpointSettings:
        fleets = {f"variants.{i}.initial_instance_count": v.initial_instance_count for i, v in enumerate(self.variants)}
        if self.inference_component is not None:
            fleets["inference_component.max_instances"] = self.inference_component.max_instances
        if self.autoscaling is not None:
            fleets["autoscaling.max_capacity"] = self.autoscaling.max_capacity
            for i, schedule in enumerate(self.autoscaling.schedules):
                fleets[f"autoscaling.schedules.{i}.max_capacity"] = schedule.max_capacity
        too_large = [f"{field} ({count})" for field, count in fleets.items() if count > MAX_ENDPOINT_INSTANCES]
        if too_large:
            raise ValueError(
                f"{', '.join(too_large)} must not exceed {MAX_ENDPOINT_INSTANCES} instances "
                "(config/contract.py MAX_ENDPOINT_INSTANCES; SageMaker's quotas are usually far lower)"
            )
        return self
