#!/usr/bin/env python3
"""CDK entry point: load the configuration, build one Stage per environment, synthesize.

The only place that reads the process environment: CDK_DEFAULT_ACCOUNT (set by the CDK CLI from
the credentials in use) fills in `account` for environments that leave it out of the config.
"""

import os
import sys
from typing import Any

import aws_cdk as cdk

from config import AppConfig, ConfigError, EnvironmentName, load_config
from sagemaker_constructs.validation import ConstructError
from stacks import build_app
from stacks.deployment_access_stack import add_deployment_access


def build(config: AppConfig, **options: Any) -> cdk.App:
    """`build_app`, with a construct's error raised as a ConfigError naming the environment.

    The configuration's validation is meant to catch every mistake first; this is the net under it,
    so that a rule only a construct knows still names the environment, not a bare CDK traceback.
    Constructs raise `ConstructError` carrying their path, whose first part is the environment's stage.
    """
    try:
        app, _ = build_app(config, **options)
    except ConstructError as error:
        stage = error.path.split("/", 1)[0]
        names = {name.stage_id: name.value for name in EnvironmentName}
        where = f"environment {names[stage]!r}" if stage in names else "(construct outside any environment)"
        raise ConfigError(
            f"{where}: {error} (check that environment's settings in config/environments.toml)"
        ) from error
    return app


def main() -> None:
    try:
        config = load_config(default_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
        app = build(config)
        # Outside the stages: an administrator deploys it once per account (docs/delivery.md).
        add_deployment_access(app, config)
    except ConfigError as error:
        sys.exit(f"configuration error:\n{error}")
    app.synth()


if __name__ == "__main__":
    main()
