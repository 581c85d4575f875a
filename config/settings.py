"""Typed, validated settings of every environment, loaded once at the edge of the app.

`load_config()` reads `environments.toml` next to this file (or a given path), validates it with
pydantic and returns frozen objects. Everything below `app.py` takes these plain typed values;
nothing else reads files, context or environment variables.
"""

from __future__ import annotations

import math
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from config.algorithm import load_algorithm
from config.aws_catalog import did_you_mean, regions, sagemaker_enum, sagemaker_range
from config.contract import (
    MAX_ENDPOINT_INSTANCES,
    MAX_JOB_INSTANCE_COUNT,
    MAX_JOB_SECONDS,
    MAX_REALTIME_INVOCATION_SECONDS,
    MAX_TRAINING_VOLUME_GB,
    MAX_TRANSFORM_PAYLOAD_MB,
    SERVERLESS_MEMORY_STEP_MB,
    spot_wait_problem,
    transform_payload_problem,
)
from config.hyperparameters import load_schema
from config.schedule_expressions import schedule_problem
from config.tuning import TuningSettings, tuning_problems

DEFAULT_CONFIG_FILE = Path(__file__).with_name("environments.toml")

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _matching(pattern: str, what: str) -> AfterValidator:
    """A validator that accepts strings matching `pattern` and otherwise says what is expected."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _schedule(*, allow_at: bool = False) -> AfterValidator:
    """A validator that accepts the schedule expressions EventBridge (allow_at: Application Auto Scaling) accepts."""

    what = "rate(<n> minute(s), hour(s) or day(s)) or cron(<6 fields>) as EventBridge reads them" + (
        ", or at(yyyy-mm-ddThh:mm:ss)" if allow_at else ""
    )

    def check(value: str) -> str:
        problem = schedule_problem(value, allow_at=allow_at)
        if problem:
            raise ValueError(problem if problem.startswith("must be") else f"{problem}; must be {what}")
        return value

    return AfterValidator(check)


def _not_a_url(value: str) -> str:
    if "://" in value or value.lower().startswith("s3:"):
        raise ValueError(
            "must be an object key in the artifacts bucket, not a URL: write e.g. models/<name>/model.tar.gz "
            "and the app adds s3://<this environment's artifacts bucket>/"
        )
    return value


# SageMaker instance types look like ml.<family>.<size>: ml.m5.large, ml.g5.2xlarge, ml.t3.medium.
InstanceType = Annotated[
    str,
    _matching(
        r"ml\.[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)",
        "a SageMaker instance type such as ml.m5.large, ml.c5.2xlarge or ml.t3.medium",
    ),
]


def _offered_by_sagemaker(shape: str, what: str) -> AfterValidator:
    """A validator that accepts the values of the SageMaker API's enum `shape` (botocore's service model)."""

    def check(value: str) -> str:
        offered = sagemaker_enum(shape)
        if value not in offered:
            raise ValueError(
                f"not an instance type SageMaker offers for {what} ({shape} in botocore's SageMaker model)"
                + did_you_mean(value, offered)
            )
        return value

    return AfterValidator(check)


def _sagemaker_bounds(shape: str, member: str, unit: str = "") -> AfterValidator:
    """A validator that accepts what the SageMaker API documents as `shape.member`'s min and max."""

    def check(value: int) -> int:
        low, high = sagemaker_range(shape, member)
        if not low <= value <= high:
            raise ValueError(f"must be {low}-{high}{unit} (SageMaker's {shape}.{member})")
        return value

    return AfterValidator(check)


def _known_region(value: str) -> str:
    known = regions()
    if value not in known:
        raise ValueError(f"not a region of any AWS partition in botocore's data{did_you_mean(value, known)}")
    return value


