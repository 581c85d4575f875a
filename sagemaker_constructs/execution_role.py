"""The role SageMaker assumes to run the app's training jobs, models and transform jobs."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sagemaker_constructs.algorithm_image import AlgorithmImage
from sagemaker_constructs.nag import acknowledge

# Namespaces SageMaker itself publishes job and endpoint metrics to.
SAGEMAKER_METRIC_NAMESPACES = ("/aws/sagemaker/*",)


class SageMakerExecutionRole(Construct):
    """A least-privilege execution role for SageMaker.

    Creates `role`, assumable only by SageMaker on behalf of this account, and one customer
    managed policy (`policy`) that allows exactly: listing and reading `data_bucket`; listing,
    reading, writing and deleting objects in `artifacts_bucket` (models, checkpoints, captured
    data, batch output); pulling the algorithm image; using `encryption_key` for data keys, and
    letting SageMaker create grants on it for the ML storage volumes it attaches; writing logs
    to `/aws/sagemaker/*` log groups; publishing metrics to SageMaker's namespaces and
    `extra_metric_namespaces`. No `AmazonSageMakerFullAccess`, no S3 beyond the two buckets.

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
        extra_metric_namespaces: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                # Confused-deputy protection: only SageMaker acting for this account may assume it.
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
            description="Execution role of the app's SageMaker training jobs, models and transform jobs",
        )
        log_groups = f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            description="What SageMaker may do with the app's data, image, key, logs and metrics",
            statements=[
                iam.PolicyStatement(
                    sid="ListBuckets",
                    actions=["s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[data_bucket.bucket_arn, artifacts_bucket.bucket_arn],
                ),
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
                iam.PolicyStatement(
                    sid="UseKey",
                    actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    resources=[encryption_key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="AttachEncryptedVolumes",
                    actions=["kms:CreateGrant"],
                    resources=[encryption_key.key_arn],
                    conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
                iam.PolicyStatement(
                    sid="PullImage",
                    actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                    resources=[image.repository.repository_arn],
                ),
                iam.PolicyStatement(sid="LogInToRegistry", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    sid="WriteLogs",
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    resources=[log_groups, f"{log_groups}:log-stream:*"],
                ),
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
        self._acknowledge_wildcards(data_bucket, artifacts_bucket)

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
            "Only two actions without resource-level permissions: ecr:GetAuthorizationToken, and "
            "cloudwatch:PutMetricData, which is limited by a cloudwatch:namespace condition.",
        )
        for suffix in ("", ":log-stream:*"):
            acknowledge(
                self.policy,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                f"log-group:/aws/sagemaker/*{suffix}]",
                "SageMaker names its log groups and streams per job and endpoint "
                "(/aws/sagemaker/TrainingJobs, /aws/sagemaker/Endpoints/<name>); limited to that prefix.",
            )
