"""Typed, validated settings of every environment, loaded once at the edge of the app.

`load_config()` reads `environments.toml` next to this file (or a given path), validates it with
pydantic and returns frozen objects. Everything below `app.py` takes these plain typed values;
nothing else reads files, context or environment variables.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

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


# SageMaker instance types look like ml.<family>.<size>: ml.m5.large, ml.g5.2xlarge, ml.t3.medium.
InstanceType = Annotated[
    str,
    _matching(
        r"ml\.[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)",
        "a SageMaker instance type such as ml.m5.large, ml.c5.2xlarge or ml.t3.medium",
    ),
]
AccountId = Annotated[str, _matching(r"[0-9]{12}", "a 12-digit AWS account id")]
Region = Annotated[str, _matching(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]", "an AWS region such as us-east-1")]
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
    model_config = ConfigDict(frozen=True, extra="forbid")


class JobCompute(_Frozen):
    """Instances of a training or batch transform job."""

    instance_type: InstanceType
    instance_count: int = Field(ge=1, le=100)


# CreateTrainingJob's limits: MaxRuntimeInSeconds and MaxWaitTimeInSeconds at most 28 days.
MAX_JOB_SECONDS = 28 * 24 * 3600
# CreateTransformJob: MaxPayloadInMB at most 100, and MaxConcurrentTransforms x MaxPayloadInMB too.
MAX_TRANSFORM_PAYLOAD_MB = 100
HyperparameterName = Annotated[str, _matching(r"[A-Za-z0-9_.:-]{1,256}", "1-256 letters, digits or _ . : -")]


class EvaluationSettings(_Frozen):
    """A quality gate after training: the job's final `metric` must reach `threshold`."""

    metric: Annotated[
        str, _matching(r"[A-Za-z0-9_:.-]{1,255}", "a metric name of the training job, e.g. validation:auc")
    ]
    threshold: float
    higher_is_better: bool = True


class TrainingSettings(JobCompute):
    """Defaults of the training step; an execution's input may override instances and hyperparameters."""

    instance_count: int = Field(default=1, ge=1, le=100)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=86400, ge=1, le=MAX_JOB_SECONDS)
    use_spot: bool = False
    max_wait_seconds: int | None = Field(default=None, ge=1, le=MAX_JOB_SECONDS)
    input_mode: Literal["File", "FastFile"] = "File"
    # With instance_count > 1: ShardedByS3Key gives each instance a share of the train files (less to download
    # and hold); FullyReplicated copies every file to every instance, and the container keeps its own block of rows.
    train_data_distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    hyperparameters: dict[HyperparameterName, Annotated[str, Field(max_length=2500)]] = Field(default_factory=dict)
    evaluation: EvaluationSettings | None = None

    @model_validator(mode="after")
    def _spot_needs_a_longer_wait(self) -> TrainingSettings:
        if self.use_spot and self.max_wait_seconds is None:
            raise ValueError("max_wait_seconds is required with use_spot: how long to wait for spot capacity in all")
        if self.use_spot and self.max_wait_seconds is not None and self.max_wait_seconds <= self.max_runtime_seconds:
            raise ValueError(
                f"max_wait_seconds ({self.max_wait_seconds}) must exceed max_runtime_seconds "
                f"({self.max_runtime_seconds}): it includes the time spent waiting for spot capacity"
            )
        if not self.use_spot and self.max_wait_seconds is not None:
            raise ValueError("max_wait_seconds applies to spot training only; set use_spot = true or remove it")
        return self


class BatchScheduleSettings(_Frozen):
    """Periodic batch scoring: start the pipeline on `expression` with these prefixes."""

    expression: Annotated[str, _matching(r"(cron|rate)\(.+\)", "cron(...) or rate(...)")]
    data_prefix: Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the data bucket (no leading '/')")]
    score_prefix: (
        Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the data bucket (no leading '/')")] | None
    ) = None
    output_prefix: Annotated[str, _matching(r"[^/\s][^\s]*", "a key prefix in the artifacts bucket")] = "scheduled"
    enabled: bool = True


class TransformSettings(JobCompute):
    """Defaults of the batch transform step (the container answers the same in /execution-parameters)."""

    max_payload_mb: int = Field(default=6, ge=1, le=MAX_TRANSFORM_PAYLOAD_MB)
    max_concurrent_transforms: int = Field(default=2, ge=1, le=MAX_TRANSFORM_PAYLOAD_MB)
    schedule: BatchScheduleSettings | None = None

    @model_validator(mode="after")
    def _payload_within_limit(self) -> TransformSettings:
        total = self.max_payload_mb * self.max_concurrent_transforms
        if total > MAX_TRANSFORM_PAYLOAD_MB:
            raise ValueError(
                f"max_concurrent_transforms x max_payload_mb ({self.max_concurrent_transforms} x "
                f"{self.max_payload_mb} = {total}) must not exceed {MAX_TRANSFORM_PAYLOAD_MB} MB (SageMaker's limit)"
            )
        return self


