"""The algorithm's container image, built from `container/` and served from a project repository."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import cdk_ecr_deployment as ecr_deployment
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs
from constructs import Construct

from config.contract import APPROVED_IMAGE_TAG_PREFIX, MAX_APPROVED_IMAGES
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.nag import acknowledge, acknowledge_in_all_packs
from sagemaker_constructs.validation import raise_if_any

UNTAGGED_IMAGE_MAX_AGE = cdk.Duration.days(1)


class AlgorithmImage(Construct):
    """Builds `directory` as a Docker image asset and copies it into a project ECR repository.

    SageMaker pulls from `repository` (exposed), never from the CDK bootstrap asset repository,
    which is shared by every app in the account and has no lifecycle or per-app scanning. The
    repository scans on push, has immutable tags, is encrypted with `encryption_key`, expires
    untagged images after a day and keeps the newest `max_image_count` images, and apart from them
    the images of approved model package versions (tagged `approved-<group>-<version>` on approval).

    The copy is a custom resource from cdklabs `cdk-ecr-deployment`. Its Lambda runs with a role
    this construct owns, limited to pulling from the asset repository and pushing to this one
    (the library's own default role may read any S3 object and write to any repository).
    The image tag is the asset's content hash, so an unchanged `container/` deploys no new image
    and `image_uri` changes exactly when the image does.

    :param encryption_key: the repository's key, and `removal_policy` its fate with the stack; arguments of their
        own, as the image is not the log's.
    :param logs: the key, retention and removal policy of the copy function's log group.
    :param platform: the image's platform. @default linux/amd64, what SageMaker's ml.* x86
        instances run.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        directory: Path,
        encryption_key: kms.IKey,
        removal_policy: cdk.RemovalPolicy,
        max_image_count: int,
        logs: LogSettings,
        platform: ecr_assets.Platform = ecr_assets.Platform.LINUX_AMD64,
    ) -> None:
        super().__init__(scope, id_)
        errors: list[str] = []
        if not (directory / "Dockerfile").is_file():
            errors.append(f"directory must contain a Dockerfile; none in {directory}")
        if max_image_count < 1:
            errors.append(f"max_image_count must be at least 1, got {max_image_count}")
        raise_if_any(self, errors)
        self.repository = _repository(self, encryption_key, removal_policy, max_image_count)
        asset = ecr_assets.DockerImageAsset(self, "Asset", directory=str(directory), platform=platform)
        self.image_tag = asset.asset_hash
        stack = cdk.Stack.of(self)
        # Built from the repository name alone (not split out of its ARN), so that a stack in the
        # same environment that uses it references one plain output of this one.
        self.image_uri = (
            f"{stack.account}.dkr.ecr.{stack.region}.{cdk.Aws.URL_SUFFIX}/{self.repository.repository_name}"
            f":{self.image_tag}"
        )
        self._copy(asset, logs)

    def _copy(self, asset: ecr_assets.DockerImageAsset, logs: LogSettings) -> None:
        """The custom resource that copies `asset` into the repository, with a role of its own."""
        copy_role = iam.Role(
            self,
            "CopyRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the algorithm image from the CDK asset repository to the project repository",
        )
        copy = ecr_deployment.ECRDeployment(
            self,
            "Copy",
            src=ecr_deployment.DockerImageName(asset.image_uri),
            dest=ecr_deployment.DockerImageName(self.image_uri),
            # Immutable view: the library cannot widen the role with its own wildcard statements.
            role=copy_role.without_policy_updates(),
        )
        copy_function = _singleton_function(cdk.Stack.of(self))
        log_group = _configure_log_group(copy_function, logs)
        copy_policy = self._copy_policy(copy_role, asset)
        # A policy of its own: the log group's name refers to the function, and the function
        # must be created after the image permissions, so one policy with both would be a cycle.
        logs_policy = iam.ManagedPolicy(
            self,
            "CopyLogsPolicy",
            roles=[copy_role],
            description="Write the image copy function's own logs",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.attr_arn]
                )
            ],
        )
        # The copy must not run before its permissions are attached to the role.
        copy.node.add_dependency(copy_policy, logs_policy)
        function_resource = copy_function.node.default_child
        if function_resource is None:
            raise TypeError("cdk-ecr-deployment's handler has no function resource; revisit AlgorithmImage")
        function_resource.node.add_dependency(copy_policy)
        _acknowledge_deployment_function(copy_function)

    def _copy_policy(self, copy_role: iam.Role, asset: ecr_assets.DockerImageAsset) -> iam.ManagedPolicy:
        """Pull from the asset repository, push to the project repository, and nothing else."""
        copy_policy = iam.ManagedPolicy(
            self,
            "CopyPolicy",
            roles=[copy_role],
            description="Pull the algorithm image from the CDK asset repository, push it to the project repository",
            statements=[
                iam.PolicyStatement(sid="LogInToRegistry", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    sid="PullFromAssetRepository",
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[asset.repository.repository_arn],
                ),
                iam.PolicyStatement(
                    sid="PushToProjectRepository",
                    actions=[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:CompleteLayerUpload",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:InitiateLayerUpload",
                        "ecr:PutImage",
                        "ecr:UploadLayerPart",
                    ],
                    resources=[self.repository.repository_arn],
                ),
            ],
        )
        acknowledge(
            copy_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; it must be granted on '*'. "
            "Image reads and writes are limited to the asset repository and the project repository.",
        )
        return copy_policy

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` pull images from the project repository (and get an ECR login token)."""
        return self.repository.grant_pull(grantee)


def _repository(
    scope: Construct, encryption_key: kms.IKey, removal_policy: cdk.RemovalPolicy, max_image_count: int
) -> ecr.Repository:
    """Scans on push, immutable tags, the key, untagged images expire, the newest `max_image_count` kept, and
    those of approved model package versions (tagged `approved-...` by sagemaker_ops approve) kept apart."""
    return ecr.Repository(
        scope,
        "Repository",
        image_scan_on_push=True,
        image_tag_mutability=ecr.TagMutability.IMMUTABLE,
        encryption=ecr.RepositoryEncryption.KMS,
        encryption_key=encryption_key,
        lifecycle_rules=[
            ecr.LifecycleRule(
                rule_priority=1,
                description="Expire untagged images (interrupted pushes) after a day",
                tag_status=ecr.TagStatus.UNTAGGED,
                max_image_age=UNTAGGED_IMAGE_MAX_AGE,
            ),
            # Before the count below: an image this rule matches is never expired by a later rule.
            ecr.LifecycleRule(
                rule_priority=2,
                description=f"Keep the images of approved model package versions (the newest {MAX_APPROVED_IMAGES})",
                tag_status=ecr.TagStatus.TAGGED,
                tag_prefix_list=[APPROVED_IMAGE_TAG_PREFIX],
                max_image_count=MAX_APPROVED_IMAGES,
            ),
            ecr.LifecycleRule(
                rule_priority=3,
                description=f"Keep the newest {max_image_count} images",
                tag_status=ecr.TagStatus.ANY,
                max_image_count=max_image_count,
            ),
        ],
        removal_policy=removal_policy,
        empty_on_delete=removal_policy == cdk.RemovalPolicy.DESTROY,
    )


def _configure_log_group(function: lambda_.Function, logs: LogSettings) -> aws_logs.CfnLogGroup:
    """The library's function creates its log group with defaults; keep it like every other log group of the app."""
    log_group = function.node.find_child("LogGroup").node.default_child
    if not isinstance(log_group, aws_logs.CfnLogGroup):
        raise TypeError("cdk-ecr-deployment no longer creates the function's log group; revisit AlgorithmImage")
    return logs.keep(log_group)


def _acknowledge_deployment_function(function: lambda_.Function) -> None:
    acknowledge_in_all_packs(
        function,
        {"HIPAA.Security": "LambdaConcurrency", "NIST.800.53.R5": "LambdaConcurrency"},
        "Deployment-time custom resource: CloudFormation invokes it once per image change, "
        "so reserved concurrency would only take capacity from the account.",
    )
    acknowledge_in_all_packs(
        function,
        {"HIPAA.Security": "LambdaDLQ", "NIST.800.53.R5": "LambdaDLQ"},
        "Invoked synchronously by CloudFormation, which reports a failure and rolls the "
        "deployment back; there is no asynchronous event to dead-letter.",
    )
    acknowledge_in_all_packs(
        function,
        {"HIPAA.Security": "LambdaInsideVPC", "NIST.800.53.R5": "LambdaInsideVPC"},
        "Talks only to the ECR API and ECR's S3 layer storage, through AWS endpoints over TLS; "
        "the app has no VPC of its own to place it in.",
    )


def _singleton_function(stack: cdk.Stack) -> lambda_.Function:
    """The Lambda function behind the library's singleton handler (it lives at stack level)."""
    functions = [
        child
        for child in stack.node.children
        if isinstance(child, lambda_.Function) and child.node.id.startswith("Custom::CDKECRDeployment")
    ]
    if len(functions) != 1:
        raise ValueError(f"expected one ECR deployment handler in {stack.node.path}, found {len(functions)}")
    return functions[0]
