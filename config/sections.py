"""The sections of an environment other than the endpoint's (training, transform, notebook, monitoring,
drift), and the `[app]` and `[delivery]` tables."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.algorithm import load_algorithm
from config.contract import (
    MAX_JOB_INSTANCE_COUNT,
    MAX_JOB_SECONDS,
    MAX_TRAINING_VOLUME_GB,
    MAX_TRANSFORM_PAYLOAD_MB,
    spot_wait_problem,
    transform_payload_problem,
)
from config.drift import DEFAULT_MIN_ROWS, DEFAULT_PSI_THRESHOLD, MAX_MIN_ROWS, MAX_PSI_THRESHOLD, drift_problems
from config.endpoint import (
    EndpointSettings,
    VpcSettings,
)
from config.hyperparameters import load_schema
from config.registry_metadata import data_prefix_problem, metadata_problems
from config.types import (
    AppName,
    EnvironmentName,
    InstanceType,
    NotebookInstanceType,
    ProcessingInstanceType,
    TrainingInstanceType,
    TransformInstanceType,
    _Frozen,
    _matching,
    _schedule,
)


class JobCompute(_Frozen):
    """Instances of a training or batch transform job."""

    instance_type: InstanceType
    instance_count: int = Field(ge=1, le=MAX_JOB_INSTANCE_COUNT)


HyperparameterName = Annotated[str, _matching(r"[A-Za-z0-9_.:-]{1,256}", "1-256 letters, digits or _ . : -")]
# The error type of a hyperparameter the container's schema rejects (its message already quotes the value).
HYPERPARAMETER_ERROR = "hyperparameter"


def _container_accepts(values: dict[str, str]) -> dict[str, str]:
    """Each value as the container's schema (container/hyperparameters.json) would parse it, else one error per name."""
    schema = load_schema()
    errors = [
        InitErrorDetails(
            type=PydanticCustomError(HYPERPARAMETER_ERROR, "{problem}", {"problem": problem.removeprefix(f"{name} ")}),
            loc=(name,),
            input=value,
        )
        for name, value in values.items()
        for problem in schema.problems({name: value})
    ]
    if errors:
        raise ValidationError.from_exception_data("hyperparameters", errors)
    return values


def _recordable(data_prefix: str) -> str:
    """A prefix the pipeline trains on: the model package version records its data location in its metadata."""
    problem = data_prefix_problem(data_prefix)
    if problem:
        raise ValueError(problem)
    return data_prefix


class EvaluationSettings(_Frozen):
    """A quality gate after training: the job's final `metric` must reach `threshold`."""

    metric: Annotated[
        str,
        _matching(r"[A-Za-z0-9_:.-]{1,255}", "a metric name of the training job (container/algorithm.json names them)"),
    ]
    threshold: float
    higher_is_better: bool = True


