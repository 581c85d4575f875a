"""Asynchronous inference in an endpoint config: its settings, their check and the CloudFormation property."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from config.aws_catalog import sagemaker_range
from sagemaker_constructs.endpoint_config import TrafficShifting

# AsyncInferenceOutputConfig.S3OutputPath / S3FailurePath, in the app's own buckets.
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?")


@dataclass(frozen=True)
class AsyncInference:
    """Asynchronous inference: the endpoint queues InvokeEndpointAsync requests (bodies in S3) for its instances.

    Results go to `output_uri`, failures to `failure_uri`, both encrypted with the endpoint's key;
    `notification_topic` hears of each success and each error (SageMaker publishes as the model's execution
    role, which needs sns:Publish on it). `max_concurrent_invocations_per_instance` @default SageMaker's choice.
    """

    output_uri: str
    failure_uri: str
    notification_topic: sns.ITopic | None = None
    max_concurrent_invocations_per_instance: int | None = None


def check_async(
    asynchronous: AsyncInference,
    *,
    instance_variants: bool,
    data_capture_percentage: int,
    traffic_shifting: TrafficShifting | None,
    errors: list[str],
) -> None:
    """What an asynchronous endpoint cannot have (config/async_inference.py cites AWS's pages for each)."""
    if not instance_variants:
        errors.append(
            "async_inference needs instance variants: a serverless variant cannot serve asynchronously, nor a "
            "ManagedVariant (inference components)"
        )
    if traffic_shifting is not None:
        errors.append(
            "traffic_shifting is not supported with async_inference: the rollback alarms read Invocations, which an "
            "asynchronous endpoint does not publish"
        )
    if data_capture_percentage:
        errors.append("data_capture_percentage must be 0 with async_inference")
    for field, uri in (("output_uri", asynchronous.output_uri), ("failure_uri", asynchronous.failure_uri)):
        if not cdk.Token.is_unresolved(uri) and not _S3_URI.fullmatch(uri):
            errors.append(f"async_inference.{field} must be s3://<bucket>/<prefix>, got {uri!r}")
    concurrency = asynchronous.max_concurrent_invocations_per_instance
    low, high = sagemaker_range("AsyncInferenceClientConfig", "MaxConcurrentInvocationsPerInstance")
    if concurrency is not None and not low <= concurrency <= high:
        errors.append(f"max_concurrent_invocations_per_instance must be {low}-{high}, got {concurrency}")


def async_inference_config(
    asynchronous: AsyncInference, key_arn: str
) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
    topic = asynchronous.notification_topic
    return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
        output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
            s3_output_path=asynchronous.output_uri,
            s3_failure_path=asynchronous.failure_uri,
            kms_key_id=key_arn,
            notification_config=None
            if topic is None
            else sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                success_topic=topic.topic_arn, error_topic=topic.topic_arn
            ),
        ),
        client_config=None
        if asynchronous.max_concurrent_invocations_per_instance is None
        else sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
            max_concurrent_invocations_per_instance=asynchronous.max_concurrent_invocations_per_instance
        ),
    )
