"""SageMakerExecutionRole: exactly what SageMaker needs, on exactly the app's resources."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import SageMakerExecutionRole
from tests.helpers import Platform


@pytest.fixture
def role(platform: Platform) -> SageMakerExecutionRole:
    return platform.role


def _statements(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    policies = Template.from_stack(stack).find_resources(
        "AWS::IAM::ManagedPolicy", {"Properties": {"Description": Match.string_like_regexp("^What SageMaker may do")}}
    )
    document = next(iter(policies.values()))["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_only_sagemaker_acting_for_this_account_may_assume_it(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the execution role
    WHEN its trust policy is synthesized
    THEN only SageMaker, acting for this account, may assume it."""
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                ]
            }
        },
    )


def test_no_aws_managed_policy_is_attached(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the execution role
    WHEN it is synthesized
    THEN no AWS managed policy (e.g. SageMakerFullAccess) is attached."""
    for resource in Template.from_stack(stack).find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in resource["Properties"]


def test_s3_access_is_limited_to_the_two_buckets(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the data and artifacts buckets
    WHEN the role's policy is synthesized
    THEN S3 access names those buckets only: data read-only, artifacts read-write, never s3:*."""
    statements = _statements(stack)
    s3_statements = [s for s in statements.values() if any(str(a).startswith("s3:") for a in _actions(s))]
    assert {s["Sid"] for s in s3_statements} == {"ListBuckets", "ReadData", "ReadWriteArtifacts"}
    for statement in s3_statements:
        assert statement["Resource"] != "*"
        assert "s3:*" not in _actions(statement)
    assert statements["ReadData"]["Action"] == "s3:GetObject"
    assert "s3:PutObject" in statements["ReadWriteArtifacts"]["Action"]


def test_only_token_and_metrics_are_granted_on_any_resource(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the role's policy WHEN its statements are read THEN only the ECR token and metrics are granted on '*'."""
    wildcard = {sid for sid, s in _statements(stack).items() if s["Resource"] == "*"}
    assert wildcard == {"LogInToRegistry", "PublishMetrics"}


def test_metrics_are_limited_to_sagemaker_and_the_given_namespaces(
    stack: cdk.Stack, role: SageMakerExecutionRole
) -> None:
    """GIVEN an extra metrics namespace
    WHEN the role's policy is synthesized
    THEN metrics may be published to SageMaker's job namespaces and that one only (not its endpoints')."""
    condition = _statements(stack)["PublishMetrics"]["Condition"]
    assert condition == {
        "StringLike": {
            "cloudwatch:namespace": [
                "/aws/sagemaker/TrainingJobs",
                "/aws/sagemaker/TransformJobs",
                "/aws/sagemaker/ProcessingJobs",
                "SageMakerGbdt",
            ]
        }
    }


def test_logs_are_limited_to_the_environments_jobs_and_endpoint(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the role of environment prefix app-test
    WHEN its policy is synthesized
    THEN it writes only the log streams of jobs named app-test-* and of the endpoint app-test, and
    creates only the job log groups and that endpoint's group."""
    statements = _statements(stack)
    streams = [_flat(r) for r in statements["WriteLogs"]["Resource"]]
    assert sorted(s.split(":log-group:")[1] for s in streams) == sorted(
        [
            "/aws/sagemaker/TrainingJobs:log-stream:app-test-*",
            "/aws/sagemaker/TransformJobs:log-stream:app-test-*",
            "/aws/sagemaker/ProcessingJobs:log-stream:app-test-*",
            "/aws/sagemaker/Endpoints/app-test:log-stream:*",
        ]
    )
    groups = [_flat(r).split(":log-group:")[1] for r in statements["CreateLogGroups"]["Resource"]]
    assert sorted(groups) == sorted(
        [
            "/aws/sagemaker/TrainingJobs",
            "/aws/sagemaker/TransformJobs",
            "/aws/sagemaker/ProcessingJobs",
            "/aws/sagemaker/Endpoints/app-test",
        ]
    )


def _another_role(stack: cdk.Stack, platform: Platform, id_: str, **kwargs: Any) -> SageMakerExecutionRole:
    """A second execution role on the platform's pieces, with the options the test varies."""
    return SageMakerExecutionRole(
        stack,
        id_,
        data_bucket=platform.artifacts,
        artifacts_bucket=platform.artifacts,
        image=platform.image,
        encryption_key=platform.key,
        **kwargs,
    )


def test_a_name_prefix_that_is_no_name_is_rejected(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a prefix with a wildcard WHEN the role is created THEN a ValueError names name_prefix."""
    with pytest.raises(ValueError, match="name_prefix must be lowercase"):
        _another_role(stack, platform, "Other", name_prefix="app-*")


def test_volume_grants_only_for_aws_resources(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN the role's key permissions
    WHEN they are synthesized
    THEN key grants are only for AWS resources (volumes)."""
    statement = _statements(stack)["AttachEncryptedVolumes"]
    assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_grant_pass_role_passes_it_to_sagemaker_only(stack: cdk.Stack, role: SageMakerExecutionRole) -> None:
    """GIVEN a Step Functions caller
    WHEN it is granted pass-role
    THEN it may pass the role to SageMaker and to no other service."""
    caller = iam.Role(stack, "Caller", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    role.grant_pass_role(caller)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "iam:PassRole",
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [Match.string_like_regexp("ExecutionRole"), "Arn"]},
                        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    }
                ]
            }
        },
    )


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _flat(value: Any) -> str:
    """A resource ARN with its pseudo-parameter references as `<name>`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return "".join(_flat(part) for part in value["Fn::Join"][1])


def test_in_a_vpc_the_role_may_manage_the_jobs_network_interfaces(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a role whose jobs run in the account's VPC WHEN synthesized THEN it has the ec2 network-interface
    actions SageMaker's developer guide lists, and a role outside a VPC (the fixture's) has none."""
    _another_role(stack, platform, "InVpc", name_prefix="app-vpc", in_vpc=True)
    documents = [
        p["Properties"]["PolicyDocument"]
        for p in Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    ]
    with_network = [
        d for d in documents if any(s.get("Sid") == "ManageNetworkInterfacesInTheVpc" for s in d["Statement"])
    ]
    assert len(with_network) == 1
    (statement,) = [s for s in with_network[0]["Statement"] if s["Sid"] == "ManageNetworkInterfacesInTheVpc"]
    assert {"ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterfacePermission"} <= set(statement["Action"])