class TrainingSettings(JobCompute):
    """Defaults of the training step; an execution's input may override instances and hyperparameters."""

    instance_type: TrainingInstanceType
    instance_count: int = Field(default=1, ge=1, le=MAX_JOB_INSTANCE_COUNT)
    volume_size_gb: int = Field(default=30, ge=1, le=MAX_TRAINING_VOLUME_GB)
    max_runtime_seconds: int = Field(default=86400, ge=1, le=MAX_JOB_SECONDS)
    use_spot: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1, le=MAX_JOB_SECONDS)
    input_mode: Literal["File", "FastFile"] = "File"
    # With instance_count > 1: ShardedByS3Key gives each instance a share of the train files (less to download
    # and hold); FullyReplicated copies every file to every instance, and the container keeps its own block of rows.
    train_data_distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    hyperparameters: dict[HyperparameterName, Annotated[str, Field(max_length=2500)]] = Field(default_factory=dict)
    evaluation: EvaluationSettings | None = None
    # No network for the training container (EnableNetworkIsolation); hosts of one job still reach each other.
    network_isolation: bool = False
    vpc: VpcSettings | None = None

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters_accepted(cls, values: dict[str, str]) -> dict[str, str]:
        # The container rejects a bad value when the job starts, minutes into every pipeline run: refuse it here.
        # Required names are not checked: an execution's input may give them (see EnvironmentConfig for schedules).
        _container_accepts(values)
        # Every model is registered with its hyperparameters as its version's metadata, which AWS limits.
        problems = metadata_problems(values)
        if problems:
            raise ValueError("; ".join(problems))
        return values

    @model_validator(mode="after")
    def _spot_needs_a_longer_wait(self) -> TrainingSettings:
        if self.use_spot and self.max_wait_seconds is None:
            raise ValueError("max_wait_seconds is required with use_spot: how long to wait for spot capacity in all")
        if self.use_spot and self.max_wait_seconds is not None:
            problem = spot_wait_problem(self.max_runtime_seconds, self.max_wait_seconds)
            if problem:
                raise ValueError(problem)
        if not self.use_spot and self.max_wait_seconds is not None:
            raise ValueError("max_wait_seconds applies to spot training only; set use_spot = true or remove it")
        return self

    @model_validator(mode="after")
    def _within_the_algorithms_capabilities(self) -> TrainingSettings:
        # What the algorithm cannot do would fail (or silently waste) every job: refuse it here.
        algorithm = load_algorithm()
        problems = []
        if self.instance_count > 1 and (lacks := algorithm.lacks("several_hosts")):
            problems.append(f"instance_count = {self.instance_count}: {lacks}; use instance_count = 1")
        if self.use_spot and (lacks := algorithm.lacks("checkpoints")):
            problems.append(f"use_spot: an interrupted spot job would start over, as {lacks}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BatchScheduleSettings(_Frozen):
    """Periodic batch scoring: start the pipeline on `expression` with these prefixes."""

    expression: Annotated[str, _schedule()]
    data_prefix: Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the data bucket (no leading '/')")]
    score_prefix: (
        Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the data bucket (no leading '/')")] | None
    ) = None
    output_prefix: Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the artifacts bucket")] = "scheduled"
    enabled: bool = True

    @field_validator("data_prefix")
    @classmethod
    def _data_prefix_recordable(cls, value: str) -> str:
        return _recordable(value)


class TransformSettings(JobCompute):
    """Defaults of the batch transform step (the container answers the same in /execution-parameters). It scores
    with the model the environment serves: its approved endpoint.model_package, else (dev) the model the run
    trained."""

    instance_type: TransformInstanceType
    max_payload_mb: int = Field(default=6, ge=1, le=MAX_TRANSFORM_PAYLOAD_MB)
    max_concurrent_transforms: int = Field(default=2, ge=1, le=MAX_TRANSFORM_PAYLOAD_MB)
    schedule: BatchScheduleSettings | None = None

    @model_validator(mode="after")
    def _payload_within_limit(self) -> TransformSettings:
        problem = transform_payload_problem(self.max_payload_mb, self.max_concurrent_transforms)
        if problem:
            raise ValueError(problem)
        return self


class NotebookSettings(_Frozen):
    """An optional SageMaker notebook instance for exploration, stopped when idle."""

    enabled: bool = False
    allow_outside_dev: bool = False
    instance_type: NotebookInstanceType = "ml.t3.medium"
    volume_size_gb: int = Field(default=20, ge=5, le=16384)
    idle_minutes: int = Field(default=60, ge=5, le=1440)
    vpc: VpcSettings | None = None

    @model_validator(mode="after")
    def _private(self) -> NotebookSettings:
        if self.enabled and self.vpc is None:
            raise ValueError("vpc is required when enabled: the notebook runs in a VPC without direct internet access")
        return self


class MonitoringSettings(_Frozen):
    """Alarm thresholds of the endpoint's operational alarms (see EndpointMonitoring)."""

    server_error_rate_percent: float = Field(default=1.0, gt=0, le=100)
    model_latency_p99_ms: int = Field(default=500, ge=1)
    container_error_rate_percent: float = Field(default=5.0, gt=0, le=100)
    cpu_utilization_percent: int = Field(default=80, ge=1)
    memory_utilization_percent: int = Field(default=85, ge=1, le=100)
    disk_utilization_percent: int = Field(default=80, ge=1, le=100)
    no_invocations_minutes: int | None = Field(default=None, ge=1, le=1440)
    evaluation_minutes: int = Field(default=5, ge=1, le=60)
    manage_job_log_groups: bool = False


class DriftSettings(_Frozen):
    """Drift monitoring of the endpoint's captured requests against the model's baseline (docs/drift.md)."""

    # None: wherever the endpoint captures data (instance variants with data_capture_percentage > 0).
    enabled: bool | None = None
    # Each run analyses the hour (the day) just ended, in UTC, as SageMaker's capture folders are.
    frequency: Literal["hourly", "daily"] = "hourly"
    # Defaults: the container's. Limits: config/drift.py's, which `drift_problems` (below, and in the
    # construct) applies; the bounds are repeated as Field bounds for the configuration reference.
    psi_threshold: float = Field(default=DEFAULT_PSI_THRESHOLD, gt=0, le=MAX_PSI_THRESHOLD)
    min_rows: int = Field(default=DEFAULT_MIN_ROWS, ge=1, le=MAX_MIN_ROWS)
    instance_type: ProcessingInstanceType = "ml.m5.large"
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)  # CreateProcessingJob's limit
    # How long after the window closes the run waits for SageMaker to write the window's last capture files.
    settle_minutes: int = Field(default=10, ge=0, le=60)
    retrain_on_drift: bool = False
    retrain_data_prefix: (
        Annotated[str, _matching(r"[^/\s][^\s]*[^/\s]|[^/\s]", "a key prefix in the data bucket (no '/' at the ends)")]
        | None
    ) = None

    @model_validator(mode="after")
    def _threshold_above_sampling_noise(self) -> DriftSettings:
        problems = drift_problems(self.psi_threshold, self.min_rows)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("retrain_data_prefix")
    @classmethod
    def _data_prefix_recordable(cls, value: str | None) -> str | None:
        return None if value is None else _recordable(value)

    @model_validator(mode="after")
    def _retraining_needs_data(self) -> DriftSettings:
        if self.retrain_on_drift and self.retrain_data_prefix is None:
            raise ValueError("retrain_data_prefix is required with retrain_on_drift: the data the pipeline trains on")
        return self

    def active(self, endpoint: EndpointSettings) -> bool:
        """Whether drift is monitored for `endpoint`: enabled, or left unset where the endpoint captures data."""
        captures = endpoint.data_capture_percentage > 0 and endpoint.pinned
        return captures if self.enabled is None else self.enabled


