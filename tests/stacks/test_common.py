"""stacks/_common.py: what every stack of an environment decides the same way."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from config import AppConfig
from sagemaker_constructs import LogSettings
from stacks._common import EnvironmentStack, removal_policy


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


class _Stack(EnvironmentStack):
    purpose = "a stack of one environment"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_a_stack_keeps_its_log_groups_under_the_key_it_is_given_as_the_environment_says(
    app_config: AppConfig, environment: str
) -> None:
    # GIVEN an environment's stack and a key WHEN it asks for its log settings
    # THEN they are that key, the environment's retention and the stack's removal policy
    settings = app_config.environment(environment)
    stack = _Stack(cdk.App(), "Stack", app_name="app", settings=settings)
    key = kms.Key(stack, "Key")
    assert stack.log_settings(key) == LogSettings(key, settings.log_retention_days, removal_policy(settings))
