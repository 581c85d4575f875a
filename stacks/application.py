"""The whole app: one Stage per configured environment, checked by cdk-nag."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from config import AppConfig, EnvironmentName
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
            promoted_from_account=promoted_from_account(config, name),
        )
        for name, settings in config.environments.items()
    }
    add_compliance_checks(app)
    return app, stages


def promoted_from_account(config: AppConfig, name: EnvironmentName) -> str | None:
    """Staging's account for prod, where the two differ: staging's approved versions are registered in prod's group.

    None elsewhere, and where either account is left out (then both are the credentials' account).
    """
    staging = config.environments.get(EnvironmentName.STAGING)
    if name is not EnvironmentName.PROD or staging is None:
        return None
    prod = config.environments[name]
    if staging.account is None or prod.account is None or staging.account == prod.account:
        return None
    return staging.account
