"""ModelRegistry: the environment's model package group, open to another account only for promotion."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import ModelRegistry
from tests.helpers import TEST_ACCOUNT

STAGING_ACCOUNT = "210987654321"


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
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{STAGING_ACCOUNT}:root"}
    assert sorted(statement["Action"]) == [
        "sagemaker:CreateModelPackage",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    assert statement["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:model-package-group/app-prod",
        f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:model-package/app-prod/*",
    ]


def test_grant_register_names_the_group_and_its_versions_only(stack: cdk.Stack) -> None:
    """GIVEN a role granted registration WHEN synthesized THEN it may create and tag versions of this group only."""
    registry = ModelRegistry(stack, "Registry", group_name="app-dev", description="dev")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
    registry.grant_register(role)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": [
                                "sagemaker:AddTags",
                                "sagemaker:CreateModelPackage",
                                "sagemaker:DescribeModelPackage",
                            ],
                            "Resource": [
                                f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:model-package-group/app-dev",
                                f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:model-package/app-dev/*",
                            ],
                        }
                    )
                ]
            }
        },
    )


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
