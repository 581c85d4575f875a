"""What every stack of an environment decides the same way."""

from __future__ import annotations

import aws_cdk as cdk

from config import EnvironmentConfig, contract


def removal_policy(settings: EnvironmentConfig) -> cdk.RemovalPolicy:
    """RETAIN where the environment keeps its data (staging, prod), DESTROY where it does not (dev)."""
    return cdk.RemovalPolicy.RETAIN if settings.retain_data else cdk.RemovalPolicy.DESTROY


def environment_prefix(app_name: str, settings: EnvironmentConfig) -> str:
    """`<app>-<environment>`: the endpoint's name and the prefix of every job, model and log stream it runs."""
    return contract.environment_prefix(app_name, settings.name.value)
