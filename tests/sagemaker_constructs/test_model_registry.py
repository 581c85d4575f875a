"""ModelRegistry: the environment's model package group, open to another account only for promotion."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from sagemaker_constructs import ModelRegistry
from tests.deploy_readiness.policy import ANY_RESOURCE, Decision, Request, as_list, evaluate
from tests.helpers import TEST_ACCOUNT

STAGING_ACCOUNT = "210987654321"
ARN = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"


def _spelled(value: Any) -> str:
    """An ARN of the template with its pseudo parameters as `<AWS::...>`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_spelled(part) for part in parts)


def test_a_group_of_one_account_has_no_resource_policy(stack: cdk.Stack) -> None:
    """GIVEN a group without an account promoted from WHEN synthesized THEN it is named and has no policy."""
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


def test_another_account_may_only_register_and_read_versions(stack: cdk.Stack) -> None:
    """GIVEN prod's group promoted from staging's account
    WHEN synthesized
    THEN its policy lets that account's principals register and read versions of this group, nothing else."""
    ModelRegistry(stack, "Registry", group_name="app-prod", description="prod", promoted_from_account=STAGING_ACCOUNT)
    group = Template.from_stack(stack).find_resources("AWS::SageMaker::ModelPackageGroup")
    statements = next(iter(group.values()))["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    assert sorted(action for statement in statements for action in as_list(statement["Action"])) == [
        "sagemaker:CreateModelPackage",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert _spelled(statement["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{STAGING_ACCOUNT}:root"
        assert [_spelled(r) for r in statement["Resource"]] == [
            f"{ARN}:model-package-group/app-prod",
            f"{ARN}:model-package/app-prod/*",
        ]


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        ("PendingManualApproval", Decision.ALLOWED),
        ("Approved", Decision.IMPLICIT_DENY),
        ("Rejected", Decision.IMPLICIT_DENY),
        (None, Decision.IMPLICIT_DENY),
    ],
)
def test_the_account_promoted_from_registers_versions_awaiting_this_environment_s_approver(
    stack: cdk.Stack, status: str | None, decision: Decision
) -> None:
    """GIVEN prod's group promoted from staging's account
    WHEN a staging principal registers a version with `status` (None: the request leaves it out)
    THEN only PendingManualApproval is allowed: staging cannot register a version prod would serve unreviewed."""
    ModelRegistry(stack, "Registry", group_name="app-prod", description="prod", promoted_from_account=STAGING_ACCOUNT)
    group = Template.from_stack(stack).find_resources("AWS::SageMaker::ModelPackageGroup")
    statements = next(iter(group.values()))["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    context = {} if status is None else {"sagemaker:ModelApprovalStatus": status}
    assert evaluate(statements, Request("sagemaker:CreateModelPackage", ANY_RESOURCE, context)) is decision


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
        ({"group_name": "app-prod", "promoted_from_account": "12345"}, "12-digit account id"),
        ({"group_name": "app-prod", "promoted_from_account": TEST_ACCOUNT}, "this stack's own account"),
    ],
    ids=["underscore", "leading hyphen", "64 characters", "short account", "own account"],
)
def test_bad_arguments_are_refused(stack: cdk.Stack, arguments: dict[str, str], message: str) -> None:
    """GIVEN a bad group name or account WHEN the group is built THEN the error names the argument."""
    with pytest.raises(ValueError, match=message):
        ModelRegistry(stack, "Registry", description="d", **arguments)  # type: ignore[arg-type]