TrainingInstanceType = Annotated[InstanceType, _offered_by_sagemaker("TrainingInstanceType", "training jobs")]
TransformInstanceType = Annotated[InstanceType, _offered_by_sagemaker("TransformInstanceType", "transform jobs")]
EndpointInstanceType = Annotated[
    InstanceType, _offered_by_sagemaker("ProductionVariantInstanceType", "endpoint variants")
]
NotebookInstanceType = Annotated[InstanceType, _offered_by_sagemaker("InstanceType", "notebook instances")]
ProcessingInstanceType = Annotated[InstanceType, _offered_by_sagemaker("ProcessingInstanceType", "processing jobs")]
AccountId = Annotated[str, _matching(r"[0-9]{12}", "a 12-digit AWS account id")]
Region = Annotated[
    str,
    _matching(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]", "an AWS region such as us-east-1"),
    AfterValidator(_known_region),
]
Email = Annotated[str, _matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")]
AppName = Annotated[
    str,
    _matching(r"[a-z][a-z0-9-]{1,30}[a-z0-9]", "3-32 lowercase letters, digits or '-', starting with a letter"),
]


class EnvironmentName(StrEnum):
    """The environments this app knows, in promotion order."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"

    @property
    def stage_id(self) -> str:
        """The CDK Stage id, the prefix of every stack's name (`Dev`, `Staging`, `Prod`)."""
        return self.value.capitalize()


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or breaks a rule; the message says which."""


class _Frozen(BaseModel):
    # No NaN or infinity anywhere: they pass every comparison check and break the template's JSON.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


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


class EvaluationSettings(_Frozen):
    """A quality gate after training: the job's final `metric` must reach `threshold`."""

    metric: Annotated[
        str, _matching(r"[A-Za-z0-9_:.-]{1,255}", "a metric name of the training job, e.g. validation:auc")
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
        return _container_accepts(values)

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


class TransformSettings(JobCompute):
    """Defaults of the batch transform step (the container answers the same in /execution-parameters)."""

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
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) must not exceed max_capacity ({self.max_capacity})")
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


# TrainingSettings names VpcSettings before it is defined: resolve it now, for the configuration reference too.
TrainingSettings.model_rebuild()


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
    variants: tuple[VariantSettings, ...] = ()
    serverless: ServerlessSettings | None = None
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
    def _one_kind_of_capacity(self) -> EndpointSettings:
        if bool(self.variants) == (self.serverless is not None):
            raise ValueError("give either variants (instances) or serverless, not both and not neither")
        return self

    @model_validator(mode="after")
    def _fleet_within_ceiling(self) -> EndpointSettings:
        fleets = {f"variants.{i}.initial_instance_count": v.initial_instance_count for i, v in enumerate(self.variants)}
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


# Histogram bins per feature of the container's drift baseline (its nine deciles as edges); a test pins it.
DRIFT_BINS = 10
# A threshold must stand this many times above the PSI that sampling alone gives at min_rows (docs/drift.md).
DRIFT_NOISE_MARGIN = 3


def psi_noise(rows: int, baseline_rows: float = math.inf, bins: int = DRIFT_BINS) -> float:
    """The PSI two samples of one distribution show on average: about (bins - 1) x (1/rows + 1/baseline_rows)."""
    return (bins - 1) * (1 / rows + 1 / baseline_rows)


class DriftSettings(_Frozen):
    """Drift monitoring of the endpoint's captured requests against the model's baseline (docs/drift.md)."""

    # None: wherever the endpoint captures data (instance variants with data_capture_percentage > 0).
    enabled: bool | None = None
    # Each run analyses the hour (the day) just ended, in UTC, as SageMaker's capture folders are.
    frequency: Literal["hourly", "daily"] = "hourly"
    psi_threshold: float = Field(default=0.2, gt=0, le=10)
    # At 500 rows, same-distribution windows show a PSI of about 0.02 per feature (0.09 at 100 rows).
    min_rows: int = Field(default=500, ge=1, le=10_000_000)
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
        # Below this, windows of min_rows rows pass the threshold with no drift at all: a page every quiet hour.
        floor = DRIFT_NOISE_MARGIN * psi_noise(self.min_rows)
        if self.psi_threshold < floor:
            rows = math.ceil(DRIFT_NOISE_MARGIN * (DRIFT_BINS - 1) / self.psi_threshold)
            raise ValueError(
                f"psi_threshold ({self.psi_threshold:g}) must be at least {DRIFT_NOISE_MARGIN}x the PSI that sampling "
                f"alone gives at min_rows ({self.min_rows}) rows, (bins-1)/min_rows = {psi_noise(self.min_rows):.3g}: "
                f"raise psi_threshold to {floor:.3g} or min_rows to {rows}"
            )
        return self

    @model_validator(mode="after")
    def _retraining_needs_data(self) -> DriftSettings:
        if self.retrain_on_drift and self.retrain_data_prefix is None:
            raise ValueError("retrain_data_prefix is required with retrain_on_drift: the data the pipeline trains on")
        return self

    def active(self, endpoint: EndpointSettings) -> bool:
        """Whether drift is monitored for `endpoint`: enabled, or left unset where the endpoint captures data."""
        captures = endpoint.data_capture_percentage > 0 and endpoint.model_artifact_key is not None
        return captures if self.enabled is None else self.enabled


class EnvironmentConfig(_Frozen):
    """One environment's settings (see environments.toml for what each field means)."""

    name: EnvironmentName
    account: AccountId | None = None
    region: Region
    removal_policy: Literal["retain", "destroy"]
    log_retention_days: int
    noncurrent_version_expiration_days: int = Field(ge=1, le=3650)
    image_retention_count: int = Field(ge=1, le=1000)
    alarm_email: Email | None = None
    training: TrainingSettings
    transform: TransformSettings
    notebook: NotebookSettings = NotebookSettings()
    endpoint: EndpointSettings
    monitoring: MonitoringSettings = MonitoringSettings()
    # Hyperparameter tuning in the training pipeline (config/tuning.py, docs/tuning.md); none unless given.
    tuning: TuningSettings | None = None
    # Other environments deployed into this one's account, accepted knowingly (see _check_account_sharing).
    shared_account_with: tuple[EnvironmentName, ...] = ()
    drift: DriftSettings = DriftSettings()

    @model_validator(mode="after")
    def _check_rules(self) -> EnvironmentConfig:
        # Every broken rule at once, so that one edit fixes them all.
        problems = self._production_endpoint_problems() if self.name is EnvironmentName.PROD else []
        problems += self._rollback_window_problems()
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            problems.append(f"log_retention_days must be one of {allowed}; got {self.log_retention_days}")
        if self.name is not EnvironmentName.DEV and self.alarm_email is None:
            problems.append("alarm_email is required outside dev, so that alarms reach a person")
        if self.name is EnvironmentName.PROD and self.removal_policy != "retain":
            problems.append("removal_policy must be 'retain' in prod: its data must survive a stack deletion")
        if self.notebook.enabled and self.name is not EnvironmentName.DEV and not self.notebook.allow_outside_dev:
            problems.append(
                "notebook.enabled outside dev needs notebook.allow_outside_dev = true: exploration belongs in dev"
            )
        if self.name in self.shared_account_with:
            problems.append(f"shared_account_with names {self.name.value!r} itself")
        if self.drift.enabled and self.endpoint.data_capture_percentage == 0:
            problems.append(
                "drift.enabled needs endpoint.data_capture_percentage > 0: drift is measured on captured requests "
                "(a serverless endpoint captures none)"
            )
        if self.transform.schedule is not None:
            problems += [
                f"training.hyperparameters: {problem}: transform.schedule starts the pipeline with these alone"
                for problem in load_schema().problems(self.training.hyperparameters, complete=True)
            ]
        else:
            # Complete by themselves, they are what every run started without -p trains with: a broken rule fails it.
            problems += [
                f"training.hyperparameters: {problem}: a run started without -p values trains with these"
                for problem in load_schema().rule_problems(self.training.hyperparameters)
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _tuning_fits_training(self) -> EnvironmentConfig:
        problems = tuning_problems(self.tuning, self.training.hyperparameters) if self.tuning else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _production_endpoint_problems(self) -> list[str]:
        endpoint, problems = self.endpoint, []
        if any(v.initial_instance_count < 2 for v in endpoint.variants) or endpoint.serverless:
            problems.append("prod endpoint variants need initial_instance_count >= 2, spread across AZs")
        if endpoint.autoscaling is None or endpoint.autoscaling.min_capacity < 2:
            problems.append("prod endpoint needs autoscaling with min_capacity >= 2")
        if endpoint.deployment is None or endpoint.deployment.strategy == "all_at_once":
            problems.append("prod endpoint deployment must be canary or linear, with auto-rollback")
        if endpoint.data_capture_percentage == 0:
            problems.append("prod endpoint needs data_capture_percentage > 0")
        return problems

    def _rollback_window_problems(self) -> list[str]:
        deployment = self.endpoint.deployment
        evaluation = self.monitoring.evaluation_minutes * 60
        if deployment is not None and deployment.wait_interval_seconds < evaluation:
            return [
                f"endpoint.deployment.wait_interval_seconds ({deployment.wait_interval_seconds}) must be at least "
                f"monitoring.evaluation_minutes x 60 ({evaluation}): the rollback alarms need that long to fire"
            ]
        return []

    @property
    def retain_data(self) -> bool:
        """Whether buckets, the key and the image repository outlive the stack."""
        return self.removal_policy == "retain"


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


class AppConfig(_Frozen):
    """The whole app: its name and every environment, keyed by name."""

    app_name: AppName
    environments: dict[EnvironmentName, EnvironmentConfig]
    delivery: DeliverySettings | None = None

    def environment(self, name: str) -> EnvironmentConfig:
        """The settings of environment `name`, or a ConfigError listing the known ones."""
        try:
            return self.environments[EnvironmentName(name)]
        except (ValueError, KeyError):
            known = ", ".join(e.value for e in self.environments)
            raise ConfigError(f"unknown environment {name!r}; configured environments: {known}") from None


def load_config(path: Path = DEFAULT_CONFIG_FILE, *, default_account: str | None = None) -> AppConfig:
    """Read and validate the configuration file.

    `default_account` fills `account` where an environment leaves it out (app.py passes the
    CDK_DEFAULT_ACCOUNT of the credentials in use). Raises ConfigError naming the environment,
    the field and what is allowed.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read configuration file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read configuration file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse_config(raw, default_account=default_account)


def parse_config(raw: dict[str, Any], *, default_account: str | None = None) -> AppConfig:
    """Validate an already parsed configuration document (see load_config)."""
    unknown_sections = sorted(set(raw) - {"app", "environments", "delivery"})
    if unknown_sections:
        raise ConfigError(f"unknown section(s) {unknown_sections}; allowed: app, environments, delivery")
    environments = raw.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("no environments configured: add [environments.dev], [environments.staging] ...")
    allowed = ", ".join(e.value for e in EnvironmentName)
    problems: list[str] = []
    app_section = raw.get("app", {})
    app: AppSection | None = None
    try:
        app = AppSection.model_validate(app_section)
    except ValidationError as error:
        problems.append(_describe("[app]", error))
    parsed: dict[EnvironmentName, EnvironmentConfig] = {}
    for name, settings in environments.items():
        if name not in {e.value for e in EnvironmentName}:
            problems.append(f"unknown environment {name!r}; allowed: {allowed}")
            continue
        if not isinstance(settings, dict):
            problems.append(f"environment {name!r}: expected a table of settings")
            continue
        values = {"account": default_account, **settings, "name": name}
        if values["account"] is None:
            del values["account"]
        try:
            parsed[EnvironmentName(name)] = EnvironmentConfig.model_validate(values)
        except ValidationError as error:
            problems.append(_describe(f"environment {name!r}", error))
    if not problems:
        explicit = {name for name in parsed if environments[name.value].get("account") is not None}
        problems += _check_shared_log_groups(parsed) + _check_account_sharing(parsed, explicit)
    delivery: DeliverySettings | None = None
    try:
        delivery = DeliverySettings.model_validate(raw["delivery"]) if "delivery" in raw else None
    except ValidationError as error:
        problems.append(_describe("[delivery]", error))
    if problems or app is None:
        raise ConfigError("\n".join(problems))
    return AppConfig(app_name=app.name, environments=parsed, delivery=delivery)


def _check_shared_log_groups(environments: dict[EnvironmentName, EnvironmentConfig]) -> list[str]:
    """/aws/sagemaker/TrainingJobs and TransformJobs exist once per account and region."""
    owners: dict[tuple[str | None, str], EnvironmentName] = {}
    problems = []
    for name, settings in environments.items():
        if not settings.monitoring.manage_job_log_groups:
            continue
        place = (settings.account, settings.region)
        if place in owners:
            problems.append(
                f"environment {name.value!r}: monitoring.manage_job_log_groups: environment "
                f"{owners[place].value!r} already manages SageMaker's job log groups in the same account and "
                "region (an account left out counts as the same); set it in one environment per account and region"
            )
        owners[place] = name
    return problems


# What prod gives up when another environment lives in its account (docs/security.md).
SHARED_ACCOUNT_COST = (
    "in one account IAM cannot fully keep the other environments' roles (and the dev notebook) away from prod: "
    "whoever may write a log event may publish any embedded metric, so prod's alarms can be tripped or masked; "
    "account quotas (endpoint instances, training jobs) are shared, so a test can starve prod; and an "
    "administrator of the account administers prod. Separate accounts are the recommended setup (docs/security.md)"
)


def _check_account_sharing(
    environments: dict[EnvironmentName, EnvironmentConfig], explicit: set[EnvironmentName]
) -> list[str]:
    """Prod shares its account with another environment only where its settings say so.

    An account left out is the credentials' account at deploy time, so it may be prod's: it counts
    as shared. IAM is global, so a different region of the same account is no separation either. A
    declaration is stale only where the file itself gives both accounts (`explicit`): whoever deploys
    dev with dev's credentials must not be stopped by prod's declaration.
    """
    prod = environments.get(EnvironmentName.PROD)
    if prod is None:
        return []

    def may_share(name: EnvironmentName) -> bool:
        account = environments[name].account
        return account is None or prod.account is None or account == prod.account

    sharing = [name for name in environments if name is not EnvironmentName.PROD and may_share(name)]
    undeclared = [name.value for name in sharing if name not in prod.shared_account_with]
    stale = [
        name.value
        for name in prod.shared_account_with
        if name not in environments or ({name, EnvironmentName.PROD} <= explicit and name not in sharing)
    ]
    if all(environments[name].account and prod.account for name in sharing):
        account = f"account {prod.account}"
    else:
        account = "what may be the same account (one left out is the account `cdk deploy` runs with)"
    problems = []
    if undeclared:
        declared = ", ".join(f'"{name.value}"' for name in sharing)
        problems.append(
            f"environment 'prod': shared_account_with: {', '.join(undeclared)} deploy(s) into {account} as prod; "
            f"{SHARED_ACCOUNT_COST}. To accept this, set shared_account_with = [{declared}] in [environments.prod]; "
            "otherwise give each environment its own account"
        )
    if stale:
        problems.append(
            f"environment 'prod': shared_account_with: {', '.join(stale)} not in prod's account "
            f"({prod.account or 'left out'}) or not configured: remove it from the list"
        )
    return problems


def _describe(where: str, error: ValidationError) -> str:
    """One line per broken rule: where, which field, what is wrong and what was given."""
    lines = []
    for problem in error.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "(settings)"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        elif problem["type"] == "missing":
            message = "required field is missing"
        given = problem.get("input")
        scalar = isinstance(given, str | int | float | bool)
        quoted = problem["type"] in {"extra_forbidden", HYPERPARAMETER_ERROR}
        suffix = f" (got {given!r})" if scalar and not quoted else ""
        lines.append(f"{where}: {field}: {message}{suffix}")
    return "\n".join(lines)