class RegistrySettings(_Frozen):
    """The environment's model package group `<app>-<env>` in the SageMaker Model Registry.

    The training pipeline registers every model that passes the quality gate as a version awaiting a person's
    approval; `auto_approve` (dev only, EnvironmentConfig refuses it elsewhere) registers it approved.
    """

    auto_approve: bool = False


class AppSection(_Frozen):
    """The `[app]` table."""

    name: AppName


# GitHub's rules: an owner (user or organization) is 1-39 letters, digits or single hyphens, not at
# either end; a repository name is 1-100 letters, digits, '.', '_' or '-', other than '.' and '..'.
GitHubOwner = Annotated[
    str,
    _matching(
        r"(?=.{1,39}\Z)[A-Za-z0-9](-?[A-Za-z0-9])*", "a GitHub user or organization: 1-39 letters, digits, single '-'"
    ),
]
GitHubRepository = Annotated[
    str,
    _matching(r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}", "a GitHub repository name: 1-100 letters, digits, '.', '_', '-'"),
]


# `cdk bootstrap --qualifier`: the bootstrap template allows 1-10 of [A-Za-z0-9_-], but the qualifier
# is part of the staging bucket's name, which S3 allows in lowercase letters, digits and '-' only.
BootstrapQualifier = Annotated[
    str, _matching(r"[a-z0-9-]{1,10}", "a cdk bootstrap qualifier: 1-10 lowercase letters, digits or '-'")
]


class DeliverySettings(_Frozen):
    """The GitHub repository whose workflows may deploy the app (DeploymentAccess stack, docs/delivery.md).

    Each environment's deployment role trusts only `repo:<github_owner>/<github_repository>:environment:<Stage>`.
    `bootstrap_qualifiers` gives environments sharing an account bootstrap roles of their own
    (`cdk bootstrap --qualifier`): that environment's stacks synthesize with it and its deployment
    role may assume only its roles. An environment left out uses cdk.json's qualifier (or CDK's default).
    """

    github_owner: GitHubOwner
    github_repository: GitHubRepository
    bootstrap_qualifiers: dict[EnvironmentName, BootstrapQualifier] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_qualifier_per_environment(self) -> DeliverySettings:
        by_qualifier: dict[str, list[str]] = {}
        for name, qualifier in self.bootstrap_qualifiers.items():
            by_qualifier.setdefault(qualifier, []).append(name.value)
        shared = {qualifier: names for qualifier, names in by_qualifier.items() if len(names) > 1}
        if shared:
            raise ValueError(
                f"bootstrap_qualifiers must differ per environment (one shared is no separation); shared: {shared}"
            )
        return self

    @property
    def repository(self) -> str:
        """`owner/repository`, as GitHub's OIDC token names it."""
        return f"{self.github_owner}/{self.github_repository}"
