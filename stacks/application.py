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
            promoted_to_account=promoted_to_account(config, name),
        )
        for name, settings in config.environments.items()
    }
    add_compliance_checks(app)
    return app, stages


def promoted_to_account(config: AppConfig, name: EnvironmentName) -> str | None:
    """Prod's account for staging, where the two differ: prod copies staging's approved versions into its group.

    None elsewhere, and where either account is left out (then both are the credentials' account).
    """
    prod = config.environments.get(EnvironmentName.PROD)
    if name is not EnvironmentName.STAGING or prod is None:
        return None
    staging = config.environments[name]
    if staging.account is None or prod.account is None or staging.account == prod.account:
        return None
    return prod.account
