"""The platform stack of each environment, as synthesized from the shipped configuration."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from config import AppConfig, EnvironmentName, parse_config
from config.settings import DEFAULT_CONFIG_FILE
from stacks.application import promoted_to_account
from tests.helpers import ROOT, Synthesized

ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.fixture(params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _template(synthesized: Synthesized, environment: str) -> Template:
    return Template.from_json(synthesized.template(environment))


def test_every_environment_has_one_key_three_buckets_one_repository_role_and_topic(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN its platform has one key, three buckets, one image repository, one SageMaker role and one topic."""
    template = _template(synthesized, environment)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::S3::Bucket", 3)
    template.resource_count_is("AWS::ECR::Repository", 1)
    template.resource_count_is("AWS::SNS::Topic", 1)
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]
                }
            }
        },
    )
    assert len(roles) == 1


def test_the_data_and_artifacts_buckets_use_the_key_and_the_log_bucket_sse_s3(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN data and artifacts use the key; the access-log bucket uses SSE-S3 (S3 logging cannot use KMS)."""
    buckets = _template(synthesized, environment).find_resources("AWS::S3::Bucket")
    algorithms = {
        logical_id: b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        for logical_id, b in buckets.items()
    }
    assert sorted(algorithms.values()) == ["AES256", "aws:kms", "aws:kms"]
    assert algorithms[synthesized.logical_id(environment, "Platform", "AccessLogs/Bucket")] == "AES256"


def test_staging_and_prod_retain_their_data_and_dev_destroys_it(
    synthesized: Synthesized, app_config: AppConfig
) -> None:
    """GIVEN removal policies retain (staging, prod) and destroy (dev)
    WHEN the app is synthesized
    THEN buckets, key and repository are retained, or deleted and emptied, accordingly."""
    for name in ENVIRONMENTS:
        template = synthesized.template(name)
        retain = app_config.environment(name).retain_data
        stateful = [
            r
            for r in template["Resources"].values()
            if r["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key", "AWS::ECR::Repository")
        ]
        assert len(stateful) == 5
        assert {r["DeletionPolicy"] for r in stateful} == {"Retain" if retain else "Delete"}, name
        auto_delete = [r for r in template["Resources"].values() if r["Type"] == "Custom::S3AutoDeleteObjects"]
        assert len(auto_delete) == (0 if retain else 3), name


def test_alarms_email_the_configured_address(synthesized: Synthesized, app_config: AppConfig) -> None:
    """GIVEN an alarm email in some environments WHEN the app is synthesized THEN exactly that address is subscribed."""
    for name in ENVIRONMENTS:
        subscriptions = Template.from_json(synthesized.template(name)).find_resources("AWS::SNS::Subscription")
        email = app_config.environment(name).alarm_email
        endpoints = [s["Properties"]["Endpoint"] for s in subscriptions.values()]
        assert endpoints == ([email] if email else []), name


def test_log_groups_follow_the_configured_retention_and_use_the_key(
    synthesized: Synthesized, app_config: AppConfig, environment: str
) -> None:
    """GIVEN each environment's log retention
    WHEN the app is synthesized
    THEN every platform log group keeps logs that long, encrypted with the environment's key."""
    log_groups = _template(synthesized, environment).find_resources("AWS::Logs::LogGroup")
    key = synthesized.logical_id(environment, "Platform", "EncryptionKey/Key")
    assert log_groups
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == app_config.environment(environment).log_retention_days
        assert log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0] == key


def test_the_outputs_name_what_later_stacks_and_operators_need(synthesized: Synthesized, environment: str) -> None:
    """GIVEN each environment
    WHEN the app is synthesized
    THEN the platform outputs the buckets, the image, the role and the topic."""
    outputs: dict[str, Any] = synthesized.template(environment)["Outputs"]
    assert {"DataBucketName", "ArtifactsBucketName", "ImageUri", "ExecutionRoleArn", "AlarmTopicArn"} <= set(outputs)
    assert outputs["ModelPackageGroupName"]["Value"] == f"sagemaker-gbdt-{environment}"


def test_each_environment_has_its_model_package_group_without_a_policy_in_one_account(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN the shipped configuration (one account)
    WHEN the app is synthesized
    THEN each platform has the group <app>-<env>, with no resource policy: IAM alone decides in one account."""
    groups = _template(synthesized, environment).find_resources("AWS::SageMaker::ModelPackageGroup")
    (group,) = groups.values()
    assert group["Properties"]["ModelPackageGroupName"] == f"sagemaker-gbdt-{environment}"
    assert "ModelPackageGroupPolicy" not in group["Properties"]


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ({"staging": "210987654321", "prod": "111111111111"}, {"staging": "111111111111"}),
        ({"staging": "111111111111", "prod": "111111111111"}, {}),
        ({"prod": "111111111111"}, {}),
    ],
    ids=["separate accounts", "same account", "staging's account left out"],
)
def test_only_staging_is_shared_and_only_with_another_prod_account(
    accounts: dict[str, str], expected: dict[str, str]
) -> None:
    """GIVEN staging's and prod's accounts
    WHEN the account each environment's versions are promoted into is derived
    THEN only staging has one, prod's, and only where both are given and differ."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"]["dev"]["account"] = "222222222222"
    for name, account in accounts.items():
        raw["environments"][name]["account"] = account
    # Prod declares staging where staging may share its account (the same, or left out).
    same = accounts.get("staging") in (None, accounts["prod"])
    raw["environments"]["prod"]["shared_account_with"] = ["staging"] if same else []
    config = parse_config(raw)
    derived = {name.value: promoted_to_account(config, name) for name in EnvironmentName}
    assert {name: account for name, account in derived.items() if account} == expected


def test_every_resource_is_tagged_with_project_and_environment(synthesized: Synthesized, environment: str) -> None:
    """GIVEN each environment WHEN the app is synthesized THEN resources carry the Project and Environment tags."""
    buckets = _template(synthesized, environment).find_resources("AWS::S3::Bucket")
    for bucket in buckets.values():
        tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
        assert tags["Project"] == "sagemaker-gbdt"
        assert tags["Environment"] == environment


def test_the_teardown_deletes_dev_s_versions_before_dev_s_group(synthesized: Synthesized) -> None:
    """GIVEN each environment's model package group WHEN its deletion policy and README's teardown are read
    THEN only dev's goes with its stack, and the teardown deletes its versions first: SageMaker refuses to delete a
    group that holds versions, so `cdk destroy 'Dev/*'` alone would fail on it."""
    policies = {
        name.value: next(
            iter(_template(synthesized, name.value).find_resources("AWS::SageMaker::ModelPackageGroup").values())
        ).get("DeletionPolicy", "Delete")
        for name in EnvironmentName
    }
    assert policies == {"dev": "Delete", "staging": "Retain", "prod": "Retain"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    teardown = readme.split("Teardown, in reverse", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    group = f"{synthesized.config.app_name}-dev"
    deleting = teardown.index(f"list-model-packages --model-package-group-name {group}")
    assert deleting < teardown.index("aws sagemaker delete-model-package") < teardown.index("npx cdk destroy 'Dev/*'")
