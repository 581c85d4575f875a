"""The platform stack of each environment, as synthesized from the shipped configuration."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from config import AppConfig
from tests.helpers import Synthesized

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
    buckets = _template(synthesized, environment).find_resources("AWS::S3::Bucket")
    algorithms = {
        logical_id: b["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        for logical_id, b in buckets.items()
    }
    assert sorted(algorithms.values()) == ["AES256", "aws:kms", "aws:kms"]
    assert next(k for k, v in algorithms.items() if v == "AES256").startswith("AccessLogs")


def test_staging_and_prod_retain_their_data_and_dev_destroys_it(
    synthesized: Synthesized, app_config: AppConfig
) -> None:
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
    for name in ENVIRONMENTS:
        subscriptions = Template.from_json(synthesized.template(name)).find_resources("AWS::SNS::Subscription")
        email = app_config.environment(name).alarm_email
        endpoints = [s["Properties"]["Endpoint"] for s in subscriptions.values()]
        assert endpoints == ([email] if email else []), name


def test_log_groups_follow_the_configured_retention_and_use_the_key(
    synthesized: Synthesized, app_config: AppConfig, environment: str
) -> None:
    log_groups = _template(synthesized, environment).find_resources("AWS::Logs::LogGroup")
    assert log_groups
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == app_config.environment(environment).log_retention_days
        assert log_group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0].startswith("EncryptionKey")


def test_the_outputs_name_what_later_stacks_and_operators_need(synthesized: Synthesized, environment: str) -> None:
    outputs: dict[str, Any] = synthesized.template(environment)["Outputs"]
    assert {"DataBucketName", "ArtifactsBucketName", "ImageUri", "ExecutionRoleArn", "AlarmTopicArn"} <= set(outputs)


def test_every_resource_is_tagged_with_project_and_environment(synthesized: Synthesized, environment: str) -> None:
    buckets = _template(synthesized, environment).find_resources("AWS::S3::Bucket")
    for bucket in buckets.values():
        tags = {t["Key"]: t["Value"] for t in bucket["Properties"]["Tags"]}
        assert tags["Project"] == "sagemaker-gbdt"
        assert tags["Environment"] == environment
