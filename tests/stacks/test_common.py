"""stacks/_common.py: what every stack of an environment decides the same way."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from config import AppConfig
from stacks._common import removal_policy


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("dev", cdk.RemovalPolicy.DESTROY), ("staging", cdk.RemovalPolicy.RETAIN), ("prod", cdk.RemovalPolicy.RETAIN)],
)
def test_data_outlives_the_stack_where_the_environment_keeps_it(
    app_config: AppConfig, environment: str, expected: cdk.RemovalPolicy
) -> None:
    # GIVEN an environment's settings WHEN its stacks ask for the removal policy THEN it follows removal_policy
    settings = app_config.environment(environment)
    assert removal_policy(settings) == expected
    assert (expected == cdk.RemovalPolicy.RETAIN) == settings.retain_data
