"""An environment's model package group: the versions of its model, each approved or rejected by a person."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.contract import APPROVED, PENDING_APPROVAL
from config.endpoint import PackageVersion
from sagemaker_constructs.validation import raise_if_any

# CreateModelPackageGroup: ModelPackageGroupName.
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ACCOUNT = re.compile(r"[0-9]{12}")
# What another account's promotion needs in this group besides registering: see the group and its versions.
PROMOTION_READ_ACTIONS = (
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
)


def registered_as(status: str) -> dict[str, dict[str, str]]:
    """The condition that a CreateModelPackage request registers its version with approval status `status`.

    The Service Authorization Reference lists sagemaker:ModelApprovalStatus among CreateModelPackage's condition
    keys (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html): "Filters
    access by the model approval status with the model-package in the request". A request that leaves the field
    out has no key, which StringEquals refuses: a registrant names the status.
    """
    if status not in (APPROVED, PENDING_APPROVAL):
        raise ValueError(f"a version is registered {APPROVED} or {PENDING_APPROVAL}, got {status!r}")
    return {"StringEquals": {"sagemaker:ModelApprovalStatus": status}}


class ModelRegistry(Construct):
    """A `AWS::SageMaker::ModelPackageGroup` named `group_name`, and the grants on it.

    A version's ARN is `arn:<partition>:sagemaker:<region>:<account>:model-package/<group_name>/<n>`;
    the group has no key of its own (its versions carry `SecurityConfig.KmsKeyId`, set by whoever registers).

    :param promoted_from_account: another account whose principals may register versions here (and read
        the group): the account of the environment promoted from, where it is not this one. The group's
        resource policy allows exactly that; in one account IAM alone decides, and the group has no policy.
        @default none (no resource policy).
    :param removal_policy: RETAIN keeps the group, and every version's record of who approved what, after the
        stack is deleted. @default RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        group_name: str,
        description: str,
        promoted_from_account: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        errors = []
        if not _GROUP_NAME.fullmatch(group_name):
            errors.append(f"group_name must be 1-63 letters, digits or '-' (not first or last), got {group_name!r}")
        stack = cdk.Stack.of(self)
        if promoted_from_account is not None and not _ACCOUNT.fullmatch(promoted_from_account):
            errors.append(f"promoted_from_account must be a 12-digit account id, got {promoted_from_account!r}")
        if promoted_from_account is not None and promoted_from_account == stack.account:
            errors.append("promoted_from_account is this stack's own account: IAM decides there, leave it out")
        raise_if_any(self, errors)
        self.group_name = group_name
        # Pseudo parameters, not the stack's literal account: the nag acknowledgments of the grants match them.
        arn = f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        self.group_arn = f"{arn}:model-package-group/{group_name}"
        self.versions_arn = f"{arn}:model-package/{group_name}/*"
        policy = None
        if promoted_from_account is not None:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        # Awaiting this environment's approver only: the account promoted from must not register
                        # a version here already Approved (a Model is created from any approved version).
                        "Sid": "PromotionFromTheEnvironmentBefore",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{cdk.Aws.PARTITION}:iam::{promoted_from_account}:root"},
                        "Action": "sagemaker:CreateModelPackage",
                        "Resource": [self.group_arn, self.versions_arn],
                        "Condition": registered_as(PENDING_APPROVAL),
                    },
                    {
                        "Sid": "PromotionReadsTheGroup",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{cdk.Aws.PARTITION}:iam::{promoted_from_account}:root"},
                        "Action": list(PROMOTION_READ_ACTIONS),
                        "Resource": [self.group_arn, self.versions_arn],
                    },
                ],
            }
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=description,
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(removal_policy)

    def version_arn(self, version: int) -> str:
        """The ARN of the group's version `version`, as CreateModel's ModelPackageName takes it (no lookup)."""
        if version < 1:
            raise ValueError(f"a model package version is 1 or more, got {version}")
        return PackageVersion(self.group_name, version).arn(
            partition=cdk.Aws.PARTITION, region=cdk.Aws.REGION, account=cdk.Aws.ACCOUNT_ID
        )

    def register_statements(self, status: str) -> list[iam.PolicyStatement]:
        """Register versions in the group with approval status `status` only (CreateModelPackage), and tag them.

        The status is the one the caller registers with: a pipeline that registers versions awaiting approval
        cannot register one Approved, and one that approves automatically (dev) registers nothing awaiting a
        person, so it needs no other status either. Tagging is a statement of its own: AddTags has no
        sagemaker:ModelApprovalStatus key, and tags cannot make a version approved.
        Statements, not a grant: the pipeline's permissions live in one managed policy (the HIPAA and NIST
        packs refuse inline policies, where `iam.Grant` would put them).
        """
        resources = [self.group_arn, self.versions_arn]
        return [
            iam.PolicyStatement(
                sid="RegisterModelVersions",
                actions=["sagemaker:CreateModelPackage"],
                resources=resources,
                conditions=registered_as(status),
            ),
            iam.PolicyStatement(sid="TagModelVersions", actions=["sagemaker:AddTags"], resources=resources),
        ]
