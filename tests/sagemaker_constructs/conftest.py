"""Fixtures for the inference constructs: the platform pieces a model needs, in one stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from sagemaker_constructs import AlgorithmImage, SageMakerExecutionRole, SageMakerModel


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
        stack, "Role", data_bucket=s3.Bucket(stack, "Data"), artifacts_bucket=artifacts, image=image, encryption_key=key
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
