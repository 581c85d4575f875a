"""Every mistake a user editing environments.toml would make stops synthesis, naming environment and field.

Regions and instance types are checked against botocore's data (its partitions and the SageMaker
service model's enums), numeric bounds against the SageMaker API's documented limits.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, EnvironmentName, load_config, parse_config
from config.aws_catalog import regions, sagemaker_enum
from config.settings import DEFAULT_CONFIG_FILE
from scripts.demo_swap import to_toml
from tests.declared import OBJECTIVE
from tests.helpers import ROOT, cases, serverless_endpoint, set_at

Raw = dict[str, Any]


@pytest.fixture
def raw() -> Raw:
    """A fresh, editable copy of the shipped configuration."""
    return copy.deepcopy(tomllib.loads(DEFAULT_CONFIG_FILE.read_text()))


# One row a mistake: its id, the field it sets, the value, and the error it must give.
MISTAKES = [
    (
        "region-typo",
        "environments.dev.region",
        "us-esat-1",
        r"environment 'dev': region: not a region of any AWS partition.*did you mean .*us-east-1\? \(got 'us-esat-1'\)",
    ),
    (
        "region-that-does-not-exist",
        "environments.staging.region",
        "eu-north-9",
        r"environment 'staging': region: not a region of any AWS partition",
    ),
    (
        "training-instance-type",
        "environments.prod.training.instance_type",
        "ml.zz9.large",
        (
            r"environment 'prod': training\.instance_type: not an instance type SageMaker offers "
            r"for training jobs \(TrainingInstanceType"
        ),
    ),
    (
        "endpoint-instance-type",
        "environments.prod.endpoint.variants.0.instance_type",
        "ml.zz9.large",
        (
            r"environment 'prod': endpoint\.variants\.0\.instance_type: not an instance type "
            r"SageMaker offers for endpoint variants \(ProductionVariantInstanceType"
        ),
    ),
    # Offered for training, not for batch transform.
    (
        "transform-instance-type",
        "environments.dev.transform.instance_type",
        "ml.t3.medium",
        (
            r"environment 'dev': transform\.instance_type: not an instance type SageMaker offers "
            r"for transform jobs \(TransformInstanceType"
        ),
    ),
    # Offered for endpoints and training, not for notebook instances.
    (
        "notebook-instance-type",
        "environments.dev.notebook.instance_type",
        "ml.m5.large",
        (
            r"environment 'dev': notebook\.instance_type: not an instance type SageMaker offers "
            r"for notebook instances"
        ),
    ),
    (
        "nan-threshold",
        "environments.staging.training.evaluation.threshold",
        math.nan,
        r"environment 'staging': training\.evaluation\.threshold: Input should be a finite number",
    ),
    (
        "infinite-alarm-threshold",
        "environments.prod.monitoring.server_error_rate_percent",
        math.inf,
        r"environment 'prod': monitoring\.server_error_rate_percent: Input should be a finite number",
    ),
    (
        "nan-variant-weight",
        "environments.prod.endpoint.variants.0.weight",
        math.nan,
        r"environment 'prod': endpoint\.variants\.0\.weight: Input should be a finite number",
    ),
    (
        "negative-server-timeout",
        "environments.prod.endpoint.server_timeout_seconds",
        -5,
        (
            r"environment 'prod': endpoint\.server_timeout_seconds: Input should be greater than or equal to 1 "
            r"\(got -5\)"
        ),
    ),
    (
        "server-timeout-beyond-invocation-limit",
        "environments.prod.endpoint.server_timeout_seconds",
        61,
        r"environment 'prod': endpoint\.server_timeout_seconds: Input should be less than or equal to 60",
    ),
    (
        "serverless-memory-between-steps",
        "environments.dev.endpoint",
        serverless_endpoint(memory_size_mb=1500),
        (
            r"environment 'dev': endpoint\.serverless: memory_size_mb must be one of 1024, 2048, 3072, 4096, 5120, "
            r"6144 \(got 1500\)"
        ),
    ),
    (
        "serverless-memory-too-large",
        "environments.dev.endpoint",
        serverless_endpoint(memory_size_mb=8192),
        (
            r"environment 'dev': endpoint\.serverless\.memory_size_mb: must be 1024-6144 MB "
            r"\(SageMaker's ProductionVariantServerlessConfig\.MemorySizeInMB\) \(got 8192\)"
        ),
    ),
    (
        "serverless-concurrency",
        "environments.dev.endpoint",
        serverless_endpoint(max_concurrency=500),
        r"environment 'dev': endpoint\.serverless\.max_concurrency: must be 1-200",
    ),
    (
        "artifact-key-as-url",
        "environments.prod.endpoint.model_artifact_key",
        "s3://my-bucket/models/v1/model.tar.gz",
        (
            r"environment 'prod': endpoint\.model_artifact_key: must be an object key in the artifacts bucket, "
            r"not a URL"
        ),
    ),
    (
        "huge-max-capacity",
        "environments.prod.endpoint.autoscaling.max_capacity",
        100000,
        r"environment 'prod': endpoint: autoscaling\.max_capacity \(100000\) must not exceed 100 instances",
    ),
    (
        "huge-scheduled-capacity",
        "environments.prod.endpoint.autoscaling.schedules",
        [{"name": "Day", "schedule": "cron(0 8 * * ? *)", "min_capacity": 2, "max_capacity": 5000}],
        r"environment 'prod': endpoint: autoscaling\.schedules\.0\.max_capacity \(5000\) must not exceed 100",
    ),
    (
        "huge-initial-fleet",
        "environments.staging.endpoint.variants.0.initial_instance_count",
        1000,
        r"environment 'staging': endpoint: variants\.0\.initial_instance_count \(1000\) must not exceed 100",
    ),
    (
        "health-check-timeout",
        "environments.prod.endpoint.container_startup_health_check_timeout_seconds",
        30,
        r"environment 'prod': endpoint\.container_startup_health_check_timeout_seconds: must be 60-3600 s",
    ),
    (
        "download-timeout",
        "environments.prod.endpoint.model_data_download_timeout_seconds",
        7200,
        r"environment 'prod': endpoint\.model_data_download_timeout_seconds: must be 60-3600 s",
    ),
    (
        "canary-wait-beyond-limit",
        "environments.prod.endpoint.deployment.wait_interval_seconds",
        4000,
        r"environment 'prod': endpoint\.deployment\.wait_interval_seconds: must be 0-3600 s",
    ),
    (
        "deployment-timeout",
        "environments.prod.endpoint.deployment.maximum_execution_timeout_seconds",
        60,
        r"environment 'prod': endpoint\.deployment\.maximum_execution_timeout_seconds: must be 600-28800 s",
    ),
]


# The inference component mode: its worst values, and the instance features it cannot keep (each error cites AWS).
COMPONENT = "environments.dev.endpoint.inference_component"
COMPONENT_MISTAKES = [
    (
        "cpu-below-a-quarter-core",
        f"{COMPONENT}.cpu_cores_per_copy",
        0.1,
        r"inference_component\.cpu_cores_per_copy: must be at least 0\.25 cores \(SageMaker's "
        r"InferenceComponentComputeResourceRequirements\.NumberOfCpuCoresRequired\)",
    ),
    (
        "memory-below-minimum",
        f"{COMPONENT}.memory_mb_per_copy",
        0,
        r"inference_component\.memory_mb_per_copy: must be at least 128 MB",
    ),
    ("negative-min-instances", f"{COMPONENT}.min_instances", -1, r"min_instances: Input should be greater than or"),
    ("zero-max-instances", f"{COMPONENT}.max_instances", 0, r"max_instances: Input should be greater than or"),
    (
        "huge-max-instances",
        f"{COMPONENT}.max_instances",
        100000,
        r"endpoint: inference_component\.max_instances \(100000\) must not exceed 100 instances",
    ),
    (
        "min-instances-above-max",
        f"{COMPONENT}.min_instances",
        5,
        r"min_instances \(5\) must not exceed max_instances \(1\)",
    ),
    (
        "a-copy-kept-at-zero-instances",
        f"{COMPONENT}.min_copies",
        1,
        r"min_copies \(1\) keeps a copy, and so an instance, running: min_instances = 0 scales to zero only with "
        r"min_copies = 0 \(https://docs\.aws\.amazon\.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances",
    ),
    ("nan-requests-per-second", f"{COMPONENT}.max_requests_per_second", math.nan, r"Input should be a finite number"),
    ("unknown-routing", f"{COMPONENT}.routing_strategy", "ROUND_ROBIN", r"routing_strategy: Input should be"),
    (
        "canary-on-a-component",
        "environments.dev.endpoint.deployment",
        {"strategy": "canary"},
        r"deployment must not be set with inference_component: blue/green canary or linear shifting of the endpoint "
        r"does not apply to an inference component.*\(https://\S+/API_InferenceComponentDeploymentConfig\.html\)$",
    ),
    (
        "capture-on-a-component",
        "environments.dev.endpoint.data_capture_percentage",
        100,
        r"data_capture_percentage must be 0 with inference_component: Model Monitor.*\(https://\S+/model-monitor\.html\)$",
    ),
    (
        "instance-autoscaling-on-a-component",
        "environments.dev.endpoint.autoscaling",
        {"min_capacity": 1, "max_capacity": 2, "max_requests_per_second": 10},
        r"autoscaling must not be set with inference_component: it sizes instance variants; an inference component "
        r"scales its copies.*\(https://\S+/services-that-can-integrate-sagemaker\.html\)$",
    ),
    (
        "silence-pages-on-an-endpoint-idle-by-design",
        "environments.dev.monitoring.no_invocations_minutes",
        30,
        r"monitoring\.no_invocations_minutes pages when no request comes, and an endpoint that scales to zero",
    ),
    (
        "drift-needs-capture",
        "environments.dev.drift.enabled",
        True,
        r"drift\.enabled needs endpoint\.data_capture_percentage > 0",
    ),
    (
        "prod-on-a-component",
        "environments.prod.endpoint",
        {
            "model_package": "sagemaker-gbdt-prod/1",
            "inference_component": {
                "instance_type": "ml.c5.xlarge",
                "min_instances": 2,
                "max_instances": 4,
                "min_copies": 2,
                "max_copies": 4,
                "max_requests_per_second": 100,
            },
        },
        r"environment 'prod': \(settings\): prod endpoint cannot be an inference_component: prod needs canary",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), cases(*MISTAKES, *COMPONENT_MISTAKES))
def test_a_mistake_is_rejected_naming_environment_and_field(raw: Raw, path: str, value: Any, message: str) -> None:
    # GIVEN the shipped configuration with one mistake
    set_at(raw, path, value)
    # WHEN it is loaded THEN the error names the environment and the field
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


UNKNOWN_KEYS = [
    ("app", r"\[app\]: nmae: unknown field"),
    ("environments.dev", r"environment 'dev': nmae: unknown field"),
    ("environments.dev.training", r"environment 'dev': training\.nmae: unknown field"),
    ("environments.staging.training.evaluation", r"environment 'staging': training\.evaluation\.nmae: unknown field"),
    ("environments.dev.transform", r"environment 'dev': transform\.nmae: unknown field"),
    ("environments.dev.notebook", r"environment 'dev': notebook\.nmae: unknown field"),
    (
        "environments.dev.endpoint.inference_component",
        r"environment 'dev': endpoint\.inference_component\.nmae: unknown field",
    ),
    ("environments.prod.endpoint.autoscaling", r"environment 'prod': endpoint\.autoscaling\.nmae: unknown field"),
    ("environments.prod.endpoint.deployment", r"environment 'prod': endpoint\.deployment\.nmae: unknown field"),
    ("environments.prod.endpoint.variants.0", r"environment 'prod': endpoint\.variants\.0\.nmae: unknown field"),
    ("environments.prod.monitoring", r"environment 'prod': monitoring\.nmae: unknown field"),
]


@pytest.mark.parametrize(("table", "message"), UNKNOWN_KEYS, ids=[table for table, _ in UNKNOWN_KEYS])
def test_an_unknown_key_is_rejected_in_every_table(raw: Raw, table: str, message: str) -> None:
    # GIVEN a misspelt key (`nmae`) in one table, [app] included
    set_at(raw, f"{table}.nmae", "x")
    # WHEN it is loaded THEN the error names the table and the key
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_a_nan_written_in_the_toml_file_is_rejected(tmp_path: Path) -> None:
    # GIVEN the shipped file with staging's quality gate at `threshold = nan` (valid TOML), as a user could write it
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"]["staging"]["training"]["evaluation"] = {"metric": OBJECTIVE, "threshold": math.nan}
    path = tmp_path / "environments.toml"
    path.write_text(to_toml(raw))
    assert "threshold = nan" in path.read_text()
    # WHEN it is loaded THEN the error names staging's threshold, before any template is built
    with pytest.raises(ConfigError, match=r"environment 'staging': training\.evaluation\.threshold: .*finite"):
        load_config(path)


def test_every_problem_is_reported_at_once(raw: Raw) -> None:
    # GIVEN three field mistakes in prod and one in dev
    set_at(raw, "environments.prod.region", "us-esat-1")
    set_at(raw, "environments.prod.training.instance_type", "ml.zz9.large")
    set_at(raw, "environments.prod.endpoint.server_timeout_seconds", -5)
    set_at(raw, "environments.dev.endpoint.inference_component.memory_mb_per_copy", 64)
    # WHEN it is loaded
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    # THEN one error lists them all, one line each
    lines = str(error.value).splitlines()
    assert [line.split(":")[0:2] for line in lines] == [
        ["environment 'dev'", " endpoint.inference_component.memory_mb_per_copy"],
        ["environment 'prod'", " region"],
        ["environment 'prod'", " training.instance_type"],
        ["environment 'prod'", " endpoint.server_timeout_seconds"],
    ]


def test_every_broken_rule_of_an_environment_is_reported_at_once(raw: Raw) -> None:
    # GIVEN prod breaking three rules that span several fields
    set_at(raw, "environments.prod.removal_policy", "destroy")
    set_at(raw, "environments.prod.endpoint.data_capture_percentage", 0)
    raw["environments"]["prod"].pop("alarm_email")
    # WHEN it is loaded THEN all three are in the message
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    message = str(error.value)
    assert message.startswith("environment 'prod': ")
    for rule in ("data_capture_percentage > 0", "alarm_email is required", "removal_policy must be 'retain'"):
        assert rule in message


def test_the_sources_of_truth_are_botocore_data_not_hand_lists() -> None:
    # GIVEN botocore's data THEN it knows the regions and instance types the shipped config uses, and more
    config = load_config()
    assert {e.region for e in config.environments.values()} <= regions()
    assert {"us-gov-west-1", "cn-north-1", "eu-central-1"} <= regions()
    assert "ml.m5.2xlarge" in sagemaker_enum("TrainingInstanceType")
    assert "ml.c5.xlarge" in sagemaker_enum("ProductionVariantInstanceType")
    with pytest.raises(LookupError, match="no enum shape 'NoSuchShape'"):
        sagemaker_enum("NoSuchShape")


def test_a_region_of_another_partition_is_accepted(raw: Raw) -> None:
    # GIVEN dev in GovCloud THEN the region is accepted (botocore's partitions, not only `aws`)
    set_at(raw, "environments.dev.region", "us-gov-west-1")
    assert parse_config(raw).environment("dev").region == "us-gov-west-1"


# Prod in dev's account -------------------------------------------------------------------------------------


def test_prod_in_the_same_account_as_dev_is_refused_unless_declared(raw: Raw) -> None:
    # GIVEN the shipped config (one account for all) without prod's declaration
    del raw["environments"]["prod"]["shared_account_with"]
    # WHEN it is loaded THEN prod is refused, with what sharing costs and how to accept it
    with pytest.raises(ConfigError) as error:
        parse_config(raw, default_account="123456789012")
    message = str(error.value)
    assert message.startswith(
        "environment 'prod': shared_account_with: dev, staging deploy(s) into account 123456789012 as prod"
    )
    assert "publish any embedded metric" in message
    assert "quotas" in message
    assert 'set shared_account_with = ["dev", "staging"] in [environments.prod]' in message
    assert "docs/security.md" in message


def test_an_account_left_out_counts_as_the_same_account(raw: Raw) -> None:
    # GIVEN no account anywhere (all use the credentials' account) and no declaration
    del raw["environments"]["prod"]["shared_account_with"]
    # WHEN it is loaded without credentials THEN prod is refused too
    with pytest.raises(ConfigError, match=r"environment 'prod': shared_account_with: .*the same account"):
        parse_config(raw)


def test_an_account_left_out_may_be_prods_and_needs_the_declaration(raw: Raw) -> None:
    # GIVEN prod in its own account, staging in another, dev's account left out (the credentials' at deploy time)
    del raw["environments"]["prod"]["shared_account_with"]
    raw["environments"]["prod"]["account"] = "210987654321"
    raw["environments"]["staging"]["account"] = "222222222222"
    # WHEN it is loaded without credentials THEN dev may land in prod's account: refused
    with pytest.raises(ConfigError, match=r"environment 'prod': shared_account_with: dev deploy\(s\) into what may"):
        parse_config(raw)
    # AND declaring it is accepted, and not stale, whatever the credentials (prod's, dev's or none)
    raw["environments"]["prod"]["shared_account_with"] = ["dev"]
    for credentials in ("210987654321", "111111111111", None):
        prod = parse_config(raw, default_account=credentials).environment("prod")
        assert prod.shared_account_with == (EnvironmentName.DEV,)


def test_another_region_of_the_same_account_is_no_separation(raw: Raw) -> None:
    # GIVEN dev in another region of prod's account, undeclared (IAM is global to the account)
    raw["environments"]["prod"]["shared_account_with"] = ["staging"]
    set_at(raw, "environments.dev.region", "eu-west-1")
    with pytest.raises(ConfigError, match=r"environment 'prod': shared_account_with: dev deploy\(s\) into account"):
        parse_config(raw, default_account="123456789012")


def test_the_shipped_config_declares_the_sharing_and_separate_accounts_need_none(raw: Raw) -> None:
    # GIVEN the shipped config THEN it loads: prod declares that it shares dev's and staging's account
    shipped = parse_config(copy.deepcopy(raw), default_account="123456789012")
    assert shipped.environment("prod").shared_account_with == (EnvironmentName.DEV, EnvironmentName.STAGING)
    # AND with prod in its own account and no declaration it loads as well
    del raw["environments"]["prod"]["shared_account_with"]
    raw["environments"]["prod"]["account"] = "210987654321"
    assert parse_config(raw, default_account="123456789012").environment("prod").account == "210987654321"


def test_a_stale_sharing_declaration_is_refused(raw: Raw) -> None:
    # GIVEN every account in the file, prod's its own, but prod still declaring the sharing
    for name, account in (("dev", "111111111111"), ("staging", "222222222222"), ("prod", "333333333333")):
        raw["environments"][name]["account"] = account
    # WHEN it is loaded THEN the declaration that no longer holds is refused
    with pytest.raises(ConfigError, match=r"environment 'prod': shared_account_with: dev, staging not in prod's"):
        parse_config(raw)


def test_an_environment_cannot_share_with_itself(raw: Raw) -> None:
    raw["environments"]["prod"]["shared_account_with"] = ["dev", "staging", "prod"]
    with pytest.raises(ConfigError, match=r"environment 'prod': .*shared_account_with names 'prod' itself"):
        parse_config(raw)


def test_a_profile_that_does_not_exist_does_not_stop_the_configuration_from_loading(tmp_path: Path) -> None:
    """GIVEN AWS_PROFILE naming a profile no AWS config file has (botocore sessions raise ProfileNotFound)
    WHEN a fresh interpreter loads the shipped configuration (regions and instance types from botocore's data)
    THEN it loads: botocore's data is read without a session, so `cdk synth` needs no valid profile."""
    empty = tmp_path / "aws-config"
    empty.write_text("")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ |= {"AWS_PROFILE": "no-such-profile", "AWS_CONFIG_FILE": str(empty)}
    environ |= {"AWS_SHARED_CREDENTIALS_FILE": str(empty)}
    script = "from config import load_config; print(sorted(e.value for e in load_config().environments))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['dev', 'prod', 'staging']"


def test_switching_a_mode_is_one_change_and_exactly_one_mode_results(raw: Raw) -> None:
    # GIVEN staging's instance variants, with an inference component table added and nothing removed
    component = raw["environments"]["dev"]["endpoint"]["inference_component"]
    set_at(raw, "environments.staging.endpoint.inference_component", component)
    # WHEN it is loaded THEN the error names both modes given, not a field of one of them
    with pytest.raises(ConfigError, match=r"give exactly one of .* \(given: variants \(instances\), inference_comp"):
        parse_config(raw)
    # AND dev's single change (its table replaced by a serverless one) loads as serverless
    set_at(raw, "environments.dev.endpoint", serverless_endpoint())
    del raw["environments"]["staging"]["endpoint"]["inference_component"]
    assert parse_config(raw).environment("dev").endpoint.serverless is not None
