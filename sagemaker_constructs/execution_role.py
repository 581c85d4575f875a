"""The role SageMaker assumes to run the app's training jobs, models and transform jobs."""

from __future__ import annotations

import re
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.contract import (
    ENDPOINT_LOG_GROUP_PREFIX,
    TRAINING_JOB_LOG_GROUP,
    TRANSFORM_JOB_LOG_GROUP,
    component_log_group_name,
)
from sagemaker_constructs.algorithm_image import AlgorithmImage
from sagemaker_constructs.key_statements import attach_encrypted_volumes_statement, use_key_statement
from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.shared_iam import list_buckets_statement, service_role, write_logs_statements
from sagemaker_constructs.validation import raise_if_any

# Where SageMaker writes the drift monitor's processing jobs' output.
PROCESSING_JOB_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
# Each job's log streams are named `<job name>/<host>-<start time>`; SageMaker writes them as the role.
JOB_LOG_GROUPS = (TRAINING_JOB_LOG_GROUP, TRANSFORM_JOB_LOG_GROUP, PROCESSING_JOB_LOG_GROUP)
# Namespaces SageMaker publishes the jobs' metrics to with the role (the training job's MetricDefinitions,
# instance metrics). They are shared by every environment of an account: IAM cannot condition
# PutMetricData on a dimension (the job's name), see docs/security.md.
SAGEMAKER_METRIC_NAMESPACES = (
    "/aws/sagemaker/TrainingJobs",
    "/aws/sagemaker/TransformJobs",
    "/aws/sagemaker/ProcessingJobs",
)


_NAME = re.compile(r"[a-z0-9](-*[a-z0-9])*")


def log_group_arn(name: str) -> str:
    """The ARN of log group `name` in the stack's account and region (pseudo parameters, as nag reports them)."""
    return f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:{name}"


