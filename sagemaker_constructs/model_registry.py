"""An environment's model package group: the versions of its model, each approved or rejected by a person."""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.contract import APPROVED, PENDING_APPROVAL
from config.endpoint import PackageVersion
from sagemaker_constructs.validation import raise_if_any

# CreateModelPackageGroup: ModelPackageGroupName.
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ACCOUNT = re.compile(r"[0-9]{12}")
# What the account promoted into reads of this group (model-registry-ram-discover.html's example policy).
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
    In one account IAM alone decides who reads and registers; `share_with()` opens the group, and what its
    versions name, to the account of the environment promoted into (prod's, from staging's).

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
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id_)
        if not _GROUP_NAME.fullmatch(group_name):
            raise_if_any(
                self, [f"group_name must be 1-63 letters, digits or '-' (not first or last), got {group_name!r}"]
            )
        self.group_name = group_name
        # Pseudo parameters, not the stack's literal account: the nag acknowledgments of the grants match them.
        arn = f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        self.group_arn = f"{arn}:model-package-group/{group_name}"
        self.versions_arn = f"{arn}:model-package/{group_name}/*"
        self.shared_with: str | None = None
        self.group = sagemaker.CfnModelPackageGroup(
            self, "Group", model_package_group_name=group_name, model_package_group_description=description
        )
        self.group.apply_removal_policy(removal_policy)

    def share_with(
        self, account: str, *, artifacts_bucket: s3.IBucket, artifact_keys: str, encryption_key: kms.IKey
    ) -> None:
        """Let `account`'s principals read this group's versions and what promotion copies from them.

        Promotion runs in the account promoted into, with its own credentials (`sagemaker_ops promote --env prod`):
        it describes a version here, copies its artifact and metrics' document (keys matching `artifact_keys` in
        `artifacts_bucket`) into its own bucket and registers the copy in its own group, where its approver
        decides again. So this account grants reads only, each where AWS documents it for another account:
        - the group's resource policy: DescribeModelPackageGroup, DescribeModelPackage, ListModelPackages on the
          group and its versions (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram-discover.html);
        - the bucket's policy: s3:GetObject on those keys
          (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html);
        - the key's policy: kms:Decrypt through S3 (the objects) and SageMaker (a version's information) only
          (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html).
        No image is shared: the account promoted into serves the image its own platform built from the same
        commit (the same tag), which promotion checks. Its principals need the same reads in their own IAM.
        """
        errors = []
        if not _ACCOUNT.fullmatch(account):
            errors.append(f"account must be a 12-digit account id, got {account!r}")
        elif account == cdk.Stack.of(self).account:
            errors.append("account is this stack's own: IAM decides there, share with another account only")
        if self.shared_with is not None:
            errors.append(f"the group is shared with {self.shared_with} already")
        raise_if_any(self, errors)
        self.shared_with = account
        reader = iam.AccountPrincipal(account)
        self.group.model_package_group_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PromotionReadsVersions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{cdk.Aws.PARTITION}:iam::{account}:root"},
                    "Action": list(PROMOTION_READ_ACTIONS),
                    "Resource": [self.group_arn, self.versions_arn],
                }
            ],
        }
        artifacts_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PromotionReadsVersionArtifacts",
                principals=[reader],
                actions=["s3:GetObject"],
                resources=[artifacts_bucket.arn_for_objects(artifact_keys)],
            )
        )
        region = cdk.Stack.of(self).region
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PromotionDecryptsVersions",
                principals=[reader],
                actions=["kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"s3.{region}.amazonaws.com", f"sagemaker.{region}.amazonaws.com"]
                    }
                },
            )
        )

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
