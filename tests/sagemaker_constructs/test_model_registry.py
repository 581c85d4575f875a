"""ModelRegistry: the environment's model package group, readable by another account only for promotion."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from sagemaker_constructs import ModelRegistry
from tests.deploy_readiness.policy import ANY_RESOURCE, Decision, Request, as_list, evaluate
from tests.helpers import TEST_ACCOUNT

PROD_ACCOUNT = "210987654321"
ARN = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"


def _spelled(value: Any) -> str:
    """An ARN of the template with its pseudo parameters as `<AWS::...>`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}>"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_spelled(part) for part in parts)


def test_a_group_of_one_account_has_no_resource_policy(stack: cdk.Stack) -> None:
    """GIVEN a group shared with no other account WHEN synthesized THEN it is named and has no policy."""
    ModelRegistry(stack, "Registry", group_name="app-dev", description="dev's versions")
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::SageMaker::ModelPackageGroup",
        {
            "Properties": {"ModelPackageGroupName": "app-dev", "ModelPackageGroupDescription": "dev's versions"},
            "DeletionPolicy": "Retain",
        },
    )
    (group,) = template.find_resources("AWS::SageMaker::ModelPackageGroup").values()
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def _shared(stack: cdk.Stack) -> dict[str, list[dict[str, Any]]]:
    """Staging's group shared with prod's account: the statements of the group's, bucket's and key's policies that
    name prod's account, their ARNs spelled with `<AWS::...>` and `<LogicalId>` (the bucket's: `<Artifacts>`)."""
    bucket, key = s3.Bucket(stack, "Artifacts"), kms.Key(stack, "Key")
    registry = ModelRegistry(stack, "Registry", group_name="app-staging", description="staging")
    registry.share_with(PROD_ACCOUNT, artifacts_bucket=bucket, artifact_keys="*/output/*", encryption_key=key)
    template = Template.from_stack(stack)
    bucket_id = stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    policies = {
        "group": ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupPolicy"),
        "bucket": ("AWS::S3::BucketPolicy", "PolicyDocument"),
        "key": ("AWS::KMS::Key", "KeyPolicy"),
    }
    shared = {}
    for what, (kind, field) in policies.items():
        (resource,) = template.find_resources(kind).values()
        shared[what] = [
            {
                **statement,
                "Resource": [_spelled(r).replace(bucket_id, "Artifacts") for r in as_list(statement["Resource"])],
            }
            for statement in resource["Properties"][field]["Statement"]
            if PROD_ACCOUNT in _spelled(statement.get("Principal", {}).get("AWS", ""))
        ]
    return shared


