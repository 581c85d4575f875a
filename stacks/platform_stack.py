"""The platform stack: what every other stack of an environment stands on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from config.container_interface import CONTAINER_DIRECTORY
from config.contract import (
    DATA_CAPTURE_METRICS_FILTER,
    DATA_CAPTURE_PREFIX,
    SAGEMAKER_JOB_LOG_GROUPS,
)
from sagemaker_constructs import (
    AlarmTopic,
    AlgorithmImage,
    EncryptedLogGroups,
    EncryptionKey,
    ModelRegistry,
    NotebookRole,
    SageMakerExecutionRole,
    SecureBucket,
)
from stacks._common import environment_prefix, removal_policy


class PlatformStack(cdk.Stack):
    """Key, buckets, algorithm image, SageMaker execution role and alarm topic of one environment.

    Also SageMaker's job log groups, where the environment manages them (one per account and region).

    And the model package group `<app>-<env>` (`registry`), whose approved versions the endpoint serves;
    `promoted_from_account`: the account of the environment promoted from, where it is another one (its
    principals may register versions here; the group's resource policy says so).

    Exposes each as an attribute (`key`, `data_bucket`, `artifacts_bucket`, `access_log_bucket`,
    `image`, `execution_role`, `alarm_topic`, `registry`) for the stacks that build on it.
    """

    # The (scope, id_, *, app_name, settings, ...) signature every stack takes; alike, not one: each adds its own.
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        app_name: str,
        settings: EnvironmentConfig,
        container_directory: Path = CONTAINER_DIRECTORY,
        promoted_from_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        removal = removal_policy(settings)
        noncurrent_expiration = cdk.Duration.days(settings.noncurrent_version_expiration_days)

        self.key = EncryptionKey(
            self, "EncryptionKey", alias=environment_prefix(app_name, settings), removal_policy=removal
        ).key
        self.access_log_bucket = SecureBucket(
            self,
            "AccessLogs",
            removal_policy=removal,
            noncurrent_version_expiration=noncurrent_expiration,
            expiration=cdk.Duration.days(settings.log_retention_days),
        ).bucket
        self.data_bucket = SecureBucket(
            self,
            "Data",
            encryption_key=self.key,
            access_log_bucket=self.access_log_bucket,
            access_log_prefix="data/",
            removal_policy=removal,
            noncurrent_version_expiration=noncurrent_expiration,
        ).bucket
        self.artifacts_bucket = SecureBucket(
            self,
            "Artifacts",
            encryption_key=self.key,
            access_log_bucket=self.access_log_bucket,
            access_log_prefix="artifacts/",
            removal_policy=removal,
            noncurrent_version_expiration=noncurrent_expiration,
            request_metrics={DATA_CAPTURE_METRICS_FILTER: DATA_CAPTURE_PREFIX},
        ).bucket
        self.image = AlgorithmImage(
            self,
            "AlgorithmImage",
            directory=container_directory,
            encryption_key=self.key,
            removal_policy=removal,
            max_image_count=settings.image_retention_count,
            log_retention_days=settings.log_retention_days,
        )
        self.execution_role = SageMakerExecutionRole(
            self,
            "ExecutionRole",
            data_bucket=self.data_bucket,
            artifacts_bucket=self.artifacts_bucket,
            image=self.image,
            encryption_key=self.key,
            name_prefix=environment_prefix(app_name, settings),
            in_vpc=settings.training.vpc is not None or settings.endpoint.vpc is not None,
        )
        # The notebook's role sits next to the buckets it reads (its policy names them directly).
        self.notebook_role: NotebookRole | None = None
        if settings.notebook.enabled:
            self.notebook_role = NotebookRole(
                self,
                "NotebookRole",
                name_prefix=environment_prefix(app_name, settings),
                data_bucket=self.data_bucket,
                artifacts_bucket=self.artifacts_bucket,
                encryption_key=self.key,
            )
        self.registry = ModelRegistry(
            self,
            "ModelRegistry",
            group_name=environment_prefix(app_name, settings),
            description=f"Versions of the {environment_prefix(app_name, settings)} model, each approved by a person",
            promoted_from_account=promoted_from_account,
            removal_policy=removal,
        )
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", encryption_key=self.key, email=settings.alarm_email).topic
        if settings.monitoring.manage_job_log_groups:
            EncryptedLogGroups(
                self,
                "JobLogGroups",
                names=SAGEMAKER_JOB_LOG_GROUPS,
                encryption_key=self.key,
                retention_days=settings.log_retention_days,
                # Account-wide names SageMaker creates itself on any environment's first job: kept when
                # the stack goes, and adopted when it (or SageMaker) made them first, which CloudFormation
                # does for a retained, statically named log group (`cdk deploy --import-existing-resources`).
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )

        for name, value in {
            "DataBucketName": self.data_bucket.bucket_name,
            "ArtifactsBucketName": self.artifacts_bucket.bucket_name,
            "ImageUri": self.image.image_uri,
            "ExecutionRoleArn": self.execution_role.role.role_arn,
            "AlarmTopicArn": self.alarm_topic.topic_arn,
            "ModelPackageGroupName": self.registry.group_name,
        }.items():
            cdk.CfnOutput(self, name, value=value)
