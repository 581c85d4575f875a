"""Configuration is validated once, at load, with an error naming environment, field and rule."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, EnvironmentName, load_config, parse_config
from config.settings import DEFAULT_CONFIG_FILE
from tests.helpers import cases, set_at


@pytest.fixture
def raw() -> dict[str, Any]:
    """A fresh, editable copy of the shipped configuration."""
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


def test_shipped_config_has_dev_staging_and_prod() -> None:
    # GIVEN the shipped environments.toml WHEN it is loaded
    config = load_config()
    # THEN all three environments are there, in promotion order
    assert list(config.environments) == [EnvironmentName.DEV, EnvironmentName.STAGING, EnvironmentName.PROD]
    assert config.environment("prod").retain_data
    assert not config.environment("dev").retain_data


def test_settings_are_frozen() -> None:
    prod = load_config().environment("prod")
    with pytest.raises(ValueError, match="frozen"):
        prod.region = "eu-west-1"


def test_default_account_fills_in_only_where_the_config_has_none(raw: dict[str, Any]) -> None:
    # GIVEN prod names its own account (so it shares it with nobody) and dev does not
    raw["environments"]["prod"]["account"] = "210987654321"
    del raw["environments"]["prod"]["shared_account_with"]
    # WHEN the CLI's account is given as the default
    config = parse_config(raw, default_account="123456789012")
    # THEN dev takes the default and prod keeps its own
    assert config.environment("dev").account == "123456789012"
    assert config.environment("prod").account == "210987654321"


def test_without_any_account_the_environment_is_account_agnostic(raw: dict[str, Any]) -> None:
    assert parse_config(raw).environment("dev").account is None


# One row a mistake: its id, the field it sets, the value, and the error it must give.
BAD_VALUES = [
    (
        "unknown-environment",
        "environments.qa",
        tomllib.loads(DEFAULT_CONFIG_FILE.read_text())["environments"]["dev"],
        r"unknown environment 'qa'; allowed: dev, staging, prod",
    ),
    (
        "bad-instance-type",
        "environments.prod.training.instance_type",
        "m5.large",
        r"environment 'prod': training\.instance_type: must be a SageMaker instance type .* \(got 'm5\.large'\)",
    ),
    (
        "min-above-max",
        "environments.staging.endpoint.autoscaling.min_capacity",
        4,
        r"environment 'staging': endpoint\.autoscaling: min_capacity \(4\) must not exceed max_capacity \(3\)",
    ),
    (
        "prod-destroy",
        "environments.prod.removal_policy",
        "destroy",
        r"environment 'prod': .*removal_policy must be 'retain' in prod",
    ),
    (
        "bad-removal-policy",
        "environments.prod.removal_policy",
        "delete",
        r"environment 'prod': removal_policy: Input should be 'retain' or 'destroy' \(got 'delete'\)",
    ),
    (
        "bad-log-retention",
        "environments.dev.log_retention_days",
        10,
        r"environment 'dev': .*log_retention_days must be one of 1, 3, 5, 7, 14, .*; got 10",
    ),
    (
        "unknown-field",
        "environments.dev.instance_typo",
        "ml.m5.large",
        r"environment 'dev': instance_typo: unknown field",
    ),
    (
        "bad-account",
        "environments.dev.account",
        "12345",
        r"environment 'dev': account: must be a 12-digit AWS account id \(got '12345'\)",
    ),
    (
        "bad-region",
        "environments.dev.region",
        "useast1",
        r"environment 'dev': region: must be an AWS region such as us-east-1 \(got 'useast1'\)",
    ),
    (
        "bad-email",
        "environments.staging.alarm_email",
        "oncall",
        r"environment 'staging': alarm_email: must be an e-mail address \(got 'oncall'\)",
    ),
    (
        "zero-instances",
        "environments.dev.training.instance_count",
        0,
        r"environment 'dev': training\.instance_count: Input should be greater than or equal to 1 \(got 0\)",
    ),
    ("bad-app-name", "app.name", "My App", r"\[app\]: name: must be 3-32 lowercase letters"),
    (
        "variants-and-inference-component",
        "environments.dev.endpoint.variants",
        [{"instance_type": "ml.m5.large", "initial_instance_count": 1}],
        (
            r"environment 'dev': endpoint: give exactly one of variants \(instances\), serverless, "
            r"inference_component, variants \+ asynchronous \(given: variants \(instances\), inference_component\)"
        ),
    ),
    (
        "bad-pin",
        "environments.dev.endpoint.model_artifact_key",
        "models/v1/model.pkl",
        (
            r"environment 'dev': endpoint\.model_artifact_key: must be an object key in the artifacts bucket "
            r"ending in \.tar\.gz"
        ),
    ),
    (
        "prod-single-instance",
        "environments.prod.endpoint.variants.0.initial_instance_count",
        1,
        r"environment 'prod': .*prod endpoint variants need initial_instance_count >= 2",
    ),
    (
        "prod-autoscaling-floor",
        "environments.prod.endpoint.autoscaling.min_capacity",
        1,
        r"environment 'prod': .*prod endpoint needs autoscaling with min_capacity >= 2",
    ),
    (
        "prod-all-at-once",
        "environments.prod.endpoint.deployment.strategy",
        "all_at_once",
        r"environment 'prod': .*prod endpoint deployment must be canary or linear",
    ),
    (
        "prod-no-capture",
        "environments.prod.endpoint.data_capture_percentage",
        0,
        r"environment 'prod': .*prod endpoint needs data_capture_percentage > 0",
    ),
    (
        "bad-strategy",
        "environments.staging.endpoint.deployment.strategy",
        "bluegreen",
        (
            r"environment 'staging': endpoint\.deployment\.strategy: "
            r"Input should be 'canary', 'linear' or 'all_at_once'"
        ),
    ),
    (
        "bad-subnet",
        "environments.staging.endpoint.vpc",
        {"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-0123456789abcdef0"]},
        r"environment 'staging': endpoint\.vpc\.subnet_ids\.0: must be a subnet id \(got 'subnet-1'\)",
    ),
    (
        "rollback-window",
        "environments.staging.endpoint.deployment.wait_interval_seconds",
        120,
        r"environment 'staging': .*wait_interval_seconds \(120\) must be at least monitoring\.evaluation_minutes",
    ),
    (
        "job-log-groups-twice",
        "environments.staging.monitoring",
        {"manage_job_log_groups": True},
        r"environment 'prod': monitoring\.manage_job_log_groups: environment 'staging' already manages",
    ),
    ("no-environments", "environments", {}, r"no environments configured"),
    ("unknown-section", "extras", {}, r"unknown section\(s\) \['extras'\]; allowed: app, environments"),
]


@pytest.mark.parametrize(("path", "value", "message"), cases(*BAD_VALUES))
def test_bad_configuration_is_rejected_with_a_message_naming_it(
    raw: dict[str, Any], path: str, value: Any, message: str
) -> None:
    # GIVEN the shipped configuration with one rule broken
    set_at(raw, path, value)
    # WHEN it is validated THEN the error names the environment, the field and what is allowed
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize(
    ("environment", "field", "message"),
    cases(
        ("missing-region", "dev", "region", r"environment 'dev': region: required field is missing"),
        ("missing-alarm-email", "prod", "alarm_email", r"environment 'prod': .*alarm_email is required outside dev"),
    ),
)
def test_a_required_field_left_out_is_named(raw: dict[str, Any], environment: str, field: str, message: str) -> None:
    # GIVEN the shipped configuration without one field it needs
    raw["environments"][environment].pop(field)
    # WHEN it is validated THEN the error names the environment and the field
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_asking_for_an_unconfigured_environment_lists_the_configured_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'qa'; configured environments: dev, staging, prod"):
        load_config().environment("qa")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=rf"cannot read configuration file {missing}"):
        load_config(missing)


def test_invalid_toml_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[environments.dev\nregion = 1\n")
    with pytest.raises(ConfigError, match=rf"{broken} is not valid TOML"):
        load_config(broken)


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_auto_approval_outside_dev_is_refused_naming_environment_and_field(
    raw: dict[str, Any], environment: str
) -> None:
    """GIVEN registry.auto_approve in staging or prod WHEN loaded THEN the error names the environment and field."""
    raw["environments"][environment]["registry"] = {"auto_approve": True}
    with pytest.raises(ConfigError, match=rf"environment '{environment}': .*registry\.auto_approve is allowed in dev"):
        parse_config(raw)


def test_auto_approval_in_dev_is_read(raw: dict[str, Any]) -> None:
    """GIVEN registry.auto_approve in dev WHEN loaded THEN dev approves automatically and the others do not."""
    raw["environments"]["dev"]["registry"] = {"auto_approve": True}
    config = parse_config(raw)
    assert [config.environment(e).registry.auto_approve for e in ("dev", "staging", "prod")] == [True, False, False]


@pytest.mark.parametrize(
    ("environment", "endpoint", "message"),
    [
        (
            "staging",
            {"model_artifact_key": "models/v1/model.tar.gz"},
            r"environment 'staging': .*endpoint\.model_artifact_key is for dev only",
        ),
        (
            "prod",
            {"model_package": "sagemaker-gbdt-prod/1", "model_artifact_key": "models/v1/model.tar.gz"},
            r"environment 'prod': endpoint: give model_package .* or model_artifact_key, not both",
        ),
        (
            "prod",
            {"model_package": "sagemaker-gbdt-staging/4"},
            r"environment 'prod': endpoint\.model_package: names the group 'sagemaker-gbdt-staging'; this "
            r"environment serves versions of its own group 'sagemaker-gbdt-prod'",
        ),
        (
            "prod",
            {"model_package": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/sagemaker-gbdt-prod/4"},
            r"environment 'prod': .*endpoint\.model_package is in eu-west-1, the environment in us-east-1",
        ),
        (
            "prod",
            {"model_package": "arn:aws-cn:sagemaker:us-east-1:123456789012:model-package/sagemaker-gbdt-prod/4"},
            r"environment 'prod': .*endpoint\.model_package is in partition aws-cn, the environment in aws",
        ),
        ("prod", {"model_package": "sagemaker-gbdt-prod/latest"}, r"endpoint\.model_package: must be a model package"),
        ("prod", {"model_package": "sagemaker-gbdt-prod/0"}, r"endpoint\.model_package: must be a model package"),
        (
            "prod",
            {"model_package": "sagemaker-gbdt-prod/1234567890"},
            r"endpoint\.model_package: must be a model package version.*the version 1 to 9 digits",
        ),
    ],
    ids=[
        "artifact in staging",
        "both",
        "another environment's group",
        "another region",
        "another partition",
        "not a version",
        "zero",
        "10 digits (CreateModel takes 9)",
    ],
)
def test_a_wrong_model_pin_is_refused_naming_environment_and_field(
    raw: dict[str, Any], environment: str, endpoint: dict[str, str], message: str
) -> None:
    """GIVEN a model pin breaking a rule WHEN loaded THEN the error names the environment, the field and the rule."""
    raw["environments"][environment]["endpoint"].pop("model_artifact_key", None)
    raw["environments"][environment]["endpoint"].pop("model_package", None)
    raw["environments"][environment]["endpoint"].update(endpoint)
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_a_package_pin_by_arn_or_name_is_read_as_the_version(raw: dict[str, Any]) -> None:
    """GIVEN dev pinning a version by ARN and prod by name WHEN loaded THEN both name their group and version."""
    del raw["environments"]["dev"]["endpoint"]["model_artifact_key"]
    raw["environments"]["dev"]["endpoint"]["model_package"] = (
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/sagemaker-gbdt-dev/12"
    )
    config = parse_config(raw, default_account="123456789012")
    dev, prod = config.environment("dev").endpoint.package, config.environment("prod").endpoint.package
    assert dev is not None and (dev.name, dev.account, dev.region) == (
        "sagemaker-gbdt-dev/12",
        "123456789012",
        "us-east-1",
    )
    assert prod is not None and prod.name == "sagemaker-gbdt-prod/1"


def test_a_pin_with_the_longest_version_create_model_takes_is_read(raw: dict[str, Any]) -> None:
    """GIVEN a version of 9 digits (CreateModel's VersionedArnOrName takes 1-9) WHEN loaded THEN it is the pin."""
    raw["environments"]["prod"]["endpoint"]["model_package"] = "sagemaker-gbdt-prod/123456789"
    package = parse_config(raw).environment("prod").endpoint.package
    assert package is not None and package.version == 123456789