def test_sharing_lets_the_account_promoted_into_read_the_versions_and_nothing_else(stack: cdk.Stack) -> None:
    """GIVEN staging's group shared with prod's account
    WHEN synthesized
    THEN the group's policy lets prod's principals read the group and its versions: the three actions AWS's
    cross-account example grants, no registering, approving or deploying."""
    (statement,) = _shared(stack)["group"]
    assert sorted(as_list(statement["Action"])) == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    assert _spelled(statement["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{PROD_ACCOUNT}:root"
    assert statement["Resource"] == [f"{ARN}:model-package-group/app-staging", f"{ARN}:model-package/app-staging/*"]


VERSION = f"{ARN}:model-package/app-staging/3"
OBJECT = "<Artifacts>"  # the bucket's ARN, as _spelled spells its GetAtt
VIA_S3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}


@pytest.mark.parametrize(
    ("policy", "request_", "decision"),
    [
        ("group", Request("sagemaker:DescribeModelPackage", VERSION), Decision.ALLOWED),
        ("group", Request("sagemaker:CreateModelPackage", VERSION), Decision.IMPLICIT_DENY),
        ("group", Request("sagemaker:UpdateModelPackage", VERSION), Decision.IMPLICIT_DENY),
        (
            "group",
            Request("sagemaker:DescribeModelPackage", VERSION.replace("-staging", "-dev")),
            Decision.IMPLICIT_DENY,
        ),
        ("bucket", Request("s3:GetObject", f"{OBJECT}/pipeline/output/model.tar.gz"), Decision.ALLOWED),
        ("bucket", Request("s3:GetObject", f"{OBJECT}/datasets/train.csv"), Decision.IMPLICIT_DENY),
        ("bucket", Request("s3:PutObject", f"{OBJECT}/pipeline/output/model.tar.gz"), Decision.IMPLICIT_DENY),
        ("key", Request("kms:Decrypt", "*", VIA_S3), Decision.ALLOWED),
        ("key", Request("kms:Decrypt", "*", {"kms:ViaService": "sagemaker.us-east-1.amazonaws.com"}), Decision.ALLOWED),
        ("key", Request("kms:Decrypt", "*", {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}), Decision.IMPLICIT_DENY),
        ("key", Request("kms:Decrypt", "*"), Decision.IMPLICIT_DENY),
        ("key", Request("kms:Encrypt", "*", VIA_S3), Decision.IMPLICIT_DENY),
    ],
    ids=[
        "describe a version",
        "register",
        "approve",
        "another group",
        "read a job's output",
        "read data",
        "write",
        "decrypt through S3",
        "decrypt through SageMaker",
        "decrypt through another region",
        "decrypt directly",
        "encrypt",
    ],
)
def test_prod_may_read_what_promotion_copies_and_nothing_more(
    stack: cdk.Stack, policy: str, request_: Request, decision: Decision
) -> None:
    """GIVEN staging's group shared with prod's account (its group's, bucket's and key's policies)
    WHEN a prod principal makes one of promotion's requests, or one it must not
    THEN only promotion's reads are allowed: describe a version, get a job's output, decrypt through S3 or SageMaker."""
    assert evaluate(_shared(stack)[policy], request_) is decision


@pytest.mark.parametrize(
    ("account", "message"),
    [("12345", "12-digit account id"), (TEST_ACCOUNT, "this stack's own")],
    ids=["short account", "own account"],
)
def test_sharing_with_a_bad_account_is_refused(stack: cdk.Stack, account: str, message: str) -> None:
    """GIVEN a group WHEN shared with a malformed account, or its own THEN the error names the argument."""
    registry = ModelRegistry(stack, "Registry", group_name="app-staging", description="staging")
    bucket, key = s3.Bucket(stack, "Artifacts"), kms.Key(stack, "Key")
    with pytest.raises(ValueError, match=message):
        registry.share_with(account, artifacts_bucket=bucket, artifact_keys="*", encryption_key=key)


@pytest.mark.parametrize(
    ("registered_as", "status", "decision"),
    [
        ("PendingManualApproval", "PendingManualApproval", Decision.ALLOWED),
        ("PendingManualApproval", "Approved", Decision.IMPLICIT_DENY),
        ("Approved", "Approved", Decision.ALLOWED),
        ("Approved", "PendingManualApproval", Decision.IMPLICIT_DENY),
    ],
)
def test_a_role_registers_versions_only_with_its_own_status(
    stack: cdk.Stack, registered_as: str, status: str, decision: Decision
) -> None:
    """GIVEN the statements of a role that registers versions `registered_as`
    WHEN it registers one with `status`
    THEN only its own status is allowed (a pipeline awaiting approval cannot register one Approved); tagging is."""
    registry = ModelRegistry(stack, "Registry", group_name="app-staging", description="staging")
    statements = [stack.resolve(s.to_statement_json()) for s in registry.register_statements(registered_as)]
    context = {"sagemaker:ModelApprovalStatus": status}
    assert evaluate(statements, Request("sagemaker:CreateModelPackage", ANY_RESOURCE, context)) is decision
    assert evaluate(statements, Request("sagemaker:AddTags", ANY_RESOURCE)) is Decision.ALLOWED


def test_a_role_registers_with_an_approval_status_only(stack: cdk.Stack) -> None:
    """GIVEN a group WHEN a role's statements are asked for a status no registrant may give THEN it is refused."""
    registry = ModelRegistry(stack, "Registry", group_name="app-staging", description="staging")
    with pytest.raises(ValueError, match="a version is registered Approved or PendingManualApproval, got 'Rejected'"):
        registry.register_statements("Rejected")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"group_name": "app_dev"}, "group_name must be 1-63 letters, digits or '-'"),
        ({"group_name": "-app"}, "group_name must be"),
        ({"group_name": "a" * 64}, "group_name must be"),
    ],
    ids=["underscore", "leading hyphen", "64 characters"],
)
def test_bad_arguments_are_refused(stack: cdk.Stack, arguments: dict[str, str], message: str) -> None:
    """GIVEN a bad group name or account WHEN the group is built THEN the error names the argument."""
    with pytest.raises(ValueError, match=message):
        ModelRegistry(stack, "Registry", description="d", **arguments)  # type: ignore[arg-type]
