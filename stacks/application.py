"""The whole app: one Stage per configured environment, checked by cdk-nag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from config import AppConfig
from config.container_interface import CONTAINER_DIRECTORY
from stacks.compliance import add_compliance_checks
from stacks.environment_stage import EnvironmentStage


def build_app(
    config: AppConfig,
    *,
    context: dict[str, Any] | None = None,
    outdir: str | None = None,
    container_directory: Path = CONTAINER_DIRECTORY,
) -> tuple[cdk.App, dict[str, EnvironmentStage]]:
    """Build the CDK app for every environment in `config`.

    `context` and `outdir` are for tests; under the CDK CLI both come from the CLI (cdk.json).
    Returns the app and its stages, keyed by environment name.
    """
    app = cdk.App(context=context, outdir=outdir)
    stages = {
        name.value: EnvironmentStage(
            app,
            app_name=config.app_name,
            settings=settings,
            container_directory=container_directory,
            bootstrap_qualifier=config.delivery.bootstrap_qualifiers.get(name) if config.delivery else None,
        )
        for name, settings in config.environments.items()
    }
    add_compliance_checks(app)
    return app, stages
