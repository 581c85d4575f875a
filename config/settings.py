"""Typed, validated settings of every environment, loaded once at the edge of the app.

`load_config()` reads `environments.toml` next to this file (or a given path), validates it with
pydantic and returns frozen objects. Everything below `app.py` takes these plain typed values;
nothing else reads files, context or environment variables.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from config.accounts import account_sharing_problems, shared_log_group_problems
from config.aws_catalog import partition_of
from config.contract import ASYNC_PREFIX, environment_prefix
from config.endpoint import EndpointSettings
from config.hyperparameters import load_schema
from config.sections import (
    HYPERPARAMETER_ERROR,
    AppSection,
    DeliverySettings,
    DriftSettings,
    MonitoringSettings,
    NotebookSettings,
    RegistrySettings,
    TrainingSettings,
    TransformSettings,
)
from config.tuning import TuningSettings, tuning_problems
from config.types import (
    LOG_RETENTION_DAYS,
    AccountId,
    AppName,
    ConfigError,
    Email,
    EnvironmentName,
    Region,
    _Frozen,
)

DEFAULT_CONFIG_FILE = Path(__file__).with_name("environments.toml")


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
    # Other environments deployed into this one's account, accepted knowingly (see account_sharing_problems).
    shared_account_with: tuple[EnvironmentName, ...] = ()
    drift: DriftSettings = DriftSettings()
    registry: RegistrySettings = RegistrySettings()

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
        problems += self._package_pin_problems()
        if self.registry.auto_approve and self.name is not EnvironmentName.DEV:
            problems.append(
                "registry.auto_approve is allowed in dev only: a model reaches staging and prod only when a person "
                "approves its package version (sagemaker_ops approve)"
            )
        if self.name in self.shared_account_with:
            problems.append(f"shared_account_with names {self.name.value!r} itself")
        if self.drift.enabled and self.endpoint.data_capture_percentage == 0:
            problems.append(
                "drift.enabled needs endpoint.data_capture_percentage > 0: drift is measured on captured requests "
                "(a serverless endpoint captures none)"
            )
        component = self.endpoint.inference_component
        if component is not None and component.scales_to_zero and self.monitoring.no_invocations_minutes:
            problems.append(
                "monitoring.no_invocations_minutes pages when no request comes, and an endpoint that scales to zero "
                "(endpoint.inference_component.min_instances = 0) is idle by design: leave it out"
            )
        if self.endpoint.asynchronous is not None and self.monitoring.no_invocations_minutes is not None:
            problems.append(
                "monitoring.no_invocations_minutes cannot watch an asynchronous endpoint: it idles at zero and "
                "publishes no Invocations (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-monitor.html)"
            )
        problems += self._kept_outside_expiry()
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

    def _kept_outside_expiry(self) -> list[str]:
        """ASYNC_PREFIX is reserved for asynchronous inference, whose objects expire: the model an environment serves
        and the scheduled runs' models and scores are kept elsewhere, in every environment (one made asynchronous
        later would expire them; the pipeline refuses such an output_prefix too)."""
        kept = {"endpoint.model_artifact_key": self.endpoint.model_artifact_key}
        if self.transform.schedule is not None:
            # The pipeline writes <output_prefix>/models/ and <output_prefix>/scores/.
            kept["transform.schedule.output_prefix"] = self.transform.schedule.output_prefix.rstrip("/") + "/"
        return [
            f"{name} ({key}) must not lie under {ASYNC_PREFIX}: it is reserved for an asynchronous endpoint's "
            "requests, results and failures, and everything there expires after endpoint.asynchronous.retention_days"
            for name, key in kept.items()
            if key is not None and key.startswith(ASYNC_PREFIX)
        ]

    @model_validator(mode="after")
    def _tuning_fits_training(self) -> EnvironmentConfig:
        problems = tuning_problems(self.tuning, self.training.hyperparameters) if self.tuning else []
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _production_endpoint_problems(self) -> list[str]:
        endpoint, problems = self.endpoint, []
        if endpoint.inference_component is not None:
            return [
                "prod endpoint cannot be an inference_component: prod needs canary deployment with auto-rollback "
                "and data capture, which an endpoint of inference components does not keep (see "
                "endpoint.inference_component in docs/configuration.md)"
            ]
        if any(v.initial_instance_count < 2 for v in endpoint.variants) or endpoint.serverless:
            problems.append("prod endpoint variants need initial_instance_count >= 2, spread across AZs")
        if endpoint.autoscaling is None or endpoint.autoscaling.min_capacity < 2:
            problems.append("prod endpoint needs autoscaling with min_capacity >= 2")
        if endpoint.deployment is None or endpoint.deployment.strategy == "all_at_once":
            problems.append("prod endpoint deployment must be canary or linear, with auto-rollback")
        if endpoint.data_capture_percentage == 0:
            problems.append("prod endpoint needs data_capture_percentage > 0")
        return problems

    def _package_pin_problems(self) -> list[str]:
        """Staging and prod serve approved package versions only; an ARN pin names this environment's place."""
        endpoint, problems = self.endpoint, []
        if self.name is not EnvironmentName.DEV and endpoint.model_artifact_key is not None:
            problems.append(
                "endpoint.model_artifact_key is for dev only: staging and prod serve an approved version of their "
                "model package group; pin endpoint.model_package (what `sagemaker_ops promote --package` prints)"
            )
        package = endpoint.package
        if package is not None and package.region is not None and package.region != self.region:
            problems.append(f"endpoint.model_package is in {package.region}, the environment in {self.region}")
        elif package is not None and package.partition not in (None, partition_of(self.region)):
            problems.append(
                f"endpoint.model_package is in partition {package.partition}, the environment in "
                f"{partition_of(self.region)}"
            )
        if package is not None and package.account is not None and self.account not in (None, package.account):
            problems.append(
                f"endpoint.model_package is in account {package.account}, the environment's is {self.account}: "
                "promotion registers the version in this environment's own group"
            )
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
    if app is not None:
        problems += [
            f"environment {name.value!r}: endpoint.model_package: {problem}"
            for name, settings in parsed.items()
            if (problem := _foreign_group(settings, app.name))
        ]
    if not problems:
        explicit = {name for name in parsed if environments[name.value].get("account") is not None}
        problems += shared_log_group_problems(parsed) + account_sharing_problems(parsed, explicit)
    delivery: DeliverySettings | None = None
    try:
        delivery = DeliverySettings.model_validate(raw["delivery"]) if "delivery" in raw else None
    except ValidationError as error:
        problems.append(_describe("[delivery]", error))
    if problems or app is None:
        raise ConfigError("\n".join(problems))
    return AppConfig(app_name=app.name, environments=parsed, delivery=delivery)


def _foreign_group(settings: EnvironmentConfig, app_name: str) -> str | None:
    """What is wrong with a package pin naming another group than the environment's own (None when nothing)."""
    package, own = settings.endpoint.package, environment_prefix(app_name, settings.name.value)
    if package is None or package.group == own:
        return None
    return (
        f"names the group {package.group!r}; this environment serves versions of its own group {own!r} "
        "(promotion registers the approved version there, where this environment's approver decides)"
    )


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
