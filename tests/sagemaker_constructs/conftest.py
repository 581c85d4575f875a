"""Fixtures for the inference constructs: the platform pieces a model needs, in one stack."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from sagemaker_constructs import SageMakerModel
from tests.helpers import Platform, make_model, make_platform


@pytest.fixture
def platform(stack: cdk.Stack, container_directory: Path) -> Platform:
    return make_platform(stack, container_directory)


@pytest.fixture
def model(stack: cdk.Stack, platform: Platform) -> SageMakerModel:
    return make_model(stack, platform, "Model")
