"""One environment (dev, staging or prod) as a CDK Stage: `npx cdk deploy 'Prod/*'`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import aws_cdk as cdk
from constructs import Construct

from config import EnvironmentConfig
from config.container_interface import CONTAINER_DIRECTORY
from config.contract import CONTAINER
from delivery.permissions_boundary import apply_permissions_boundary
from stacks.drift_stack import DriftStack
from stacks.inference_stack import InferenceStack
from stacks.platform_stack import PlatformStack
from stacks.training_stack import TrainingStack

# The context key DefaultStackSynthesizer reads its qualifier from.
BOOTSTRAP_QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"


class _OfEnvironment(TypedDict):
    """What every stack of the stage is built with (typed, so that mypy checks the keyword arguments)."""

    app_name: str
    settings: EnvironmentConfig


class _OnPlatform(_OfEnvironment):
    platform: PlatformStack


class EnvironmentStage(cdk.Stage):
    """Every stack of one environment, deployed to its account and region, tagged with its name.

    `platform` and `training` always; `inference` once the configuration pins a model (package version or
    artifact); `drift`
    where that endpoint captures data (unless `drift.enabled = false`). Every IAM role of every stack
    has the permissions boundary `delivery.permissions_boundary.PERMISSIONS_BOUNDARY_NAME`.

    `promoted_to_account`: the account of the environment this one's approved versions are promoted into, where
    it differs (see `PlatformStack`).

    @default bootstrap_qualifier the app's (`@aws-cdk/core:bootstrapQualifier` in cdk.json, else CDK's default)
    """

    def __init__(
        self,
        scope: Construct,
        *,
        app_name: str,
        settings: EnvironmentConfig,
        container_directory: Path = CONTAINER_DIRECTORY,
        bootstrap_qualifier: str | None = None,
        promoted_to_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            settings.name.stage_id,
            env=cdk.Environment(account=settings.account, region=settings.region),
            **kwargs,
        )
        if bootstrap_qualifier is not None:
            # Read by every stack's DefaultStackSynthesizer: this stage's bootstrap roles, not the account's default.
            self.node.set_context(BOOTSTRAP_QUALIFIER_CONTEXT_KEY, bootstrap_qualifier)
        cdk.Tags.of(self).add("Project", app_name)
        cdk.Tags.of(self).add("Environment", settings.name.value)
        # Every stack is one environment's (the app's name and its settings); all but the platform stand on it.
        environment: _OfEnvironment = {"app_name": app_name, "settings": settings}
        self.platform = PlatformStack(
            self,
            "Platform",
            container_directory=container_directory,
            promoted_to_account=promoted_to_account,
            **environment,
        )
        on_platform: _OnPlatform = {**environment, "platform": self.platform}
        self.training = TrainingStack(
            self,
            "Training",
            metric_definitions_file=container_directory / CONTAINER.files.metric_definitions,
            **on_platform,
        )
        # No endpoint until a model is pinned: the first deploy creates the platform, training registers
        # a version, its approval and pin then bring the endpoint up.
        self.inference: InferenceStack | None = None
        if settings.endpoint.pinned:
            self.inference = InferenceStack(self, "Inference", **on_platform)
        # Drift checks of the endpoint's captured requests, wherever it captures them (docs/drift.md).
        self.drift: DriftStack | None = None
        if self.inference is not None and settings.drift.active(settings.endpoint):
            self.drift = DriftStack(self, "Drift", inference=self.inference, training=self.training, **on_platform)
        # The execution policy creates a role only with this boundary (docs/delivery.md, one-time setup).
        for stack in (self.platform, self.training, self.inference, self.drift):
            if stack is not None:
                apply_permissions_boundary(stack)