class VariantSettings(_Frozen):
    """One production variant on instances: SageMaker spreads two or more across Availability Zones."""

    name: Annotated[str, _matching(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "1-63 letters, digits or '-'")] = "primary"
    instance_type: InstanceType
    initial_instance_count: int = Field(ge=1)
    weight: float = Field(default=1.0, gt=0)


class ServerlessSettings(_Frozen):
    """A serverless variant: pay per request, cold starts, no instances to manage."""

    memory_size_mb: int
    max_concurrency: int


class ScheduleSettings(_Frozen):
    """A scheduled change of the autoscaling range, e.g. a larger floor during business hours."""

    name: Annotated[str, _matching(r"[A-Za-z][A-Za-z0-9]{0,63}", "a name of letters and digits")]
    schedule: Annotated[str, _matching(r"(cron|rate|at)\(.+\)", "cron(...), rate(...) or at(...)")]
    min_capacity: int = Field(ge=1)
    max_capacity: int = Field(ge=1)


class AutoScalingSettings(_Frozen):
    """Target tracking on invocations per instance, between min_capacity and max_capacity."""

    min_capacity: int = Field(ge=1)
    max_capacity: int = Field(ge=1)
    target_invocations_per_instance: int = Field(ge=1)
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
    wait_interval_seconds: int = 300
    termination_wait_seconds: int = 300
    maximum_execution_timeout_seconds: int = 3600


class VpcSettings(_Frozen):
    """Private subnets and security groups of an existing VPC for the model's containers."""

    subnet_ids: tuple[Annotated[str, _matching(r"subnet-[0-9a-f]{8,17}", "a subnet id")], ...] = Field(min_length=1)
    security_group_ids: tuple[Annotated[str, _matching(r"sg-[0-9a-f]{8,17}", "a security group id")], ...] = Field(
        min_length=1
    )


class EndpointSettings(_Frozen):
    """The real-time endpoint: which model it serves, on what, and how it changes."""

    model_artifact_key: (
        Annotated[str, _matching(r"[^/\s][^\s]*\.tar\.gz", "an object key in the artifacts bucket ending in .tar.gz")]
        | None
    ) = None
    variants: tuple[VariantSettings, ...] = ()
    serverless: ServerlessSettings | None = None
    autoscaling: AutoScalingSettings | None = None
    deployment: DeploymentSettings | None = None
    data_capture_percentage: int = Field(default=0, ge=0, le=100)
    container_startup_health_check_timeout_seconds: int | None = None
    model_data_download_timeout_seconds: int | None = None
    server_workers: int | None = Field(default=None, ge=1)
    server_timeout_seconds: int = 60
    network_isolation: bool = False
    vpc: VpcSettings | None = None

    @model_validator(mode="after")
    def _one_kind_of_capacity(self) -> EndpointSettings:
        if bool(self.variants) == (self.serverless is not None):
            raise ValueError("give either variants (instances) or serverless, not both and not neither")
        return self


