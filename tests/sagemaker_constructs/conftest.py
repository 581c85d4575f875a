"""Fixtures for the inference constructs: the platform pieces a model needs, in one stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from sagemaker_constructs import (
    AlgorithmImage,
    InstanceVariant,
    RealtimeEndpoint,
    SageMakerExecutionRole,
    SageMakerModel,
)


@dataclass(frozen=True)
class Platform:
    key: kms.Key
    artifacts: s3.Bucket
    image: AlgorithmImage
    role: SageMakerExecutionRole


@pytest.fixture
def platform(stack: cdk.Stack, container_directory: Path) -> Platform:
    key = kms.Key(stack, "Key")
    artifacts = s3.Bucket(stack, "Artifacts")
    image = AlgorithmImage(
        stack,
        "Image",
        directory=container_directory,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        max_image_count=5,
        log_retention_days=30,
    )
    role = SageMakerExecutionRole(
        stack,
        "ExecutionRole",
        data_bucket=s3.Bucket(stack, "Data"),
        artifacts_bucket=artifacts,
        image=image,
        encryption_key=key,
        extra_metric_namespaces=["SageMakerGbdt"],
    )
    return Platform(key=key, artifacts=artifacts, image=image, role=role)


@pytest.fixture
def model(stack: cdk.Stack, platform: Platform) -> SageMakerModel:
    return SageMakerModel(
        stack,
        "Model",
        image_uri=platform.image.image_uri,
        model_data_url="s3://artifacts-bucket/models/v1/model.tar.gz",
        execution_role=platform.role,
    )


def make_endpoint(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None, **kwargs: Any
) -> RealtimeEndpoint:
    """A `RealtimeEndpoint` named app-test on two ml.c5.large instances unless told otherwise."""
    return RealtimeEndpoint(
        stack,
        "Endpoint",
        endpoint_name="app-test",
        model=model,
        variants=variants or [InstanceVariant("ml.c5.large", 2)],
        encryption_key=platform.key,
        **kwargs,
    )
