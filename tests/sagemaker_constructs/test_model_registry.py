"""ModelRegistry: the environment's model package group, open to another account only for promotion."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from sagemaker_constructs import ModelRegistry
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
    (statement,) = next(iter(group.values()))["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert _spelled(statement["Principal"]["AWS"]) == f"arn:<AWS::Partition>:iam::{STAGING_ACCOUNT}:root"
    assert sorted(statement["Action"]) == [
        "sagemaker:CreateModelPackage",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    assert [_spelled(r) for r in statement["Resource"]] == [
        f"{ARN}:model-package-group/app-prod",
        f"{ARN}:model-package/app-prod/*",
    ]


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