class NotebookSettings(_Frozen):
    """An optional SageMaker notebook instance for exploration, stopped when idle."""

    enabled: bool = False
    allow_outside_dev: bool = False
    instance_type: InstanceType = "ml.t3.medium"
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
    psi_threshold: float = Field(default=0.2, gt=0, le=10)
    min_rows: int = Field(default=100, ge=1, le=10_000_000)
    instance_type: InstanceType = "ml.m5.large"
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
    drift: DriftSettings = DriftSettings()

    @model_validator(mode="after")
    def _check_rules(self) -> EnvironmentConfig:
        if self.name is EnvironmentName.PROD:
            self._check_production_endpoint()
        self._check_rollback_window()
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            raise ValueError(f"log_retention_days must be one of {allowed}; got {self.log_retention_days}")
        if self.name is not EnvironmentName.DEV and self.alarm_email is None:
            raise ValueError("alarm_email is required outside dev, so that alarms reach a person")
        if self.name is EnvironmentName.PROD and self.removal_policy != "retain":
            raise ValueError("removal_policy must be 'retain' in prod: its data must survive a stack deletion")
        if self.notebook.enabled and self.name is not EnvironmentName.DEV and not self.notebook.allow_outside_dev:
            raise ValueError(
                "notebook.enabled outside dev needs notebook.allow_outside_dev = true: exploration belongs in dev"
            )
        return self

    @model_validator(mode="after")
    def _check_drift(self) -> EnvironmentConfig:
        if self.drift.enabled and self.endpoint.data_capture_percentage == 0:
            raise ValueError(
                "drift.enabled needs endpoint.data_capture_percentage > 0: drift is measured on captured requests "
                "(a serverless endpoint captures none)"
            )
        return self

    def _check_production_endpoint(self) -> None:
        endpoint = self.endpoint
        if any(v.initial_instance_count < 2 for v in endpoint.variants) or endpoint.serverless:
            raise ValueError("prod endpoint variants need initial_instance_count >= 2, spread across AZs")
        if endpoint.autoscaling is None or endpoint.autoscaling.min_capacity < 2:
            raise ValueError("prod endpoint needs autoscaling with min_capacity >= 2")
        if endpoint.deployment is None or endpoint.deployment.strategy == "all_at_once":
            raise ValueError("prod endpoint deployment must be canary or linear, with auto-rollback")
        if endpoint.data_capture_percentage == 0:
            raise ValueError("prod endpoint needs data_capture_percentage > 0")

    def _check_rollback_window(self) -> None:
        deployment = self.endpoint.deployment
        evaluation = self.monitoring.evaluation_minutes * 60
        if deployment is not None and deployment.wait_interval_seconds < evaluation:
            raise ValueError(
                f"endpoint.deployment.wait_interval_seconds ({deployment.wait_interval_seconds}) must be at least "
                f"monitoring.evaluation_minutes x 60 ({evaluation}): the rollback alarms need that long to fire"
            )

    @property
    def retain_data(self) -> bool:
        """Whether buckets, the key and the image repository outlive the stack."""
        return self.removal_policy == "retain"


class AppConfig(_Frozen):
    """The whole app: its name and every environment, keyed by name."""

    app_name: AppName
    environments: dict[EnvironmentName, EnvironmentConfig]

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
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    return parse_config(raw, default_account=default_account)


def parse_config(raw: dict[str, Any], *, default_account: str | None = None) -> AppConfig:
    """Validate an already parsed configuration document (see load_config)."""
    unknown_sections = sorted(set(raw) - {"app", "environments"})
    if unknown_sections:
        raise ConfigError(f"unknown section(s) {unknown_sections}; allowed: app, environments")
    app_section = raw.get("app", {})
    environments = raw.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("no environments configured: add [environments.dev], [environments.staging] ...")
    allowed = ", ".join(e.value for e in EnvironmentName)
    parsed: dict[EnvironmentName, EnvironmentConfig] = {}
    for name, settings in environments.items():
        if name not in {e.value for e in EnvironmentName}:
            raise ConfigError(f"unknown environment {name!r}; allowed: {allowed}")
        if not isinstance(settings, dict):
            raise ConfigError(f"environment {name!r}: expected a table of settings")
        values = {"account": default_account, **settings, "name": name}
        if values["account"] is None:
            del values["account"]
        try:
            parsed[EnvironmentName(name)] = EnvironmentConfig.model_validate(values)
        except ValidationError as error:
            raise ConfigError(_describe(f"environment {name!r}", error)) from None
    _check_shared_log_groups(parsed)
    try:
        return AppConfig(app_name=app_section.get("name"), environments=parsed)
    except ValidationError as error:
        raise ConfigError(_describe("[app]", error)) from None


def _check_shared_log_groups(environments: dict[EnvironmentName, EnvironmentConfig]) -> None:
    """/aws/sagemaker/TrainingJobs and TransformJobs exist once per account and region."""
    owners: dict[tuple[str | None, str], EnvironmentName] = {}
    for name, settings in environments.items():
        if not settings.monitoring.manage_job_log_groups:
            continue
        place = (settings.account, settings.region)
        if place in owners:
            raise ConfigError(
                f"environment {name.value!r}: monitoring.manage_job_log_groups: environment "
                f"{owners[place].value!r} already manages SageMaker's job log groups in the same account and "
                "region (an account left out counts as the same); set it in one environment per account and region"
            )
        owners[place] = name


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
        suffix = f" (got {given!r})" if scalar and problem["type"] != "extra_forbidden" else ""
        lines.append(f"{where}: {field}: {message}{suffix}")
    return "\n".join(lines)