class SageMakerExecutionRole(Construct):
    """A least-privilege execution role for SageMaker.

    Creates `role`, assumable only by SageMaker on behalf of this account, and one customer
    managed policy (`policy`) that allows exactly: listing and reading `data_bucket`; listing,
    reading, writing and deleting objects in `artifacts_bucket` (models, checkpoints, captured
    data, batch output); pulling the algorithm image; using `encryption_key` for data keys, and
    letting SageMaker create grants on it for the ML storage volumes it attaches; writing the log
    streams of this environment's own jobs (`<job log group>:log-stream:<name_prefix>-*`, jobs are
    named `<name_prefix>-...`) and of its own endpoint (`/aws/sagemaker/Endpoints/<endpoint_name>`);
    publishing metrics to SageMaker's job namespaces and `extra_metric_namespaces`. No
    `AmazonSageMakerFullAccess`, no S3 beyond the two buckets, nothing of another environment.

    :param name_prefix: the environment's prefix, `<app>-<environment>`, of every job's name.
    :param endpoint_name: the environment's endpoint. @default `name_prefix`.
    :param component_name: the inference component the endpoint hosts its model as, whose containers log to
        `/aws/sagemaker/InferenceComponents/<component_name>`. @default none.
    :param in_vpc: whether jobs or the model run in the account's VPC: SageMaker then creates and
        deletes their network interfaces with this role. @default False

    Resources that SageMaker creates with this role (a model, a training job) should depend on
    this construct, so that they never start before the policy is attached.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        image: AlgorithmImage,
        encryption_key: kms.IKey,
        name_prefix: str,
        endpoint_name: str | None = None,
        component_name: str | None = None,
        extra_metric_namespaces: Sequence[str] = (),
        in_vpc: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        if not _NAME.fullmatch(name_prefix):
            raise_if_any(self, [f"name_prefix must be lowercase letters, digits and '-', got {name_prefix!r}"])
        self.name_prefix = name_prefix
        self.endpoint_name = endpoint_name or name_prefix
        self.role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description="Execution role of the app's SageMaker training jobs, models and transform jobs",
        )
        # The endpoint's containers log to its group; an inference component's to a group of its own.
        self.serving_log_groups = [
            self.log_group_name,
            *([component_log_group_name(component_name)] if component_name else []),
        ]
        log_groups = [log_group_arn(group) for group in (*JOB_LOG_GROUPS, *self.serving_log_groups)]
        log_streams = [
            *(f"{log_group_arn(group)}:log-stream:{name_prefix}-*" for group in JOB_LOG_GROUPS),
            *(f"{log_group_arn(group)}:log-stream:*" for group in self.serving_log_groups),
        ]
        # Alike in shape to the notebook's policies (duplicates pairs them): what SageMaker's jobs may do.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            description="What SageMaker may do with the app's data, image, key, logs and metrics",
            statements=[
                list_buckets_statement(data_bucket, artifacts_bucket),
                iam.PolicyStatement(
                    sid="ReadData",
                    actions=["s3:GetObject"],
                    resources=[data_bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="ReadWriteArtifacts",
                    actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects("*")],
                ),
                use_key_statement(encryption_key),
                attach_encrypted_volumes_statement(encryption_key),
                iam.PolicyStatement(
                    sid="PullImage",
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[image.repository.repository_arn],
                ),
                iam.PolicyStatement(sid="LogInToRegistry", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                # The job log groups are one per account and region, shared by every environment:
                # creating and describing them is allowed, writing only this environment's streams.
                *write_logs_statements(log_groups, log_streams, create_sid="CreateLogGroups", write_sid="WriteLogs"),
                iam.PolicyStatement(
                    sid="PublishMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={
                        "StringLike": {"cloudwatch:namespace": [*SAGEMAKER_METRIC_NAMESPACES, *extra_metric_namespaces]}
                    },
                ),
            ],
        )
        if in_vpc:
            # What SageMaker's developer guide lists for a role whose jobs or model run in a VPC
            # (sagemaker-roles.html, "CreateTrainingJob" / "CreateModel" with VpcConfig; train-vpc.html):
            # the subnets and interfaces are only known to SageMaker, so on any resource. Checked against the same
            # list in AWS's published data (tests/deploy_readiness: SAGEMAKER_VPC_ACTIONS, from the registry schema).
            self.policy.add_statements(
                iam.PolicyStatement(
                    sid="ManageNetworkInterfacesInTheVpc",
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:CreateNetworkInterfacePermission",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DeleteNetworkInterfacePermission",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeVpcs",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                    ],
                    resources=["*"],
                )
            )
        self._acknowledge_wildcards(data_bucket, artifacts_bucket)

    @property
    def log_group_name(self) -> str:
        """The log group of the environment's endpoint, the only endpoint log the role may write."""
        return f"{ENDPOINT_LOG_GROUP_PREFIX}/{self.endpoint_name}"

    def allow_async_notifications(self, topic: sns.ITopic) -> None:
        """Let SageMaker publish an asynchronous endpoint's success and error notifications to `topic` as this role.

        The role needs sns:Publish (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-check-predictions.html);
        for a topic encrypted with `encryption_key`, UseKey already has the kms:GenerateDataKey and kms:Decrypt a
        publisher to an encrypted topic needs (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        The requests, results and failures are objects in the artifacts bucket, which the role reads and writes.
        """
        self.policy.add_statements(
            iam.PolicyStatement(sid="PublishAsyncNotifications", actions=["sns:Publish"], resources=[topic.topic_arn])
        )

    def grant_pass_role(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` pass this role to SageMaker (to create training jobs, models ...), and nowhere else."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["iam:PassRole"],
            resource_arns=[self.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )

    def _acknowledge_wildcards(self, data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> None:
        stack = cdk.Stack.of(self)
        for bucket, why in (
            (data_bucket, "SageMaker reads whichever input prefix a job names"),
            (artifacts_bucket, "jobs write models, checkpoints and outputs under prefixes chosen per job"),
        ):
            logical_id = stack.resolve(bucket.bucket_arn)["Fn::GetAtt"][0]
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]",
                f"Object-level access to this one bucket: {why}.",
            )
        acknowledge(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Actions without resource-level permissions: ecr:GetAuthorizationToken; "
            "cloudwatch:PutMetricData, which is limited by a cloudwatch:namespace condition; with VPC "
            "placement, the network-interface actions SageMaker's developer guide lists on any resource.",
        )
        logs_arn = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
        for group in JOB_LOG_GROUPS:
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{logs_arn}{group}:log-stream:{self.name_prefix}-*]",
                "SageMaker names a job's log streams <job name>/<host>; every job of this environment is "
                f"named {self.name_prefix}-<execution>, unknown at deploy time.",
            )
        for group in self.serving_log_groups:
            acknowledge(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{logs_arn}{group}:log-stream:*]",
                "SageMaker names an endpoint's (an inference component's) log streams <variant>/<instance id>, "
                "unknown at deploy time; limited to this environment's endpoint's (component's) log group.",
            )
