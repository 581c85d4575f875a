"""What every stack of an environment decides the same way."""

from __future__ import annotations

from typing import Any, ClassVar

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from config import EnvironmentConfig, contract
from sagemaker_constructs.log_groups import LogSettings


def removal_policy(settings: EnvironmentConfig) -> cdk.RemovalPolicy:
    """RETAIN where the environment keeps its data (staging, prod), DESTROY where it does not (dev)."""
    return cdk.RemovalPolicy.RETAIN if settings.retain_data else cdk.RemovalPolicy.DESTROY


def environment_prefix(app_name: str, settings: EnvironmentConfig) -> str:
    """`<app>-<environment>`: the endpoint's name and the prefix of every job, model and log stream it runs."""
    return contract.environment_prefix(app_name, settings.name.value)


class EnvironmentStack(cdk.Stack):
    """A stack of one environment: takes the app's name and the environment's settings (and cdk.Stack's own
    keyword arguments), and derives once what each of its stacks names and keeps the same way.

    `name_prefix` is `environment_prefix`, `removal` is `removal_policy`, `job_tags` the tags of the
    SageMaker jobs its state machines start. A stack that builds on this one says what it holds in `purpose`,
    adds its own keyword arguments and passes the rest on.

    @default description `<app> <environment>: <purpose>`
    @default termination_protection where the environment keeps its data (`retain_data`)
    """

    purpose: ClassVar[str]

    def __init__(
        self, scope: Construct, id_: str, *, app_name: str, settings: EnvironmentConfig, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", f"{app_name} {settings.name.value}: {self.purpose}")
        kwargs.setdefault("termination_protection", settings.retain_data)
        super().__init__(scope, id_, **kwargs)
        self.app_name = app_name
        self.settings = settings
        self.name_prefix = environment_prefix(app_name, settings)
        self.removal = removal_policy(settings)
        self.job_tags = {"Environment": settings.name.value, "Project": app_name}

    def log_settings(self, encryption_key: kms.IKey) -> LogSettings:
        """How this stack keeps its log groups: encrypted with `encryption_key` (the platform's), the environment's
        `log_retention_days`, and `removal` (RETAIN where the environment keeps its data)."""
        return LogSettings(encryption_key, self.settings.log_retention_days, self.removal)
