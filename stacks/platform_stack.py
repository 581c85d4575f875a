"""The platform stack: what every other stack of an environment stands on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from config.container_interface import CONTAINER_DIRECTORY
from config.contract import (
    ASYNC_INPUT_PREFIX,
    DATA_CAPTURE_METRICS_FILTER,
    DATA_CAPTURE_PREFIX,
    SAGEMAKER_JOB_LOG_GROUPS,
    inference_component_name,
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
from sagemaker_constructs.approved_images import ApprovedImageKeeper
from sagemaker_constructs.training_pipeline.policy import final_metrics_policy
from sagemaker_constructs.training_pipeline.registration import job_output_pattern
from stacks._common import EnvironmentStack


class _Content(TypedDict):
    """What both roles reach: the environment's two buckets, under its key, named by its prefix."""

    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    encryption_key: kms.IKey
    name_prefix: str


class PlatformStack(EnvironmentStack):
    """Key, buckets, algorithm image, SageMaker execution role and alarm topic of one environment.

    Also SageMaker's job log groups, where the environment manages them (one per account and region).

    And the model package group `<app>-<env>` (`registry`), whose approved versions the endpoint serves;
    `promoted_to_account`: the account of the environment promoted into (prod's, on staging's platform), where it
    is another one: its principals may read the group's versions, their artifacts and metrics, and decrypt them
    (`ModelRegistry.share_with`), to copy an approved version into their own group.

    Exposes each as an attribute (`key`, `data_bucket`, `artifacts_bucket`, `access_log_bucket`,
    `image`, `execution_role`, `alarm_topic`, `registry`, and `async_result_topic` where the endpoint is
    asynchronous) for the stacks that build on it; `approved_images`
    tags the image of every version that becomes Approved, so the repository's lifecycle keeps it.
    """

    purpose = "key, buckets, image, model registry, SageMaker role, alarm topic"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        container_directory: Path = CONTAINER_DIRECTORY,
        promoted_to_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        settings, removal = self.settings, self.removal
        noncurrent_expiration = cdk.Duration.days(settings.noncurrent_version_expiration_days)

        self.key = EncryptionKey(self, "EncryptionKey", alias=self.name_prefix, removal_policy=removal).key
        self.logs = self.log_settings(self.key)
        self.access_log_bucket = SecureBucket(
            self,
            "AccessLogs",
            removal_policy=removal,
            noncurrent_version_expiration=noncurrent_expiration,
            expiration=cdk.Duration.days(settings.log_retention_days),
        ).bucket

        def content_bucket(id_: str, **options: Any) -> s3.IBucket:
            """A bucket of the environment's content: encrypted with its key, access-logged under `<id_>/`."""
            return SecureBucket(
                self,
                id_,
                encryption_key=self.key,
                access_log_bucket=self.access_log_bucket,
                access_log_prefix=f"{id_.lower()}/",
                removal_policy=removal,
                noncurrent_version_expiration=noncurrent_expiration,
                **options,
            ).bucket

        self.data_bucket = content_bucket("Data")
        asynchronous = settings.endpoint.asynchronous
        self.artifacts_bucket = content_bucket(
            "Artifacts",
            request_metrics={DATA_CAPTURE_METRICS_FILTER: DATA_CAPTURE_PREFIX},
            expire_under=None
            if asynchronous is None
            else {
                prefix: cdk.Duration.days(asynchronous.retention_days)
                for prefix in (ASYNC_INPUT_PREFIX, asynchronous.output_prefix, asynchronous.failure_prefix)
            },
        )
        # A construct call alike in shape only to the training pipeline's pipeline_policy(...) (duplicates pairs them).
        self.image = AlgorithmImage(
            self,
            "AlgorithmImage",
            directory=container_directory,
            encryption_key=self.key,
            removal_policy=removal,
            max_image_count=settings.image_retention_count,
            logs=self.logs,
        )
        content: _Content = {
            "data_bucket": self.data_bucket,
            "artifacts_bucket": self.artifacts_bucket,
            "encryption_key": self.key,
            "name_prefix": self.name_prefix,
        }
        self.execution_role = SageMakerExecutionRole(
            self,
            "ExecutionRole",
            image=self.image,
            in_vpc=settings.training.vpc is not None or settings.endpoint.vpc is not None,
            component_name=inference_component_name(self.name_prefix)
            if settings.endpoint.inference_component
            else None,
            **content,
        )
        # The notebook's role sits next to the buckets it reads (its policy names them directly).
        self.notebook_role: NotebookRole | None = None
        if settings.notebook.enabled:
            self.notebook_role = NotebookRole(self, "NotebookRole", **content)
        self.registry = ModelRegistry(
            self,
            "ModelRegistry",
            group_name=self.name_prefix,
            description=f"Versions of the {self.name_prefix} model, each approved by a person",
            removal_policy=removal,
        )
        if promoted_to_account is not None:
            self.registry.share_with(
                promoted_to_account,
                artifacts_bucket=self.artifacts_bucket,
                artifact_keys=job_output_pattern(self.name_prefix),
                encryption_key=self.key,
            )
        # The pipeline's WriteMetrics puts each version's final metrics here: its policy is made next to the bucket.
        self.metrics_policy = final_metrics_policy(
            self, "FinalMetricsPolicy", artifacts_bucket=self.artifacts_bucket, name_prefix=self.name_prefix
        )
        # However a version is approved (sagemaker_ops, the console, auto_approve), its image is kept. A call alike in
        # shape only to the inference stack's AsyncEndpointMonitoring(...) (duplicates pairs them).
        self.approved_images = ApprovedImageKeeper(
            self,
            "ApprovedImages",
            name_prefix=self.name_prefix,
            registry=self.registry,
            repository=self.image.repository,
            encryption_key=self.key,
            logs=self.logs,
        )
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", encryption_key=self.key, email=settings.alarm_email).topic
        # Each asynchronous request's success or error is news to the caller waiting on it, not to the on-call:
        # its own topic, which callers subscribe to (the failure-rate alarm is what pages).
        self.async_result_topic: sns.Topic | None = None
        if asynchronous is not None:
            self.async_result_topic = sns.Topic(self, "AsyncResultTopic", master_key=self.key, enforce_ssl=True)
            self.execution_role.allow_async_notifications(self.async_result_topic)
            cdk.CfnOutput(self, "AsyncResultTopicArn", value=self.async_result_topic.topic_arn)
        if settings.monitoring.manage_job_log_groups:
            EncryptedLogGroups(
                self,
                "JobLogGroups",
                names=SAGEMAKER_JOB_LOG_GROUPS,
                # Account-wide names SageMaker creates itself on any environment's first job: kept when
                # the stack goes, and adopted when it (or SageMaker) made them first, which CloudFormation
                # does for a retained, statically named log group (`cdk deploy --import-existing-resources`).
                logs=replace(self.logs, removal_policy=cdk.RemovalPolicy.RETAIN),
            )

        for name, value in {
            "DataBucketName": self.data_bucket.bucket_name,
            "ArtifactsBucketName": self.artifacts_bucket.bucket_name,
            "ImageUri": self.image.image_uri,
            "ExecutionRoleArn": self.execution_role.role.role_arn,
            "AlarmTopicArn": self.alarm_topic.topic_arn,
            "ModelPackageGroupName": self.registry.group_name,
            # The key a version registered by promotion is encrypted with (sagemaker_ops promote, prod).
            "EncryptionKeyArn": self.key.key_arn,
        }.items():
            cdk.CfnOutput(self, name, value=value)
